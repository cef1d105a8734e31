"""Where mailboxes are made: the local directory table, or the university's LDAP server."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.models import DirectoryMailbox
from settings import MailDirectoryKind, Settings


class MailboxSpec(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    username: str
    """The mailbox's local part, already validated."""
    address: str
    """The full address, username@mail_domain."""
    first_name: str
    last_name: str
    owner_ref: str
    """The case's tracking code: who the mailbox is for."""

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class UsernameTaken(Exception):
    """The username belongs to a mailbox made for someone else."""


class MailDirectory(Protocol):
    def is_taken(self, username: str, owner_ref: str) -> bool:
        """True if the username belongs to a mailbox made for someone other than `owner_ref`
        (a mailbox already made for this owner, e.g. before a crash, is theirs to keep)."""

    def create_mailbox(self, spec: MailboxSpec, password: str) -> None:
        """Make the mailbox, or only set its password if it was already made for this owner.

        Raises UsernameTaken if the username exists for another owner.
        """


class LocalMailDirectory:
    """Mailboxes as rows of `directory_mailboxes`, passwords as salted SHA-512 (`{SSHA512}`).

    Only generated initial passwords are stored here: 14 random letters and digits, about 83
    bits, which no hash speed makes guessable. A slow hash (argon2id, bcrypt) protects passwords
    people choose; here it would cost 15 ms or more of CPU per mailbox and buy nothing.
    `{SSHA512}` is what Dovecot and OpenLDAP verify, so a mail server can read the table.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def is_taken(self, username: str, owner_ref: str) -> bool:
        with Session(self._engine) as session:
            row = session.get(DirectoryMailbox, username)
            return row is not None and row.owner_ref != owner_ref

    def create_mailbox(self, spec: MailboxSpec, password: str) -> None:
        password_hash = salted_sha(password, hashlib.sha512, "SSHA512")
        with Session(self._engine) as session:
            row = session.get(DirectoryMailbox, spec.username)
            if row is None:
                session.add(
                    DirectoryMailbox(
                        username=spec.username,
                        address=spec.address,
                        display_name=spec.display_name,
                        owner_ref=spec.owner_ref,
                        password_hash=password_hash,
                    )
                )
                try:
                    session.commit()
                    return
                except IntegrityError:
                    # Another worker inserted the same username between our read and write.
                    session.rollback()
                    row = session.get(DirectoryMailbox, spec.username)
                    if row is None:
                        raise
            if row.owner_ref != spec.owner_ref:
                raise UsernameTaken(spec.username)
            row.password_hash = password_hash
            session.commit()


def salted_sha(password: str, digest: Callable[[bytes], Any], scheme: str) -> str:
    """An RFC 2307 style `{SCHEME}` value: base64 of digest(password + salt) + salt."""
    salt = secrets.token_bytes(8)
    hashed = digest(password.encode() + salt).digest()
    return f"{{{scheme}}}" + base64.b64encode(hashed + salt).decode("ascii")


def make_mail_directory(settings: Settings, engine: Engine) -> MailDirectory:
    if settings.mail_directory is MailDirectoryKind.ldap:
        # Imported here only: whoever imports this module (the API, through the workflows)
        # need not load ldap3.
        from activities.ldap_directory import LdapMailDirectory

        return LdapMailDirectory(
            settings.ldap_url,
            settings.ldap_bind_dn,
            settings.ldap_bind_password,
            settings.ldap_base_dn,
        )
    return LocalMailDirectory(engine)
