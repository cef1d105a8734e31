"""What an upload may be, judged by its bytes: the one check every process's uploads go through.

A process asks for a *kind* (a spreadsheet, a PDF letter, an image); the file's name and the
Content-Type its browser sent are never looked at. The content decides: its magic number first,
then a check of its structure (an XLSX is a zip holding a workbook, and unpacks to a bounded
size; a PDF ends with `%%EOF`; a PNG is whole chunks up to IEND; a JPEG ends at its EOI marker),
and nothing may trail or hide inside that would make it another kind of file as well (a
polyglot). An image is then re-encoded from its pixels alone, so what is kept carries none of
the sender's metadata (EXIF with its camera, place and time; text chunks; ICC profiles). A
refusal is a `FileRefused` naming the reason in Persian and English; the caller stores nothing.
Reading the upload (in chunks, under the kind's byte limit) is the API's part
(`api/uploads.py`); reading a spreadsheet's rows is `domain/spreadsheets.py`.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass
from enum import StrEnum

from domain.messages import Lang, message

MB = 1024 * 1024


class UploadKind(StrEnum):
    spreadsheet = "spreadsheet"
    """CSV (UTF-8) or XLSX: registers, site lists, carrier reports, SRM exports."""
    pdf = "pdf"
    """A letter."""
    image = "image"
    """PNG or JPEG: a photo of a device; kept re-encoded, without metadata."""
    signature = "signature"
    """A manager's scanned signature: an image, then the signature's own size rules
    (domain.office_automation.checked_signature, which api/uploads.py applies to this kind)."""


class MediaType(StrEnum):
    """What a file is, as its bytes tell; served back as its Content-Type."""

    csv = "text/csv"
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    pdf = "application/pdf"
    png = "image/png"
    jpeg = "image/jpeg"


EXTENSION: dict[MediaType, str] = {
    MediaType.csv: "csv",
    MediaType.xlsx: "xlsx",
    MediaType.pdf: "pdf",
    MediaType.png: "png",
    MediaType.jpeg: "jpg",
}

MEDIA_TYPES: dict[UploadKind, frozenset[MediaType]] = {
    UploadKind.spreadsheet: frozenset({MediaType.csv, MediaType.xlsx}),
    UploadKind.pdf: frozenset({MediaType.pdf}),
    UploadKind.image: frozenset({MediaType.png, MediaType.jpeg}),
    UploadKind.signature: frozenset({MediaType.png, MediaType.jpeg}),
}

MAX_BYTES: dict[UploadKind, int] = {
    UploadKind.spreadsheet: 20 * MB,
    UploadKind.pdf: 20 * MB,
    UploadKind.image: 5 * MB,
    UploadKind.signature: 5 * MB,
}
"""The largest upload of each kind; a caller may ask for less (the asset register takes 10 MB)."""

# Against zip bombs: an XLSX of a few MB holds a few dozen entries that unpack to tens of MB.
XLSX_MAX_ENTRIES = 1_000
XLSX_MAX_UNZIPPED_BYTES = 200 * MB
XLSX_MAX_RATIO = 200
"""Largest unpacked/packed ratio of an entry past 1 MB (sheet XML packs 10-30 times, rarely
100); the declared sizes bind, since Python's zipfile never unpacks past an entry's declared
size."""
XLSX_REQUIRED = ("[Content_Types].xml", "xl/workbook.xml")
XLSX_FORBIDDEN = re.compile(r"(?i)(^|/)(vbaProject\.bin|activeX/)")
"""Macros and ActiveX controls: an .xlsm or worse dressed as .xlsx."""

CSV_MAX_LINES = 500_000
IMAGE_MAX_SIDE = 10_000
IMAGE_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 92
"""A re-encoded JPEG's quality: a scanned signature's strokes stay sharp."""
PDF_EOF_WINDOW = 1024
"""`%%EOF` must be in the last this many bytes (what readers themselves accept)."""
SNIFF_WINDOW = 1024
"""Browsers sniff the first bytes of a response for markup; so do we."""

ZIP_MAGIC = b"PK\x03\x04"
PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# Markup a browser would run if it ever took the file for HTML or SVG.
_MARKUP = re.compile(rb"(?i)<\s*(script|html|body|iframe|object|embed|svg|!doctype\s+html)\b")
# Active content of a PDF (in the clear; object streams can hide more, which is why a PDF is
# only ever served as an attachment).
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA)(?![A-Za-z])")
_PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.S)


class FileRefused(ValueError):
    """The upload is not what was asked for, or is unsafe: nothing is read further or stored."""

    field = "file"

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def reason(self, lang: Lang) -> str:
        return message(self.code, lang, **self.params)

    def reasons(self) -> dict[Lang, str]:
        """The reason in both languages (Persian first)."""
        return {lang: self.reason(lang) for lang in (Lang.fa, Lang.en)}


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed its kind's checks."""

    kind: UploadKind
    media_type: MediaType
    data: bytes

    @property
    def extension(self) -> str:
        return EXTENSION[self.media_type]


