"""Valid request forms for the benchmarks, distinct per figure and per index.

The API accepts one open request per person, so every form of a run has its own national code
(unique by construction, not by chance) and its own username.
"""

from __future__ import annotations

from typing import Any

from domain.email_account import EmailRequestForm

FIGURE_NUMBERS = {"sub": 11, "dec": 12, "pro": 13, "mem": 14, "cart": 15}


def national_code(figure: str, index: int) -> str:
    """A valid national code, one per (figure, index) for index < 10**7."""
    body = [int(d) for d in f"{FIGURE_NUMBERS[figure]:02d}{index % 10**7:07d}"]
    s = sum(d * (10 - i) for i, d in enumerate(body)) % 11
    check = s if s < 2 else 11 - s
    return "".join(map(str, body)) + str(check)


def form_data(run: str, figure: str, index: int) -> dict[str, Any]:
    """The JSON body of the public form; the username is unique to (run, figure, index)."""
    return {
        "first_name": "زهرا",
        "last_name": "محمدی",
        "national_code": national_code(figure, index),
        "mobile": f"0912{index % 10**7:07d}",
        "affiliation": "student",
        "member_id": f"40{index:08d}",
        "unit": "دانشکده پزشکی",
        "requested_username": f"b{run}{figure}{index}",
        "personal_email": f"b{run}{figure}{index}@example.com",
    }


def form(run: str, figure: str, index: int) -> EmailRequestForm:
    return EmailRequestForm.model_validate(form_data(run, figure, index))
