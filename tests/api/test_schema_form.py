"""Decision forms are rendered from JSON schema: every kind a step may need, both ways."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from api.web.schema_form import FieldKind, fields_of, read_posted
from domain.tasks import Decision


class Urgency(StrEnum):
    low = "low"
    high = "high"


class EveryKind(Decision):
    note: str = Field(max_length=80)
    report: str | None = Field(default=None, max_length=2000)
    approved: bool
    urgency: Urgency
    cost: float | None = None
    parts: int = 1
    returned_on: date | None = None
    serials: list[str] = Field(default_factory=list)


def test_kinds_from_schema() -> None:
    fields = {f.name: f for f in fields_of(EveryKind.model_json_schema())}
    assert {n: f.kind for n, f in fields.items()} == {
        "note": FieldKind.text,
        "report": FieldKind.long_text,
        "approved": FieldKind.boolean,
        "urgency": FieldKind.choice,
        "cost": FieldKind.number,
        "parts": FieldKind.integer,
        "returned_on": FieldKind.date,
        "serials": FieldKind.text_list,
    }
    assert fields["urgency"].choices == ["low", "high"]
    assert fields["note"].required and not fields["report"].required
    assert fields["parts"].value == 1


def test_posted_values_become_a_valid_decision() -> None:
    fields = fields_of(EveryKind.model_json_schema())
    decision = read_posted(
        fields,
        {
            "note": " ok ",
            "report": "",
            "approved": "false",
            "urgency": "high",
            "cost": "۱۲۵۰۰.۵",
            "parts": "۳",
            "returned_on": "2026-12-01",
            "serials": "SN-1\n\n SN-2 ",
        },
    )
    assert decision == {
        "note": "ok",
        "approved": False,
        "urgency": "high",
        "cost": 12500.5,
        "parts": 3,
        "returned_on": "2026-12-01",
        "serials": ["SN-1", "SN-2"],
    }
    model = EveryKind.model_validate(decision)
    assert model.returned_on == date(2026, 12, 1) and model.report is None


def test_unparseable_values_reach_the_validator_named() -> None:
    fields = fields_of(EveryKind.model_json_schema())
    decision = read_posted(
        fields, {"note": "x", "approved": "maybe", "urgency": "low", "parts": "two"}
    )
    assert decision["approved"] == "maybe" and decision["parts"] == "two"


class VendorPick(Decision):
    vendor: str = Field(json_schema_extra={"x-option-labels": "vendors"})
    urgency: Urgency


def test_id_choices_read_by_the_names_the_task_context_gives() -> None:
    schema = VendorPick.model_json_schema()
    schema["properties"]["vendor"]["enum"] = ["3", "7"]  # the task's options
    context = {"vendors": {"3": "رایان", "7": "پردازش"}, "urgency": "high"}
    fields = {f.name: f for f in fields_of(schema, context)}
    assert fields["vendor"].choices == ["3", "7"]
    assert fields["vendor"].choice_labels == {"3": "رایان", "7": "پردازش"}
    assert fields["vendor"].choice_labels_key == "vendors"
    assert fields["urgency"].choice_labels == {}
    assert fields_of(schema)[0].choice_labels == {}  # no context: the ids, as before
    assert fields_of(schema, {"vendors": "not a mapping"})[0].choice_labels == {}


class EntryPick(Decision):
    entry: str | None = Field(default=None, json_schema_extra={"x-option-labels": "entries"})
    urgency: Urgency = Urgency.low


def test_a_choice_that_may_be_none_can_be_left_none() -> None:
    schema = EntryPick.model_json_schema()
    schema["properties"]["entry"]["enum"] = ["3"]
    fields = {f.name: f for f in fields_of(schema)}
    assert fields["entry"].nullable and fields["entry"].kind == FieldKind.choice
    assert not fields["urgency"].nullable  # left out, it is its default, never none
    assert read_posted(list(fields.values()), {"entry": "", "urgency": "low"}) == {"urgency": "low"}


def test_text_without_persian_letters_reads_left_to_right() -> None:
    [field] = fields_of(EveryKind.model_json_schema())[:1]
    for value, left_to_right in (
        ("NationalCode is block.", True),
        ("Fixed: نگاشت کد اصلاح شد", False),
        ("۱۴۰۵", False),
        (None, False),
    ):
        field.value = value
        assert field.left_to_right is left_to_right, value
