"""Every label the pages use exists in both translation tables, and no page text is fixed in one
language."""

from __future__ import annotations

import re
from pathlib import Path

from api.web.i18n import Translator, table
from domain.cases import Role
from domain.messages import Lang
from processes.email_account import EMAIL_ACCOUNT
from processes.registry import PROCESSES

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "api" / "web" / "templates"
LITERAL_KEY = re.compile(r"""t\(\s*'([a-z_.]+)'\s*[,)]""")
NAMED_IN_TEXT = re.compile(r'(?:aria-label|aria-description|title|alt|placeholder)="([^"{]*)"')
REGISTRY_ANSWER = re.compile(r'RegistryMatch\(found=False, detail="([^"]+)"\)')


def test_both_tables_have_the_same_labels() -> None:
    assert set(table(Lang.fa)) == set(table(Lang.en))
    assert all(v.strip() for v in table(Lang.fa).values())


def test_every_literal_label_in_templates_exists() -> None:
    used = {k for f in TEMPLATES.rglob("*.html") for k in LITERAL_KEY.findall(f.read_text())}
    assert len(used) > 50
    assert used - set(table(Lang.fa)) == set()


def test_labels_for_every_role() -> None:
    keys = set(table(Lang.fa))
    assert {f"role.{r.value}" for r in Role} <= keys


def test_every_process_declares_its_texts_in_both_languages() -> None:
    for process in PROCESSES:
        texts = [process.title, process.description, *process.receipt_steps]
        texts += [f.label for f in process.answer_fields] + list(process.labels.values())
        assert all(text.fa.strip() and text.en.strip() for text in texts), process.kind


def test_no_accessible_name_is_written_in_one_language() -> None:
    """aria-label, title, alt and placeholder come from the tables, or the other page shows
    them in the wrong language (the cartable's pager once said "pages" on the Persian page)."""
    literal = {
        f"{f.relative_to(TEMPLATES)}: {text}"
        for f in TEMPLATES.rglob("*.html")
        for text in NAMED_IN_TEXT.findall(f.read_text())
        if re.search("[A-Za-z\u0600-\u06ff]", text)
    }
    assert literal == set()


def test_every_registry_answer_has_a_label() -> None:
    """The identity task shows the registry check's answer (English, from the activity) through
    the e-mail process's labels: `registry.` + the answer."""
    source = (ROOT / "activities" / "email_account.py").read_text()
    answers = REGISTRY_ANSWER.findall(source)
    assert len(answers) >= 3
    assert {"registry." + answer for answer in answers} <= set(EMAIL_ACCOUNT.labels)


def test_numbers_in_persian_text_read_in_persian_digits_but_codes_stay() -> None:
    fa, en = Translator(Lang.fa), Translator(Lang.en)
    line = "ارجاع به شرکت رایان PR-12 (1405/09/10، اتاق 204) مدل M404"
    assert fa.prose(line) == "ارجاع به شرکت رایان PR-12 (۱۴۰۵/۰۹/۱۰، اتاق ۲۰۴) مدل M404"
    assert en.prose(line) == line
    assert fa.prose("HP M404 2") == "HP M404 2"  # no Persian: a code or an English text
