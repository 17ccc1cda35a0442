"""What can be checked of the Docker files without a Docker engine: the compose file parses,
and every service, port, volume and variable it names exists in the code and the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def setting_exists(variable: str) -> bool:
    if not variable.startswith("DOCRAG_"):
        return False
    model: type[BaseModel] = Settings
    parts = variable.removeprefix("DOCRAG_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def compose_default(value: str) -> str:
    """`${VAR:-default}` as compose resolves it when VAR is unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.+?)(?<!\\)$", DOCKERFILE, flags=re.M | re.S):
        for key, value in re.findall(r"([A-Z0-9_]+)=(\S+)", block):
            env[key] = value
    return env


def test_compose_has_api_and_chroma_with_named_volumes() -> None:
    services = COMPOSE["services"]
    assert {"api", "chroma"} <= set(services)
    declared = set(COMPOSE["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared


@pytest.mark.parametrize("variable", sorted(COMPOSE["services"]["api"]["environment"]))
def test_every_api_variable_is_a_real_setting(variable: str) -> None:
    assert setting_exists(variable), f"{variable} is not a docrag setting"


def test_compose_defaults_and_dockerfile_env_make_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env: dict[str, Any] = {**dockerfile_env()}
    env.update(
        {k: compose_default(v) for k, v in COMPOSE["services"]["api"]["environment"].items()}
    )
    for key, value in env.items():
        if key.startswith("DOCRAG_"):
            assert setting_exists(key), key
            monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.chroma.host == "chroma"
    assert settings.llm.model is None  # no chat model unless the user sets one
    assert settings.data_dir == Path(COMPOSE["services"]["api"]["volumes"][0].split(":")[1])


def test_api_reaches_chroma_by_service_name_and_port() -> None:
    env = COMPOSE["services"]["api"]["environment"]
    assert env["DOCRAG_CHROMA__HOST"] in COMPOSE["services"]
    # The Chroma image listens on 8000 inside the compose network.
    assert env["DOCRAG_CHROMA__PORT"] == "8000"
    assert "chroma" in COMPOSE["services"]["api"]["depends_on"]


def test_published_port_and_health_check_match_the_app() -> None:
    from app.main import create_app

    env = dockerfile_env()
    container_port = int(env["DOCRAG_PORT"])
    published = [p.split(":") for p in COMPOSE["services"]["api"]["ports"]]
    assert [int(p[-1]) for p in published] == [container_port]
    assert f"EXPOSE {container_port}" in DOCKERFILE
    health = re.search(r"HEALTHCHECK.*?http://127\.0\.0\.1:(\d+)(/\S+?)'", DOCKERFILE, flags=re.S)
    assert health is not None
    assert int(health.group(1)) == container_port
    paths = create_app(Settings(_env_file=None)).openapi()["paths"]  # type: ignore[call-arg]
    assert "get" in paths[health.group(2)]
    assert env["DOCRAG_HOST"] == "0.0.0.0"  # reachable from outside the container


def test_dockerfile_runs_as_non_root_with_cpu_torch_and_a_baked_model() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    assert "SentenceTransformer(" in DOCKERFILE and "HF_HUB_OFFLINE=1" in DOCKERFILE
    assert re.search(r'CMD \["docrag", "serve"\]', DOCKERFILE)


def test_readme_documents_every_setting() -> None:
    from tests.settings_table import settings_rows

    readme = (ROOT / "README.md").read_text()
    missing = [v for v, _, _ in settings_rows() if f"`{v}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash tests/run.sh" in readme.split("```")[1]
    assert "bash tests/run.sh" in (ROOT / ".ci" / "run").read_text()
