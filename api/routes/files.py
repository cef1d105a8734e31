"""Files kept for a case: upload one (any process's letter, signature or site list), download one.

Both go through the shared upload facility: an upload is read under its kind's byte cap and
checked by its bytes (api/uploads.py, domain/uploads.py), and stored under a generated name
outside the web root (db/stored_files.py). A case's file is for those who may see the case
(`may_access`, as the case page). A file of no case yet is kept by admins, and by the roles
`CASELESS_UPLOADERS` names for its kind: a letter a unit sends before its case exists, a
manager's signature scanned for the automation admin's task. Only admins download it until a
case keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import UploadFile as StarletteUpload

from api.blocking import run_blocking
from api.errors import ApiError, RowId, documented, lang_of
from api.routes.cases import accessible_case, may_access
from api.security import CurrentUser, SessionDep, SettingsDep
from api.uploads import receive
from api.web.schema_form import FILE_INPUT, FieldKind, FormField
from db.models import Case, StoredFile, User
from db.stored_files import path_of, store
from domain.cases import Role
from domain.messages import Lang, message
from domain.uploads import EXTENSION, MediaType, UploadKind
from settings import Settings

router = APIRouter(prefix="/api/files", tags=["files"], responses=documented(401, 403, 404))
log = logging.getLogger("peygir.api")


class StoredFileView(BaseModel):
    id: int
    kind: UploadKind
    media_type: MediaType
    """What its bytes are, whatever its name said."""
    size: int
    sha256: str
    case: str | None
    """The case's tracking code; None for a file of no case (yet)."""
    uploaded_by: str
    created_at: datetime


def _view(row: StoredFile, tracking_code: str | None) -> StoredFileView:
    return StoredFileView(
        id=row.id or 0,
        kind=UploadKind(row.kind),
        media_type=MediaType(row.media_type),
        size=row.size,
        sha256=row.sha256,
        case=tracking_code,
        uploaded_by=row.uploaded_by,
        created_at=row.created_at,
    )


CASELESS_UPLOADERS: dict[UploadKind, frozenset[Role]] = {
    UploadKind.pdf: frozenset({Role.unit_secretary, Role.automation_admin}),
    UploadKind.signature: frozenset({Role.automation_admin}),
}
"""Who may keep a file of no case, by kind (admins any kind): an appointment letter or its
reverse (process 3's start forms name their PDF by its id), a manager's signature."""


def _admin_only(user: User) -> None:
    if Role.admin not in user.roles:
        raise ApiError(403, "forbidden")


def _may_keep_without_case(user: User, kind: UploadKind) -> None:
    if not ({Role.admin, *CASELESS_UPLOADERS.get(kind, ())} & set(user.roles)):
        raise ApiError(403, "forbidden")


class PostedFiles(Protocol):
    """A page's posted form (api.web.pages.shared.PostedFields) as the file keeping sees it."""

    @property
    def files(self) -> Mapping[str, StarletteUpload]: ...

    @property
    def every(self) -> dict[str, list[str]]: ...

    def __setitem__(self, key: str, value: str) -> None: ...


def keep_form_files(
    engine: Engine,
    settings: Settings,
    user: User | None,
    fields: Sequence[FormField],
    files: Mapping[str, StarletteUpload],
    lang: Lang,
) -> tuple[dict[str, int], dict[str, str]]:
    """The files chosen in a page's file fields, each kept as `POST /api/files` keeps a file of
    no case (the same kinds, checks and rights): (their ids by field, the reasons refused by
    field). Blocking: run it off the event loop."""
    kept: dict[str, int] = {}
    refused: dict[str, str] = {}
    for f in fields:
        upload = files.get(f.name + FILE_INPUT)
        if f.kind is not FieldKind.file or f.file_kind is None or upload is None:
            continue
        kind = UploadKind(f.file_kind)
        try:
            if user is None:
                raise ApiError(401, "not_authenticated")
            _may_keep_without_case(user, kind)
            checked = receive(upload, kind, lang)  # type: ignore[arg-type]
        except ApiError as error:
            refused[f.name] = error.errors[0].reason if error.errors else message(error.code, lang)
            continue
        with Session(engine) as session:
            row = store(session, settings.file_store_dir, checked, uploaded_by=user.username)
        assert row.id is not None
        kept[f.name] = row.id
    return kept, refused


async def keep_posted_files(
    request: Request, user: User | None, fields: Sequence[FormField], posted: PostedFiles
) -> dict[str, str]:
    """A page's chosen files kept (see `keep_form_files`), their ids set in the posted fields as
    if typed; the reasons of those refused, by field."""
    if not posted.files:
        return {}
    state = request.app.state
    kept, refused = await run_blocking(
        keep_form_files, state.engine, state.settings, user, fields, posted.files, lang_of(request)
    )
    for name, file_id in kept.items():
        posted[name] = str(file_id)
        posted.every[name] = [str(file_id)]
    return refused


@router.post(
    "",
    response_model=StoredFileView,
    status_code=status.HTTP_201_CREATED,
    responses=documented(413),
)
def upload_file(
    file: Annotated[UploadFile, File()],
    kind: Annotated[UploadKind, Form()],
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    case: Annotated[str | None, Form(max_length=20)] = None,
) -> StoredFileView:
    """Keep a file for a case (`case`: its tracking code), for whoever may see the case. Without
    a case: admins; a unit's secretariat and the automation admins a `pdf` (a letter sent before
    its case exists); the automation admins a `signature`. `kind` is what the file must be:
    `spreadsheet` (CSV or XLSX), `pdf`, `image` (PNG or JPEG) or `signature` (PNG or JPEG
    within a signature's limits of bytes and pixels), judged by its bytes; an image is kept
    re-encoded, without its metadata. 413 past the kind's size limit, 422 on
    `file` when it is not of the kind or is unsafe; nothing is stored then."""
    found = accessible_case(session, user, case) if case else None
    if found is None:
        _may_keep_without_case(user, kind)
    upload = receive(file, kind, lang_of(request))
    row = store(
        session,
        settings.file_store_dir,
        upload,
        uploaded_by=user.username,
        case_id=found.id if found else None,
    )
    return _view(row, found.tracking_code if found else None)


@router.get(
    "/{file_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download_file(
    file_id: RowId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The file's bytes, as an attachment of the type its bytes showed (never rendered inline),
    to those who may see its case; a file of no case to admins only."""
    row = session.get(StoredFile, file_id)
    if row is None:
        raise ApiError(404, "not_found")
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    if case is None:
        _admin_only(user)
    elif not may_access(session, user, case):
        raise ApiError(403, "forbidden")
    path = path_of(settings.file_store_dir, row.name)
    if not path.is_file():
        log.warning("stored file %s (%s) is missing from the store", row.id, row.name)
        raise ApiError(404, "not_found")
    media_type = MediaType(row.media_type)
    return FileResponse(
        path,
        media_type=media_type.value,
        filename=f"{row.kind}-{row.id}.{EXTENSION[media_type]}",
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
