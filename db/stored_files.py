"""Uploaded files kept for a case: the bytes on disk under FILE_STORE_DIR, the facts in the
`stored_files` table (db/models.StoredFile).

Only a file that passed `domain.uploads.check` is stored. Its name on disk is random (32 hex
digits, spread over 256 folders by its first two), so nothing the uploader chose (its name, a
`../../etc/passwd`) ever reaches a path. The folder is outside the web root (never under
api/web/static); the only way out is GET /api/files/{id}, which checks who may see the case.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from sqlmodel import Session

from db.models import StoredFile
from domain.uploads import CheckedFile

_NAME = re.compile(r"[0-9a-f]{32}")


def new_name() -> str:
    return secrets.token_hex(16)


def path_of(directory: str | Path, name: str) -> Path:
    """Where the file of that generated name lives; ValueError for anything else."""
    if _NAME.fullmatch(name) is None:
        raise ValueError("not a generated file name")
    return Path(directory) / name[:2] / name


def store(
    session: Session,
    directory: str | Path,
    upload: CheckedFile,
    *,
    uploaded_by: str,
    case_id: int | None = None,
) -> StoredFile:
    """Write the bytes (owner-only, then renamed into place), then the row; if the row cannot be
    committed the bytes are removed again, so nothing is left half-stored."""
    name = new_name()
    target = path_of(directory, name)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{name}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(upload.data)
    os.replace(partial, target)
    row = StoredFile(
        name=name,
        kind=upload.kind.value,
        media_type=upload.media_type.value,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        case_id=case_id,
        uploaded_by=uploaded_by,
    )
    try:
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        target.unlink(missing_ok=True)
        raise
    session.refresh(row)
    return row
