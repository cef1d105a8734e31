"""Login throttling and the login records, from outside, over HTTP on the security stack.

Each test logs in from a loopback address of its own (127.0.0.x), so the per-address counts of
one test never lock another's (nor the other security tests', which come from 127.0.0.1). The
stack's locks are LOGIN_LOCK_SECONDS, doubling once at most, so a lock passes within seconds.
"""

from __future__ import annotations

import time
import uuid

import httpx
from sqlmodel import Session, select

from api.web.pages import CSRF_COOKIE
from db.models import LoginRecord, User
from domain.cases import Role
from domain.passwords import hash_password
from tests.security.conftest import ADMIN, LOGIN_LOCK_SECONDS, SecurityStack

PASSWORD = "right-pass-4821"
CSRF = "logins-csrf-token"


def client(stack: SecurityStack, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=stack.base_url, transport=transport, timeout=30)


def new_user(stack: SecurityStack, *roles: Role) -> str:
    username = f"login{uuid.uuid4().hex[:8]}"
    with Session(stack.engine) as session:
        session.add(
            User(
                username=username,
                password_hash=hash_password(PASSWORD),
                roles=[r.value for r in roles or (Role.technician,)],
                scopes=["*"],
            )
        )
        session.commit()
    return username


def token_login(http: httpx.Client, username: str, password: str, **kw: str) -> httpx.Response:
    return http.post("/api/auth/token", data={"username": username, "password": password}, **kw)


def wait_until_let_in(http: httpx.Client, username: str) -> httpx.Response:
    """The right password, retried after each Retry-After, until the lock passes."""
    deadline = time.monotonic() + 4 * LOGIN_LOCK_SECONDS + 5
    while True:
        answer = token_login(http, username, PASSWORD)
        if answer.status_code != 429 or time.monotonic() > deadline:
            return answer
        wait = int(answer.headers["Retry-After"])
        assert 1 <= wait <= 2 * LOGIN_LOCK_SECONDS
        time.sleep(wait + 0.2)