def not_of_kind(kind: UploadKind) -> FileRefused:
    code = {
        UploadKind.spreadsheet: "file_format",
        UploadKind.pdf: "file_not_pdf",
        UploadKind.image: "file_not_image",
        UploadKind.signature: "file_not_image",
    }[kind]
    return FileRefused(code)


def too_large(limit: int) -> FileRefused:
    return FileRefused("file_too_large", limit=max(limit // MB, 1))


def sniff(data: bytes) -> MediaType | None:
    """The file's type by its magic number; a file with none is text, CSV if anything."""
    if data.startswith(ZIP_MAGIC):
        return MediaType.xlsx
    if data.startswith(PDF_MAGIC):
        return MediaType.pdf
    if data.startswith(PNG_MAGIC):
        return MediaType.png
    if data.startswith(JPEG_MAGIC):
        return MediaType.jpeg
    return MediaType.csv


def check(data: bytes, kind: UploadKind, *, limit: int | None = None) -> CheckedFile:
    """The upload as `kind`, or FileRefused; never judged by a name or a header."""
    limit = MAX_BYTES[kind] if limit is None else min(limit, MAX_BYTES[kind])
    if len(data) > limit:
        raise too_large(limit)
    if not data:
        raise FileRefused("file_empty")
    media_type = sniff(data)
    if media_type not in MEDIA_TYPES[kind]:
        raise not_of_kind(kind)
    _CHECKS[media_type](data)
    if media_type in MEDIA_TYPES[UploadKind.image]:
        data = reencoded(data, media_type)
    return CheckedFile(kind=kind, media_type=media_type, data=data)


def check_csv(data: bytes) -> None:
    """UTF-8 (a BOM allowed), no NUL, a bounded number of lines, and no markup up front."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("file_format") from None
    if "\x00" in text:
        raise FileRefused("file_format")
    if text.count("\n") > CSV_MAX_LINES:
        raise FileRefused("too_many_rows", limit=CSV_MAX_LINES)
    if _MARKUP.search(data[:SNIFF_WINDOW]):
        raise FileRefused("file_unsafe")


def check_xlsx(data: bytes) -> None:
    """A zip holding a workbook, of bounded entries and unpacked size, with no macros."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise FileRefused("file_format") from None
    if len(entries) > XLSX_MAX_ENTRIES:
        raise FileRefused("file_unpacks_too_large", limit=XLSX_MAX_UNZIPPED_BYTES // MB)
    names = {info.filename for info in entries}
    if not all(name in names for name in XLSX_REQUIRED):
        raise FileRefused("file_format")
    if any(XLSX_FORBIDDEN.search(name) for name in names):
        raise FileRefused("file_unsafe")
    total = 0
    for info in entries:
        total += info.file_size
        packed = max(info.compress_size, 1)
        if info.file_size > MB and info.file_size / packed > XLSX_MAX_RATIO:
            raise FileRefused("file_unpacks_too_large", limit=XLSX_MAX_UNZIPPED_BYTES // MB)
        if info.flag_bits & 0x1:  # encrypted: not readable, not checkable
            raise FileRefused("file_format")
    if total > XLSX_MAX_UNZIPPED_BYTES:
        raise FileRefused("file_unpacks_too_large", limit=XLSX_MAX_UNZIPPED_BYTES // MB)


def check_pdf(data: bytes) -> None:
    """`%PDF-1.x` up front, `%%EOF` at the end; outside its (binary) streams no markup, no other
    file's signature and no active content."""
    if re.match(rb"%PDF-[12]\.\d", data) is None:
        raise FileRefused("file_not_pdf")
    if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
        raise FileRefused("file_damaged")
    if _MARKUP.search(data[:SNIFF_WINDOW]):
        raise FileRefused("file_unsafe")
    # Streams are compressed bytes where any short pattern turns up by chance; the rest is text.
    outside = _PDF_STREAM.sub(b"stream endstream", data)
    if _PDF_ACTIVE.search(outside) or _MARKUP.search(outside) or ZIP_MAGIC in outside:
        raise FileRefused("file_unsafe")


def check_png(data: bytes) -> None:
    """Whole chunks, IHDR first, IEND last and nothing after it; no markup in a text chunk."""
    at = len(PNG_MAGIC)
    first = True
    while True:
        if at + 8 > len(data):
            raise FileRefused("file_damaged")
        length, chunk = struct.unpack(">I4s", data[at : at + 8])
        if first and chunk != b"IHDR":
            raise FileRefused("file_damaged")
        first = False
        body = data[at + 8 : at + 8 + length]
        at += 12 + length
        if at > len(data):
            raise FileRefused("file_damaged")
        if chunk != b"IDAT" and _MARKUP.search(body):
            raise FileRefused("file_unsafe")
        if chunk == b"IEND":
            break
    if at != len(data):
        raise FileRefused("file_unsafe")  # something rides after the image: a polyglot
    _decodes(data, "PNG")


def check_jpeg(data: bytes) -> None:
    """Whole segments up to the scan, no markup in them (comments, EXIF), and the end at the
    EOI marker (zero padding aside)."""
    at = 2
    while True:
        while at < len(data) and data[at] == 0xFF and at + 1 < len(data) and data[at + 1] == 0xFF:
            at += 1  # fill bytes
        if at + 4 > len(data) or data[at] != 0xFF:
            raise FileRefused("file_damaged")
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2 or at + 2 + length > len(data):
            raise FileRefused("file_damaged")
        if _MARKUP.search(data[at + 4 : at + 2 + length]):
            raise FileRefused("file_unsafe")
        at += 2 + length
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FileRefused("file_unsafe" if b"\xff\xd9" in data[at:] else "file_damaged")
    _decodes(data, "JPEG")


def _decodes(data: bytes, image_format: str) -> None:
    """With Pillow: the declared size within the caps, then the image really decodes."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency; the byte checks still hold
        return
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            if max(width, height) > IMAGE_MAX_SIDE or width * height > IMAGE_MAX_PIXELS:
                raise FileRefused("image_too_large", side=IMAGE_MAX_SIDE)
            image.load()
    except FileRefused:
        raise
    except Exception:  # Pillow raises many kinds on a damaged image
        raise FileRefused("file_damaged") from None


def reencoded(data: bytes, media_type: MediaType) -> bytes:
    """A checked image drawn anew from its pixels in its own format: nothing of the file but
    the picture survives (no EXIF, text chunk, ICC profile or trailing data)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image: Image.Image = opened
        if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
            has_alpha = image.mode == "P" and "transparency" in image.info
            image = image.convert("RGBA" if has_alpha or "A" in image.mode else "RGB")
        if media_type is MediaType.jpeg and image.mode not in ("1", "L", "RGB"):
            image = image.convert("RGB")
        fresh = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if media_type is MediaType.jpeg:
        fresh.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        fresh.save(out, "PNG", optimize=True)
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    """The width and height of a checked image, in pixels."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return width, height


_CHECKS = {
    MediaType.csv: check_csv,
    MediaType.xlsx: check_xlsx,
    MediaType.pdf: check_pdf,
    MediaType.png: check_png,
    MediaType.jpeg: check_jpeg,
}
