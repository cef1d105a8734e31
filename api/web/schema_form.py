"""Render a decision form from its JSON schema, and read the posted form back into JSON.

Supported field kinds: string, long text, boolean, enum, integer/number, date, list of strings.
A new decision model needs no new page: its schema is all the page needs.

Choices whose values are ids (a vendor chosen among a task's options) read by name: the field
names, under `OPTION_LABELS` in its schema, the key of the task's context that maps each value
to its label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from api.web.i18n import LATIN, PERSIAN_LETTER
from domain.text import normalize_digits

OPTION_LABELS = "x-option-labels"
"""A schema keyword: the task context's key holding `{value: label}` for a field's choices."""

LONG_TEXT_FROM = 200
"""Strings allowed to be longer than this are edited in a text area."""


class FieldKind(StrEnum):
    text = "text"
    long_text = "long_text"
    boolean = "boolean"
    choice = "choice"
    integer = "integer"
    number = "number"
    date = "date"
    text_list = "text_list"


@dataclass
class FormField:
    name: str
    kind: FieldKind
    title: str
    description: str = ""
    required: bool = False
    choices: list[str] = field(default_factory=list)
    choice_labels: dict[str, str] = field(default_factory=dict)
    """Labels of the choices taken from the task's context (ids shown by their names)."""
    choice_labels_key: str | None = None
    """The task context's key those labels come from."""
    nullable: bool = False
    """It may be left empty (None), even a choice: a choice offers "none"."""
    max_length: int | None = None
    value: Any = None
    """What the user entered (kept when the form comes back with errors)."""
    error: str | None = None

    @property
    def left_to_right(self) -> bool:
        """Text filled in with Latin letters and no Persian ones (an SRM message, a code): it
        reads left to right even in a Persian form."""
        text = self.value if isinstance(self.value, str) else ""
        return bool(LATIN.search(text)) and not PERSIAN_LETTER.search(text)


def _plain(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Unwrap Optional (anyOf with null) and $ref to the schema of the value itself."""
    if "$ref" in prop:
        prop = {
            **defs[prop["$ref"].split("/")[-1]],
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    for key in ("anyOf", "oneOf"):
        if key in prop:
            options = [p for p in prop[key] if p.get("type") != "null"]
            if len(options) == 1:
                merged = {**prop, **_plain(options[0], defs)}
                merged.pop(key)
                return merged
    return prop


def _kind(prop: dict[str, Any]) -> FieldKind:
    kind = prop.get("type")
    if "enum" in prop:
        return FieldKind.choice
    if kind == "boolean":
        return FieldKind.boolean
    if kind == "integer":
        return FieldKind.integer
    if kind == "number":
        return FieldKind.number
    if kind == "array":
        return FieldKind.text_list
    if prop.get("format") == "date":
        return FieldKind.date
    if prop.get("maxLength", LONG_TEXT_FROM + 1) > LONG_TEXT_FROM:
        return FieldKind.long_text
    return FieldKind.text


def _choice_labels(prop: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    labels = context.get(prop.get(OPTION_LABELS, ""))
    if not isinstance(labels, dict):
        return {}
    return {str(value): str(text) for value, text in labels.items()}


def fields_of(schema: dict[str, Any], context: dict[str, Any] | None = None) -> list[FormField]:
    """The form's fields; `context` (the task's data) may name the labels of id choices."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields = []
    for name, raw in schema.get("properties", {}).items():
        prop = _plain(raw, defs)
        fields.append(
            FormField(
                name=name,
                kind=_kind(prop),
                title=prop.get("title", name),
                description=prop.get("description", ""),
                required=name in required,
                choices=[str(c) for c in prop.get("enum", [])],
                choice_labels=_choice_labels(prop, context or {}),
                choice_labels_key=prop.get(OPTION_LABELS),
                nullable=any(p.get("type") == "null" for p in raw.get("anyOf", [])),
                max_length=prop.get("maxLength"),
                value=prop.get("default"),
            )
        )
    return fields


def read_posted(fields: list[FormField], posted: dict[str, str]) -> dict[str, Any]:
    """The decision JSON from posted form values; an empty optional field is left out.

    Values that do not parse are passed on as text, so the step's validator names the field.
    """
    decision: dict[str, Any] = {}
    for f in fields:
        raw = (posted.get(f.name) or "").strip()
        if f.kind in (FieldKind.integer, FieldKind.number, FieldKind.date):
            raw = normalize_digits(raw)
        f.value = raw
        if raw == "":
            continue
        if f.kind == FieldKind.boolean:
            decision[f.name] = {"true": True, "false": False}.get(raw, raw)
        elif f.kind == FieldKind.integer:
            decision[f.name] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif f.kind == FieldKind.number:
            try:
                decision[f.name] = float(raw)
            except ValueError:
                decision[f.name] = raw
        elif f.kind == FieldKind.text_list:
            decision[f.name] = [line.strip() for line in raw.splitlines() if line.strip()]
        else:
            decision[f.name] = raw
    return decision
