"""Image files (PNG, JPEG, TIFF, WebP) read by OCR, one page per frame of a multi-page TIFF."""

from __future__ import annotations

import io
import logging
import warnings

from parsers.errors import CorruptDocument, NoExtractableText, ParseError, UnsupportedFileType
from parsers.ocr.engine import OcrFailed, OcrSetup, PageUnreadable, fit_within
from parsers.pdf import PageCallback, normalise_pdf_text, sections_from_pages
from parsers.types import Page, PageRead, ParsedDocument

logger = logging.getLogger(__name__)

MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # what Pillow calls the JPEG files of many phone cameras
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
}
# Signatures by content: (prefix, offset of a second marker, that marker).
_SIGNATURES: tuple[tuple[bytes, int, bytes], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, b""),
    (b"\xff\xd8\xff", 0, b""),
    (b"II*\x00", 0, b""),
    (b"MM\x00*", 0, b""),
    (b"RIFF", 8, b"WEBP"),
)
# Pillow refuses larger images as decompression bombs; a 600 dpi A3 scan is about 70 Mpx.
MAX_PIXELS = 120_000_000


def looks_like_image(data: bytes) -> bool:
    return any(
        data.startswith(prefix) and data[offset : offset + len(marker)] == marker
        for prefix, offset, marker in _SIGNATURES
    )


class ImageParser:
    """One page per image (per frame of a multi-page TIFF), its text read by OCR."""

    media_type = "image/png"

    def __init__(self, ocr: OcrSetup | None = None) -> None:
        self.ocr = ocr

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        if self.ocr is None:
            raise UnsupportedFileType(
                f"'{filename}' is an image, and images are read with OCR, which is off or not "
                "installed here. Install tesseract (apt-get install tesseract-ocr) or set "
                "DOCRAG_OCR__ENGINE, then upload it again."
            )
        from PIL import Image, ImageSequence

        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                opened = Image.open(io.BytesIO(data))
                opened.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise CorruptDocument(
                f"'{filename}' is too large an image to read (more than {MAX_PIXELS:,} "
                "pixels). Scale it down and upload it again."
            ) from e
        except Exception as e:
            logger.info("cannot open image %r: %s: %s", filename, type(e).__name__, e)
            raise CorruptDocument(filename=filename) from e
        media_type = MEDIA_TYPES.get(str(opened.format), "image/png")
        frames = getattr(opened, "n_frames", 1)
        pages: list[Page] = []
        failures: list[str] = []
        for number, frame in enumerate(ImageSequence.Iterator(opened), start=1):
            text = self._read(frame, number, filename, failures)
            pages.append(Page(number=number, text=normalise_pdf_text(text), ocr=True))
            if on_page is not None:
                on_page(PageRead(pages[-1], frames))
        if not any(page.text for page in pages):
            if len(failures) == len(pages):
                raise OcrFailed(
                    f"OCR could not read '{filename}' ({failures[0]}). Check the OCR engine's "
                    "configuration and the server log, then upload it again."
                )
            raise NoExtractableText(
                f"'{filename}' is an image, and OCR ({self.ocr.engine.name}) found no text in "
                "it. If it does contain text, try a sharper picture."
            )
        return ParsedDocument(
            filename=filename,
            media_type=media_type,
            pages=tuple(pages),
            sections=sections_from_pages(pages),
            paginated=True,
            metadata={"page_count": str(len(pages))},
        )

    def _read(self, frame: object, number: int, filename: str, failures: list[str]) -> str:
        from PIL import Image, ImageOps

        assert self.ocr is not None and isinstance(frame, Image.Image)
        try:
            # Phone pictures are stored sideways with an orientation tag; OCR needs them upright.
            image = ImageOps.exif_transpose(frame).convert("L")
            return self.ocr.engine.read(fit_within(image, self.ocr.max_side_px))
        except PageUnreadable as e:
            reason = str(e)
        except ParseError:
            raise
        except Exception as e:  # a damaged frame costs that frame
            reason = f"the image could not be decoded ({type(e).__name__})"
        logger.warning("OCR of page %d of %r failed: %s", number, filename, reason)
        failures.append(f"page {number}: {reason}")
        return ""