def test_the_right_password_does_not_open_a_locked_account(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    with client(sec_stack, "127.0.0.21") as http:
        codes = [token_login(http, username, f"wrong-{i}").status_code for i in range(25)]
        assert codes[:5] == [401] * 5, codes
        assert codes[5] == 429 and set(codes) == {401, 429}, codes
        refused = token_login(http, username, PASSWORD, headers={"Accept-Language": "en"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "login_locked"
        assert "try again" in refused.json()["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 2 * LOGIN_LOCK_SECONDS
        persian = token_login(http, username, PASSWORD)
        assert persian.status_code == 429
        assert "ورود موقتاً بسته شده است" in persian.json()["message"]
        # No lock-out for good: once it passes, the right password lets the user in.
        let_in = wait_until_let_in(http, username)
        assert let_in.status_code == 200, let_in.text
        # ...and clears the account's count: one more failure does not lock it again.
        assert token_login(http, username, "wrong-again").status_code == 401
        assert token_login(http, username, PASSWORD).status_code == 200


def test_unknown_usernames_are_answered_and_locked_alike(sec_stack: SecurityStack) -> None:
    known = new_user(sec_stack)
    unknown = f"nobody{uuid.uuid4().hex[:8]}"
    with client(sec_stack, "127.0.0.22") as first, client(sec_stack, "127.0.0.23") as second:
        for attempt in range(6):
            one = token_login(first, known, f"wrong-{attempt}")
            other = token_login(second, unknown, f"wrong-{attempt}")
            assert (one.status_code, one.content) == (other.status_code, other.content)
            assert one.status_code == (401 if attempt < 5 else 429)


def test_one_address_is_throttled_across_usernames(sec_stack: SecurityStack) -> None:
    victim = new_user(sec_stack)
    limit = sec_stack.settings.login_max_failures_per_address
    with client(sec_stack, "127.0.0.24") as attacker, client(sec_stack, "127.0.0.25") as other:
        # One try per username: no account reaches its own limit, the address does.
        for i in range(limit):
            answer = token_login(attacker, f"spray{i}{uuid.uuid4().hex[:6]}", "Winter2026!")
            assert answer.status_code == 401, (i, answer.text)
        locked = token_login(attacker, victim, PASSWORD)
        assert locked.status_code == 429 and "Retry-After" in locked.headers
        # The account itself is not locked: from elsewhere its user gets in.
        assert token_login(other, victim, PASSWORD).status_code == 200


def test_the_web_login_shows_the_lock(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    form = {"csrf_token": CSRF, "username": username, "next": "/cartable"}
    with client(sec_stack, "127.0.0.26") as http:
        http.cookies.set(CSRF_COOKIE, CSRF)
        for i in range(5):
            page = http.post("/login", data={**form, "password": f"wrong-{i}"})
            assert page.status_code == 401
            assert "نام کاربری یا گذرواژه نادرست است." in page.text
        page = http.post("/login", data={**form, "password": PASSWORD})
        assert page.status_code == 429
        assert "Retry-After" in page.headers
        assert 'role="alert"' in page.text and "ورود موقتاً بسته شده است" in page.text
        assert f'value="{username}"' in page.text  # the form stays, as typed
        http.cookies.set("lang", "en")
        page = http.post("/login", data={**form, "password": PASSWORD})
        assert page.status_code == 429 and "Signing in is paused" in page.text


def test_logins_are_recorded_and_listed_for_admins(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    secret = f"never-stored-{uuid.uuid4().hex}"
    agent = "Mozilla/5.0 (login-records-test) " + "x" * 400
    with client(sec_stack, "127.0.0.27") as http:
        assert token_login(http, username, secret, headers={"User-Agent": agent}).status_code == 401
        assert token_login(http, username, PASSWORD).status_code == 200
        ghost = f"ghost{uuid.uuid4().hex[:6]}"
        assert token_login(http, ghost, secret).status_code == 401
    with sec_stack.http() as http:
        listed = http.get(
            "/api/admin/logins", params={"username": username}, headers=sec_stack.bearer(ADMIN)
        )
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["total"] == 2
        latest, first = body["items"]
        assert (latest["outcome"], first["outcome"]) == ("ok", "wrong_password")
        assert latest["user_id"] is not None and latest["address"] == "127.0.0.27"
        assert latest["channel"] == "api"
        assert first["user_agent"].startswith("Mozilla/5.0 (login-records-test)")
        assert len(first["user_agent"]) == 300
        assert secret not in listed.text
        unknown = http.get(
            "/api/admin/logins",
            params={"username": ghost, "outcome": "unknown_user"},
            headers=sec_stack.bearer(ADMIN),
        ).json()
        assert unknown["total"] == 1 and unknown["items"][0]["user_id"] is None
        # Only admins read them.
        expert = http.get("/api/admin/logins", headers=sec_stack.bearer(Role.technician.value))
        assert expert.status_code == 403
        # The admin page, in Persian, filtered.
        http.cookies.set("peygir_session", sec_stack.bearer(ADMIN)["Authorization"][7:])
        page = http.get("/admin/logins", params={"username": username})
        assert page.status_code == 200
        assert "سابقهٔ ورود کاربران" in page.text
        assert username in page.text and "گذرواژهٔ نادرست" in page.text and "موفق" in page.text
        assert secret not in page.text
        filtered = http.get("/admin/logins", params={"username": username, "outcome": "ok"})
        assert "گذرواژهٔ نادرست" not in filtered.text.split("<table", 1)[1]
    with Session(sec_stack.engine) as session:
        dump = " ".join(str(r) for r in session.exec(select(LoginRecord)))
    assert secret not in dump


def test_a_locked_account_still_lets_its_owner_in_from_a_known_address(
    sec_stack: SecurityStack,
) -> None:
    """Someone elsewhere keeps the account locked; its owner, at the address they logged in
    from before, still gets in. A new address stays locked out."""
    username = new_user(sec_stack)
    with client(sec_stack, "127.0.0.31") as office:
        assert token_login(office, username, PASSWORD).status_code == 200
    with client(sec_stack, "127.0.0.32") as attacker:
        codes = [token_login(attacker, username, f"guess-{i}").status_code for i in range(8)]
        assert codes[-1] == 429, codes
    with client(sec_stack, "127.0.0.33") as elsewhere:
        assert token_login(elsewhere, username, PASSWORD).status_code == 429
    with client(sec_stack, "127.0.0.31") as office:
        assert token_login(office, username, PASSWORD).status_code == 200
