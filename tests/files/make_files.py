"""Generate the sample files the parser tests read. Run once; the outputs are committed.

    .venv/bin/python tests/files/make_files.py

Every PDF is written with reportlab's `invariant` mode and every .docx is re-zipped with
fixed timestamps, so running this again reproduces the same bytes. The real-world PDFs in
this folder are copied, not generated; see LICENSES.md.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import csv
import datetime

import docx
from docx.shared import Pt
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


# A web page with everything a reader skips: scripts, styles, navigation, a site header and
# footer, a sidebar, a form, and a hidden banner. Each carries a marker word the tests look for.
HTML_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbour Guide | Port Authority</title>
  <style>body { font-family: serif; } .stylemarker { color: red; }</style>
  <script>window.analytics = "SCRIPTMARKER tracking code";</script>
</head>
<body>
  <header class="site">
    <a href="/">Port Authority HEADERMARKER</a>
    <nav><a href="/tides">Tides</a> | <a href="/fish">NAVMARKER fish market</a></nav>
  </header>
  <div role="navigation">Breadcrumbs: Home &gt; Guides ROLEMARKER</div>
  <main>
    <article>
      <header><h1>Harbour Guide</h1><p>Written by the harbour master.</p></header>
      <p>The harbour welcomes visiting boats all year. Moorings cost
         <b>twelve euros</b> a night, caf&eacute; included.</p>
      <h2>Tides</h2>
      <p>High tide comes twice a day; the tide table is posted at the lighthouse.</p>
      <h3>Spring tides</h3>
      <p>During spring tides the outer pier floods at high water.</p>
      <ul><li>Check the table before mooring.</li><li>Keep ropes slack at night.</li></ul>
      <h2>Fish market</h2>
      <p>The market opens at five in the morning, except on Sundays.</p>
      <table>
        <thead><tr><th>Fish</th><th>Season</th><th>Price per kilo</th></tr></thead>
        <tbody>
          <tr><td>Cod</td><td>Winter</td><td>14 euros</td></tr>
          <tr><td>Mackerel</td><td>Summer</td><td>6 euros</td></tr>
        </tbody>
      </table>
      <form action="/subscribe"><label>FORMMARKER newsletter</label><input name="email"></form>
      <div hidden>HIDDENMARKER cookie banner</div>
      <script>document.write("SCRIPTMARKER inline");</script>
      <noscript>NOSCRIPTMARKER enable JavaScript</noscript>
    </article>
  </main>
  <aside>ASIDEMARKER Advertisement: boat insurance</aside>
  <footer>FOOTERMARKER Copyright Port Authority</footer>
</body>
</html>
"""

# Declares its legacy encoding, as older Chinese sites do.
HTML_GBK = """\
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>长江简介</title></head>
<body><h1>长江</h1><p>长江是中国最长的河流，全长约六千三百公里。</p>
<h2>三峡</h2><p>三峡工程的主要作用是防洪、发电和航运。</p></body></html>
"""

CSV_CITIES = [
    ("城市", "省份", "人口（万）", "简介"),
    ("重庆", "重庆市", "3205", "长江上游的山城，以火锅闻名。"),
    ("武汉", "湖北省", "1373", "长江与汉江交汇处的九省通衢。"),
    ("南京", "江苏省", "949", "六朝古都，长江大桥横跨江面。"),
    ("上海", "上海市", "2487", "长江入海口的国际大都市。"),
]

_SPECIES = ("Cod", "Mackerel", "Herring", "Sole", "Plaice", "Haddock", "Turbot")
_BOATS = ("Aurora", "Blue Heron", "Cormorant", "Dolphin", "Evening Star")


def _catch_rows(count: int) -> list[tuple[str, ...]]:
    """A fishing log with European number formats: commas in decimals, so semicolons."""
    rows: list[tuple[str, ...]] = [("Date", "Boat", "Species", "Catch (kg)", "Remarks")]
    for n in range(count):
        day = datetime.date(2024, 3, 1) + datetime.timedelta(days=n // 3)
        rows.append(
            (
                day.isoformat(),
                _BOATS[n % len(_BOATS)],
                _SPECIES[(n * 3) % len(_SPECIES)],
                f"{40 + (n * 37) % 260},{n % 10}",
                "storm warning; returned early" if n == 77 else "",
            )
        )
    return rows


def _csv_bytes(rows: list[tuple[str, ...]], delimiter: str, encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def _reproducible_zip(data: bytes) -> bytes:
    """The same archive with fixed timestamps, so regenerating gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info))
    return out.getvalue()


def make_docx(path: Path) -> None:
    """Headings at three levels, a table, a custom heading style and a paragraph in Title style."""
    document = docx.Document()
    fixed_time = datetime.datetime(2024, 1, 1)
    properties = document.core_properties
    properties.title = "Harbour Handbook"
    properties.author = "docrag tests"
    properties.created = properties.modified = properties.last_printed = fixed_time
    properties.revision = 1

    # A house style based on Heading 2: Word users make these; they still count as level 2.
    custom = document.styles.add_style("Harbour Heading", docx.enum.style.WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    custom.font.size = Pt(15)

    document.add_paragraph("Harbour Handbook", style="Title")
    document.add_heading("Moorings", level=1)
    document.add_paragraph(
        "Visiting boats moor on the east pontoon. A night costs twelve euros, "
        "water and electricity included."
    )
    document.add_heading("Booking", level=2)
    document.add_paragraph("Book a berth by radio on channel 9, or at the harbour office.")
    document.add_heading("Winter rules", level=3)
    document.add_paragraph("From November to March, boats must double their mooring lines.")
    document.add_heading("Fees", level=1)
    document.add_paragraph("The fees below apply from April 2024.")
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Boat length", "Per night", "Per week")):
        cell.text = text
    for row in (("under 8 m", "12 euros", "70 euros"), ("8 to 12 m", "18 euros", "105 euros")):
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    document.add_paragraph("Fees are paid at the harbour office before departure.")
    document.add_paragraph("Electricity", style="Harbour Heading")
    document.add_paragraph("Each berth has a 16 ampere socket; adapters are lent for free.")
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_reproducible_zip(buffer.getvalue()))


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

    (HERE / "harbour_page.html").write_text(HTML_PAGE, encoding="utf-8")
    (HERE / "changjiang_gb2312.html").write_bytes(HTML_GBK.encode("gb2312"))
    make_docx(HERE / "harbour_handbook.docx")
    make_truncated(HERE / "harbour_handbook.docx", HERE / "truncated.docx")
    (HERE / "cities_gbk.csv").write_bytes(_csv_bytes(CSV_CITIES, ",", "gbk"))
    (HERE / "catch_semicolon.csv").write_bytes(_csv_bytes(_catch_rows(120), ";", "utf-8"))


if __name__ == "__main__":
    main()
