"""OCR for pages without a text layer: an `OcrEngine` protocol and its engines.

`build_ocr` turns plain `OcrOptions` into an `OcrSetup` for the parsers. Engines are imported
only when chosen, so a missing optional package costs nothing until it is asked for."""

from __future__ import annotations

from parsers.ocr.engine import (
    EngineName,
    FigureDescriber,
    OcrEngine,
    OcrFailed,
    OcrOptions,
    OcrSetup,
    OcrUnavailable,
    PageUnreadable,
    VisionEndpoint,
    fit_within,
)

__all__ = [
    "EngineName",
    "FigureDescriber",
    "OcrEngine",
    "OcrFailed",
    "OcrOptions",
    "OcrSetup",
    "OcrUnavailable",
    "PageUnreadable",
    "VisionEndpoint",
    "build_ocr",
    "choose_engine",
    "fit_within",
]


def choose_engine(options: OcrOptions) -> str | None:
    """The engine `options` select on this machine, None for no OCR; cheap (loads nothing).

    `auto` takes tesseract when it is installed, else rapidocr, else the vision model when one
    is configured. Raises `OcrUnavailable` when a named engine cannot run here."""
    from parsers.ocr.rapidocr import INSTALL_HINT, rapidocr_available
    from parsers.ocr.tesseract import tesseract_available

    name = options.engine
    if name == "off":
        return None
    if name == "auto":
        if tesseract_available(options.tessdata_dir):
            return "tesseract"
        if rapidocr_available():
            return "rapidocr"
        return "vision" if options.vision is not None else None
    if name == "tesseract" and not tesseract_available(options.tessdata_dir):
        raise OcrUnavailable(
            "the tesseract OCR engine is not installed: apt-get install tesseract-ocr "
            "tesseract-ocr-eng tesseract-ocr-chi-sim (and optionally pip install tesserocr)"
        )
    if name == "rapidocr" and not rapidocr_available():
        raise OcrUnavailable(f"the rapidocr OCR engine is not installed: {INSTALL_HINT}")
    if name == "vision" and options.vision is None:
        raise OcrUnavailable("the vision OCR engine needs a vision model's base URL and model")
    return name


def build_ocr(options: OcrOptions) -> OcrSetup | None:
    """The engine and rendering the parsers use, or None when OCR is off or unavailable."""
    name = choose_engine(options)
    vision = None
    if options.vision is not None and (name == "vision" or options.describe_figures):
        from parsers.ocr.vision import VisionOcrEngine

        vision = VisionOcrEngine(options.vision)
    engine: OcrEngine
    if name is None:
        return None
    if name == "tesseract":
        from parsers.ocr.tesseract import TesseractOcrEngine

        engine = TesseractOcrEngine(
            languages=options.languages,
            tessdata_dir=options.tessdata_dir,
            threads=options.threads,
        )
    elif name == "rapidocr":
        from parsers.ocr.rapidocr import RapidOcrEngine

        engine = RapidOcrEngine(threads=options.threads)
    else:
        assert vision is not None
        engine = vision
    return OcrSetup(
        engine=engine,
        dpi=options.dpi,
        max_side_px=options.max_side_px,
        figures=vision if options.describe_figures else None,
    )
