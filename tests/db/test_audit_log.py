"""The audit log is append-only in the database too, on PostgreSQL (migration 0006's trigger)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from db.models import AuditEntry


def test_postgresql_refuses_changing_or_deleting_an_entry(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's (SQLite has none)")
    with Session(engine) as session:
        session.add(AuditEntry(actor="admin", action="user.create", target="someone"))
        session.commit()
    for statement in (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
