"""Every label the pages use exists in both translation tables."""

from __future__ import annotations

import re
from pathlib import Path

from api.web.i18n import table
from domain.cases import Role
from domain.messages import Lang
from processes.registry import PROCESSES

TEMPLATES = Path(__file__).parents[2] / "api" / "web" / "templates"
LITERAL_KEY = re.compile(r"""t\(\s*'([a-z_.]+)'\s*[,)]""")


def test_both_tables_have_the_same_labels() -> None:
    assert set(table(Lang.fa)) == set(table(Lang.en))
    assert all(v.strip() for v in table(Lang.fa).values())


def test_every_literal_label_in_templates_exists() -> None:
    used = {k for f in TEMPLATES.glob("*.html") for k in LITERAL_KEY.findall(f.read_text())}
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
