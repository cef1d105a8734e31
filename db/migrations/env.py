"""Alembic environment: the URL comes from settings unless the caller set one on the config."""

from alembic import context
from sqlmodel import SQLModel

import db.models  # noqa: F401  (the shared tables)
import processes.registry  # noqa: F401  (every process's own tables)
from db.engine import make_engine
from settings import get_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url

with make_engine(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
