"""The office-automation system (اتوماسیون اداری: Didgah and its peers) for process 3: create a
post, its user (the cartable) and its permissions; and in reverse disable the user, revoke the
permissions and free the post.

Those systems publish no API, so the default is `ManualOfficeAutomation`: each call does nothing
outside and answers False, meaning the automation admin does it in the system and records it in
the task (the codes typed, the checklist ticked). `RestOfficeAutomation` calls a REST endpoint
(a gateway the university or the vendor runs) and answers True. OFFICE_AUTOMATION chooses.

    Authorization: Bearer <OFFICE_AUTOMATION_TOKEN>
    POST /posts                                  {automation_code, unit_code, title, is_manager}
    POST /posts/{code}/user                      {username, national_code, first_name, last_name}
    POST /posts/{code}/permissions               {username, permissions: [...]}  (a set: adds)
    POST /posts/{code}/permissions/revoke        {username, permissions: [...]}
    POST /posts/{code}/user/disable              {username}
    DELETE /posts/{code}/holder                  (the post stays, without a user)

Every call is idempotent by the post's code, since a retry may follow a call whose answer was
lost: a post or a user that exists already (409) is what was asked for, a grant or a revocation
is a set operation, a disabled user or a freed post stays so. Each call has explicit timeouts and
is tried once: Temporal's retry policy owns retrying, and the ApplicationError says whether to.
429 and 503 are retryable after the system's Retry-After; a timeout, a lost connection or
another 5xx on the policy's rhythm; any other 4xx is final, with the system's reason. The token
travels in the header only, never in a URL, a log line or an error.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx
from temporalio.exceptions import ApplicationError

from activities.jira import _retry_after as retry_after
from domain.office_automation import AutomationGrant, AutomationPost, AutomationUser
from settings import OfficeAutomationKind, Settings

log = logging.getLogger(__name__)

REASON_MAX = 500


class OfficeAutomation(Protocol):
    """What process 3 asks of the automation system. Each method answers True when it was done
    in the system, False when the automation admin's task does it."""

    async def create_post(self, post: AutomationPost) -> bool: ...

    async def create_user(self, user: AutomationUser) -> bool: ...

    async def grant_permissions(self, grant: AutomationGrant) -> bool: ...

    async def disable_user(self, automation_code: str, username: str) -> bool: ...

    async def revoke_permissions(self, grant: AutomationGrant) -> bool: ...

    async def free_post(self, automation_code: str) -> bool: ...


class ManualOfficeAutomation:
    """By hand: nothing is done or recorded outside; the admin's tasks do it."""

    async def create_post(self, post: AutomationPost) -> bool:
        return False

    async def create_user(self, user: AutomationUser) -> bool:
        return False

    async def grant_permissions(self, grant: AutomationGrant) -> bool:
        return False

    async def disable_user(self, automation_code: str, username: str) -> bool:
        return False

    async def revoke_permissions(self, grant: AutomationGrant) -> bool:
        return False

    async def free_post(self, automation_code: str) -> bool:
        return False


class RestOfficeAutomation:
    """The system behind a REST endpoint (see the module's docstring)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_seconds: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = httpx.Timeout(timeout_seconds)
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        if not self._base:
            # Retried until ops set it: the case waits at its step, nothing is lost.
            raise ApplicationError(
                "OFFICE_AUTOMATION_URL is not set", type="OfficeAutomationNotConfigured"
            )
        return httpx.AsyncClient(
            base_url=self._base,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            timeout=self._timeout,
            transport=self._transport,
        )

    def _reason(self, answer: httpx.Response) -> str:
        """The system's {"detail": ...} or {"message": ...} in one line, never the token."""
        try:
            body = answer.json()
        except ValueError:
            body = None
        reason = ""
        if isinstance(body, dict):
            reason = str(body.get("detail") or body.get("message") or "")
        reason = reason or answer.reason_phrase or "no reason given"
        if self._token:
            reason = reason.replace(self._token, "***")
        return " ".join(reason.split())[:REASON_MAX]

    async def _call(
        self, method: str, path: str, *, exists_is_done: bool = False, **kwargs: Any
    ) -> bool:
        what = f"office automation {method} {path}"
        try:
            async with self._client() as client:
                answer = await client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApplicationError(
                f"{what}: timed out", type="OfficeAutomationUnavailable"
            ) from None
        except httpx.TransportError as error:
            raise ApplicationError(
                f"{what}: {type(error).__name__}", type="OfficeAutomationUnavailable"
            ) from None
        status = answer.status_code
        if status < 300 or (status == 409 and exists_is_done):
            return True
        reason = f"{what}: HTTP {status}: {self._reason(answer)}"
        log.warning("%s", reason)
        if status in (429, 503):
            raise ApplicationError(
                reason,
                type="OfficeAutomationBusy",
                next_retry_delay=retry_after(answer.headers.get("Retry-After")),
            )
        if status >= 500:
            raise ApplicationError(reason, type="OfficeAutomationUnavailable")
        raise ApplicationError(reason, type="OfficeAutomationRefused", non_retryable=True)

    async def create_post(self, post: AutomationPost) -> bool:
        return await self._call(
            "POST", "/posts", exists_is_done=True, json=post.model_dump(mode="json")
        )

    async def create_user(self, user: AutomationUser) -> bool:
        body = user.model_dump(mode="json", exclude={"automation_code"})
        path = f"/posts/{user.automation_code}/user"
        return await self._call("POST", path, exists_is_done=True, json=body)

    async def grant_permissions(self, grant: AutomationGrant) -> bool:
        body = grant.model_dump(mode="json", exclude={"automation_code"})
        return await self._call("POST", f"/posts/{grant.automation_code}/permissions", json=body)

    async def disable_user(self, automation_code: str, username: str) -> bool:
        path = f"/posts/{automation_code}/user/disable"
        return await self._call("POST", path, json={"username": username})

    async def revoke_permissions(self, grant: AutomationGrant) -> bool:
        body = grant.model_dump(mode="json", exclude={"automation_code"})
        path = f"/posts/{grant.automation_code}/permissions/revoke"
        return await self._call("POST", path, json=body)

    async def free_post(self, automation_code: str) -> bool:
        return await self._call("DELETE", f"/posts/{automation_code}/holder")


def office_automation(settings: Settings) -> OfficeAutomation:
    """The implementation OFFICE_AUTOMATION names."""
    if settings.office_automation is OfficeAutomationKind.rest:
        return RestOfficeAutomation(
            settings.office_automation_url,
            settings.office_automation_token,
            timeout_seconds=settings.office_automation_timeout_seconds,
        )
    return ManualOfficeAutomation()
