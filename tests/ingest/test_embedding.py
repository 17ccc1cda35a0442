"""The embedder shared by threads: counting tokens (chunking the next pages of a document)
while another thread embeds a batch must not disturb the batch."""

from __future__ import annotations

from typing import Any

import pytest


def test_a_count_between_a_batchs_setup_and_its_encoding_changes_nothing(
    embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically, what a thread switch at the worst moment does: the model's tokenizer
    is set up for a padded batch, then another thread counts tokens, then the batch is encoded."""
    tokenizer = embedder._model.tokenizer
    real_setup = tokenizer.set_truncation_and_padding
    busy = False

    def setup_then_count(*args: Any, **kwargs: Any) -> Any:
        nonlocal busy
        result = real_setup(*args, **kwargs)
        if not busy:
            busy = True
            embedder.count_tokens("another thread chunking the next pages")
            busy = False
        return result

    monkeypatch.setattr(tokenizer, "set_truncation_and_padding", setup_then_count)
    texts = ["short", "a much longer text about harbours and ships " * 10]
    vectors = embedder.embed_documents(texts)
    assert len(vectors) == 2 and len(vectors[0]) == embedder.dimension
