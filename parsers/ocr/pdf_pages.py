"""OCR for the pages of a PDF that have no usable text layer: rendered with pypdfium2, read
by the configured engine, one page at a time."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from parsers.errors import NoExtractableText, ParseError
from parsers.ocr.engine import OcrFailed, OcrSetup, PageUnreadable, fit_within

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

# A text layer with fewer letters and digits than this is a scan with a stray page number,
# a Bates stamp or nothing at all.
MIN_TEXT_CHARACTERS = 16
_WORD_CHARACTER = re.compile(r"\w")
_POINTS_PER_INCH = 72
# An image drawn over at least this share of the page is a figure, a chart or a photo worth
# describing (a logo or an icon is smaller); over more than the upper share it is the page's
# own scan under an OCR'd text layer, whose text is already there.
MIN_FIGURE_SHARE = 0.05
MAX_FIGURE_SHARE = 0.9


def text_characters(text: str) -> int:
    return len(_WORD_CHARACTER.findall(text))


def needs_ocr(text: str) -> bool:
    return text_characters(text) < MIN_TEXT_CHARACTERS


class PdfPageOcr:
    """Reads the pages of one PDF that need it, keeping count of what failed and why.

    The PDF is opened for rendering only when the first page needs it."""

    def __init__(self, data: bytes, setup: OcrSetup, filename: str) -> None:
        self._data = data
        self.setup = setup
        self.filename = filename
        self._pdf: Any = None
        self.attempted = 0
        self.failed = 0
        self.first_failure: str | None = None

    def render(self, number: int) -> Image:
        """Page `number` (1-based) as a greyscale image at the setup's dpi and size cap."""
        import pypdfium2

        if self._pdf is None:
            self._pdf = pypdfium2.PdfDocument(self._data)
        page = self._pdf[number - 1]
        try:
            width, height = page.get_size()
            scale = self.setup.dpi / _POINTS_PER_INCH
            longest = max(width, height, 1.0) * scale
            if longest > self.setup.max_side_px:
                scale *= self.setup.max_side_px / longest
            image: Image = page.render(scale=scale, grayscale=True).to_pil()
        finally:
            page.close()
        return fit_within(image, self.setup.max_side_px)

    def has_figure(self, number: int) -> bool:
        """Whether page `number` draws an image of a figure's size (see `MIN_FIGURE_SHARE`).
        Charts drawn as vector paths are not found: only images are."""
        import pypdfium2
        import pypdfium2.raw as pdfium_c

        if self._pdf is None:
            self._pdf = pypdfium2.PdfDocument(self._data)
        page = self._pdf[number - 1]
        try:
            width, height = page.get_size()
            area = max(width * height, 1.0)
            for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
                left, bottom, right, top = image.get_bounds()
                share = (right - left) * (top - bottom) / area
                if MIN_FIGURE_SHARE <= share <= MAX_FIGURE_SHARE:
                    return True
            return False
        finally:
            page.close()

    def describe_figures(self, number: int) -> str:
        """The figure describer's account of the figures on page `number`; "" when the page
        has none, or when describing them failed (logged: the page keeps its text)."""
        describer = self.setup.figures
        if describer is None:
            return ""
        try:
            if not self.has_figure(number):
                return ""
            return describer.describe_figures(self.render(number)).strip()
        except PageUnreadable as e:
            reason = str(e)
        except ParseError:
            raise
        except Exception as e:  # pdfium refuses some damaged pages
            reason = f"the page could not be rendered ({type(e).__name__})"
        logger.warning(
            "the figures on page %d of %r were not described: %s", number, self.filename, reason
        )
        return ""

    def read(self, number: int, layer_text: str) -> str | None:
        """The page's text read from its image, or None to keep the text layer (the page
        could not be read, or OCR found less text than the layer has)."""
        self.attempted += 1
        try:
            text = self.setup.engine.read(self.render(number))
        except PageUnreadable as e:
            self._failed(number, str(e))
            return None
        except ParseError:
            raise
        except Exception as e:
            # pdfium refuses some damaged pages; the other pages may still render.
            self._failed(number, f"the page could not be rendered ({type(e).__name__})")
            return None
        if text_characters(text) <= text_characters(layer_text):
            return None
        return text

    def _failed(self, number: int, reason: str) -> None:
        logger.warning("OCR of page %d of %r failed: %s", number, self.filename, reason)
        self.failed += 1
        if self.first_failure is None:
            self.first_failure = f"page {number}: {reason}"

    def no_text_error(self, page_count: int) -> ParseError:
        """Why a document whose pages all came out empty is refused."""
        name = f"'{self.filename}'"
        if self.failed and self.failed == self.attempted:
            return OcrFailed(
                f"{name} has no text layer, and OCR could not read any of its {page_count} "
                f"pages ({self.first_failure}). Check the OCR engine's configuration and the "
                "server log, then upload it again."
            )
        return NoExtractableText(
            f"{name} has no text layer, and OCR ({self.setup.engine.name}) found no text on "
            f"{'its one page' if page_count == 1 else f'any of its {page_count} pages'}. "
            "If it does contain text, try a sharper scan."
        )

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
