"""Decision forms are rendered from JSON schema: every kind a step may need, both ways."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import Field

from api.web.i18n import Translator
from api.web.pages.shared import templates
from api.web.schema_form import SEALED, FieldKind, FormField, fields_of, read_posted
from domain.messages import Lang
from domain.office_automation import (
    CartableClosing,
    CartableCreated,
    CartableDisabled,
    CartablePermission,
    ManagementPermission,
    ManagerAccess,
)
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


class Grants(Decision):
    permissions: list[ManagementPermission] = Field(min_length=1)
    password: str | None = Field(default=None, max_length=64, json_schema_extra={SEALED: True})


def _render(fields: list[FormField]) -> str:
    """The fields as the task page renders them (labels from the shared table, else the value)."""
    macro = templates.env.from_string(
        '{% from "_schema_field.html" import schema_field with context %}'
        "{% for f in fields %}{{ schema_field(f, f.title, 'no_such_process') }}{% endfor %}"
    )
    t = Translator(Lang.fa)
    return macro.render(
        fields=fields, t=t, label=lambda kind, key, default=None: t("field." + key, default or key)
    )


def test_a_list_of_enum_values_is_a_checklist_posted_back_as_a_list() -> None:
    for model, name, items in (
        (ManagerAccess, "permissions", ManagementPermission),
        (CartableCreated, "permissions", CartablePermission),
        (CartableDisabled, "done", CartableClosing),
    ):
        by_name = {f.name: f for f in fields_of(model.model_json_schema())}
        assert by_name[name].kind == FieldKind.checklist, model
        assert by_name[name].choices == [item.value for item in items]
    fields = fields_of(ManagerAccess.model_json_schema())
    decision = read_posted(
        fields, {"signature_file_id": "۱۲", "permissions": ["sign_letters", "delegate"]}
    )
    assert decision["permissions"] == ["sign_letters", "delegate"]
    assert ManagerAccess.model_validate(decision).permissions == [
        ManagementPermission.sign_letters,
        ManagementPermission.delegate,
    ]
    # One box ticked posts one value; none ticked is the empty list, which the step refuses.
    assert read_posted(fields, {"permissions": "delegate"})["permissions"] == ["delegate"]
    assert read_posted(fields, {})["permissions"] == []
    closing = fields_of(CartableDisabled.model_json_schema())
    assert read_posted(closing, {"done": ["user_disabled"]}) == {"done": ["user_disabled"]}


def test_a_checklist_renders_a_box_per_value_with_the_ticked_ones_kept() -> None:
    fields = fields_of(ManagerAccess.model_json_schema())
    read_posted(fields, {"permissions": ["delegate"]})
    fields[1].error = "یکی را انتخاب کنید"
    html = _render(fields)
    assert "<legend>Management permissions granted" in html
    boxes = re.findall(r'<input type="checkbox"[^>]*>', html)
    assert len(boxes) == len(ManagementPermission)
    assert all('name="permissions"' in box for box in boxes)
    assert [box for box in boxes if "checked" in box] == [
        '<input type="checkbox"  name="permissions" value="delegate" checked>'
    ]
    assert 'id="f-permissions"' in boxes[0] and 'aria-describedby="e-permissions"' in html


def test_a_sealed_string_is_a_password_box_never_echoed() -> None:
    secret = "Secret-Pa55word!"
    fields = {f.name: f for f in fields_of(Grants.model_json_schema())}
    sealed = fields["password"]
    assert sealed.kind == FieldKind.sealed and sealed.max_length == 64 and sealed.value is None
    decision = read_posted(list(fields.values()), {"permissions": [], "password": f" {secret}"})
    assert decision["password"] == f" {secret}"  # as typed: a password is not trimmed
    assert sealed.value is None  # the form forgets it, even when it comes back with errors
    sealed.error = "نادرست"
    html = _render(list(fields.values()))
    assert secret not in html
    [box] = re.findall(r'<input id="f-password"[^>]*>', html, re.S)
    assert 'type="password"' in box and 'autocomplete="new-password"' in box
    assert "value=" not in box
    assert read_posted(list(fields.values()), {"password": "  "}) == {"permissions": []}
