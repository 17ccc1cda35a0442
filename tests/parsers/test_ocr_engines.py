"""The OCR engines on real page images: a rendered page of a real PDF and a Chinese page drawn
with a Debian CJK font. Fakes appear only to inject faults."""

from __future__ import annotations

import builtins
import random
import re
import sys
from collections.abc import Iterator
from typing import Any

import pypdf
import pytest
from PIL import Image, ImageFilter

from parsers.ocr import OcrOptions, OcrUnavailable, build_ocr, choose_engine
from parsers.ocr.rapidocr import RapidOcrEngine
from parsers.ocr.tesseract import (
    TesseractOcrEngine,
    despeckle,
    remove_spaces_between_cjk,
    speckle_share,
)
from parsers.pdf import normalise_pdf_text
from tests.ocr_samples import (
    CHINESE_LINES,
    FILES,
    character_accuracy,
    chinese_page,
    render_pdf_page,
)

PDF = FILES / "pdflatex-4-pages.pdf"
CJK_SPACE = re.compile(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]")


def page_text(number: int) -> str:
    return normalise_pdf_text(pypdf.PdfReader(PDF).pages[number - 1].extract_text())


@pytest.fixture(scope="module")
def tesseract() -> TesseractOcrEngine:
    return TesseractOcrEngine(languages="eng+chi_sim")


@pytest.fixture(scope="module")
def rapidocr() -> RapidOcrEngine:
    return RapidOcrEngine()


def test_tesseract_reads_a_rendered_pdf_page(tesseract: TesseractOcrEngine) -> None:
    read = tesseract.read(render_pdf_page(PDF.read_bytes(), 1))

    assert character_accuracy(page_text(1), read) >= 0.98
    assert "Huardest gefburn" in read


def test_tesseract_reads_chinese_without_spaces_between_characters(
    tesseract: TesseractOcrEngine,
) -> None:
    read = tesseract.read(chinese_page())

    assert character_accuracy("".join(CHINESE_LINES), read) >= 0.95
    assert "三峡大坝" in read
    assert not CJK_SPACE.search(read)


def scanned(page: Image.Image, speckles: float = 0.016) -> Image.Image:
    """The page as a poor scan: tilted half a degree, blurred, salt-and-pepper noise."""
    rng = random.Random(7)
    page = page.rotate(0.5, fillcolor=255, resample=Image.Resampling.BICUBIC)
    page = page.filter(ImageFilter.GaussianBlur(1.2))
    pixels = page.load()
    assert pixels is not None
    for _ in range(int(page.width * page.height * speckles)):
        pixels[rng.randrange(page.width), rng.randrange(page.height)] = rng.choice((0, 255))
    return page


def test_tesseract_reads_a_speckled_chinese_scan(tesseract: TesseractOcrEngine) -> None:
    # Small characters on a noisy scan: the specks read as quotes and strokes unless the
    # engine cleans them first (90% of the characters right without, 98.6% with).
    read = tesseract.read(scanned(chinese_page(size=30)))

    assert character_accuracy("".join(CHINESE_LINES), read) >= 0.95
    assert "三峡大坝" in read and "“" not in read


def test_only_speckled_images_are_cleaned_before_ocr() -> None:
    rendered = render_pdf_page(PDF.read_bytes(), 1)
    noisy = scanned(chinese_page(size=30))

    assert despeckle(rendered).tobytes() == rendered.tobytes()  # thin Latin strokes kept
    assert speckle_share(noisy) > 0.005
    assert speckle_share(despeckle(noisy)) < 0.0001


def test_spaces_are_removed_only_between_cjk_characters() -> None:
    assert remove_spaces_between_cjk("长 江 是 中国 的 河流 in 2024 , 武汉") == (
        "长江是中国的河流 in 2024 , 武汉"
    )


@pytest.mark.slow
def test_rapidocr_reads_a_rendered_pdf_page_and_chinese(rapidocr: RapidOcrEngine) -> None:
    english = rapidocr.read(render_pdf_page(PDF.read_bytes(), 1))
    chinese = rapidocr.read(chinese_page())

    assert character_accuracy(page_text(1), english) >= 0.98
    assert "Huardest gefburn" in english  # words keep their spaces
    assert character_accuracy("".join(CHINESE_LINES), chinese) >= 0.95


def test_auto_takes_tesseract_when_it_is_installed() -> None:
    setup = build_ocr(OcrOptions(engine="auto"))

    assert setup is not None and setup.engine.name == "tesseract"
    assert build_ocr(OcrOptions(engine="off")) is None


@pytest.fixture
def without_rapidocr(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fault injection: the optional package is not installed."""
    real_import = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in {"rapidocr", "onnxruntime"}:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m.split(".")[0] == "rapidocr"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", refuse)
    yield


@pytest.mark.usefixtures("without_rapidocr")
def test_rapidocr_without_its_package_names_the_extra_to_install() -> None:
    with pytest.raises(OcrUnavailable, match=r"pip install 'docrag\[ocr\]'"):
        choose_engine(OcrOptions(engine="rapidocr"))
    with pytest.raises(OcrUnavailable, match=r"docrag\[ocr\]"):
        RapidOcrEngine()


def test_tesseract_without_a_language_pack_names_the_package(tmp_path: Any) -> None:
    with pytest.raises(OcrUnavailable, match="tesseract-ocr-fra"):
        TesseractOcrEngine(languages="eng+fra")
    with pytest.raises(OcrUnavailable, match="language data was not found"):
        TesseractOcrEngine(tessdata_dir=str(tmp_path / "nowhere"), languages="xyz_none")
