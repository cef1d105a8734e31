"""The university's working calendar as the database holds it today (weekend + holidays)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from db.models import Holiday
from domain.calendar import WorkingCalendar
from settings import Settings

CALENDAR_HORIZON = timedelta(days=800)
"""Holidays this far ahead are read: more than any SLA or promised answer can reach."""


def working_calendar(session: Session, settings: Settings, from_day: date) -> WorkingCalendar:
    """The calendar for counting working days from `from_day` on."""
    days = session.exec(
        select(col(Holiday.day)).where(
            Holiday.day >= from_day - timedelta(days=2),
            Holiday.day <= from_day + CALENDAR_HORIZON,
        )
    ).all()
    return WorkingCalendar(
        weekend=settings.weekend(), holidays=frozenset(days), timezone=settings.timezone
    )
