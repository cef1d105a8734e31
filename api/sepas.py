"""Process 5's own routes: the SEPAS registers' API (hospitals, HIS vendors, the error bank,
SRM's reports), their pages, and the ministry Jira's webhook."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import sepas_news, sepas_register
from api.web.pages import sepas


def sepas_routes() -> list[APIRouter]:
    return [sepas_register.router, sepas_news.router, sepas.router]
