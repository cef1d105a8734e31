"""The HTTP JSON SrmSource against a real local server (http.server on a free port): the window
and the token sent, pages followed, the answer stored idempotently; a bad token, a 5xx, a slow
server and malformed JSON each a clear, typed error that never shows the token."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from activities.srm_http import SrmHttpSource, SrmSourceError
from db.srm_import import SrmState, hospital_errors, import_from
from domain.calendar import TEHRAN
from domain.messages import Lang

TOKEN = "srm-token-" + uuid.uuid4().hex
SINCE = datetime(2032, 1, 10, tzinfo=TEHRAN)
UNTIL = SINCE + timedelta(days=1)


class Srm:
    """What the fake SRM answers, and what it was asked."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.pages: list[dict[str, Any]] = []
        self.asked: list[tuple[str, dict[str, list[str]], str]] = []


@pytest.fixture
def srm() -> Iterator[tuple[Srm, str]]:
    state = Srm()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def do_GET(self) -> None:
            where = urlsplit(self.path)
            query = parse_qs(where.query)
            state.asked.append((where.path, query, self.headers.get("Authorization", "")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401, b'{"message": "bad token"}')
            if state.mode == "down":
                return self._answer(503, b"maintenance")
            if state.mode == "slow":
                time.sleep(1.5)
            if state.mode == "garbage":
                return self._answer(200, b"<html>SRM</html>")
            if state.mode == "shape":
                return self._answer(200, b'{"items": []}')
            page = int(query.get("page", ["0"])[0])
            self._answer(200, json.dumps(state.pages[page]).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/srm/errors"
    finally:
        server.shutdown()
        server.server_close()


def item(code: str, record: str, message: str, hour: int = 9) -> dict[str, Any]:
    at = (SINCE + timedelta(hours=hour)).isoformat()
    return {"hospital_code": code, "at": at, "record_id": record, "message": message, "count": 1}


def test_reads_every_page_of_the_window_and_stores_it_once(
    srm: tuple[Srm, str], engine: Engine
) -> None:
    state, url = srm
    code = "W" + uuid.uuid4().hex[:8].upper()
    state.pages = [
        {"errors": [item(code, "1", "NationalCode invalid")], "next": "/srm/errors?page=1"},
        {"errors": [item(code, "2", "NationalCode invalid", hour=10)]},
    ]
    source = SrmHttpSource(url, TOKEN, SINCE, UNTIL, timeout_seconds=5)
    with Session(engine) as session:
        first = import_from(session, source, actor="cron")
        again = import_from(session, source, actor="cron")
        reading = hospital_errors(session, code, SINCE, UNTIL)
    path, query, auth = state.asked[0]
    assert (path, auth) == ("/srm/errors", f"Bearer {TOKEN}")
    assert query == {"from": [SINCE.isoformat()], "until": [UNTIL.isoformat()]}
    assert state.asked[1][1] == {"page": ["1"]}
    assert (first.added, again.added, again.already_imported) == (2, 0, True)
    assert first.source_name == url and TOKEN not in first.model_dump_json()
    assert reading.state is SrmState.errors and reading.covered
    assert [(g.message, g.count) for g in reading.groups] == [("NationalCode invalid", 2)]


def test_bad_items_are_errors_of_their_rows(srm: tuple[Srm, str], engine: Engine) -> None:
    state, url = srm
    state.pages = [{"errors": [item("H1", "1", "x"), {"hospital_code": "H1", "at": "soon"}, 7]}]
    batch = SrmHttpSource(url, TOKEN, SINCE, UNTIL).read()
    assert [(e.row, e.field, e.code) for e in batch.errors] == [
        (2, "at", "srm_time_invalid"),
        (2, "message", "required"),
        (3, "message", "invalid_value"),
    ]
    with Session(engine) as session:
        assert import_from(session, SrmHttpSource(url, TOKEN, SINCE, UNTIL), actor="c").added == 0


@pytest.mark.parametrize(
    ("mode", "token", "code", "retryable"),
    [
        ("ok", "wrong-token", "srm_source_auth", False),
        ("down", TOKEN, "srm_source_unavailable", True),
        ("slow", TOKEN, "srm_source_unavailable", True),
        ("garbage", TOKEN, "srm_source_answer_invalid", False),
        ("shape", TOKEN, "srm_source_answer_invalid", False),
    ],
)
def test_failures_are_clear_and_never_show_the_token(
    srm: tuple[Srm, str], mode: str, token: str, code: str, retryable: bool
) -> None:
    state, url = srm
    state.mode = mode
    with pytest.raises(SrmSourceError) as failed:
        SrmHttpSource(url, token, SINCE, UNTIL, timeout_seconds=0.5).read()
    assert (failed.value.code, failed.value.retryable) == (code, retryable)
    texts = [str(failed.value), failed.value.reason(Lang.fa), failed.value.reason(Lang.en)]
    assert all(token not in text for text in texts)
    # httpx's exception (which holds the request, its headers too) is not chained to it.
    error = failed.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_next_page_on_another_server_is_not_followed(srm: tuple[Srm, str]) -> None:
    state, url = srm
    state.pages = [{"errors": [], "next": "http://elsewhere.example/steal"}]
    with pytest.raises(SrmSourceError) as failed:
        SrmHttpSource(url, TOKEN, SINCE, UNTIL).read()
    assert failed.value.code == "srm_source_answer_invalid"
    assert len(state.asked) == 1


def test_an_unreachable_server_is_an_outage() -> None:
    with pytest.raises(SrmSourceError) as failed:
        SrmHttpSource("http://127.0.0.1:9/srm", TOKEN, SINCE, UNTIL, timeout_seconds=1).read()
    assert (failed.value.code, failed.value.retryable) == ("srm_source_unavailable", True)
