"""Uploads over HTTP: each kind's malicious file refused (422 on `file`, or 413) with nothing
stored; a stored file under a generated name, downloaded only by those who may see its case."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.models import Case, StoredFile, Task
from domain import uploads
from domain.cases import Role, TaskStatus
from domain.messages import Lang
from domain.office_automation import SIGNATURE_MAX_SIZE, SIGNATURE_MIN_SIZE
from domain.uploads import FileRefused
from settings import Settings
from tests import samples
from tests.factories import form_data, open_case


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(StoredFile)).one()


def files_on_disk(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.file_store_dir).rglob("*") if p.is_file()]


def case_with_task(engine: Engine, role: Role, scope: str) -> Case:
    """A case whose open task is `role`'s in `scope`: that cartable may see it."""
    case = open_case(engine, form_data())
    assert case.id is not None
    with Session(engine) as session:
        session.add(
            Task(
                id=f"files-{uuid.uuid4().hex[:8]}",
                case_id=case.id,
                process="email_account",
                step="review_form",
                title_fa="بررسی فرم ارسالی",
                title_en="Review the submitted form",
                role=role.value,
                scope=scope,
                status=TaskStatus.open,
                due_at=case.created_at,
            )
        )
        session.commit()
    return case


def upload(name: str, data: bytes, content_type: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, content_type)}


MALICIOUS = [
    ("pdf", "letter.pdf", samples.HTML, "application/pdf", "file_not_pdf"),
    (
        "pdf",
        "letter.pdf",
        b"%PDF-1.4\n" + samples.HTML + samples.pdf(),
        "application/pdf",
        "file_unsafe",
    ),
    ("image", "sign.png", samples.png() + samples.HTML, "image/png", "file_unsafe"),
    ("image", "sign.png", b"GIF89a<script>alert(1)</script>", "image/png", "file_not_image"),
    ("image", "sign.jpg", samples.png() + samples.xlsx([["a"]]), "image/jpeg", "file_unsafe"),
    (
        "spreadsheet",
        "sites.xlsx",
        samples.xlsx_bomb(),
        uploads.MediaType.xlsx.value,
        "file_unpacks_too_large",
    ),
    ("spreadsheet", "sites.csv", b"site,code\n\x00\x00,1\n", "text/csv", "file_format"),
    ("spreadsheet", "sites.csv", b"site,code\n\xff\xfe,1\n", "text/csv", "file_format"),
]


@pytest.mark.parametrize(
    ("kind", "name", "data", "content_type", "code"),
    MALICIOUS,
    ids=[f"{m[0]}-{m[4]}-{i}" for i, m in enumerate(MALICIOUS)],
)
async def test_a_malicious_file_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient,
    make_user,
    engine: Engine,
    settings: Settings,
    kind: str,
    name: str,
    data: bytes,
    content_type: str,
    code: str,
) -> None:
    _, admin = make_user(Role.admin)
    before, on_disk = stored(engine), files_on_disk(settings)
    for lang, word in (("fa", "پرونده"), ("en", "file")):
        answer = await api.post(
            "/api/files",
            data={"kind": kind},
            files=upload(name, data, content_type),
            headers={**admin, "Accept-Language": lang},
        )
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["errors"]
        assert (problem["field"], problem["code"]) == ("file", code)
        assert word in problem["reason"].lower()
    assert stored(engine) == before
    assert files_on_disk(settings) == on_disk


