"""Normalisation of Persian text typed on Persian, Arabic and Latin keyboards."""

import re

_ZWNJ = "\u200c"

_TO_ASCII_DIGITS = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩",
    "01234567890123456789",
)
_TO_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_TO_PERSIAN_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي -> ی
        "\u0649": "\u06cc",  # ى -> ی
        "\u0643": "\u06a9",  # ك -> ک
    }
)

_WHITESPACE_RUN = re.compile(r"\s+")
_LOOSE_IGNORED = re.compile(r"[\s\u200c_\-]+")
_ZWNJ_AT_SPACE = re.compile(f"{_ZWNJ}* {_ZWNJ}*")
_ZWNJ_RUN = re.compile(f"{_ZWNJ}{{2,}}")


def normalize_digits(s: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII digits."""
    return s.translate(_TO_ASCII_DIGITS)


def normalize_text(s: str) -> str:
    """Canonical form of user-typed Persian text for storage and comparison."""
    s = normalize_digits(s.translate(_ARABIC_TO_PERSIAN_LETTERS))
    # ZWNJ is not whitespace for \s, so it survives this and is handled below.
    s = _WHITESPACE_RUN.sub(" ", s)
    s = _ZWNJ_AT_SPACE.sub(" ", s)
    s = _ZWNJ_RUN.sub(_ZWNJ, s)
    # A ZWNJ at either end separates nothing.
    return s.strip(" " + _ZWNJ)


def loose_key(s: str) -> str:
    """Typed text as a spreadsheet's header or label is matched: normalised, with spaces, ZWNJ,
    `_` and `-` dropped and case folded (`شماره‌اموال`, `شماره اموال` and `Property_Number`
    style spellings meet)."""
    return _LOOSE_IGNORED.sub("", normalize_text(s)).casefold()


def to_persian_digits(s: str) -> str:
    """Replace ASCII digits with Persian digits for display."""
    return s.translate(_TO_PERSIAN_DIGITS)


def typed_text(value: object) -> object:
    """A form value before validation: text normalised, anything else passed on as it is."""
    return normalize_text(value) if isinstance(value, str) else value


def typed_digits(value: object) -> object:
    """A number-like form value (codes, phone numbers): ASCII digits, no spaces."""
    return normalize_digits(value).strip().replace(" ", "") if isinstance(value, str) else value


def empty_as_none(value: object) -> object:
    """A field left blank is a field not given."""
    return None if isinstance(value, str) and not value.strip() else value
