"""The admin audit log: who changed what, when, from where; one row per change, added to the
change's own transaction (the caller commits both or neither).

A change made through a workflow Update (a reassignment, a cancel) is not a database
transaction of the API: its row is written once the workflow accepted the Update.
The detail holds old and new values, never a password or a secret.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from sqlmodel import Session

from api.logins import client_address
from db.models import AuditEntry, User

ACTIONS = (
    "user.create",
    "user.change",
    "user.roles",
    "user.disable",
    "user.enable",
    "user.password_reset",
    "holiday.add",
    "holiday.rename",
    "holiday.delete",
    "people.import",
    "task.reassign",
    "case.cancel",
    "vendor.create",
    "vendor.change",
    "vendor.activate",
    "vendor.deactivate",
    "assets.import",
    "county.create",
    "county.change",
    "counties.import",
    "sites.import",
    "site.enter",
    "site.cancel",
    "his_vendor.create",
    "his_vendor.change",
    "hospital.create",
    "hospital.change",
    "error_bank.create",
    "error_bank.change",
    "srm.import",
    "unit.create",
    "unit.change",
    "units.import",
    "post.create",
)
"""Every action written (the audit page filters by these)."""


def audit(
    session: Session, request: Request, actor: User, action: str, target: object, **detail: Any
) -> None:
    """Add the row to `session`; it is saved with the change when the caller commits."""
    assert action in ACTIONS, action
    session.add(
        AuditEntry(
            actor=actor.username,
            action=action,
            target=str(target)[:200],
            detail=json.loads(json.dumps(detail, default=str, ensure_ascii=False)),
            address=client_address(request),
        )
    )


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for each field whose value differs."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record(
    session: Session, request: Request, actor: User, action: str, target: object, **detail: Any
) -> None:
    """A row on its own (the change was a workflow's, already accepted); in a worker thread."""
    audit(session, request, actor, action, target, **detail)
    session.commit()
