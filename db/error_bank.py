"""The error bank (بانک خطا) as the SEPAS expert keeps it: add, change, deactivate, search.

Its first entries, messages seen in real SRM reports, are migration 0011's own data (production
needs them too); from then on the bank is the expert's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.models import utcnow
from db.sepas import ErrorBankEntry
from domain.sepas import BankEntryText, ErrorCategory, match_key
from domain.text import normalize_text


class EntryTaken(Exception):
    """Another entry already holds this message (or pattern)."""


def _taken(session: Session, text: BankEntryText, but: int | None = None) -> bool:
    query = select(ErrorBankEntry.id).where(
        ErrorBankEntry.match_key == match_key(text.message),
        ErrorBankEntry.is_pattern == text.is_pattern,
    )
    if but is not None:
        query = query.where(ErrorBankEntry.id != but)
    return session.exec(query).first() is not None


def add_entry(session: Session, text: BankEntryText, actor: str) -> ErrorBankEntry:
    """A new entry (flushed, not committed); EntryTaken if its message is in the bank."""
    if _taken(session, text):
        raise EntryTaken
    entry = ErrorBankEntry(**text.model_dump(), match_key=match_key(text.message), updated_by=actor)
    session.add(entry)
    session.flush()
    return entry


def change_entry(
    session: Session, entry: ErrorBankEntry, text: BankEntryText, actor: str, active: bool
) -> dict[str, Any]:
    """Rewrite `entry` (flushed, not committed); what changed, field by field; EntryTaken if its
    new message is another entry's."""
    if _taken(session, text, but=entry.id):
        raise EntryTaken
    after = {**text.model_dump(), "active": active}
    changes = {k: v for k, v in after.items() if getattr(entry, k) != v}
    if changes:
        entry.sqlmodel_update(
            {**changes, "match_key": match_key(text.message), "updated_at": utcnow()}
            | {"updated_by": actor}
        )
        session.add(entry)
        session.flush()
    return changes


def search_entries(
    session: Session,
    q: str = "",
    category: ErrorCategory | None = None,
    active: bool | None = None,
) -> list[ErrorBankEntry]:
    """The entries whose message, cause, remedy or Jira key holds `q`; the most matched first."""
    query = select(ErrorBankEntry)
    text = normalize_text(q)
    if text:
        query = query.where(
            or_(
                *(
                    col(column).icontains(text, autoescape=True)
                    for column in (
                        ErrorBankEntry.message,
                        ErrorBankEntry.cause_fa,
                        ErrorBankEntry.cause_en,
                        ErrorBankEntry.remedy_fa,
                        ErrorBankEntry.remedy_en,
                        ErrorBankEntry.jira_key,
                    )
                )
            )
        )
    if category is not None:
        query = query.where(ErrorBankEntry.category == category)
    if active is not None:
        query = query.where(ErrorBankEntry.active == active)
    order = (col(ErrorBankEntry.match_count).desc(), func.lower(ErrorBankEntry.message))
    return list(session.exec(query.order_by(*order)))
