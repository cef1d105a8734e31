"""Process 2's own routes: the vendor and equipment registers' API and their pages.

`Process.routes` of the repair process's declaration calls `repair_routes`; the API includes
what it returns, and the worker never imports it.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import repair_register
from api.web.pages import repair


def repair_routes() -> list[APIRouter]:
    return [repair_register.router, repair.router]
