"""Files for the upload tests, good and malicious, made here (nothing is downloaded)."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook
from PIL import Image

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


def png(width: int = 4, height: int = 3) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 30, 200)).save(out, "JPEG")
    return out.getvalue()


def pdf(extra: bytes = b"") -> bytes:
    """A one-page PDF, written by hand (no library), `extra` in its catalog."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(data: bytes, add: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    """The XLSX `data` with entries added (or replaced) and dropped."""
    add = add or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename not in drop and info.filename not in add:
                target.writestr(info, source.read(info))
        for name, body in add.items():
            target.writestr(name, body)
    return out.getvalue()


def xlsx_bomb(megabytes: int = 64) -> bytes:
    """A real workbook plus one entry of `megabytes` of zeros: about a thousandth of it packed."""
    out = io.BytesIO(rezip(xlsx([["property_number", "kind"]])))
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/worksheets/sheet2.xml", "w", force_zip64=True) as entry:
            zeros = bytes(1 << 20)
            for _ in range(megabytes):
                entry.write(zeros)
    return out.getvalue()


def xlsx_with_sheet_xml(cells_xml: str) -> bytes:
    """A workbook whose first sheet is `cells_xml` (the <sheetData> content), as Excel writes."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{cells_xml}</sheetData></worksheet>"
    )
    return rezip(xlsx([["x"]]), add={"xl/worksheets/sheet1.xml": sheet.encode()})
