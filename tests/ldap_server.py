"""A private OpenLDAP slapd for tests: own config, data and port in a temp dir, no system service.

Needs the Debian/Ubuntu `slapd` package. On Ubuntu its AppArmor profile forbids slapd from
reading a config outside /etc/ldap; CI must disable it (`aa-disable /usr/sbin/slapd`, or
`apparmor_parser -R /etc/apparmor.d/usr.sbin.slapd`).
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from ldap3 import NONE, Connection, Server
from ldap3.core.exceptions import LDAPException

SLAPD = Path("/usr/sbin/slapd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SUFFIX = "dc=university,dc=ac,dc=ir"
BASE_DN = f"ou=mail,{SUFFIX}"
ROOT_DN = f"cn=admin,{SUFFIX}"
START_TIMEOUT_SECONDS = 15.0

_CONFIG = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
pidfile {tmp}/slapd.pid
argsfile {tmp}/slapd.args
modulepath {modules}
moduleload back_mdb

database mdb
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {tmp}/data
maxsize 16777216
index objectClass,uid eq

# As in production: users may check their own password, nobody may read it.
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to * by * read
"""


@dataclass(frozen=True)
class LdapServer:
    url: str
    bind_dn: str
    bind_password: str
    base_dn: str


@contextmanager
def running_slapd() -> Iterator[LdapServer]:
    """Start slapd on a free port with the base entries; stop it and delete its files after."""
    if not SLAPD.is_file():
        pytest.fail(
            f"{SLAPD} not found: the LDAP tests need OpenLDAP. Install it with\n"
            "  apt-get install -y slapd ldap-utils",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="peygir-slapd-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "data").mkdir()
        password = secrets.token_urlsafe(16)
        config = tmp / "slapd.conf"
        config.write_text(
            _CONFIG.format(
                schema=SCHEMA_DIR,
                modules=MODULE_DIR,
                tmp=tmp,
                suffix=SUFFIX,
                root_dn=ROOT_DN,
                root_pw=password,
            )
        )
        config.chmod(0o600)
        server = LdapServer(
            url=f"ldap://127.0.0.1:{_free_port()}",
            bind_dn=ROOT_DN,
            bind_password=password,
            base_dn=BASE_DN,
        )
        log_path = tmp / "slapd.log"
        with log_path.open("wb") as log:
            # `-d none` keeps slapd in the foreground (so we own the process) and logs only errors.
            process = subprocess.Popen(
                [str(SLAPD), "-f", str(config), "-h", f"{server.url}/", "-d", "none"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_ready(server, process, log_path)
            _add_base_entries(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connect(server: LdapServer) -> Connection:
    return Connection(
        Server(server.url, connect_timeout=2, get_info=NONE),
        user=server.bind_dn,
        password=server.bind_password,
        raise_exceptions=True,
        receive_timeout=5,
    )


def _wait_until_ready(server: LdapServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"slapd exited with code {process.returncode} before answering; its log:\n"
                f"{log.read_text(errors='replace')}\n"
                "(on Ubuntu, AppArmor may be blocking it: aa-disable /usr/sbin/slapd)",
                pytrace=False,
            )
        try:
            with _connect(server):
                return
        except LDAPException as exc:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"slapd did not answer on {server.url} within {START_TIMEOUT_SECONDS}s: "
                    f"{exc}\n{log.read_text(errors='replace')}",
                    pytrace=False,
                )
            time.sleep(0.05)


def _add_base_entries(server: LdapServer) -> None:
    with _connect(server) as conn:
        conn.add(
            SUFFIX,
            ["top", "dcObject", "organization"],
            {"dc": "university", "o": "University"},
        )
        conn.add(BASE_DN, ["top", "organizationalUnit"], {"ou": "mail"})
