"""Real page images for the OCR tests: pages of real PDFs rendered with pypdfium2, a Chinese
page drawn with a Debian CJK font, and PDFs whose pages are only images (scans)."""

from __future__ import annotations

import base64
import difflib
import io
import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FILES = Path(__file__).parent / "files"
CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
CHINESE_LINES = (
    "长江是中国最长的河流，全长约六千三百公里。",
    "它发源于青藏高原，向东流入东海。",
    "沿岸的城市有重庆、武汉、南京和上海。",
    "三峡大坝是世界上最大的水力发电站。",
)


def render_pdf_page(data: bytes, number: int, dpi: int = 200) -> Image.Image:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    try:
        image: Image.Image = pdf[number - 1].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        pdf.close()
    return image


def chinese_page(lines: Sequence[str] = CHINESE_LINES, size: int = 44) -> Image.Image:
    """A white page with the lines drawn in a CJK font from Debian's fonts-noto-cjk."""
    font_path = next((p for p in CJK_FONTS if p.exists()), None)
    if font_path is None:
        raise RuntimeError("no CJK font: apt-get install fonts-noto-cjk")
    font = ImageFont.truetype(str(font_path), size)
    page = Image.new("L", (1400, 200 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((100, 100 + i * size * 2), line, font=font, fill=0)
    return page


def image_pdf(*pages: Image.Image | str, dpi: int = 200) -> bytes:
    """A PDF with one page per item: an image is a scanned page (no text layer at all), a
    string a typed page with that text."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    width, height = letter
    for page in pages:
        if isinstance(page, str):
            text = pdf.beginText(72, height - 72)
            for line in page.splitlines():
                text.textLine(line)
            pdf.drawText(text)
        else:
            shown = (page.width * 72 / dpi, page.height * 72 / dpi)
            scale = min(1.0, width / shown[0], height / shown[1])
            pdf.drawImage(
                ImageReader(page.convert("RGB")),
                0,
                height - shown[1] * scale,
                shown[0] * scale,
                shown[1] * scale,
            )
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def character_accuracy(reference: str, read: str) -> float:
    """Share of the reference's characters OCR got right, whitespace ignored."""
    a, b = "".join(reference.split()), "".join(read.split())
    if not a:
        return 1.0 if not b else 0.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / max(len(a), len(b))


class FakeVisionServer:
    """An OpenAI-compatible chat endpoint standing in for a vision-language model: it decodes
    the page image from the request's `image_url` part and transcribes it with tesseract, so
    an answer with the page's words proves the image arrived. `fail` injects a fault for the
    n-th request (0-based) or for all (None key)."""

    def __init__(self) -> None:
        from parsers.ocr.tesseract import TesseractOcrEngine

        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.images: list[Image.Image] = []
        self.faults: dict[int | None, tuple[int, bytes] | str] = {}
        self._lock = threading.Lock()
        engine = TesseractOcrEngine(languages="eng+chi_sim")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with outer._lock:
                    n = len(outer.requests)
                    outer.requests.append(body)
                    outer.headers.append(dict(self.headers))
                fault = outer.faults.get(n, outer.faults.get(None))
                if fault == "hang":
                    time.sleep(5)
                    return
                if isinstance(fault, tuple):
                    self._send(*fault)
                    return
                image = outer.decode_image(body)
                with outer._lock:
                    outer.images.append(image)
                    text = engine.read(image)
                reply = {
                    "id": "x",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                }
                self._send(200, json.dumps(reply).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def decode_image(body: dict) -> Image.Image:
        (part,) = [p for p in body["messages"][-1]["content"] if p.get("type") == "image_url"]
        url: str = part["image_url"]["url"]
        header, _, encoded = url.partition(",")
        assert header == "data:image/png;base64", header
        return Image.open(io.BytesIO(base64.b64decode(encoded)))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
