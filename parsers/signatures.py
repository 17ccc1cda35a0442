"""File signatures ("magic bytes"): what a file is, judged by its content rather than its name."""

from __future__ import annotations

PDF_MAGIC = b"%PDF-"
# Readers accept a PDF header anywhere in the first 1024 bytes (some producers prepend junk).
PDF_HEADER_WINDOW = 1024

BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Only signatures that cannot begin a text file (they contain control bytes); anything else
# binary is caught by its NUL bytes.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (or a .docx, .xlsx, .pptx or .epub file)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.doc, .xls, .ppt)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
)


def has_pdf_header(data: bytes) -> bool:
    """True when the bytes carry the PDF header where PDF readers look for it."""
    return PDF_MAGIC in data[:PDF_HEADER_WINDOW]


def detect_bom(data: bytes) -> str | None:
    """The codec named by a byte-order mark at the start of `data`, if any."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            return codec
    return None


def describe_binary(data: bytes) -> str | None:
    """Say what kind of binary file this is, or None when it may be text.

    NUL bytes mark binary content unless a UTF-16/32 byte-order mark explains them.
    """
    for signature, description in _BINARY_SIGNATURES:
        if data.startswith(signature):
            return description
    if data.startswith(b"MZ") and b"\x00" in data[:PDF_HEADER_WINDOW]:
        return "a Windows program (.exe or .dll)"
    if detect_bom(data) in ("utf-16", "utf-32"):
        return None
    if b"\x00" in data:
        return "a binary file"
    return None
