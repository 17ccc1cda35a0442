"""The house rule: dependencies run one way, app -> ingest -> parsers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "parsers": {"app", "ingest", "fastapi", "chromadb", "pydantic", "pydantic_settings"},
    "ingest": {"app", "fastapi", "pydantic_settings"},
}


def imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upward(package: str) -> None:
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_level_modules(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}, f"{package}/ must not import {sorted(FORBIDDEN[package])}"


def test_only_store_module_imports_chromadb() -> None:
    users = [
        str(p.relative_to(ROOT))
        for pkg in ("app", "ingest", "parsers")
        for p in (ROOT / pkg).rglob("*.py")
        if "chromadb" in imported_top_level_modules(p)
    ]
    assert users == ["ingest/store.py"]


def test_only_llm_module_imports_langchain_openai() -> None:
    users = [
        str(p.relative_to(ROOT))
        for pkg in ("app", "ingest", "parsers")
        for p in (ROOT / pkg).rglob("*.py")
        if "langchain_openai" in imported_top_level_modules(p)
    ]
    assert users == ["app/query/llm.py"]


def test_nothing_below_the_composition_root_reads_the_environment() -> None:
    allowed = {"app/config.py", "ingest/embedding.py"}  # settings; HF offline flag for local dirs
    readers = [
        str(p.relative_to(ROOT))
        for pkg in ("app", "ingest", "parsers")
        for p in (ROOT / pkg).rglob("*.py")
        if "os.environ" in p.read_text(encoding="utf-8")
        or "getenv" in p.read_text(encoding="utf-8")
    ]
    assert sorted(set(readers) - allowed) == []
