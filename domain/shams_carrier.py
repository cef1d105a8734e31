"""The carrier's bulk reports on SHAMS sites: ranging answers (رانژه) and installed lines for
many sites at once, as JSON rows or the spreadsheet the carrier fills in.

A row names its site and what it reports; the rest of its fields are that report's decision
(`RangingReport` or `LineInstalled`), checked by the same model the site's task is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from domain.text import typed_text


class CarrierReport(StrEnum):
    ranging = "ranging"
    """رانژه: feasible or not, the exchange, the link offered, the expected date."""
    line_installed = "line_installed"
    """The line is built (or, after a fault, repaired)."""


CARRIER_REPORT_FA = {
    CarrierReport.ranging: "رانژه",
    CarrierReport.line_installed: "نصب خط",
}


class RowOutcome(StrEnum):
    accepted = "accepted"
    """Delivered: the site's task took it as its decision."""
    unchanged = "unchanged"
    """The same report was taken before (a file sent twice): nothing changed."""
    rejected = "rejected"
    """Not taken; `code` and `reason` say why. The other rows are not affected."""


class CarrierReportRow(BaseModel):
    """One site's report, as sent in a bulk call (fields of the other report are ignored)."""

    site_code: Annotated[str, BeforeValidator(typed_text)] = Field(min_length=1, max_length=30)
    report: CarrierReport
    feasible: bool | None = None
    exchange: str | None = None
    link_type: str | None = None
    reason: str | None = None
    """Why not feasible: no_free_port, no_coverage, pcm_dlc_line, distance, other."""
    expected_on: str | None = None
    """YYYY-MM-DD: when the line will be installed."""
    circuit_id: str | None = None
    note: str | None = None

    def decision(self) -> dict[str, Any]:
        """The fields of this row's report, as its task's decision form takes them."""
        names = (
            ("feasible", "exchange", "link_type", "reason", "expected_on", "note")
            if self.report == CarrierReport.ranging
            else ("circuit_id", "note")
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class CarrierReports(BaseModel):
    """A bulk report: up to `MAX_ROWS` sites in one call."""

    rows: list[dict[str, Any]] = Field(min_length=1, max_length=5000)
    """Each row a `CarrierReportRow`; a bad row is answered rejected, the others still count."""


MAX_ROWS = 5000


class RowAnswer(BaseModel):
    row: int
    """The row's number: its place in `rows` from 1, or its line in the file (header: 1)."""
    site_code: str | None
    outcome: RowOutcome
    code: str | None = None
    """Why it was rejected (e.g. `unknown_site`, `not_at_this_step`, `invalid_value`)."""
    reason: str | None = None
    """The same, in the caller's language, with the fields at fault."""


class CarrierReportAnswer(BaseModel):
    accepted: int
    unchanged: int
    rejected: int
    rows: list[RowAnswer]


CARRIER_HEADERS: dict[str, tuple[str, ...]] = {
    "site_code": ("کد نقطه", "site_code"),
    "report": ("گزارش", "نوع گزارش", "report"),
    "feasible": ("امکان ارتباط", "feasible"),
    "exchange": ("مرکز مخابراتی", "exchange"),
    "link_type": ("نوع ارتباط", "link_type"),
    "reason": ("دلیل عدم امکان", "reason"),
    "expected_on": ("تاریخ پیش‌بینی‌شده", "expected_on"),
    "circuit_id": ("شماره مدار", "circuit_id"),
    "note": ("توضیحات", "note"),
}
"""The carrier's spreadsheet: Persian headers first (the template's), English accepted."""
CARRIER_REQUIRED = ("site_code", "report")

_YES = {"1", "true", "yes", "بله", "دارد", "آری", "feasible"}
_NO = {"0", "false", "no", "خیر", "ندارد", "not feasible"}
_REPORTS = {
    **{r.value: r for r in CarrierReport},
    **{label: r for r, label in CARRIER_REPORT_FA.items()},
}


def row_from_cells(cells: dict[str, object]) -> dict[str, Any]:
    """A spreadsheet row as a bulk row: Persian yes/no and report names read as the API's."""
    row: dict[str, Any] = {k: v for k, v in cells.items() if v not in ("", None)}
    feasible = str(row.get("feasible", "")).strip().lower()
    if feasible in _YES:
        row["feasible"] = True
    elif feasible in _NO:
        row["feasible"] = False
    report = str(row.get("report", "")).strip()
    if report in _REPORTS:
        row["report"] = _REPORTS[report].value
    return row
