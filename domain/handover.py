"""The one-time hand-over of a cartable's initial password to the unit's head (process 3, box
6): the password sealed the moment the admin types it, a link that opens it once, and the
second factor that guards the link.

The link's token is derived from SECRET_KEY, the case and the link's number, so an activity
retried after a crash sends the same link, never a second valid one; only its hash is stored.
A new link (a higher number) voids the one before.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

SEALED = "sealed"
"""What a sealed field carries on its way to the workflow: the API keeps the value, sealed."""
SEALED_FIELD = "x-sealed"
"""A decision field's JSON-schema mark: the API seals what is typed there before the Update."""
PASSWORD_MIN = 8
PASSWORD_MAX = 128


def _sealed(value: str) -> str:
    if value != SEALED:
        raise PydanticCustomError("password_not_sealed", "the password goes through the portal")
    return value


SealedPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=PASSWORD_MAX,
        json_schema_extra={SEALED_FIELD: True, "format": "password"},
    ),
    AfterValidator(_sealed),
]
"""A password typed on a task page (or posted to the task API): the API seals it at once and
passes the workflow only the word `sealed`, so no history or log ever holds it."""


def vault_ref(case_id: int, name: str) -> str:
    """What a sealed value is bound to: it opens for its own case and field only."""
    return f"case:{case_id}:{name}"


def link_token(secret_key: str, case_id: int, number: int) -> str:
    """The token of the case's `number`-th link: the same on every retry of its sending."""
    digest = hmac.new(
        secret_key.encode(), f"handover:{case_id}:{number}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{case_id}-{number}-{digest[:40]}"


def token_hash(token: str) -> str:
    """What the database keeps of a token: a leaked table opens no link."""
    return hashlib.sha256(token.encode()).hexdigest()
