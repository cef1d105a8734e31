"""Receiving an upload: read in chunks under a hard byte cap, then checked by its bytes.

Every route or page that takes a file calls `receive`. The multipart parser has already spooled
the body to a temporary file (past 1 MB it is on disk, not in memory); `receive` reads at most
the kind's limit plus one byte of it, so an oversized upload never sits whole in memory, and
answers 413. A file that is not of the kind, or is unsafe, is 422 on the field `file` with the
reason in the caller's language. Nothing is stored by either. A signature is checked by the
signature's rules as well (its size in pixels, `domain.office_automation.checked_signature`).
"""

from __future__ import annotations

from fastapi import UploadFile

from api.errors import ApiError, FieldProblem
from domain.messages import Lang
from domain.office_automation import checked_signature
from domain.uploads import MAX_BYTES, CheckedFile, FileRefused, UploadKind, check, too_large

CHUNK_BYTES = 64 * 1024


def refusal(error: FileRefused, lang: Lang) -> ApiError:
    """The API's answer to a refused file: 413 past the size limit, 422 otherwise."""
    status = 413 if error.code == "file_too_large" else 422
    problem = FieldProblem(field=error.field, reason=error.reason(lang), code=error.code)
    return ApiError(status, "invalid_value", [problem])


def read_capped(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes, read in chunks; FileRefused `file_too_large` at the first byte past
    `limit`, without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = file.file.read(min(CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)


def receive(
    file: UploadFile, kind: UploadKind, lang: Lang, *, limit: int | None = None
) -> CheckedFile:
    """The upload as `kind` (at most `limit` bytes, never more than the kind's own limit), or
    the ApiError to answer with."""
    cap = MAX_BYTES[kind] if limit is None else min(limit, MAX_BYTES[kind])
    try:
        data = read_capped(file, cap)
        if kind is UploadKind.signature:
            return checked_signature(data)
        return check(data, kind, limit=cap)
    except FileRefused as error:
        raise refusal(error, lang) from None
