"""Security headers on every answer: pages, API, static files, errors, even a crash's 500.

The middleware wraps the whole app, outside Starlette's ServerErrorMiddleware (see
`api.app.App`), so a 500 that no handler caught carries the headers too. A header the route set
itself is kept: the tracking page's `Referrer-Policy: no-referrer` (its address may hold a link's
token) is stricter than the default here.

The pages run no inline script or style (`tests/security/test_headers.py` keeps the templates
clean), so the policy is `'self'` only. Two exceptions, the OpenAPI reference pages FastAPI serves
(`/docs`, with its OAuth2 redirect, and `/redoc`): they load Swagger UI and ReDoc from a CDN
and start them with an inline script. They show the public API's schema only, reflect nothing a
caller sends, and the authorization matrix keeps them public, so rather than break them their
paths alone get a policy that allows the CDN and inline code; framing, plugins and `<base>` stay
forbidden there too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
"""The policy of every page: nothing inline, nothing from elsewhere, never framed."""

_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
"""Only for DOCS_PATHS: Swagger UI and ReDoc come from the CDN and start with inline code."""
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()"
"""Nothing here needs a device or a sensor."""
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every answer carries (the CSP is chosen per path)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    # Only where people really reach the portal over TLS: on plain http (the embedded default)
    # browsers ignore it, and a localhost name must not be pinned to https by accident.
    if settings.public_base_url.lower().startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers to the start of every HTTP answer, keeping any
    the route set itself."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (*self.headers.items(), ("Content-Security-Policy", csp)):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
