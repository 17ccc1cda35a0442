"""Image files become documents through OCR: one page per image, one per frame of a TIFF."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from parsers.errors import CorruptDocument, UnsupportedFileType
from parsers.ocr import OcrOptions, OcrSetup, build_ocr
from parsers.registry import parse_document
from tests.ocr_samples import FILES, chinese_page, render_pdf_page

THREE_PAGES = (FILES / "three_pages.pdf").read_bytes()


@pytest.fixture(scope="module")
def tesseract() -> OcrSetup:
    setup = build_ocr(OcrOptions(engine="tesseract"))
    assert setup is not None
    return setup


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name", "media_type"),
    [
        ("PNG", "page.png", "image/png"),
        ("JPEG", "photo.jpg", "image/jpeg"),
        ("WEBP", "page.webp", "image/webp"),
        ("PNG", "no-extension", "image/png"),
    ],
)
def test_an_image_of_a_page_becomes_a_one_page_document(
    tesseract: OcrSetup, fmt: str, name: str, media_type: str
) -> None:
    data = encoded(render_pdf_page(THREE_PAGES, 1), fmt)

    parsed = parse_document(data, name, ocr=tesseract)

    assert parsed.media_type == media_type
    assert [(p.number, p.ocr) for p in parsed.pages] == [(1, True)]
    assert "forty-two ships entering the bay" in parsed.text


def test_a_multi_page_tiff_is_read_as_pages_in_order(tesseract: OcrSetup) -> None:
    first, *rest = [render_pdf_page(THREE_PAGES, n) for n in (1, 2)] + [chinese_page()]
    data = encoded(first, "TIFF", save_all=True, append_images=rest, compression="tiff_lzw")

    parsed = parse_document(data, "scan.tiff", ocr=tesseract)

    assert parsed.media_type == "image/tiff"
    assert [p.number for p in parsed.pages] == [1, 2, 3]
    assert "page one" in parsed.pages[0].text and "page two" in parsed.pages[1].text
    assert "三峡大坝" in parsed.pages[2].text
    assert [s.page for s in parsed.sections] == [1, 2, 3]


def test_a_photo_stored_sideways_is_turned_upright_before_ocr(tesseract: OcrSetup) -> None:
    sideways = render_pdf_page(THREE_PAGES, 1).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    data = encoded(sideways, "JPEG", exif=exif)

    parsed = parse_document(data, "phone.jpg", ocr=tesseract)

    assert "forty-two ships" in parsed.text


def test_without_ocr_an_image_is_refused_saying_how_to_turn_it_on() -> None:
    data = encoded(render_pdf_page(THREE_PAGES, 1), "PNG")
    with pytest.raises(UnsupportedFileType, match="OCR, which is off or not installed"):
        parse_document(data, "page.png")


def test_a_truncated_image_is_corrupt(tesseract: OcrSetup) -> None:
    data = encoded(render_pdf_page(THREE_PAGES, 1), "PNG")
    with pytest.raises(CorruptDocument, match="'cut.png' could not be read"):
        parse_document(data[: len(data) // 2], "cut.png", ocr=tesseract)


def test_a_text_file_named_png_says_it_is_not_an_image(tesseract: OcrSetup) -> None:
    with pytest.raises(UnsupportedFileType, match="named .png but is not a PNG, JPEG"):
        parse_document(b"just some notes\n", "notes.png", ocr=tesseract)
