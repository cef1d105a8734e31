"""Process 5 (بررسی و رفع مشکلات ارسال پرونده به سپاس): the error bank (بانک خطا), the errors the
SRM monitoring system (سامانه مانیتورینگ اس آر ام) reports for each hospital, and the matching of
one to the other.

A bank entry names an SRM message exactly, or by a pattern whose placeholders stand for what
changes from one record to the next:

    {number}  one or more digits (a record number, a national code)
    {code}    one word without spaces (a coded value, an element's code: `DO_CODED_TEXT`, `12.a`)
    {text}    any text, at least one character

Everything else in a pattern is literal (regex characters included); `{{` and `}}` are a literal
brace. Messages and patterns are compared normalised: whitespace collapsed, Persian and Arabic
digits as ASCII, case folded, a final full stop dropped (SRM writes `NationalCode is block.` in one
report and `NationalCode is block` in another).

A message that no entry names exactly or by a pattern may still be close to one (a word more, a
record number in the middle, a space or a typo in the HIS's text): rapidfuzz's `fuzz.ratio` (the
normalised Indel similarity) scores it against each entry's text (a pattern's without its
placeholders), and entries scoring at least the threshold (SEPAS_SIMILARITY_THRESHOLD) are offered
to the expert as similar. Below it, the message is unknown. The ratio weighs the characters both
texts share against both lengths, so a word in common (`is`, `invalid`) cannot carry a short
message to a long entry, as the partial and subset scores of WRatio and token_set_ratio do (SRM's
texts come from templates, so words in another order are not worth that price).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from rapidfuzz import fuzz, process

from domain.calendar import TEHRAN, jalali_to_gregorian
from domain.shams import ContactName, Email, Flag, Phone, SmsMobile
from domain.spreadsheets import RowError
from domain.text import empty_as_none, loose_key, normalize_text, typed_digits, typed_text


class ErrorCategory(StrEnum):
    """Who has to act on an error: PROCESSES.md §5, box 5."""

    hospital = "hospital"
    """The hospital's data (a wrong national code, a missing field): its IT unit fixes it."""
    software = "software"
    """The HIS software builds a wrong message: its vendor ships a fix."""
    structural = "structural"
    """SEPAS's side (its nodes, its validation services): the ministry, through its Jira."""
    other = "other"


CATEGORY_FA: dict[ErrorCategory, str] = {
    ErrorCategory.hospital: "خطای بیمارستانی",
    ErrorCategory.software: "خطای نرم‌افزاری",
    ErrorCategory.structural: "خطای ساختاری",
    ErrorCategory.other: "سایر",
}
CATEGORY_EN: dict[ErrorCategory, str] = {
    ErrorCategory.hospital: "Hospital data",
    ErrorCategory.software: "HIS software",
    ErrorCategory.structural: "Structural (SEPAS side)",
    ErrorCategory.other: "Other",
}


class BankSource(StrEnum):
    """Where an error bank entry came from."""

    seed = "seed"
    """Shipped with Peygir: messages seen in real SRM reports."""
    expert = "expert"
    """Written by the university's SEPAS expert."""
    jira = "jira"
    """The ministry's answer to an issue in its Jira (the entry keeps the issue's key)."""


SOURCE_FA: dict[BankSource, str] = {
    BankSource.seed: "بانک اولیه",
    BankSource.expert: "کارشناس سپاس",
    BankSource.jira: "جیرای وزارت",
}
SOURCE_EN: dict[BankSource, str] = {
    BankSource.seed: "Seed",
    BankSource.expert: "SEPAS expert",
    BankSource.jira: "Ministry Jira",
}


class MatchKind(StrEnum):
    """How an entry explains a message, the surest first."""

    exact = "exact"
    pattern = "pattern"
    similar = "similar"
    """Only close to the entry's text: the expert confirms or corrects it."""


