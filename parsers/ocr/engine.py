"""The OCR role: an image in, its text out; and the plain options that choose an engine.

Engines get every parameter from their constructor and read no settings or environment, so
the service can build them in its parse worker processes from `OcrOptions` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from parsers.errors import ParseError

if TYPE_CHECKING:
    from PIL.Image import Image

EngineName = Literal["auto", "tesseract", "rapidocr", "vision", "off"]


class OcrEngine(Protocol):
    """Reads the text of one page image. Raises `PageUnreadable` for a page it cannot read;
    any other exception is a bug in the engine."""

    name: str

    def read(self, image: Image) -> str: ...


class FigureDescriber(Protocol):
    """Describes the figures and charts on a page image ("" when there are none)."""

    def describe_figures(self, image: Image) -> str: ...


class PageUnreadable(Exception):
    """One page could not be read; the others still can. The message says why."""


class OcrUnavailable(RuntimeError):
    """The engine asked for cannot run here (a package or program is missing)."""


class OcrFailed(ParseError):
    """Every page needed OCR and none could be read."""

    code = "ocr_failed"
    template = "OCR could not read any page of {name}."


@dataclass(frozen=True, slots=True)
class VisionEndpoint:
    """An OpenAI-compatible chat endpoint with a model that accepts images."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 120.0


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """Which engine reads pages without a text layer, and how pages are rendered for it.
    Plain values, so the options travel to the parse worker processes."""

    engine: EngineName = "auto"
    # Tesseract language packs, joined with "+".
    languages: str = "eng+chi_sim"
    tessdata_dir: str | None = None
    dpi: int = 200
    # Pages are scaled down so their longer side has at most this many pixels.
    max_side_px: int = 3000
    threads: int = 1
    vision: VisionEndpoint | None = None
    describe_figures: bool = False


@dataclass(frozen=True, slots=True)
class OcrSetup:
    """What a parser needs to OCR its pages: the engine and how to render for it."""

    engine: OcrEngine
    dpi: int = 200
    max_side_px: int = 3000
    # Set when figures on pages with a text layer are to be described as well.
    figures: FigureDescriber | None = None


def fit_within(image: Image, max_side_px: int) -> Image:
    """The image scaled down (never up) so that its longer side is at most `max_side_px`."""
    longest = max(image.size)
    if longest <= max_side_px:
        return image
    scale = max_side_px / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size)
