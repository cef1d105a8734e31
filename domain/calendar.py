"""The university's working calendar and Jalali date helpers."""

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jdatetime
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from domain.text import normalize_digits, to_persian_digits

TEHRAN = ZoneInfo("Asia/Tehran")
_ONE_DAY = timedelta(days=1)


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: a timezone is required")


class WorkingCalendar(BaseModel):
    """Working days: weekday numbers off (Mon=0) plus official holidays."""

    model_config = ConfigDict(frozen=True)

    weekend: frozenset[int] = frozenset({3, 4})
    holidays: frozenset[date] = frozenset()
    timezone: str = "Asia/Tehran"

    @field_validator("weekend")
    @classmethod
    def _check_weekend(cls, value: frozenset[int]) -> frozenset[int]:
        if not value <= set(range(7)):
            raise ValueError("weekend days must be weekday numbers 0..6")
        # With no working weekday, add_working_days would never finish.
        if len(value) == 7:
            raise ValueError("at least one weekday must be a working day")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        # pydantic reports only ValueError as a validation error, not KeyError.
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as exc:
            raise ValueError(f"unknown timezone: {value}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's timezone."""
        return ZoneInfo(self.timezone)

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is neither a weekend day nor a holiday."""
        # A datetime never equals a date, so holidays would be silently missed.
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a date, not a datetime")
        return d.weekday() not in self.weekend and d not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Same local clock time on the `days`-th working day after start's date."""
        _require_aware(start)
        if days < 0:
            raise ValueError("days must not be negative")
        if days == 0:
            return start
        local = start.astimezone(self.zone)
        day = local.date()
        remaining = days
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return datetime.combine(day, local.timetz())

    def subtract_working_days(self, start: datetime, days: int) -> datetime:
        """Same local clock time on the `days`-th working day before start's date."""
        _require_aware(start)
        if days < 0:
            raise ValueError("days must not be negative")
        local = start.astimezone(self.zone)
        day = local.date()
        remaining = days
        while remaining:
            day -= _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return datetime.combine(day, local.timetz())

    def end_of_day(self, day: date) -> datetime:
        """The first instant after `day`, local time: a promise "by this date" ends then."""
        return datetime.combine(day + _ONE_DAY, time(), self.zone)

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days after a's local date up to and including b's (0 if none)."""
        _require_aware(a)
        _require_aware(b)
        day = a.astimezone(self.zone).date()
        end = b.astimezone(self.zone).date()
        count = 0
        while day < end:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count


@lru_cache(maxsize=4096)
def _jalali_of_day(day: date) -> str:
    """Cached: the conversion costs tens of microseconds, and pages and receipts show the same
    few days (today, a due date) over and over."""
    j = jdatetime.date.fromgregorian(date=day)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def to_jalali_date_str(d: date | datetime) -> str:
    """Jalali date as "1405/09/04" with ASCII digits (datetimes in Tehran time)."""
    if isinstance(d, datetime):
        _require_aware(d)
        d = d.astimezone(TEHRAN).date()
    return _jalali_of_day(d)


def jalali_to_gregorian(y: int, m: int, d: int) -> date:
    """Gregorian date of a Jalali date; ValueError if it does not exist."""
    gregorian: date = jdatetime.date(y, m, d).togregorian()
    return gregorian


_DATE = re.compile(r"(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})")


def parse_date(value: object) -> date | None:
    """A pydantic validator: a Jalali (1403/05/12, Persian or Latin digits) or Gregorian
    (2024-08-02) date; an empty value is None. A spreadsheet's own date cells are Gregorian."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = normalize_digits(str(value)).strip()
    if not text:
        return None
    match = _DATE.fullmatch(text)
    if match is None:
        raise PydanticCustomError("date_invalid", "not a date")
    y, m, d = (int(part) for part in match.groups())
    try:
        # No Gregorian year of ours is below 1700, no Jalali one above it.
        return jalali_to_gregorian(y, m, d) if y < 1700 else date(y, m, d)
    except ValueError:
        raise PydanticCustomError("date_invalid", "not a date") from None


def format_jalali(dt: datetime, persian_digits: bool = True) -> str:
    """Tehran-time "۱۴۰۵/۰۹/۰۴ ۱۴:۳۰" for display."""
    _require_aware(dt)
    local = dt.astimezone(TEHRAN)
    text = f"{_jalali_of_day(local.date())} {local.hour:02d}:{local.minute:02d}"
    return to_persian_digits(text) if persian_digits else text
