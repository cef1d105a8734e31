"""The second SrmSource: SRM's error reports read from an HTTP JSON endpoint (SRM_API_URL, with
the bearer token SRM_API_TOKEN), for a window of time.

    GET {url}?from=2025-12-01T00:00:00+03:30&until=2025-12-02T00:00:00+03:30
    Authorization: Bearer <token>

    200 {"errors": [{"hospital_code": "H1001", "at": "2025-12-01T10:20:00+03:30",
                     "record_id": "…", "message": "NationalCode invalid", "count": 3}, …],
         "next": "/srm/errors?page=2"}        ← optional: the next page, on the same server

Each item is checked as a row of an export is (`domain.sepas.SrmErrorRow`); a bad item is an
error of its row (its position in the answer, from 1), and nothing is stored. The client has
explicit timeouts and never retries: whoever calls it (the command line, a scheduled activity)
owns retrying, and `SrmSourceError.retryable` tells it whether to. The token goes in the header
only: it never appears in a URL, a log line or an error.

    python -m activities.srm_http --since TIME --until TIME [--actor USERNAME]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import ValidationError

from domain.messages import Lang, message
from domain.sepas import SrmBatch, SrmErrorRow, srm_time
from domain.spreadsheets import RowError, row_error
from settings import Settings

MAX_PAGES = 200
"""A server that keeps answering `next` is cut off here rather than read forever."""


class SrmSourceError(Exception):
    """The endpoint could not be read; `code` is the message key, the reason says why."""

    def __init__(self, code: str, *, retryable: bool, **params: object) -> None:
        super().__init__(message(code, Lang.en, **params))
        self.code = code
        self.retryable = retryable
        """True for an outage (timeout, 5xx, 429): the same call may work later."""
        self.params = params

    def reason(self, lang: Lang) -> str:
        return message(self.code, lang, **self.params)


def _item_errors(number: int, error: ValidationError) -> list[RowError]:
    kinds = {"missing": "required", "string_too_long": "too_long", "int_parsing": "invalid_value"}
    return [
        row_error(
            number,
            str(e["loc"][0]) if e["loc"] else "message",
            kinds.get(e["type"], e["type"]),
            **{k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int)},
        )
        for e in error.errors(include_url=False)
    ]


class SrmHttpSource:
    """SRM's errors of `since` to `until`, read from the endpoint."""

    def __init__(
        self,
        url: str,
        token: str,
        since: datetime,
        until: datetime,
        *,
        timeout_seconds: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url:
            raise ValueError("SRM_API_URL is not set")
        self._url = url
        self._token = token
        self._window = (since, until)
        self._timeout = httpx.Timeout(timeout_seconds)
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings, since: datetime, until: datetime) -> SrmHttpSource:
        return cls(
            settings.srm_api_url,
            settings.srm_api_token,
            since,
            until,
            timeout_seconds=settings.srm_api_timeout_seconds,
        )

    def _page(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> Any:
        try:
            answer = client.get(url, params=params)
        except httpx.TimeoutException:
            raise SrmSourceError(
                "srm_source_unavailable", retryable=True, detail="timeout"
            ) from None
        except httpx.TransportError as error:
            detail = type(error).__name__
            raise SrmSourceError("srm_source_unavailable", retryable=True, detail=detail) from None
        status = answer.status_code
        if status in (401, 403):
            raise SrmSourceError("srm_source_auth", retryable=False, status=status)
        if status == 429 or status >= 500:
            detail = f"HTTP {status}"
            raise SrmSourceError("srm_source_unavailable", retryable=True, detail=detail)
        if status != 200:
            raise SrmSourceError("srm_source_refused", retryable=False, status=status)
        try:
            return answer.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SrmSourceError(
                "srm_source_answer_invalid", retryable=False, detail="not JSON"
            ) from None

    def read(self) -> SrmBatch:
        """Every page of the window; SrmSourceError when the endpoint cannot be read."""
        since, until = self._window
        origin = urlsplit(self._url)[:2]
        items: list[Any] = []
        digest = hashlib.sha256()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        url: str | None = self._url
        params: dict[str, str] | None = {"from": since.isoformat(), "until": until.isoformat()}
        with httpx.Client(
            headers=headers, timeout=self._timeout, transport=self._transport
        ) as client:
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                body = self._page(client, url, params)
                if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
                    raise SrmSourceError(
                        "srm_source_answer_invalid", retryable=False, detail="no errors list"
                    )
                items += body["errors"]
                digest.update(json.dumps(body["errors"], sort_keys=True).encode())
                following = body.get("next")
                url, params = None, None
                if isinstance(following, str) and following:
                    url = urljoin(self._url, following)
                    # The token is for SRM's server only: a next page elsewhere is not followed.
                    if urlsplit(url)[:2] != origin:
                        raise SrmSourceError(
                            "srm_source_answer_invalid",
                            retryable=False,
                            detail="next page elsewhere",
                        )
            else:
                raise SrmSourceError(
                    "srm_source_answer_invalid", retryable=False, detail="too many pages"
                )
        rows: list[SrmErrorRow] = []
        errors: list[RowError] = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                errors.append(row_error(number, "message", "invalid_value"))
                continue
            try:
                rows.append(SrmErrorRow.model_validate(item))
            except ValidationError as error:
                errors.extend(_item_errors(number, error))
        where = urlsplit(self._url)
        name = f"{where.scheme}://{where.netloc}{where.path}"
        return SrmBatch(
            source_key=f"http:{since.isoformat()}/{until.isoformat()}:{digest.hexdigest()}",
            source_name=name[:500],
            rows=rows,
            errors=errors,
            period_from=since,
            period_until=until,
        )


def _time(text: str) -> datetime:
    value: Any = srm_time(text)
    if not isinstance(value, datetime):
        raise argparse.ArgumentTypeError("a date and time")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m activities.srm_http",
        description="Import SRM's errors of a window from its HTTP JSON endpoint (SRM_API_URL).",
    )
    parser.add_argument("--since", type=_time, required=True)
    parser.add_argument("--until", type=_time, required=True)
    parser.add_argument("--actor", default="system", help="who the import names")
    args = parser.parse_args(argv)
    from sqlmodel import Session

    from db.engine import get_engine
    from db.srm_import import describe, import_from
    from settings import get_settings

    settings = get_settings()
    if not settings.srm_api_url:
        print("SRM_API_URL is not set / آدرس SRM تنظیم نشده است", file=sys.stderr)
        return 1
    source = SrmHttpSource.from_settings(settings, args.since, args.until)
    try:
        with Session(get_engine()) as session:
            report = import_from(session, source, actor=args.actor)
    except SrmSourceError as error:
        print(error.reason(Lang.fa), file=sys.stderr)
        print(error.reason(Lang.en), file=sys.stderr)
        return 1
    print(describe(report))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
