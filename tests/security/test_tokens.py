"""Token revocation, from outside over HTTP: a password reset, a disable, "log out everywhere"
void every token issued before; logout voids the session's own token; old-style tokens are
refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from api.security import SESSION_COOKIE, issue_token
from api.web.pages import CSRF_COOKIE
from domain.cases import Role
from tests.security.conftest import ADMIN, SecurityStack
from tests.security.test_logins import PASSWORD, client, new_user, token_login

CSRF = "tokens-csrf-token"
ADDRESS = "127.0.0.31"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_token(http: httpx.Client, username: str, password: str = PASSWORD) -> str:
    answer = token_login(http, username, password)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def web_session(http: httpx.Client, username: str, password: str = PASSWORD) -> str:
    http.cookies.set(CSRF_COOKIE, CSRF)
    answer = http.post(
        "/login", data={"csrf_token": CSRF, "username": username, "password": password}
    )
    assert answer.status_code == 303, answer.text
    return str(answer.cookies[SESSION_COOKIE])


def works(http: httpx.Client, token: str) -> bool:
    answer = http.get("/api/auth/me", headers=bearer(token))
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def page_works(stack: SecurityStack, cookie: str) -> bool:
    with stack.http() as http:
        answer = http.get("/cartable", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def test_a_password_reset_voids_earlier_tokens(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    admin = sec_stack.bearer(ADMIN)
    with client(sec_stack, ADDRESS) as http:
        old = api_token(http, username)
        cookie = web_session(http, username)
        assert works(http, old) and page_works(sec_stack, cookie)
        reset = http.post(
            f"/api/admin/users/{username}/password",
            json={"password": "new-pass-7731"},
            headers=admin,
        )
        assert reset.status_code == 204
        # Issued in the same second as the reset, but after it: still good.
        right_after = issue_token(sec_stack.settings, username)
        assert not works(http, old)
        assert not page_works(sec_stack, cookie)
        assert works(http, right_after)
        assert works(http, api_token(http, username, "new-pass-7731"))


def test_a_disable_voids_tokens_for_good(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    admin = sec_stack.bearer(ADMIN)
    with client(sec_stack, ADDRESS) as http:
        old = api_token(http, username)
        off = http.patch(f"/api/admin/users/{username}", json={"is_active": False}, headers=admin)
        assert off.status_code == 200
        assert not works(http, old)
        on = http.patch(f"/api/admin/users/{username}", json={"is_active": True}, headers=admin)
        assert on.status_code == 200
        assert not works(http, old)  # enabled again, the old token stays void
        assert works(http, api_token(http, username))


def test_logout_voids_the_token_it_is_called_with(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    with client(sec_stack, ADDRESS) as http:
        mine, other = api_token(http, username), api_token(http, username)
        assert http.post("/api/auth/logout", headers=bearer(mine)).status_code == 204
        assert not works(http, mine)
        assert works(http, other)
        assert http.post("/api/auth/logout", headers=bearer(mine)).status_code == 401
        # The web logout voids the cookie's token: a copy of the cookie no longer opens pages.
        cookie = web_session(http, username)
        assert page_works(sec_stack, cookie)
        out = http.post("/logout", data={"csrf_token": CSRF})
        assert out.status_code == 303
        assert not page_works(sec_stack, cookie)
        assert works(http, other)


def test_logout_everywhere(sec_stack: SecurityStack) -> None:
    username = new_user(sec_stack)
    with client(sec_stack, ADDRESS) as http:
        first, second = api_token(http, username), api_token(http, username)
        cookie = web_session(http, username)
        assert http.post("/api/auth/logout-all", headers=bearer(first)).status_code == 204
        assert not works(http, first) and not works(http, second)
        assert not page_works(sec_stack, cookie)
        fresh = api_token(http, username)
        assert works(http, fresh)
        # The button on the web pages does the same.
        cookie = web_session(http, username)
        page = http.get("/cartable")
        assert 'action="/logout-all"' in page.text
        out = http.post("/logout-all", data={"csrf_token": CSRF})
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert not works(http, fresh) and not page_works(sec_stack, cookie)
        assert works(http, api_token(http, username))


def test_tokens_without_an_id_or_issue_time_are_refused(sec_stack: SecurityStack) -> None:
    """Tokens issued before revocation existed: everyone logs in once more after the upgrade."""
    now = datetime.now(UTC)
    key = sec_stack.settings.secret_key
    legacy = jwt.encode(
        {"sub": Role.technician.value, "iat": now, "exp": now + timedelta(hours=1)}, key
    )
    no_iat = jwt.encode(
        {"sub": Role.technician.value, "jti": "x1", "exp": now + timedelta(hours=1)}, key
    )
    with sec_stack.http() as http:
        assert not works(http, legacy)
        assert not works(http, no_iat)
        assert works(http, issue_token(sec_stack.settings, Role.technician.value))
