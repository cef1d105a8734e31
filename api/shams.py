"""Process 4's own routes: the SHAMS register's API (counties, sites), the rollout board's,
and their pages.

The SHAMS process has no declaration yet (its workflows come later, on top of this register),
so the app includes `shams_routes` itself; the declaration's `routes` will return it instead,
as the repair process's returns `repair_routes`, and the app's line goes.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import shams_board, shams_register
from api.web.pages import shams
from api.web.pages import shams_board as board_pages


def shams_routes() -> list[APIRouter]:
    return [shams_register.router, shams_board.router, shams.router, board_pages.router]
