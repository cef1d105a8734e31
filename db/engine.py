"""The engine for the system of record (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import Insert, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel, create_engine

from settings import get_settings


class _Turns(NamedTuple):
    lock: threading.Lock
    timeout_seconds: float


_WRITERS: WeakKeyDictionary[Engine, _Turns] = WeakKeyDictionary()
"""The turn of each SQLite engine's writers (see `one_writer_at_a_time`)."""

LOCK_TIMEOUT_SECONDS = 30.0
"""How long a statement waits for a lock another connection holds before it fails."""


POOL_SIZE = 20
"""Connections kept open: at least as many as threads that use them at once (the API's database
threads, the worker's activity threads), so none is opened and closed per request."""
POOL_OVERFLOW = 20


def make_engine(url: str, *, lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS) -> Engine:
    """An engine whose statements give up waiting on another's lock after `lock_timeout_seconds`
    (SQLite's busy timeout, PostgreSQL's lock_timeout), so a held lock becomes an error the API
    can answer with 503, not a request that hangs."""
    parsed = make_url(url)
    lock_ms = max(1, round(lock_timeout_seconds * 1000))
    if parsed.get_backend_name() == "postgresql":
        # No ping before every checkout (a round trip per transaction): a connection the server
        # dropped fails its statement once, and SQLAlchemy then discards the whole pool.
        return create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_recycle=1800,
            connect_args={"options": f"-c lock_timeout={lock_ms}"},
        )
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": lock_timeout_seconds},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )
    _WRITERS[engine] = _Turns(threading.Lock(), lock_timeout_seconds)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # WAL lets the API read while the worker writes; foreign keys are off by default.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={lock_ms}")
        cur.close()

    return engine


@contextmanager
def one_writer_at_a_time(engine: Engine) -> Iterator[None]:
    """On SQLite, this process's write transactions take turns on a lock handed over at once.

    SQLite lets one connection write at a time; the others' busy handler sleeps in growing steps
    (up to 100 ms) between retries, so the write lock sits idle while they sleep, and many
    concurrent requests get far fewer writes through. Waiting here past the engine's lock timeout
    is a lock wait like SQLite's own (the API answers 503). Other databases pass straight through.
    """
    turns = _WRITERS.get(engine)
    if turns is None:
        yield
        return
    gate, timeout_seconds = turns
    if not gate.acquire(timeout=timeout_seconds):
        busy = sqlite3.OperationalError("database is locked")
        busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
        busy.sqlite_errorname = "SQLITE_BUSY"
        raise OperationalError("waiting for this process's other writers", None, busy)
    try:
        yield
    finally:
        gate.release()


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@cache
def _insert_once_statement(dialect: str, table_name: str, key: str) -> Insert:
    table = SQLModel.metadata.tables[table_name]
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table).on_conflict_do_nothing(index_elements=[table.c[key]]).returning(table.c[key])
    )


def insert_once(connection: Connection, table_name: str, key: str, values: dict[str, Any]) -> bool:
    """Insert a row unless one with the same unique `key` is there; True if it was new.

    One INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike), so a retried or a
    concurrent write of the same natural key adds nothing and needs no look-up first; any
    other violation (an unknown foreign key) still raises. Built once per table and dialect.
    """
    statement = _insert_once_statement(connection.dialect.name, table_name, key)
    return connection.execute(statement, values).first() is not None