async def test_an_oversized_upload_is_413(
    api: httpx.AsyncClient, make_user, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, admin = make_user(Role.admin)
    monkeypatch.setitem(uploads.MAX_BYTES, uploads.UploadKind.image, 1024)
    before = stored(engine)
    answer = await api.post(
        "/api/files",
        data={"kind": "image"},
        files=upload("big.png", samples.png(200, 200) + bytes(2048), "image/png"),
        headers=admin,
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["errors"][0]["code"] == "file_too_large"
    assert stored(engine) == before


async def test_register_imports_refuse_malicious_spreadsheets(
    api: httpx.AsyncClient, make_user
) -> None:
    """The asset register and the person registry take the same checks."""
    _, admin = make_user(Role.admin)
    for route in ("/api/repair/assets/import", "/api/admin/people/import"):
        bomb = await api.post(
            route, files=upload("r.xlsx", samples.xlsx_bomb(), "text/csv"), headers=admin
        )
        assert bomb.status_code == 422, (route, bomb.text)
        assert bomb.json()["errors"][0]["code"] == "file_unpacks_too_large"
        nul = await api.post(
            route, files=upload("r.csv", b"national_code\x00,kind\n", "text/csv"), headers=admin
        )
        assert nul.status_code == 422
        assert nul.json()["errors"][0] == {
            "field": "file",
            "code": "file_format",
            "reason": "پرونده باید CSV (با کدگذاری UTF-8) یا اکسل (xlsx) باشد.",
        }


async def test_stored_file_download_and_who_may(
    api: httpx.AsyncClient, make_user, engine: Engine, settings: Settings
) -> None:
    scope = f"unit-{uuid.uuid4().hex[:6]}"
    case = case_with_task(engine, Role.email_admin, scope)
    reader, reader_auth = make_user(Role.email_admin, scopes=(scope,))
    _, outsider = make_user(Role.email_admin, scopes=("another-unit",))
    _, admin = make_user(Role.admin)
    letter = samples.pdf()

    # Anyone who may see the case attaches a file; the upload's name plays no part.
    answer = await api.post(
        "/api/files",
        data={"kind": "pdf", "case": case.tracking_code},
        files=upload("../../etc/passwd", letter, "text/html"),
        headers=reader_auth,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["media_type"] == "application/pdf" and body["case"] == case.tracking_code
    assert body["uploaded_by"] == reader.username and body["size"] == len(letter)
    with Session(engine) as session:
        row = session.get(StoredFile, body["id"])
        assert row is not None
    assert len(row.name) == 32 and "passwd" not in row.name and ".." not in row.name
    [path] = [p for p in files_on_disk(settings) if p.name == row.name]
    assert path.read_bytes() == letter
    assert path.resolve().is_relative_to(Path(settings.file_store_dir).resolve())
    assert "static" not in path.parts

    url = f"/api/files/{body['id']}"
    got = await api.get(url, headers=reader_auth)
    assert got.status_code == 200
    assert got.content == letter
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "passwd" not in got.headers["content-disposition"]
    assert (await api.get(url, headers=admin)).status_code == 200
    assert (await api.get(url, headers=outsider)).status_code == 403
    assert (await api.get(url)).status_code == 401
    assert (await api.get("/api/files/999999999", headers=admin)).status_code == 404

    # The outsider may not attach to the case either; nothing is stored then.
    before = stored(engine)
    refused = await api.post(
        "/api/files",
        data={"kind": "pdf", "case": case.tracking_code},
        files=upload("x.pdf", letter, "application/pdf"),
        headers=outsider,
    )
    assert refused.status_code == 403
    assert stored(engine) == before


async def test_a_file_of_no_case_is_the_admins(
    api: httpx.AsyncClient, make_user, engine: Engine
) -> None:
    _, admin = make_user(Role.admin)
    _, operator = make_user(Role.operator)
    files = upload("sign.png", samples.png(), "application/octet-stream")
    assert (
        await api.post("/api/files", data={"kind": "image"}, files=files, headers=operator)
    ).status_code == 403
    answer = await api.post("/api/files", data={"kind": "image"}, files=files, headers=admin)
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == "image/png" and answer.json()["case"] is None
    url = f"/api/files/{answer.json()['id']}"
    assert (await api.get(url, headers=operator)).status_code == 403
    got = await api.get(url, headers=admin)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    with Session(engine) as session:
        rows = session.exec(select(StoredFile).where(col(StoredFile.case_id).is_(None))).all()
        assert rows and all(r.uploaded_by for r in rows)


async def test_process_3_s_files_are_kept_before_their_case(
    api: httpx.AsyncClient, make_user, engine: Engine, settings: Settings
) -> None:
    """A unit's secretariat uploads its letter before sending it; the automation admins a
    manager's signature, checked by the signature's rules and kept without its metadata."""
    _, secretary = make_user(Role.unit_secretary, scopes=("unit:U-FILES",))
    _, automation = make_user(Role.automation_admin)
    _, operator = make_user(Role.operator)
    letter = upload("letter.pdf", samples.pdf(), "application/pdf")
    for auth in (secretary, automation):
        answer = await api.post("/api/files", data={"kind": "pdf"}, files=letter, headers=auth)
        assert answer.status_code == 201, answer.text
        assert answer.json()["kind"] == "pdf" and answer.json()["case"] is None
        # Until a case keeps it, the file is the admins' to read.
        assert (await api.get(f"/api/files/{answer.json()['id']}", headers=auth)).status_code == 403

    exif = Image.Exif()
    exif[0x010F] = "ScannerMaker"
    out = io.BytesIO()
    Image.new("L", (600, 200), 255).save(out, "JPEG", exif=exif.tobytes())
    scan = upload("sign.jpg", out.getvalue(), "image/jpeg")
    before = stored(engine)
    for auth, kind in ((secretary, "signature"), (secretary, "image"), (operator, "pdf")):
        files = scan if kind != "pdf" else letter
        refused = await api.post("/api/files", data={"kind": kind}, files=files, headers=auth)
        assert refused.status_code == 403, (kind, refused.text)
    assert stored(engine) == before

    answer = await api.post(
        "/api/files", data={"kind": "signature"}, files=scan, headers=automation
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["kind"], answer.json()["media_type"]) == ("signature", "image/jpeg")
    with Session(engine) as session:
        row = session.get(StoredFile, answer.json()["id"])
        assert row is not None and row.kind == "signature"
    [path] = [p for p in files_on_disk(settings) if p.name == row.name]
    assert b"ScannerMaker" not in path.read_bytes()

    before, on_disk = stored(engine), files_on_disk(settings)
    small, big = SIGNATURE_MIN_SIZE, SIGNATURE_MAX_SIZE
    for data, refusal in (
        (samples.png(100, 40), FileRefused("signature_too_small", width=small[0], height=small[1])),
        (
            samples.png(big[0] + 1, 300),
            FileRefused("signature_too_big", width=big[0], height=big[1]),
        ),
        (samples.pdf(), FileRefused("file_not_image")),
    ):
        for lang in ("fa", "en"):
            answer = await api.post(
                "/api/files",
                data={"kind": "signature"},
                files=upload("sign.png", data, "image/png"),
                headers={**automation, "Accept-Language": lang},
            )
            assert answer.status_code == 422, answer.text
            [problem] = answer.json()["errors"]
            assert (problem["field"], problem["code"]) == ("file", refusal.code)
            assert problem["reason"] == refusal.reason(Lang(lang))
    assert stored(engine) == before and files_on_disk(settings) == on_disk
