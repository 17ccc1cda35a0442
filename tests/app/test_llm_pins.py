"""`app/query/llm.py` extends three private methods of langchain-openai's ChatOpenAI (the
reasoning that non-OpenAI servers send, and the prefill marks of DeepSeek and Kimi), since
no public hook reaches the raw reply. pyproject.toml bounds the version; these tests fail
when a version inside the bound renames one of them or changes what it is called with, so
that the override does not silently stop being called."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

# The private methods the override extends, with the parameters it passes on.
EXTENDED = {
    "_get_request_payload": ["self", "input_", "stop", "kwargs"],
    "_create_chat_result": ["self", "response", "generation_info"],
    "_convert_chunk_to_generation_chunk": [
        "self",
        "chunk",
        "default_chunk_class",
        "base_generation_info",
    ],
}


@pytest.mark.parametrize("name", sorted(EXTENDED))
def test_the_private_methods_llm_extends_are_there_as_it_calls_them(name: str) -> None:
    from langchain_openai import ChatOpenAI

    from app.query.llm import _chat_openai_keeping_reasoning

    method = getattr(ChatOpenAI, name)
    assert list(inspect.signature(method).parameters) == EXTENDED[name]
    # The subclass overrides exactly these, and nothing else private.
    subclass = _chat_openai_keeping_reasoning()
    assert getattr(subclass, name) is not method
    own = {n for n in vars(subclass) if n.startswith("_") and not n.startswith("__")}
    assert own <= set(EXTENDED) | {"_abc_impl"}


def test_the_installed_langchain_openai_is_within_the_pinned_bound() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'"langchain-openai>=([\d.]+),<([\d.]+)"', pyproject)
    assert found, "pyproject.toml must bound langchain-openai from above"
    installed = Version(version("langchain-openai"))
    assert Version(found.group(1)) <= installed < Version(found.group(2))