PLACEHOLDERS: dict[str, str] = {
    "number": r"[0-9]+",
    "code": r"\S+",
    "text": r".+",
}
"""Each placeholder's regex, on the normalised message."""
MAX_PLACEHOLDERS = 5
"""With placeholders kept apart by literal text, five bound how far a match can backtrack."""
MESSAGE_MAX = 500
"""The longest bank message or pattern."""
SRM_MESSAGE_MAX = 2000
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FINAL_STOP = re.compile(r"[\s.]+$")
SIMILARITY_THRESHOLD = 80.0
"""The least similarity score (0–100) that still offers an entry; the setting's default."""
SIMILAR_SHOWN = 3
"""Similar entries offered for one message, the closest first."""


class PatternInvalid(ValueError):
    """A pattern that cannot be compiled: `code` is the message key, `params` its values."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def match_key(message: str) -> str:
    """A message as the bank compares it (see the module's docstring)."""
    return _FINAL_STOP.sub("", normalize_text(message)).casefold()


@dataclass(frozen=True)
class CompiledPattern:
    regex: re.Pattern[str]
    literal_length: int
    """Characters of literal text: of two matching patterns, the longer one is more specific."""
    literal_text: str
    """The literal text alone, placeholders dropped: what a similar message is compared with."""


def compile_pattern(pattern: str) -> CompiledPattern:
    """The pattern as a regex over `match_key` text; PatternInvalid says what is wrong."""
    parts: list[str] = []
    literals: list[str] = []
    literal = 0
    placeholders = 0
    after_placeholder = False
    position = 0
    key = match_key(pattern)
    for token in _TOKEN.finditer(key):
        text = key[position : token.start()]
        position = token.end()
        if text:
            parts.append(re.escape(text))
            literals.append(text)
            literal += len(text)
            after_placeholder = False
        if token[0] in ("{{", "}}"):
            parts.append(re.escape(token[0][0]))
            literals.append(token[0][0])
            literal += 1
            after_placeholder = False
        elif token[0] in ("{", "}"):
            raise PatternInvalid("pattern_brace")
        else:
            name = token[1].strip()
            if name not in PLACEHOLDERS:
                raise PatternInvalid("pattern_placeholder_unknown")
            if after_placeholder:
                raise PatternInvalid("pattern_placeholders_adjacent")
            placeholders += 1
            parts.append(f"(?:{PLACEHOLDERS[name]})")
            literals.append(" ")
            after_placeholder = True
    tail = key[position:]
    if tail:
        parts.append(re.escape(tail))
        literals.append(tail)
        literal += len(tail)
    if placeholders == 0:
        raise PatternInvalid("pattern_without_placeholder")
    if placeholders > MAX_PLACEHOLDERS:
        raise PatternInvalid("pattern_too_many_placeholders", limit=MAX_PLACEHOLDERS)
    if literal < 3:
        # `{text}` alone would match every message and shadow the whole bank.
        raise PatternInvalid("pattern_too_loose")
    return CompiledPattern(
        regex=re.compile("".join(parts), re.DOTALL),
        literal_length=literal,
        literal_text=" ".join("".join(literals).split()),
    )


def _required_text(value: object) -> object:
    value = typed_text(value)
    if isinstance(value, str) and not value:
        raise PydanticCustomError("required", "required")
    return value


JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,19}-[0-9]{1,9}")


def _jira_key(value: str | None) -> str | None:
    if value is not None and not JIRA_KEY.fullmatch(value):
        raise PydanticCustomError("jira_key_invalid", "a Jira issue key like SEPAS-123")
    return value


