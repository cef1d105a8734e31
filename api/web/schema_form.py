"""Render a decision form from its JSON schema, and read the posted form back into JSON.

Supported field kinds: string, long text, boolean, enum, integer/number, date, list of strings,
list of enum values (a checklist: one box per value, posted back as the list of those ticked),
a sealed string (`"x-sealed": true` in its schema: a password typed once, never shown
again, not even when the form comes back with errors), and a file (`"x-file": "<upload kind>"`
on a stored file's id: the page keeps the file chosen and posts its id, see
`api.routes.files.keep_posted_files`). A new decision model needs no new page: its schema is all
the page needs.

Choices whose values are ids (a vendor chosen among a task's options) read by name: the field
names, under `OPTION_LABELS` in its schema, the key of the task's context that maps each value
to its label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from api.web.i18n import LATIN, PERSIAN_LETTER
from domain.text import normalize_digits

OPTION_LABELS = "x-option-labels"
"""A schema keyword: the task context's key holding `{value: label}` for a field's choices."""

SEALED = "x-sealed"
"""A schema keyword: the string is a secret (an initial password), typed in a password box whose
value the page never writes back."""

FILE = "x-file"
"""A schema keyword on a stored file's id: the upload kind the file must be (`pdf`, `signature`);
the page offers a file input, keeps the upload, and fills in its id."""
FILE_INPUT = "__file"
"""Suffix of a file field's input name; the field's own name carries the kept file's id."""

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
    checklist = "checklist"
    sealed = "sealed"
    file = "file"


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
    file_kind: str | None = None
    """A file field's upload kind."""
    value: Any = None
    """What the user entered (kept when the form comes back with errors, a sealed field's
    never); a checklist's is the list of values ticked."""
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


def _items(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a list's items (an enum's, for a checklist)."""
    return _plain(prop.get("items", {}), defs) if prop.get("type") == "array" else {}


def _kind(prop: dict[str, Any], items: dict[str, Any]) -> FieldKind:
    kind = prop.get("type")
    if "enum" in prop:
        return FieldKind.choice
    if "enum" in items:
        return FieldKind.checklist
    if prop.get(SEALED) is True:
        return FieldKind.sealed
    if prop.get(FILE):
        return FieldKind.file
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
        items = _items(prop, defs)
        kind = _kind(prop, items)
        fields.append(
            FormField(
                name=name,
                kind=kind,
                title=prop.get("title", name),
                description=prop.get("description", ""),
                required=name in required,
                choices=[str(c) for c in prop.get("enum", items.get("enum", []))],
                choice_labels=_choice_labels(prop, context or {}),
                choice_labels_key=prop.get(OPTION_LABELS),
                nullable=any(p.get("type") == "null" for p in raw.get("anyOf", [])),
                max_length=prop.get("maxLength"),
                file_kind=prop.get(FILE),
                value=None if kind == FieldKind.sealed else prop.get("default"),
            )
        )
    return fields


def _last(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        return value[-1] if value else ""
    return value or ""


def read_posted(fields: list[FormField], posted: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """The decision JSON from posted form values (a name posted more than once, a checklist's
    ticked boxes, as the list of its values); an empty optional field is left out, an empty
    checklist is the empty list.

    Values that do not parse are passed on as text, so the step's validator names the field.
    A sealed field's value goes into the decision as typed and is forgotten by the form.
    """
    decision: dict[str, Any] = {}
    for f in fields:
        if f.kind == FieldKind.checklist:
            ticked = posted.get(f.name) or []
            f.value = [ticked] if isinstance(ticked, str) else list(ticked)
            decision[f.name] = f.value
            continue
        if f.kind == FieldKind.sealed:
            secret = _last(posted.get(f.name))
            f.value = None
            if secret.strip():
                decision[f.name] = secret
            continue
        raw = _last(posted.get(f.name)).strip()
        if f.kind in (FieldKind.integer, FieldKind.number, FieldKind.date, FieldKind.file):
            raw = normalize_digits(raw)
        f.value = raw
        if raw == "":
            continue
        if f.kind == FieldKind.boolean:
            decision[f.name] = {"true": True, "false": False}.get(raw, raw)
        elif f.kind in (FieldKind.integer, FieldKind.file):
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
