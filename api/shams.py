"""Process 4's own routes: the SHAMS register's API (counties, sites), the rollout board's,
the carrier's bulk reports, and their pages; the declaration (processes/shams.py) returns them.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import shams_board, shams_carrier, shams_register, shams_sites
from api.web.pages import shams
from api.web.pages import shams_board as board_pages
from api.web.pages import shams_carrier as carrier_pages


def shams_routes() -> list[APIRouter]:
    return [
        shams_register.router,
        shams_board.router,
        shams_carrier.router,
        shams_sites.router,
        shams.router,
        board_pages.router,
        carrier_pages.router,
    ]
