"""RapidOCR (PP-OCR models on onnxruntime): the optional `docrag[ocr]` extra.

Only the Chinese-and-English models inside the rapidocr wheel are used: any other model is
downloaded on first use, which fails on a machine without internet access."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from parsers.ocr.engine import OcrUnavailable

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'docrag[ocr]' (or: pip install rapidocr onnxruntime)"


def rapidocr_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


class RapidOcrEngine:
    """RapidOCR with its bundled models; they load on the first page (about 16 s)."""

    name = "rapidocr"

    def __init__(self, *, threads: int = 1) -> None:
        if not rapidocr_available():
            raise OcrUnavailable(f"the rapidocr OCR engine is not installed: {INSTALL_HINT}")
        self.threads = threads
        self._ocr: Any = None

    def read(self, image: Image) -> str:
        import numpy

        if self._ocr is None:
            from rapidocr import RapidOCR

            self._ocr = RapidOCR(
                params={
                    "Global.log_level": "warning",
                    "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        result = self._ocr(numpy.asarray(image.convert("RGB")))
        if not result.txts:
            return ""
        # Boxes are put back into lines in reading order, as they sit on the page.
        text: str = result.to_markdown()
        return text
