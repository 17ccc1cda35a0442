"""A PDF with a text layer on every page and a bar chart drawn as an image on page 2, for the
tests of figure descriptions."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from tests.ocr_samples import CJK_FONTS

# Only in the chart's image, never in the text layer: finding them proves the image was read.
CHART_TITLE = "Seal colony census"
PAGE_TEXTS = (
    "Harbour report, page one.\nThe harbour office opens at nine and closes at five.",
    "Harbour report, page two.\nThe chart below was drawn by the wildlife survey team.",
    "Harbour report, page three.\nThe ferry to Ostholm leaves every morning at seven.",
)


def bar_chart() -> Image.Image:
    font_path = next((p for p in CJK_FONTS if p.exists()), None)
    font = ImageFont.truetype(str(font_path), 44) if font_path else ImageFont.load_default(44)
    chart = Image.new("RGB", (1000, 620), "white")
    draw = ImageDraw.Draw(chart)
    draw.text((60, 20), CHART_TITLE, font=font, fill="black")
    for i, (label, value) in enumerate((("2021", 120), ("2022", 210), ("2023", 340))):
        x = 120 + i * 280
        draw.rectangle((x, 560 - value, x + 160, 560), fill=(40, 90, 200))
        draw.text((x + 30, 565), label, font=font, fill="black")
    draw.line((90, 560, 960, 560), fill="black", width=4)
    return chart


def report_with_chart(logo_on_page_3: bool = True) -> bytes:
    """Three typed pages; page 2 also shows the bar chart (a figure), page 3 a small logo
    (an image too small to be a figure)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    width, height = letter
    for number, page_text in enumerate(PAGE_TEXTS, start=1):
        text = pdf.beginText(72, height - 72)
        for line in page_text.splitlines():
            text.textLine(line)
        pdf.drawText(text)
        if number == 2:
            pdf.drawImage(ImageReader(bar_chart()), 72, height - 400, 400, 248)
        if number == 3 and logo_on_page_3:
            logo = Image.new("RGB", (64, 64), (200, 30, 30))
            pdf.drawImage(ImageReader(logo), width - 108, height - 108, 36, 36)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
