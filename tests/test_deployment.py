"""What can be checked of the Docker files without a Docker engine: the compose file parses,
and every service, port, volume and variable it names exists in the code and the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


@pytest.mark.parametrize(
    "variable",
    sorted({v for s in ("api", "worker") for v in COMPOSE["services"][s]["environment"]}),
)
def test_every_api_and_worker_variable_is_a_real_setting(variable: str) -> None:
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

    # The README links the full table, generated into docs/settings.md.
    readme = (ROOT / "README.md").read_text() + (ROOT / "docs" / "settings.md").read_text()
    missing = [v for v, _, _ in settings_rows() if f"`{v}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash tests/run.sh" in readme.split("```")[1]
    assert "bash tests/run.sh" in (ROOT / ".ci" / "run").read_text()


# -- past one process: the worker, Redis and several API processes -----------------------------


def service_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = {**dockerfile_env()}
    variables = COMPOSE["services"][service]["environment"]
    env.update({k: compose_default(v) for k, v in variables.items()})
    for key, value in env.items():
        if key.startswith("DOCRAG_"):
            monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_api_and_workers_share_the_broker_the_chroma_server_and_the_stored_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = service_settings("api", monkeypatch)
    worker = service_settings("worker", monkeypatch)
    assert api.queue.broker_url == worker.queue.broker_url
    assert api.queue.broker_url is not None
    assert urlsplit(api.queue.broker_url).hostname in COMPOSE["services"]  # the redis service
    assert (api.chroma.host, api.chroma.port) == (worker.chroma.host, worker.chroma.port)
    volumes = {s: COMPOSE["services"][s]["volumes"] for s in ("api", "worker")}
    assert volumes["api"][0] == volumes["worker"][0]  # the originals a worker reads
    for service in ("api", "worker"):
        assert {"redis", "chroma"} <= set(COMPOSE["services"][service]["depends_on"])


def test_workers_scale_without_names_or_ports() -> None:
    worker = COMPOSE["services"]["worker"]
    # `docker compose up --scale worker=4` refuses a fixed name or a published port.
    assert not {"container_name", "hostname", "ports"} & set(worker)
    assert worker["command"] == ["docrag", "worker"]
    assert worker["healthcheck"] == {"disable": True}  # the image's check is the API's port


def test_redis_keeps_queued_jobs_across_a_restart() -> None:
    redis = COMPOSE["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert redis["volumes"][0].split(":")[1] == "/data"


def test_compose_commands_are_real_cli_commands() -> None:
    from typer.testing import CliRunner

    from app.cli import cli

    api = [compose_default(part) for part in COMPOSE["services"]["api"]["command"]]
    assert api[:2] == ["docrag", "serve"] and int(api[api.index("--workers") + 1]) > 1
    runner = CliRunner()
    assert "--workers" in runner.invoke(cli, ["serve", "--help"]).output
    assert runner.invoke(cli, ["worker", "--help"]).exit_code == 0


def test_image_installs_the_queue_extra_and_the_chat_profile_stays_optional() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("celery[redis]") for d in extras["queue"])
    installs = re.findall(r"pip install '\.\[([a-z,]+)\]'", DOCKERFILE)
    assert any("queue" in extra.split(",") for extra in installs)
    assert COMPOSE["services"]["ollama"]["profiles"] == ["ollama"]
    assert all("profiles" not in COMPOSE["services"][s] for s in ("api", "worker", "redis"))


def test_compose_publishes_the_open_api_on_this_machine_only() -> None:
    """The container listens on 0.0.0.0 with no key by default; the compose file allows that
    only because it publishes the port on 127.0.0.1 unless told otherwise."""
    env = COMPOSE["services"]["api"]["environment"]
    assert env["DOCRAG_AUTH__ALLOW_OPEN"] == "${DOCRAG_AUTH__ALLOW_OPEN:-true}"
    (published,) = COMPOSE["services"]["api"]["ports"]
    assert published.startswith("${DOCRAG_PUBLISH:-127.0.0.1}:")
    assert "DOCRAG_AUTH__ALLOW_OPEN=true" in DOCKERFILE
