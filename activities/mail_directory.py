"""Where mailboxes are made: the local directory table, or the university's LDAP server."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from ldap3 import MODIFY_REPLACE, NONE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPEntryAlreadyExistsResult, LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
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
        password_hash = _salted_sha(password, hashlib.sha512, "SSHA512")
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


_OBJECT_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]


def _salted_sha(password: str, digest: Callable[[bytes], Any], scheme: str) -> str:
    """An RFC 2307 style `{SCHEME}` value: base64 of digest(password + salt) + salt."""
    salt = secrets.token_bytes(8)
    hashed = digest(password.encode() + salt).digest()
    return f"{{{scheme}}}" + base64.b64encode(hashed + salt).decode("ascii")


class LdapMailDirectory:
    """Mailboxes as inetOrgPerson entries `uid=<username>,<base_dn>`; `description` holds the owner.

    A connection per call: activities run in a thread pool and calls are rare.
    """

    def __init__(
        self,
        url: str,
        bind_dn: str,
        bind_password: str,
        base_dn: str,
        *,
        timeout_seconds: float = 10,
    ) -> None:
        self._server = Server(url, connect_timeout=timeout_seconds, get_info=NONE)
        self._url = url
        self._bind_dn = bind_dn
        self._bind_password = bind_password
        self._base_dn = base_dn
        self._timeout = timeout_seconds

    def is_taken(self, username: str, owner_ref: str) -> bool:
        with self._connect() as conn:
            found = self._find(conn, username)
            return found is not None and owner_ref not in found[1]

    def create_mailbox(self, spec: MailboxSpec, password: str) -> None:
        # {SSHA}: the scheme every LDAP server verifies on bind.
        hashed = _salted_sha(password, hashlib.sha1, "SSHA")
        with self._connect() as conn:
            found = self._find(conn, spec.username)
            if found is None:
                try:
                    conn.add(
                        f"uid={escape_rdn(spec.username)},{self._base_dn}",
                        _OBJECT_CLASSES,
                        {
                            "uid": spec.username,
                            "cn": spec.display_name,
                            "givenName": spec.first_name,
                            "sn": spec.last_name,
                            "displayName": spec.display_name,
                            "mail": spec.address,
                            "description": spec.owner_ref,
                            "userPassword": hashed,
                        },
                    )
                    return
                except LDAPEntryAlreadyExistsResult:
                    # Another worker added it between our search and our add.
                    found = self._find(conn, spec.username)
                    if found is None:
                        raise
            dn, owners = found
            if spec.owner_ref not in owners:
                raise UsernameTaken(spec.username)
            conn.modify(dn, {"userPassword": [(MODIFY_REPLACE, [hashed])]})

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        conn = Connection(
            self._server,
            user=self._bind_dn,
            password=self._bind_password,
            raise_exceptions=True,
            receive_timeout=self._timeout,
        )
        try:
            with conn:
                yield conn
        except LDAPException as exc:
            # ldap3's messages name neither the server nor the account.
            exc.add_note(f"LDAP mail directory {self._url}, binding as {self._bind_dn!r}")
            raise

    def _find(self, conn: Connection, username: str) -> tuple[str, list[str]] | None:
        """The DN and owner markers of the entry with this uid anywhere under base_dn."""
        conn.search(
            self._base_dn,
            f"(uid={escape_filter_chars(username)})",
            SUBTREE,
            attributes=["description"],
            size_limit=1,
        )
        for entry in conn.response or []:
            if entry.get("type") == "searchResEntry":
                return entry["dn"], list(entry["attributes"].get("description", []))
        return None


def make_mail_directory(settings: Settings, engine: Engine) -> MailDirectory:
    if settings.mail_directory is MailDirectoryKind.ldap:
        return LdapMailDirectory(
            settings.ldap_url,
            settings.ldap_bind_dn,
            settings.ldap_bind_password,
            settings.ldap_base_dn,
        )
    return LocalMailDirectory(engine)
