"""A vision-language model behind an OpenAI-compatible chat endpoint, as an OCR engine.

The page goes as a base64 PNG in an `image_url` content part (the format OpenAI, vLLM,
LMDeploy, SGLang, Ollama and llama.cpp accept). Every way the server can fail becomes a
`PageUnreadable` that says what happened, so the document goes on without that page."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import httpx

from parsers.ocr.engine import PageUnreadable, VisionEndpoint

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

TRANSCRIBE_PROMPT = (
    "Transcribe all the text on this page image exactly as written, in reading order, in its "
    "original language. Keep each table row on one line with its cells separated by ' | '. "
    "Reply with the text only: no comments, no translation, no Markdown fences. If the page "
    "has no text, reply with nothing."
)
FIGURES_PROMPT = (
    "Describe every figure, chart, diagram or photo on this page for someone who cannot see "
    "it: what it shows, its axes or labels, and the values and trends it conveys. Ignore "
    "ordinary paragraphs of text. If the page has no figure, reply exactly NONE."
)
_NO_FIGURE = "NONE"
_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.S)
# Phrases chat servers use when the model cannot take images (OpenAI, vLLM, llama.cpp...).
_NO_IMAGES = re.compile(
    r"image|multimodal|multi-modal|vision|mmproj|content type|content part", re.I
)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 5.0


def image_data_url(image: Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class VisionOcrEngine:
    """Reads pages (and, on request, describes figures) with a vision model."""

    name = "vision"

    def __init__(self, endpoint: VisionEndpoint, *, retries: int = 1) -> None:
        self.endpoint = endpoint
        self.retries = retries
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._client = httpx.Client(
            base_url=endpoint.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(endpoint.timeout_s, connect=min(10.0, endpoint.timeout_s)),
        )

    def read(self, image: Image) -> str:
        return self._ask(TRANSCRIBE_PROMPT, image)

    def describe_figures(self, image: Image) -> str:
        reply = self._ask(FIGURES_PROMPT, image)
        return "" if reply.strip().rstrip(".").upper() == _NO_FIGURE else reply

    def close(self) -> None:
        self._client.close()

    def _ask(self, prompt: str, image: Image) -> str:
        body = {
            "model": self.endpoint.model,
            "temperature": 0,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompt},
                        {"type": "image_url", "image_url": {"url": image_data_url(image)}},
                    ],
                }
            ],
        }
        where = f"the vision model {self.endpoint.model!r} at {self.endpoint.base_url}"
        for attempt in range(self.retries + 1):
            try:
                response = self._client.post("chat/completions", json=body)
            except httpx.TimeoutException as e:
                raise PageUnreadable(
                    f"{where} did not answer within {self.endpoint.timeout_s:g} s"
                ) from e
            except httpx.HTTPError as e:
                raise PageUnreadable(f"{where} could not be reached: {e}") from e
            if response.status_code in _RETRY_STATUSES and attempt < self.retries:
                time.sleep(_backoff(response, attempt))
                continue
            return _transcription(response, where)
        raise AssertionError("unreachable")  # the last attempt always returns or raises


def _backoff(response: httpx.Response, attempt: int) -> float:
    try:
        wait = float(response.headers.get("retry-after", ""))
    except ValueError:
        wait = 0.5 * 2**attempt
    return max(0.0, min(wait, _MAX_BACKOFF_S))


def _transcription(response: httpx.Response, where: str) -> str:
    status = response.status_code
    if status == 429:
        raise PageUnreadable(f"{where} is rate-limiting requests (429 Too Many Requests)")
    if status >= 500:
        raise PageUnreadable(f"{where} failed with a server error ({status})")
    if status in (401, 403):
        raise PageUnreadable(f"{where} refused the API key ({status}); check the vision API key")
    if status >= 400:
        message = _error_message(response)
        if _NO_IMAGES.search(message):
            raise PageUnreadable(
                f"{where} does not accept images ({status}: {message}); configure a "
                "vision-language model"
            )
        raise PageUnreadable(f"{where} refused the request ({status}: {message})")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise PageUnreadable(
            f"{where} sent a malformed reply (not an OpenAI chat completion)"
        ) from e
    text = _content_text(content)
    if text is None:
        raise PageUnreadable(f"{where} sent a malformed reply (the message has no text)")
    fenced = _FENCE.match(text.strip())
    return fenced.group(1) if fenced else text


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some servers reply
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        texts = [p for p in parts if isinstance(p, str)]
        if texts and len(texts) == len(parts):
            return "".join(texts)
    return None


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:300]
    if isinstance(error, str):
        return error[:300]
    return json.dumps(payload)[:300]
