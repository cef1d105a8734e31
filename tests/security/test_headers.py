"""The security headers, over HTTP, on every kind of answer; and the templates stay free of inline
script and style, which the policy would block (tests/browser/test_csp.py shows the pages working
under it in Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from api.app import create_app
from api.headers import CSP, DOCS_CSP, DOCS_PATHS, HSTS, PERMISSIONS_POLICY
from settings import AppEnv, Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "web" / "templates"
EVERYWHERE = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "permissions-policy": PERMISSIONS_POLICY,
    "cross-origin-opener-policy": "same-origin",
}
TEMPORAL_UI = "http://localhost:8233"


def make_app(settings: Settings) -> FastAPI:
    app = create_app(settings, temporal=object())  # type: ignore[arg-type]

    @app.get("/test-crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    @app.get("/test-stricter")
    def stricter() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Referrer-Policy": "no-referrer"})

    return app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    """From this machine (the codec lets a development caller in from loopback); a crash is
    answered as the server answers it, a 500."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("127.0.0.1", 50000)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(make_app(settings)) as client:
        yield client


def assert_secured(answer: object, csp: str = CSP) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    for name, value in {**EVERYWHERE, "content-security-policy": csp}.items():
        assert headers.get(name) == value, f"{answer}: {name} is {headers.get(name)!r}"
    assert "strict-transport-security" not in headers  # the settings' portal is http://


async def test_every_kind_of_answer_carries_the_headers(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_secured(page)
    api = await http.get("/api/health")
    assert api.status_code == 200 and api.json()["status"] == "degraded"
    assert_secured(api)
    refused = await http.get("/api/tasks")
    assert refused.status_code == 401
    assert_secured(refused)
    missing_page = await http.get("/no-such-page")
    assert missing_page.status_code == 404 and "text/html" in missing_page.headers["content-type"]
    assert_secured(missing_page)
    missing_api = await http.get("/api/no-such-route")
    assert missing_api.status_code == 404 and missing_api.json()["code"] == "not_found"
    assert_secured(missing_api)
    for asset in ("/static/app.js", "/static/style.css"):
        static = await http.get(asset)
        assert static.status_code == 200
        assert_secured(static)
    assert_secured(await http.get("/static/missing.js"))
    crash = await http.get("/test-crash")
    assert crash.status_code == 500  # past every handler, from Starlette's ServerErrorMiddleware
    assert_secured(crash)
    login = await http.post("/login", data={"username": "x", "password": "y"})  # no CSRF token
    assert login.status_code == 403
    assert_secured(login)


async def test_a_stricter_referrer_policy_of_the_route_is_kept(http: httpx.AsyncClient) -> None:
    answer = await http.get("/test-stricter")
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-security-policy"] == CSP


async def test_the_openapi_pages_alone_get_the_cdn_policy(http: httpx.AsyncClient) -> None:
    for path in DOCS_PATHS:
        answer = await http.get(path)
        assert answer.status_code == 200, path
        assert_secured(answer, DOCS_CSP)
    assert "frame-ancestors 'none'" in DOCS_CSP and "object-src 'none'" in DOCS_CSP
    for neighbour in ("/docs/", "/docs-x", "/redoc/x"):  # they keep the strict one
        assert_secured(await http.get(neighbour, follow_redirects=False))
    schema = await http.get("/openapi.json")
    assert schema.status_code == 200
    assert_secured(schema)


async def test_the_temporal_ui_still_calls_the_codec_across_origins(
    http: httpx.AsyncClient,
) -> None:
    preflight = await http.options(
        "/codec/decode",
        headers={
            "Origin": TEMPORAL_UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == TEMPORAL_UI
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert_secured(preflight)
    payloads = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IjEi"}]}
    encoded = await http.post(
        "/codec/encode", json=payloads, headers={"Origin": TEMPORAL_UI, "X-Namespace": "default"}
    )
    assert encoded.status_code == 200, encoded.text
    assert encoded.headers["access-control-allow-origin"] == TEMPORAL_UI
    assert_secured(encoded)
    decoded = await http.post("/codec/decode", json=encoded.json(), headers={"Origin": TEMPORAL_UI})
    assert decoded.json() == payloads


@pytest.mark.parametrize(
    ("public_base_url", "hsts"),
    [
        ("https://peygir.university.ac.ir", HSTS),
        ("HTTPS://peygir.university.ac.ir/", HSTS),
        ("http://localhost:8000", None),
        ("http://peygir.university.ac.ir", None),
    ],
)
async def test_hsts_only_when_the_public_url_is_https(
    settings: Settings, public_base_url: str, hsts: str | None
) -> None:
    app = make_app(
        settings.model_copy(
            update={"public_base_url": public_base_url, "app_env": AppEnv.production}
        )
    )
    async with client_of(app) as client:
        for path in ("/", "/api/health", "/static/app.js", "/no-such-page", "/test-crash"):
            assert (await client.get(path)).headers.get("strict-transport-security") == hsts, path


INLINE = {
    "an inline <script> body": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "a <style> element": re.compile(r"<style\b", re.I),
    "an on* handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "a style= attribute": re.compile(r"\sstyle\s*=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def test_templates_hold_no_inline_script_or_style() -> None:
    """What the CSP would block: script and style live in /static/app.js and style.css."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 10
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in templates
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
