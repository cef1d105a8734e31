"""Process 3's own routes: the units' and posts' registers and their pages, and the unit head's
one-time hand-over of a cartable's credentials."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import automation_register, handover
from api.web.pages import automation_register as register_pages


def office_automation_routes() -> list[APIRouter]:
    return [automation_register.router, register_pages.router, handover.router]
