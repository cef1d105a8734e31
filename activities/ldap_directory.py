"""Mailboxes in the university's LDAP server: the real `MailDirectory`, `MAIL_DIRECTORY=ldap`.

In a module of its own so that only the worker that makes mailboxes loads ldap3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from ldap3 import MODIFY_REPLACE, NONE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPEntryAlreadyExistsResult, LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from activities.mail_directory import MailboxSpec, UsernameTaken, salted_sha

_OBJECT_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]


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
        hashed = salted_sha(password, hashlib.sha1, "SSHA")
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
