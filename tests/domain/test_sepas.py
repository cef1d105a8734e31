"""The error bank's matching (exact text, patterns compiled safely, similar texts with their
scores, the ranking, the threshold), SRM rows read in any digits and calendar, and a hospital's rows
grouped by message."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.calendar import TEHRAN
from domain.sepas import (
    BankEntry,
    BankEntryText,
    BankMatcher,
    BankSource,
    ErrorCategory,
    MatchKind,
    PatternInvalid,
    SrmErrorRow,
    compile_pattern,
    group_errors,
    match_key,
)

EXPLAINED = {"cause_fa": "علت", "cause_en": "cause", "remedy_fa": "راه حل", "remedy_en": "fix"}


def entry(entry_id: int, message: str, *, pattern: bool = False, active: bool = True) -> BankEntry:
    return BankEntry(
        id=entry_id,
        message=message,
        is_pattern=pattern,
        category=ErrorCategory.hospital,
        active=active,
        **EXPLAINED,
    )


def test_messages_compare_normalised() -> None:
    assert match_key("  NationalCode   is block. ") == "nationalcode is block"
    assert match_key("Record ۱۲۳ is ٤٥") == "record 123 is 45"
    assert match_key("NATIONALCODE INVALID") == match_key("NationalCode invalid.")


def test_a_pattern_escapes_everything_but_its_placeholders() -> None:
    compiled = compile_pattern("Value (a+b)* of {code} at [x] is {number}.")
    assert compiled.regex.fullmatch(match_key("value (a+b)* of DO_X.1 at [x] is ۴۲"))
    # The regex characters are literal: `(a+b)*` does not match `aab`.
    assert not compiled.regex.fullmatch(match_key("value aab of DO_X at [x] is 42"))
    assert not compiled.regex.fullmatch(match_key("value (a+b)* of DO X at [x] is 42"))
    assert not compiled.regex.fullmatch(match_key("value (a+b)* of DO_X at [x] is forty"))
    assert compiled.literal_length == len("value (a+b)* of  at [x] is ")


def test_literal_braces_and_text_placeholder() -> None:
    compiled = compile_pattern("DO_CODED_TEXT {{{text}}} is not Complete.")
    assert compiled.regex.fullmatch(match_key("DO_CODED_TEXT {Diagnosis, code 12} is not Complete"))
    assert not compiled.regex.fullmatch(match_key("DO_CODED_TEXT {} is not Complete"))


@pytest.mark.parametrize(
    ("pattern", "code"),
    [
        ("Record {id} failed", "pattern_placeholder_unknown"),
        ("Record { failed", "pattern_brace"),
        ("Record failed", "pattern_without_placeholder"),
        ("Record {number}{code} failed", "pattern_placeholders_adjacent"),
        ("{text}", "pattern_too_loose"),
        ("a {number} b {number} c {number} d {number} e {number} f {number}", None),
    ],
)
def test_bad_patterns_say_why(pattern: str, code: str | None) -> None:
    with pytest.raises(PatternInvalid) as refused:
        compile_pattern(pattern)
    assert refused.value.code == (code or "pattern_too_many_placeholders")


def test_an_entry_with_a_bad_pattern_is_refused_on_its_message() -> None:
    with pytest.raises(ValidationError) as refused:
        BankEntryText(
            is_pattern=True, message="Error {foo}", category=ErrorCategory.other, **EXPLAINED
        )
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("message",), "pattern_placeholder_unknown")
    ]
    with pytest.raises(ValidationError) as no_key:
        BankEntryText(
            message="Error at X.", category="structural", source=BankSource.jira, **EXPLAINED
        )
    assert [(e["loc"], e["type"]) for e in no_key.value.errors()] == [
        (("jira_key",), "jira_key_required")
    ]
    jira = BankEntryText(
        message="Error at X.",
        category="structural",
        source="jira",
        jira_key="sepas-۱۲",
        **EXPLAINED,
    )
    assert jira.jira_key == "SEPAS-12"


def test_exact_beats_pattern_and_the_longest_literal_wins() -> None:
    matcher = BankMatcher(
        [
            entry(1, "Error at {text}.", pattern=True),
            entry(2, "Error at CTS validation."),
            entry(3, "Error at {code} validation", pattern=True),
            entry(4, "Error at CTS validation", active=False),
        ]
    )
    found = matcher.matches("ERROR AT CTS VALIDATION")
    assert [(m.entry_id, m.kind, m.score) for m in found] == [
        (2, MatchKind.exact, 100),
        (3, MatchKind.pattern, 100),
        (1, MatchKind.pattern, 100),
    ]
    best = matcher.best("Error at VerifyPerson.")
    assert best is not None and best.entry_id == 1
    assert matcher.best("Destination SepasNode is Down") is None


SEEDED = [
    entry(1, "MedicalRecordNumber is mandatory."),
    entry(2, "NationalCode invalid"),
    entry(3, "NationalCode is block."),
    entry(4, "InsuranceBox is invalid."),
    entry(5, "DO_CODED_TEXT {code} is not Complete.", pattern=True),
    entry(6, "Error at VerifyPerson."),
]


@pytest.mark.parametrize(
    ("message", "entry_id", "least", "most"),
    [
        ("MedicalRecordNumber 4410273 is mandatory", 1, 88, 90),
        ("Medical Record Number is mandatory.", 1, 96, 98),
        ("NationalCod invalid", 2, 97, 98),
        ("Error at VerifyPersonn", 6, 97, 98),
        # A pattern is compared by its literal text: the placeholder's value is not there.
        ("DO_CODED_TEXT is not complete yet", 5, 93, 94),
    ],
)
def test_a_message_close_to_an_entry_is_similar_with_its_score(
    message: str, entry_id: int, least: float, most: float
) -> None:
    best = BankMatcher(SEEDED).best(message)
    assert best is not None
    assert (best.entry_id, best.kind) == (entry_id, MatchKind.similar)
    assert least <= best.score <= most < 100


def test_similar_entries_rank_by_score_and_only_when_nothing_matches_exactly() -> None:
    matcher = BankMatcher(SEEDED, similarity_threshold=60)
    found = matcher.matches("NationalCode is blocked")
    assert [m.kind for m in found] == [MatchKind.similar] * len(found)
    assert [m.entry_id for m in found][:2] == [3, 2]
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    # An exact text or a pattern is sure: no similar entry is offered beside it.
    assert [(m.entry_id, m.kind) for m in matcher.matches("nationalcode is block")] == [
        (3, MatchKind.exact)
    ]
    coded = matcher.matches("DO_CODED_TEXT 12.a is not Complete")
    assert [(m.entry_id, m.kind) for m in coded] == [(5, MatchKind.pattern)]


def test_below_the_threshold_a_message_is_unknown() -> None:
    message = "InsuranceBox invalid"
    score = BankMatcher(SEEDED).matches(message)[0].score
    assert BankMatcher(SEEDED, similarity_threshold=score).best(message) is not None
    assert BankMatcher(SEEDED, similarity_threshold=score + 0.5).best(message) is None
    # A word in common does not make a message similar, nor does a short part of an entry.
    for unknown in ("BirthDate is invalid", "invalid", "Destination SepasNode is Down"):
        assert BankMatcher(SEEDED).matches(unknown) == [], unknown
    inactive = BankMatcher([entry(1, "NationalCode invalid", active=False)])
    assert inactive.best("NationalCod invalid") is None


def test_ten_thousand_messages_against_a_thousand_entries_match_in_seconds() -> None:
    words = "error at is invalid mandatory record patient code box node validation field".split()
    bank = [
        entry(i, " ".join(words[(i * k) % len(words)] for k in range(1, 6)) + f" E{i}")
        for i in range(1, 1001)
    ]
    messages = [f"{words[i % len(words)]} value {i % 50} is not valid" for i in range(10_000)]
    started = time.perf_counter()
    matcher = BankMatcher(bank)
    for text in messages:
        matcher.matches(text)
    # 50 distinct messages: each is matched once however often SRM repeats it.
    assert time.perf_counter() - started < 5


def test_srm_rows_in_any_digits_and_calendar() -> None:
    jalali = SrmErrorRow.model_validate(
        {
            "hospital_code": "H۱۰۰۱",
            "at": "۱۴۰۴/۰۹/۱۰ ۱۴:۳۰",
            "record_id": "۹۸۷",
            "message": " NationalCode   invalid ",
            "count": "",
        }
    )
    assert (jalali.hospital_code, jalali.record_id, jalali.count) == ("H1001", "987", 1)
    assert jalali.at == datetime(2025, 12, 1, 14, 30, tzinfo=TEHRAN)
    assert jalali.message == "NationalCode invalid"
    iso = SrmErrorRow.model_validate(
        {"hospital_code": "H1", "at": "2025-12-01T11:00:00Z", "message": "x", "count": "3"}
    )
    assert iso.at == jalali.at
    with pytest.raises(ValidationError) as refused:
        SrmErrorRow.model_validate(
            {"hospital_code": "بیمارستان", "at": "دیروز", "message": "", "count": "0"}
        )
    assert {e["loc"][0]: e["type"] for e in refused.value.errors()} == {
        "hospital_code": "hospital_code_invalid",
        "at": "srm_time_invalid",
        "message": "required",
        "count": "greater_than_equal",
    }


def test_rows_grouped_by_message_with_counts_and_the_best_match() -> None:
    start = datetime(2025, 12, 1, 8, tzinfo=TEHRAN)
    rows = [
        SrmErrorRow(hospital_code="H1", at=start, record_id="1", message="NationalCode invalid"),
        SrmErrorRow(
            hospital_code="H1",
            at=start + timedelta(hours=2),
            record_id="2",
            message="nationalcode invalid.",
            count=4,
        ),
        SrmErrorRow(
            hospital_code="H1",
            at=start + timedelta(hours=1),
            record_id="1",
            message="NationalCode invalid",
        ),
        SrmErrorRow(hospital_code="H1", at=start, message="Destination SepasNode is Down"),
    ]
    matcher = BankMatcher([entry(7, "NationalCode invalid")])
    groups = group_errors(rows, matcher)
    assert [(g.message, g.count, g.records) for g in groups] == [
        ("NationalCode invalid", 6, 2),
        ("Destination SepasNode is Down", 1, 0),
    ]
    first = groups[0]
    assert (first.first_at, first.last_at) == (start, start + timedelta(hours=2))
    assert first.sample_records == ["1", "2"]
    assert first.match is not None and first.match.entry_id == 7
    assert groups[1].match is None
