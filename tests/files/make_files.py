"""Generate the sample files the parser tests read. Run once; the outputs are committed.

    .venv/bin/python tests/files/make_files.py

Every PDF is written with reportlab's `invariant` mode, so running this again reproduces
the same bytes. The real-world PDFs in this folder are copied, not generated; see LICENSES.md.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

HERE = Path(__file__).resolve().parent

# One sentence per page that appears nowhere else, so tests can tell pages apart.
PAGE_ONE = [
    "Harbour Survey, page one.",
    "The lighthouse keeper counted forty-two ships entering the bay on Monday.",
    "Fog was reported twice during the morning watch.",
]
PAGE_TWO = [
    "Harbour Survey, page two.",
    "The secret ingredient of the harbour stew is smoked paprika.",
    "Fishermen trade the recipe only with their apprentices.",
]
PAGE_THREE_LATIN = ["Harbour Survey, page three.", "The bridge across the river opened in 1957."]
PAGE_THREE_CHINESE = ["长江大桥于一九五七年建成通车。", "它是第一座横跨长江的大桥。"]

CHINESE_TEXT = (
    "长江是中国最长的河流，全长约六千三百公里。"
    "它发源于青藏高原，向东流经十一个省级行政区，最后注入东海。"
    "长江流域气候温和，雨量充沛，是重要的农业区。"
    "沿江有许多历史名城，例如重庆、武汉和南京。"
    "三峡工程是世界上规模最大的水利枢纽之一，它的主要作用是防洪、发电和航运。"
)

MARKDOWN = """\
# Docrag Guide

docrag answers questions from your own documents.

## Install

Create a virtual environment and install the package.

```bash
# this line is a shell comment, not a heading
pip install docrag
```

### Requirements

Python 3.11 or newer and about two gigabytes of disk space.

## Usage

Upload a file, then ask a question about it.

# Appendix

## Licence

The project is released under the MIT licence.
"""


def _pdf(path: Path, *, title: str | None = None, encrypt: StandardEncryption | None = None):
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1, encrypt=encrypt)
    if title:
        pdf.setTitle(title)
        pdf.setAuthor("docrag tests")
    return pdf


def _lines(
    pdf: canvas.Canvas, lines: list[str], *, font: str = "Helvetica", y: float = 760
) -> float:
    pdf.setFont(font, 12)
    for line in lines:
        pdf.drawString(72, y, line)
        y -= 20
    return y


def make_three_pages(path: Path) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = _pdf(path, title="Harbour Survey")
    _lines(pdf, PAGE_ONE)
    pdf.showPage()
    _lines(pdf, PAGE_TWO)
    pdf.showPage()
    y = _lines(pdf, PAGE_THREE_LATIN)
    _lines(pdf, PAGE_THREE_CHINESE, font="STSong-Light", y=y - 10)
    pdf.showPage()
    pdf.save()


def make_scanned(path: Path) -> None:
    """Pages with shapes only, like a scan without OCR: nothing to extract."""
    pdf = _pdf(path)
    for page in range(2):
        pdf.setFillGray(0.3 + 0.2 * page)
        pdf.rect(72, 400, 300, 200, fill=1)
        pdf.circle(300, 250, 80, fill=0)
        pdf.line(72, 100, 500, 120)
        pdf.showPage()
    pdf.save()


def make_encrypted(path: Path, *, user_password: str) -> None:
    encryption = StandardEncryption(userPassword=user_password, ownerPassword="owner-secret")
    pdf = _pdf(path, encrypt=encryption)
    _lines(pdf, ["This document is protected.", "Only readers with the password may see it."])
    pdf.showPage()
    pdf.save()


def make_truncated(source: Path, path: Path) -> None:
    """An interrupted download: the header survives, the second half of the file does not."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_zip_renamed(path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("report.txt", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(info, "This text is inside a ZIP archive.\n")
    path.write_bytes(buffer.getvalue())


def main() -> None:
    make_three_pages(HERE / "three_pages.pdf")
    make_scanned(HERE / "scanned.pdf")
    make_encrypted(HERE / "encrypted.pdf", user_password="user-secret")
    make_encrypted(HERE / "owner_password_only.pdf", user_password="")
    make_truncated(HERE / "three_pages.pdf", HERE / "truncated.pdf")

    (HERE / "notes_utf8.txt").write_bytes(
        "Meeting notes\r\n\r\nThe café opens at eight.\r\nBring the 2024 report.\r\n".encode()
    )
    (HERE / "chinese_gbk.txt").write_bytes(CHINESE_TEXT.encode("gbk"))
    (HERE / "utf16_bom.txt").write_bytes(
        "UTF-16 notes: naïve café, 北京欢迎你。\n".encode("utf-16")  # BOM included
    )
    (HERE / "latin1.txt").write_bytes(
        "Le café était très agréable, près de la fenêtre. À bientôt !\n".encode("latin-1")
    )
    (HERE / "guide.md").write_text(MARKDOWN, encoding="utf-8")
    (HERE / "fake.pdf").write_text("This is a plain text file with a .pdf name.\n")
    make_zip_renamed(HERE / "archive_renamed.txt")
    (HERE / "empty.txt").write_bytes(b"")
    (HERE / "whitespace_only.md").write_bytes(b"  \n\n\t \r\n")


if __name__ == "__main__":
    main()
