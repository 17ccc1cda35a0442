"""Fixtures for the parser tests: the sample files and the embedding model's tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[1] / "files"


@pytest.fixture(scope="session")
def read_sample() -> Callable[[str], bytes]:
    """Reads a file from tests/files by name."""

    def read(name: str) -> bytes:
        return (FILES / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def count_tokens(minilm_path: str) -> Callable[[str], int]:
    """Token count as all-MiniLM-L6-v2 sees it: word pieces plus [CLS] and [SEP], untruncated."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path, local_files_only=True)
    # Counting long texts is the point; the "longer than the maximum" warning is noise here.
    tokenizer.model_max_length = 1_000_000_000

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    return count
