"""Process 3's own routes: the units' and posts' registers and their pages (its declaration's
`routes` will call `office_automation_routes`; the API includes them until then)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import automation_register
from api.web.pages import automation_register as register_pages


def office_automation_routes() -> list[APIRouter]:
    return [automation_register.router, register_pages.router]
