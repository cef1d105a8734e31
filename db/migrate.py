"""Bring a database to the newest schema: `python -m db.migrate [URL]`."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent


def scratch_database(url: str, folder: Path) -> str:
    """A database to throw away (tests, benchmarks): `url` emptied, or a SQLite file in `folder`.

    On PostgreSQL the whole `public` schema is dropped and made again.
    """
    if not url:
        return f"sqlite:///{folder / 'peygir-scratch.db'}"
    if make_url(url).get_backend_name() == "postgresql":
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    return url


def upgrade(url: str | None = None) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


if __name__ == "__main__":
    upgrade(sys.argv[1] if len(sys.argv) > 1 else None)
