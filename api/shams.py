"""Process 4's own routes: the SHAMS register's API (counties, sites) and its pages.

The SHAMS process has no declaration yet (its workflows come later, on top of this register),
so the app includes `shams_routes` itself; the declaration's `routes` will return it instead,
as the repair process's returns `repair_routes`, and the app's line goes.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import shams_register
from api.web.pages import shams


def shams_routes() -> list[APIRouter]:
    return [shams_register.router, shams.router]
