"""The pages' labels: one translation table per language (i18n/fa.json, i18n/en.json)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from pathlib import Path

from domain.calendar import TEHRAN, format_jalali, to_jalali_date_str
from domain.messages import Lang
from domain.text import to_persian_digits

TABLES = Path(__file__).parent / "i18n"
PERSIAN_LETTER = re.compile("[\u0621-\u064a\u067e-\u06cc]")
LATIN = re.compile("[A-Za-z]")
WORD = re.compile(r"\S+")


@cache
def table(lang: Lang) -> dict[str, str]:
    labels: dict[str, str] = json.loads((TABLES / f"{lang.value}.json").read_text("utf-8"))
    return labels


class Translator:
    """`t(key)` for labels, `num`/`when`/`day` for what the pages show, per language."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._table = table(lang)

    @property
    def dir(self) -> str:
        return "rtl" if self.lang == Lang.fa else "ltr"

    def __call__(self, key: str, default: str | None = None) -> str:
        if key in self._table:
            return self._table[key]
        if default is not None:
            return default
        raise KeyError(f"label {key!r} missing from the {self.lang.value} table")

    def has(self, key: str) -> bool:
        return key in self._table

    def num(self, value: object) -> str:
        """Digits as the reader expects them: Persian digits in Persian."""
        text = str(value)
        return to_persian_digits(text) if self.lang == Lang.fa else text

    def prose(self, text: str) -> str:
        """Persian text (a timeline line, a typed address) with its numbers in Persian digits
        for a Persian reader; words holding Latin letters (`PR-12`, `M404`) are codes, kept."""
        if self.lang != Lang.fa or not PERSIAN_LETTER.search(text):
            return text
        return WORD.sub(lambda w: w[0] if LATIN.search(w[0]) else to_persian_digits(w[0]), text)

    def when(self, moment: datetime | None) -> str:
        """A moment as a Jalali date and time (Tehran), with the Gregorian date in English."""
        if moment is None:
            return ""
        jalali = format_jalali(moment, persian_digits=self.lang == Lang.fa)
        if self.lang == Lang.fa:
            return jalali
        return f"{jalali} ({moment.astimezone(TEHRAN).strftime('%Y-%m-%d')})"

    def day(self, value: date) -> str:
        text = to_jalali_date_str(value)
        return to_persian_digits(text) if self.lang == Lang.fa else f"{text} ({value.isoformat()})"
