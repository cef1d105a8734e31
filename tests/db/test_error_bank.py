"""The error bank as migrated: its seed of real SRM messages, each a valid entry explaining the
messages SRM writes; and the expert's edits, one entry per message however it is spelled."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.error_bank import EntryTaken, add_entry, change_entry, search_entries
from db.sepas import ErrorBankEntry, bank_matcher
from domain.sepas import BankEntryText, BankSource, ErrorCategory, MatchKind, match_key

SEEDED = {
    "NationalCode invalid": ErrorCategory.hospital,
    "NationalCode is block.": ErrorCategory.hospital,
    "MedicalRecordNumber is mandatory.": ErrorCategory.software,
    "InsuranceBox is invalid.": ErrorCategory.hospital,
    "Error at CTS validation.": ErrorCategory.software,
    "MessagePrepare.Patient info is not matched with nationalcode.": ErrorCategory.hospital,
    "DO_CODED_TEXT {text} is not Complete.": ErrorCategory.software,
    "Error at VerifyPerson.": ErrorCategory.structural,
    "Destination SepasNode is Down": ErrorCategory.structural,
}


def test_the_migration_seeds_the_bank_with_real_srm_messages(engine: Engine) -> None:
    with Session(engine) as session:
        seeded = session.exec(
            select(ErrorBankEntry).where(ErrorBankEntry.source == BankSource.seed)
        ).all()
    assert {e.message: e.category for e in seeded} == SEEDED
    for entry in seeded:
        BankEntryText.model_validate(entry, from_attributes=True)
        assert entry.match_key == match_key(entry.message)
        assert entry.active and entry.updated_by == "system"
        assert all(len(text) > 40 for text in (entry.cause_fa, entry.remedy_en))


@pytest.mark.parametrize(
    ("srm_message", "seeded", "kind"),
    [
        ("NationalCode is block", "NationalCode is block.", MatchKind.exact),
        ("nationalcode invalid.", "NationalCode invalid", MatchKind.exact),
        (
            "DO_CODED_TEXT Diagnosis(ICD10) is not Complete.",
            "DO_CODED_TEXT {text} is not Complete.",
            MatchKind.pattern,
        ),
        ("Destination SepasNode is Down.", "Destination SepasNode is Down", MatchKind.exact),
    ],
)
def test_srm_messages_find_their_seeded_entry(
    engine: Engine, srm_message: str, seeded: str, kind: MatchKind
) -> None:
    with Session(engine) as session:
        best = bank_matcher(session).best(srm_message)
        assert best is not None and best.kind is kind
        entry = session.get(ErrorBankEntry, best.entry_id)
    assert entry is not None and entry.message == seeded


def test_one_entry_per_message_and_changes_by_field(engine: Engine) -> None:
    word = uuid.uuid4().hex[:8]
    text = BankEntryText(
        message=f"Unknown code {word}.",
        category=ErrorCategory.other,
        cause_fa="علت",
        cause_en="cause",
        remedy_fa="راه",
        remedy_en="fix",
    )
    with Session(engine) as session:
        entry = add_entry(session, text, "expert")
        session.commit()
        with pytest.raises(EntryTaken):
            add_entry(session, text.model_copy(update={"message": f"UNKNOWN  code {word}"}), "x")
        session.rollback()
        changes = change_entry(
            session,
            entry,
            text.model_copy(update={"category": ErrorCategory.structural}),
            "expert2",
            active=False,
        )
        session.commit()
        assert changes == {"category": ErrorCategory.structural, "active": False}
        assert (entry.updated_by, entry.active) == ("expert2", False)
        assert [e.id for e in search_entries(session, word, active=False)] == [entry.id]
        assert search_entries(session, word, active=True) == []
        assert bank_matcher(session).best(f"Unknown code {word}") is None
