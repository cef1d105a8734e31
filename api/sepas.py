"""Process 5's own routes: the SEPAS registers' API (hospitals, HIS vendors, the error bank,
SRM's reports) and their pages.

The SEPAS process has no declaration yet (its workflow comes later, on top of these records), so
the app includes `sepas_routes` itself; the declaration's `routes` will return it instead, and
the app's line goes.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import sepas_register
from api.web.pages import sepas


def sepas_routes() -> list[APIRouter]:
    return [sepas_register.router, sepas.router]