BankMessage = Annotated[str, BeforeValidator(_required_text), Field(max_length=MESSAGE_MAX)]
Explanation = Annotated[str, BeforeValidator(_required_text), Field(max_length=2000)]
JiraKey = Annotated[
    Annotated[str, Field(max_length=30)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
    AfterValidator(lambda v: _jira_key(v.upper()) if isinstance(v, str) else v),
]


class BankEntryText(BaseModel):
    """An error bank entry as the SEPAS expert writes it (the form, the API)."""

    is_pattern: bool = False
    """True: `message` is a pattern with {number}, {code} or {text} placeholders."""
    message: BankMessage
    """The SRM message exactly, or a pattern."""
    category: ErrorCategory
    cause_fa: Explanation
    """Why SRM reports it, in Persian."""
    cause_en: Explanation
    remedy_fa: Explanation
    """What to do about it, in Persian: the hospital's or the vendor's task shows it."""
    remedy_en: Explanation
    source: BankSource = BankSource.expert
    jira_key: JiraKey = Field(default=None, validate_default=True)
    """The ministry's Jira issue the entry came from (required when the source is Jira)."""

    @field_validator("message")
    @classmethod
    def _compiles(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("is_pattern"):
            try:
                compile_pattern(value)
            except PatternInvalid as error:
                raise PydanticCustomError(error.code, "pattern", error.params) from None
        return value

    @field_validator("jira_key")
    @classmethod
    def _jira_entry_has_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("source") is BankSource.jira and value is None:
            raise PydanticCustomError("jira_key_required", "a Jira key for a Jira entry")
        return value


class BankEntry(BankEntryText):
    """An entry of the bank as matching reads it."""

    id: int
    active: bool = True


class BankMatch(BaseModel, frozen=True):
    """A bank entry that explains a message, and how surely."""

    entry_id: int
    kind: MatchKind
    score: float = Field(ge=0, le=100)
    """100 for an exact text or a pattern; rapidfuzz's similarity for a similar entry."""
    literal_length: int
    """Literal characters of the entry's text: what ranks patterns among themselves."""


class MatchableEntry(Protocol):
    """What matching reads of an entry: a `BankEntry`, or a row of just these columns."""

    @property
    def id(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def is_pattern(self) -> bool: ...
    @property
    def active(self) -> bool: ...


FOUND_KEPT = 50_000
"""Distinct messages a matcher remembers; past that it starts afresh (SRM's texts carry record
numbers, so a long-lived matcher would otherwise remember every one)."""


class BankMatcher:
    """The active entries of the bank, ready to explain SRM messages: an exact text first, then
    the patterns, the most literal text (the most specific) first, then, only when neither
    matched, the similar entries by score; ties go to the lowest id.

    The similarity choices are built once here, and each distinct message (as compared) is
    matched once however often it is asked about: SRM repeats a few messages thousands of times.
    """

    def __init__(
        self,
        entries: Iterable[MatchableEntry],
        *,
        similarity_threshold: float = SIMILARITY_THRESHOLD,
    ) -> None:
        self._exact: dict[str, int] = {}
        self._patterns: list[tuple[int, CompiledPattern]] = []
        self._threshold = similarity_threshold
        self._choices: list[str] = []
        """Each entry's text as similar messages are compared with it, by the entries' order."""
        self._choice_entries: list[tuple[int, int]] = []
        """Each choice's entry id and literal length, by the choice's position."""
        self._found: dict[str, list[BankMatch]] = {}
        for entry in sorted(entries, key=lambda e: e.id):
            if not entry.active:
                continue
            if entry.is_pattern:
                compiled = compile_pattern(entry.message)
                self._patterns.append((entry.id, compiled))
                text, length = compiled.literal_text, compiled.literal_length
            else:
                text = match_key(entry.message)
                length = len(text)
                self._exact.setdefault(text, entry.id)
            self._choices.append(text)
            self._choice_entries.append((entry.id, length))
        self._patterns.sort(key=lambda p: (-p[1].literal_length, p[0]))

    def matches(self, message: str) -> list[BankMatch]:
        """Every entry that explains `message`, the best first; none: the message is unknown."""
        key = match_key(message)
        found = self._found.get(key)
        if found is None:
            if len(self._found) >= FOUND_KEPT:
                self._found = {}
            found = self._found[key] = self._match(key)
        return list(found)

    def _match(self, key: str) -> list[BankMatch]:
        found: list[BankMatch] = []
        exact = self._exact.get(key)
        if exact is not None:
            found.append(
                BankMatch(entry_id=exact, kind=MatchKind.exact, score=100, literal_length=len(key))
            )
        found += [
            BankMatch(
                entry_id=entry_id,
                kind=MatchKind.pattern,
                score=100,
                literal_length=compiled.literal_length,
            )
            for entry_id, compiled in self._patterns
            if compiled.regex.fullmatch(key)
        ]
        if found:
            return found
        # The texts are compared as match_key made them, so rapidfuzz's own processing is off.
        close = process.extract(
            key,
            self._choices,
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=self._threshold,
            limit=None,
        )
        similar = [
            BankMatch(
                entry_id=self._choice_entries[position][0],
                kind=MatchKind.similar,
                score=round(score, 1),
                literal_length=self._choice_entries[position][1],
            )
            for _, score, position in close
        ]
        similar.sort(key=lambda m: (-m.score, m.entry_id))
        return similar[:SIMILAR_SHOWN]

    def best(self, message: str) -> BankMatch | None:
        found = self.matches(message)
        return found[0] if found else None


def _code(value: object) -> object:
    value = typed_digits(value)
    if isinstance(value, str):
        if not value:
            raise PydanticCustomError("required", "required")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,20}", value):
            raise PydanticCustomError("hospital_code_invalid", "letters, digits and - only")
    return value


HospitalCode = Annotated[str, BeforeValidator(_code), Field(max_length=20)]

_GREGORIAN_OR_JALALI = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
)


def srm_time(value: object) -> object:
    """When SRM saw an error: a spreadsheet's date cell, or text in Jalali (1404/09/10 14:30, as
    SRM's Persian pages show it) or Gregorian (2025-12-01 14:30, ISO); without a zone, Tehran's."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=TEHRAN)
    if isinstance(value, date):
        return datetime.combine(value, time(), TEHRAN)
    if not isinstance(value, str):
        return value
    text = normalize_text(value)
    if not text:
        raise PydanticCustomError("required", "required")
    try:
        aware = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        aware = None
    if aware is not None and aware.tzinfo is not None:
        return aware
    shape = _GREGORIAN_OR_JALALI.fullmatch(text)
    if shape is None:
        raise PydanticCustomError("srm_time_invalid", "a date and time")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in shape.groups())
    try:
        # No Gregorian year of SRM's is below 1700, no Jalali one above it.
        day_of = jalali_to_gregorian(year, month, day) if year < 1700 else date(year, month, day)
        return datetime.combine(day_of, time(hour, minute, second), TEHRAN)
    except ValueError:
        raise PydanticCustomError("srm_time_invalid", "a date and time") from None


def _count(value: object) -> object:
    """A count cell: digits in any script; blank is one occurrence."""
    if isinstance(value, str):
        value = typed_digits(value)
        return 1 if value == "" else value
    return value


class SrmErrorRow(BaseModel):
    """One line of an SRM error report: a hospital's record that SEPAS refused, and why."""

    hospital_code: HospitalCode
    """The hospital's code in SEPAS (its SRM code)."""
    at: Annotated[datetime, BeforeValidator(srm_time)]
    """When SRM saw the error (aware)."""
    record_id: Annotated[
        str,
        BeforeValidator(lambda v: typed_digits(v) if v is not None else ""),
        Field(max_length=100),
    ] = ""
    """The record's id in SEPAS (شناسه پرونده); blank for errors of no one record (a node down)."""
    message: Annotated[str, BeforeValidator(_required_text), Field(max_length=SRM_MESSAGE_MAX)]
    count: Annotated[int, BeforeValidator(_count), Field(ge=1, le=1_000_000)] = 1
    """How many times SRM saw it (SRM folds the repeats of one record into one line)."""


class SrmBatch(BaseModel):
    """What one read of an SRM source gave: its rows, or the errors of its bad rows."""

    source_key: str
    """What identifies this data, so that reading it twice adds nothing: a file's SHA-256, or
    the HTTP source's window and answer digest."""
    source_name: str
    """For people: the file's name, or the endpoint's address (never its token)."""
    rows: list[SrmErrorRow] = []
    errors: list[RowError] = []
    period_from: datetime | None = None
    period_until: datetime | None = None
    """The span the data covers (the rows' first and last time, unless the source says)."""


class SrmSource(Protocol):
    """Where SRM error reports come from: the export SRM users download (the default), or an
    HTTP JSON endpoint."""

    def read(self) -> SrmBatch: ...


class SrmGroup(BaseModel):
    """A hospital's errors of one message in a window."""

    message: str
    """The message as SRM wrote it (its first occurrence)."""
    count: int
    """Occurrences, SRM's counts summed."""
    records: int
    """Distinct records it concerns."""
    sample_records: list[str]
    """A few of those records' ids, to look them up in the HIS."""
    first_at: datetime
    last_at: datetime
    match: BankMatch | None = None
    """The bank's best explanation, if any."""


SAMPLE_RECORDS = 5


def group_errors(rows: Iterable[SrmErrorRow], matcher: BankMatcher) -> list[SrmGroup]:
    """Rows grouped by message (compared as the bank compares them), the most frequent first,
    each with the bank's best match."""
    groups: dict[str, SrmGroup] = {}
    records: dict[str, set[str]] = {}
    for row in rows:
        key = match_key(row.message)
        group = groups.get(key)
        if group is None:
            group = groups[key] = SrmGroup(
                message=row.message,
                count=0,
                records=0,
                sample_records=[],
                first_at=row.at,
                last_at=row.at,
            )
            records[key] = set()
        group.count += row.count
        group.first_at, group.last_at = min(group.first_at, row.at), max(group.last_at, row.at)
        if row.record_id and row.record_id not in records[key]:
            records[key].add(row.record_id)
            if len(group.sample_records) < SAMPLE_RECORDS:
                group.sample_records.append(row.record_id)
    for key, group in groups.items():
        group.records = len(records[key])
        group.match = matcher.best(group.message)
    return sorted(groups.values(), key=lambda g: (-g.count, match_key(g.message)))


class HospitalRow(BaseModel):
    """A hospital whose HIS sends records to SEPAS."""

    code: HospitalCode
    """Its code in SEPAS / SRM."""
    name: Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=200)]
    county_code: Annotated[
        Annotated[str, Field(max_length=20)] | None,
        BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
    ] = None
    """The county health network it belongs to (process 4's county code), if known."""
    his_product: Annotated[str, BeforeValidator(typed_text), Field(max_length=200)] = ""
    """The HIS it runs (its product's name)."""
    his_vendor_id: int | None = None
    """The company supporting that HIS."""
    active: Flag = True


def _products(value: object) -> object:
    """Products as a list, or as one text separated by commas (the form's field)."""
    if isinstance(value, str):
        value = [p for p in re.split(r"[,،\n]", value)]
    if isinstance(value, list):
        seen: dict[str, str] = {}
        for product in value:
            text = normalize_text(product) if isinstance(product, str) else product
            if isinstance(text, str) and text:
                seen.setdefault(loose_key(text), text)
        return list(seen.values())
    return value


class HisVendorRow(BaseModel):
    """A company supporting a HIS (شرکت پشتیبانی کننده) and how to reach it."""

    name: Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=200)]
    products: Annotated[
        list[Annotated[str, Field(max_length=100)]],
        BeforeValidator(_products),
        Field(max_length=20),
    ] = []
    """Its HIS products' names."""
    contact_name: ContactName = ""
    phone: Phone = None
    mobile: SmsMobile = None
    """Where its SMS reminders go."""
    email: Email = None
    active: Flag = True
