"""A local stand-in for an office-automation system's REST endpoint (the subset
activities/office_automation.py speaks), over real HTTP, for tests.

Posts by code, each with at most one user and a set of permissions; a create of what exists is
409; Bearer auth, 401 otherwise; errors as {"detail": ...}. Faults, each for the next matching
request: an answer lost after the work is done (`after`, e.g. 504), 429 or 503 with
Retry-After, a refusal.

    with OfficeAutomationServer(token="t") as system: ... system.url, system.posts ...
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


@dataclass
class Fault:
    """What the next request of `method` to a path ending with `path` meets."""

    method: str
    path: str
    status: int
    retry_after: str | None = None
    after: bool = False
    """True: the request is carried out, then its answer is lost (this status)."""


@dataclass
class SystemPost:
    code: str
    unit_code: str
    title: str
    is_manager: bool
    user: dict[str, Any] | None = None
    user_enabled: bool = False
    permissions: set[str] = field(default_factory=set)


@dataclass
class SystemState:
    token: str
    posts: dict[str, SystemPost] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)


def _detail(status: int, text: str) -> JSONResponse:
    return JSONResponse({"detail": text}, status_code=status)


def make_app(state: SystemState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def faults(request: Request, call_next: Any) -> Response:
        state.calls.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {state.token}":
            return _detail(401, "unauthorized")
        for fault in list(state.faults):
            if request.method == fault.method and request.url.path.endswith(fault.path):
                state.faults.remove(fault)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                if fault.after:
                    await call_next(request)
                return JSONResponse(
                    {"detail": f"fault {fault.status}"}, status_code=fault.status, headers=headers
                )
        response: Response = await call_next(request)
        return response

    def post_of(code: str) -> SystemPost | JSONResponse:
        post = state.posts.get(code)
        return post if post is not None else _detail(404, f"no post {code}")

    @app.post("/posts")
    def create_post(body: dict[str, Any]) -> Response:
        code = str(body["automation_code"])
        if code in state.posts:
            return _detail(409, f"post {code} exists")
        state.posts[code] = SystemPost(
            code=code,
            unit_code=str(body["unit_code"]),
            title=str(body["title"]),
            is_manager=bool(body.get("is_manager")),
        )
        return JSONResponse({"automation_code": code}, status_code=201)

    @app.post("/posts/{code}/user")
    def create_user(code: str, body: dict[str, Any]) -> Response:
        post = post_of(code)
        if isinstance(post, JSONResponse):
            return post
        if post.user is not None:
            return _detail(409, f"post {code} has a user")
        post.user, post.user_enabled = body, True
        return JSONResponse({"username": body["username"]}, status_code=201)

    def _user_of(code: str, body: dict[str, Any]) -> SystemPost | JSONResponse:
        post = post_of(code)
        if isinstance(post, JSONResponse):
            return post
        if post.user is None or post.user["username"] != body.get("username"):
            return _detail(422, f"no user {body.get('username')} on post {code}")
        return post

    @app.post("/posts/{code}/permissions")
    def grant(code: str, body: dict[str, Any]) -> Response:
        post = _user_of(code, body)
        if isinstance(post, JSONResponse):
            return post
        post.permissions |= set(body["permissions"])
        return JSONResponse({"permissions": sorted(post.permissions)})

    @app.post("/posts/{code}/permissions/revoke")
    def revoke(code: str, body: dict[str, Any]) -> Response:
        post = _user_of(code, body)
        if isinstance(post, JSONResponse):
            return post
        post.permissions -= set(body["permissions"])
        return JSONResponse({"permissions": sorted(post.permissions)})

    @app.post("/posts/{code}/user/disable")
    def disable(code: str, body: dict[str, Any]) -> Response:
        post = _user_of(code, body)
        if isinstance(post, JSONResponse):
            return post
        post.user_enabled = False
        return JSONResponse({"enabled": False})

    @app.delete("/posts/{code}/holder")
    def free(code: str) -> Response:
        post = post_of(code)
        if isinstance(post, JSONResponse):
            return post
        post.user, post.user_enabled, post.permissions = None, False, set()
        return Response(status_code=204)

    return app


class OfficeAutomationServer:
    """The stand-in on a free port of 127.0.0.1, in a thread, while the `with` lasts."""

    def __init__(self, token: str) -> None:
        self.state = SystemState(token=token)
        self._server = uvicorn.Server(
            uvicorn.Config(
                make_app(self.state), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> OfficeAutomationServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local office-automation system did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
