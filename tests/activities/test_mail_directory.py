"""Both mail directories honour the same contract; the LDAP one against a real slapd."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ldap3 import NONE, Connection, Server
from ldap3.core.exceptions import LDAPInvalidCredentialsResult
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from activities.ldap_directory import LdapMailDirectory
from activities.mail_directory import (
    LocalMailDirectory,
    MailboxSpec,
    MailDirectory,
    UsernameTaken,
    make_mail_directory,
)
from db.engine import make_engine
from db.models import DirectoryMailbox
from settings import MailDirectoryKind, Settings
from tests.ldap_server import LdapServer, running_slapd

PASSWORD = "Kh0sh-Amad!"
_usernames = (f"user{n}" for n in itertools.count())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'peygir.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def slapd() -> Iterator[LdapServer]:
    with running_slapd() as server:
        yield server


@pytest.fixture(params=["local", "ldap"])
def directory(request: pytest.FixtureRequest) -> MailDirectory:
    if request.param == "local":
        return LocalMailDirectory(request.getfixturevalue("engine"))
    server: LdapServer = request.getfixturevalue("slapd")
    return LdapMailDirectory(server.url, server.bind_dn, server.bind_password, server.base_dn)


def _spec(owner_ref: str = "EM-1404-0001") -> MailboxSpec:
    # The slapd is shared by the module, so every test takes a fresh username.
    username = next(_usernames)
    return MailboxSpec(
        username=username,
        address=f"{username}@university.ac.ir",
        first_name="زهرا",
        last_name="احمدی",
        owner_ref=owner_ref,
    )


def _admin(server: LdapServer) -> Connection:
    return Connection(
        Server(server.url, get_info=NONE),
        server.bind_dn,
        server.bind_password,
        auto_bind=True,
        raise_exceptions=True,
    )


def _ldap_entries(server: LdapServer, username: str) -> list[Any]:
    with _admin(server) as conn:
        conn.search(server.base_dn, f"(uid={username})", attributes=["*"])
        return list(conn.entries)


def _mailbox_count(directory: MailDirectory, request: pytest.FixtureRequest, username: str) -> int:
    if isinstance(directory, LdapMailDirectory):
        return len(_ldap_entries(request.getfixturevalue("slapd"), username))
    with Session(request.getfixturevalue("engine")) as session:
        rows = session.exec(select(DirectoryMailbox).where(DirectoryMailbox.username == username))
        return len(rows.all())


def test_create_then_taken(directory: MailDirectory) -> None:
    spec = _spec()
    assert not directory.is_taken(spec.username, "EM-1404-0002")
    directory.create_mailbox(spec, PASSWORD)
    assert directory.is_taken(spec.username, "EM-1404-0002")
    assert not directory.is_taken(spec.username + "x", "EM-1404-0002")
    # Made for this owner (before a crash): not taken for them.
    assert not directory.is_taken(spec.username, spec.owner_ref)


def test_retry_for_same_owner_keeps_one_mailbox(
    directory: MailDirectory, request: pytest.FixtureRequest
) -> None:
    spec = _spec()
    directory.create_mailbox(spec, PASSWORD)
    directory.create_mailbox(spec, PASSWORD)
    assert _mailbox_count(directory, request, spec.username) == 1


def test_another_owner_gets_username_taken(
    directory: MailDirectory, request: pytest.FixtureRequest
) -> None:
    spec = _spec()
    directory.create_mailbox(spec, PASSWORD)
    with pytest.raises(UsernameTaken):
        directory.create_mailbox(spec.model_copy(update={"owner_ref": "EM-1404-0002"}), "other")
    assert _mailbox_count(directory, request, spec.username) == 1


def _ssha512_matches(stored: str, password: str) -> bool:
    """Verify a `{SSHA512}` value as a mail server would."""
    assert stored.startswith("{SSHA512}")
    raw = base64.b64decode(stored.removeprefix("{SSHA512}"))
    digest, salt = raw[:64], raw[64:]
    return len(salt) >= 8 and hashlib.sha512(password.encode() + salt).digest() == digest


def test_local_stores_a_salted_sha512(engine: Engine) -> None:
    directory = LocalMailDirectory(engine)
    spec = _spec()
    directory.create_mailbox(spec, PASSWORD)
    with Session(engine) as session:
        row = session.get(DirectoryMailbox, spec.username)
    assert row is not None
    assert row.password_hash != PASSWORD
    assert row.address == spec.address
    assert row.owner_ref == spec.owner_ref
    assert _ssha512_matches(row.password_hash, PASSWORD)


def test_local_retry_sets_the_new_password(engine: Engine) -> None:
    directory = LocalMailDirectory(engine)
    spec = _spec()
    directory.create_mailbox(spec, "first-password")
    directory.create_mailbox(spec, PASSWORD)
    with Session(engine) as session:
        row = session.get(DirectoryMailbox, spec.username)
    assert row is not None
    assert _ssha512_matches(row.password_hash, PASSWORD)
    assert not _ssha512_matches(row.password_hash, "first-password")


def test_local_concurrent_insert_by_another_owner_is_username_taken(engine: Engine) -> None:
    spec = _spec()
    rival = {
        "username": spec.username,
        "address": spec.address,
        "display_name": "",
        "owner_ref": "EM-1404-0002",
        "password_hash": "x",
    }
    inserted = False

    # Another worker commits the same username just before our INSERT runs.
    def rival_insert(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal inserted
        if not inserted and statement.startswith("INSERT INTO directory_mailboxes"):
            inserted = True
            with engine.begin() as other:
                other.execute(insert(DirectoryMailbox).values(**rival))

    event.listen(engine, "before_cursor_execute", rival_insert)
    try:
        with pytest.raises(UsernameTaken):
            LocalMailDirectory(engine).create_mailbox(spec, PASSWORD)
    finally:
        event.remove(engine, "before_cursor_execute", rival_insert)
    assert inserted


def test_ldap_entry_and_password(slapd: LdapServer) -> None:
    directory = LdapMailDirectory(slapd.url, slapd.bind_dn, slapd.bind_password, slapd.base_dn)
    spec = _spec()
    directory.create_mailbox(spec, PASSWORD)

    [entry] = _ldap_entries(slapd, spec.username)
    dn = f"uid={spec.username},{slapd.base_dn}"
    assert entry.entry_dn == dn
    assert "inetOrgPerson" in entry.objectClass.values
    assert entry.mail.value == spec.address
    assert entry.cn.value == "زهرا احمدی"
    assert entry.description.value == spec.owner_ref
    [stored] = entry.userPassword.raw_values
    assert stored.startswith(b"{SSHA}")
    assert PASSWORD.encode() not in stored

    with Connection(Server(slapd.url, get_info=NONE), dn, PASSWORD, auto_bind=True) as conn:
        assert conn.extend.standard.who_am_i() == f"dn:{dn}"
    with pytest.raises(LDAPInvalidCredentialsResult):
        Connection(
            Server(slapd.url, get_info=NONE),
            dn,
            "wrong-password",
            auto_bind=True,
            raise_exceptions=True,
        )


def test_ldap_retry_sets_the_new_password(slapd: LdapServer) -> None:
    directory = LdapMailDirectory(slapd.url, slapd.bind_dn, slapd.bind_password, slapd.base_dn)
    spec = _spec()
    directory.create_mailbox(spec, "first-password")
    directory.create_mailbox(spec, PASSWORD)
    dn = f"uid={spec.username},{slapd.base_dn}"
    with Connection(Server(slapd.url, get_info=NONE), dn, PASSWORD, auto_bind=True) as conn:
        assert conn.bound


def test_make_mail_directory_chooses_by_settings(engine: Engine) -> None:
    local = make_mail_directory(Settings(mail_directory=MailDirectoryKind.local), engine)
    ldap = make_mail_directory(Settings(mail_directory=MailDirectoryKind.ldap), engine)
    assert isinstance(local, LocalMailDirectory)
    assert isinstance(ldap, LdapMailDirectory)
