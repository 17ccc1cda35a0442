"""Tesseract OCR, through tesserocr (libtesseract in-process) or else the `tesseract` program."""

from __future__ import annotations

import ctypes
import io
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parsers.ocr.engine import OcrUnavailable, PageUnreadable

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

# Where Debian, Alpine, Homebrew and source builds put the language packs.
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
_CJK = (
    r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uff00-\uffef"
)
# Tesseract's Chinese models put a space between every two characters.
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
_PROGRAM_TIMEOUT_S = 300
# A page read with several packs whose text is at least this share CJK is read again with the
# CJK packs alone: with English loaded too, tesseract mistakes rare characters for common ones.
_CJK_SHARE_TO_REREAD = 0.3
_CJK_PACKS = ("chi_sim", "chi_tra", "jpn", "kor")
# For CJK packs alone: the fixed-pitch model (CJK characters are all one width; without it,
# layout analysis split lines of them into "columns" read out of order) and Sauvola's local
# thresholds (fewer misread characters). Measured in bench/ocr.py: 88.7% -> 97.3% clean.
_CJK_VARIABLES = {"textord_use_cjk_fp_model": "1", "thresholding_method": "2"}
# A scan with more isolated dark pixels than this share of its area is speckled: tesseract
# reads the specks as quotes, dots and strokes, so it is cleaned with a 3x3 median first.
# Rendered and clean pages have almost none (<0.002%); a noisy scan has 0.5% and more.
_SPECKLED_SHARE = 0.001


def remove_spaces_between_cjk(text: str) -> str:
    return _SPACE_IN_CJK.sub("", text)


def find_tessdata(preferred: str | None = None) -> Path | None:
    """`preferred` if given, else the first usual directory, that has a `.traineddata`."""
    for candidate in (preferred,) if preferred else TESSDATA_DIRS:
        if any(Path(candidate).glob("*.traineddata")):
            return Path(candidate)
    return None


def tesseract_available(tessdata_dir: str | None = None) -> bool:
    """Whether `TesseractOcrEngine` can run here: a backend and some language packs."""
    if find_tessdata(tessdata_dir) is None:
        return False
    if shutil.which("tesseract"):
        return True
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        return False
    return True


class TesseractOcrEngine:
    """Tesseract with the given language packs ("eng+chi_sim").

    `threads` caps OpenMP: tesseract's own threads fight the other workers on a busy machine
    and make it several times slower. The in-process backend is created on first use."""

    name = "tesseract"

    def __init__(
        self, *, languages: str = "eng+chi_sim", tessdata_dir: str | None = None, threads: int = 1
    ) -> None:
        tessdata = find_tessdata(tessdata_dir)
        if tessdata is None:
            raise OcrUnavailable(
                f"tesseract's language data was not found in {tessdata_dir or TESSDATA_DIRS}; "
                "install tesseract-ocr with its "
                "language packs (apt-get install tesseract-ocr tesseract-ocr-eng "
                "tesseract-ocr-chi-sim) or set the tessdata directory"
            )
        packs = languages.split("+")
        missing = [lang for lang in packs if not (tessdata / f"{lang}.traineddata").exists()]
        if missing:
            package = "tesseract-ocr-" + missing[0].replace("_", "-")
            raise OcrUnavailable(
                f"tesseract has no language pack for {', '.join(missing)} in {tessdata}; "
                f"install it (for example apt-get install {package})"
            )
        self.languages = languages
        self.tessdata = tessdata
        self.threads = threads
        cjk = [lang for lang in packs if lang in _CJK_PACKS]
        self._cjk_languages = "+".join(cjk) if cjk and len(cjk) < len(packs) else None
        self._api: Any = None
        self._cjk_api: Any = None
        self._program: str | None = None

    def read(self, image: Image) -> str:
        if self._api is None and self._program is None:
            self._start()
        image = despeckle(image)
        text = self._read(image, self.languages)
        if self._cjk_languages is not None and cjk_share(text) >= _CJK_SHARE_TO_REREAD:
            text = self._read(image, self._cjk_languages)
        return remove_spaces_between_cjk(text)

    def _read(self, image: Image, languages: str) -> str:
        if self._program is not None:
            return self._run_program(image, languages)
        if languages == self.languages:
            api = self._api
        else:
            if self._cjk_api is None:
                self._cjk_api = self._new_api(languages)
            api = self._cjk_api
        api.SetImage(image)
        text: str = api.GetUTF8Text()
        return text

    def _start(self) -> None:
        # libgomp reads the limit once, when it is loaded by the import below; the program
        # inherits it too. Set, never read: the value is this engine's parameter.
        os.putenv("OMP_THREAD_LIMIT", str(self.threads))
        try:
            import tesserocr  # noqa: F401  (the in-process backend, when installed)
        except ImportError:
            program = shutil.which("tesseract")
            if program is None:
                raise OcrUnavailable(
                    "tesseract is not installed: install the tesserocr package "
                    "(pip install tesserocr) or the tesseract-ocr program"
                ) from None
            self._program = program
            return
        _limit_openmp(self.threads)
        self._api = self._new_api(self.languages)

    def _new_api(self, languages: str) -> Any:
        import tesserocr

        return tesserocr.PyTessBaseAPI(
            path=f"{self.tessdata}/",
            lang=languages,
            psm=tesserocr.PSM.AUTO,
            variables=_variables(languages),
        )

    def _run_program(self, image: Image, languages: str) -> str:
        assert self._program is not None
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        try:
            done = subprocess.run(
                [
                    self._program,
                    "stdin",
                    "stdout",
                    "-l",
                    languages,
                    "--tessdata-dir",
                    str(self.tessdata),
                    *(
                        arg
                        for item in _variables(languages).items()
                        for arg in ("-c", "=".join(item))
                    ),
                ],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=_PROGRAM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise PageUnreadable(f"tesseract took longer than {_PROGRAM_TIMEOUT_S} s") from e
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise PageUnreadable(f"tesseract failed (exit {done.returncode}): {reason[0]}")
        return done.stdout.decode("utf-8", errors="replace")

    def close(self) -> None:
        for api in (self._api, self._cjk_api):
            if api is not None:
                api.End()
        self._api = self._cjk_api = None


def _variables(languages: str) -> dict[str, str]:
    if all(lang in _CJK_PACKS for lang in languages.split("+")):
        return dict(_CJK_VARIABLES)
    return {}


def speckle_share(image: Image) -> float:
    """The share of the image's pixels that are dark with no dark neighbour."""
    from PIL import ImageChops, ImageFilter

    ink = image.convert("L").point(lambda v: 255 if v < 128 else 0)
    neighbours = ink.filter(ImageFilter.Kernel((3, 3), [1, 1, 1, 1, 0, 1, 1, 1, 1], scale=8))
    alone = ImageChops.darker(ink, neighbours.point(lambda v: 255 if v == 0 else 0))
    return alone.histogram()[255] / (image.width * image.height or 1)


def despeckle(image: Image) -> Image:
    """A speckled scan cleaned with a 3x3 median; any other image as it is (a median would
    also wear away the thin strokes and the punctuation of small Latin text)."""
    from PIL import ImageFilter

    if speckle_share(image) <= _SPECKLED_SHARE:
        return image
    return image.convert("L").filter(ImageFilter.MedianFilter(3))


def cjk_share(text: str) -> float:
    """The share of a text's visible characters that are CJK."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    return sum(1 for c in visible if _CJK_CHAR.match(c)) / len(visible)


def _limit_openmp(threads: int) -> None:
    """The limit for a libgomp that was already loaded before the environment was set."""
    try:
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(threads)
    except (OSError, AttributeError):
        pass
