"""Server-rendered pages (Jinja2), one module per audience: public, staff, admin."""

from __future__ import annotations

from fastapi import APIRouter

from api.web.pages import admin, public, staff
from api.web.pages.public import start_pages
from api.web.pages.shared import CSRF_COOKIE, install

router = APIRouter(include_in_schema=False)
for audience in (public, staff, admin):
    router.include_router(audience.router)

__all__ = ["CSRF_COOKIE", "install", "router", "start_pages"]
