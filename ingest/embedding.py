"""Embedders: text to normalised vectors, plus the tokenizer that sizes chunks."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Embedder(Protocol):
    """Turns texts into vectors of one fixed vector space."""

    @property
    def dimension(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """The longest input, in the model's own tokens, that is read without truncation."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def known_token_share(self, text: str) -> float:
        """The share of the text's tokens the model has in its vocabulary: a model cannot
        match what it cannot read (Chinese under an English-only model)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded once, by hub id or local directory."""

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self._name = model
        self._batch_size = batch_size
        if Path(model).is_dir():
            # A local directory needs no hub; make sure nothing tries to reach one.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._model = SentenceTransformer(model, device=device)
        # A tokenizer of its own for counting: `encode` switches the model's tokenizer to
        # padding and truncation, and a count made meanwhile on another thread (chunking the
        # next pages while this batch embeds) would switch it back mid-batch.
        self._tokenizer = copy.deepcopy(self._model.tokenizer)
        self._count_lock = threading.Lock()
        dimension = getattr(
            self._model, "get_embedding_dimension", self._model.get_sentence_embedding_dimension
        )()
        if dimension is None:
            raise ValueError(f"cannot tell the vector size of embedding model {model!r}")
        self._dimension = int(dimension)
        # The model's window counts the two special tokens it adds around every input.
        self._max_tokens = int(self._model.max_seq_length or 512) - 2
        # The model is shared across request threads; torch inference is safe, but serialising
        # keeps two big batches from fighting over the same two cores.
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def fingerprint(self) -> str:
        # A local directory is named by its full path: a different copy may hold other weights.
        name = str(Path(self._name).resolve()) if Path(self._name).is_dir() else self._name
        return f"sentence-transformers:{name}:{self._dimension}:normalized"

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting a long text is fine, the tokenizer need not warn about it.
        with self._count_lock:
            encoded = self._tokenizer(
                text, add_special_tokens=False, return_attention_mask=False, verbose=False
            )
        return len(encoded["input_ids"])

    def known_token_share(self, text: str) -> float:
        with self._count_lock:
            ids = self._tokenizer(
                text, add_special_tokens=False, return_attention_mask=False, verbose=False
            )["input_ids"]
        unknown = self._tokenizer.unk_token_id
        if not ids or unknown is None:
            return 1.0
        return 1.0 - sum(1 for i in ids if i == unknown) / len(ids)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: list[list[float]] = []
        # The lock is taken per forward batch, not per call: a question's one-line embedding
        # waits for one batch of an ingest (about a second here), not for all of it.
        for start in range(0, len(texts), self._batch_size):
            with self._lock:
                batch = self._model.encode(
                    list(texts[start : start + self._batch_size]),
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            vectors.extend(v.tolist() for v in batch)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
