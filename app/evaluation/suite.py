"""`docrag eval --suite DIR`: every evaluation set the project has, in one table.

DIR is laid out like the project's shared data folder:

- `financebench/questions_dev.jsonl` and `financebench-pdfs/`: document QA with page evidence
  (`app/evaluation/docqa.py`), reported for half A and half B of the companies apart
  (`company_halves`): rules are chosen on A, B shows whether they hold elsewhere;
- `scifact/` (split train) and `rgb_zh/` (split dev), BEIR layout: retrieval nDCG@10
  (`app/evaluation/retrieval.py`);
- `cmrc2018/cmrc2018_dev.json` and `covidqa/covidqa_dev.json`, SQuAD-style: document QA
  through `AskService` (`app/evaluation/squad.py`), the first 300 questions of each in file
  order (fixed, so every run asks the same ones).

Every set is checked before any is run, so a missing file stops the suite at once."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from app.evaluation.beir import DatasetError, EvalProgress, load_beir
from app.evaluation.docqa_metrics import load_questions
from app.evaluation.squad import load_squad

SETS = ("financebench", "scifact", "rgb_zh", "cmrc2018", "covidqa")
SQUAD_QUESTIONS = 300  # CMRC and COVID-QA: the first 300 questions in file order


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    skip: frozenset[str] = frozenset()
    limit: int | None = None  # every set: only the first N questions (a quick look)
    data_dir: Path | None = None  # the retrieval and SQuAD collections (default: data_dir/eval)
    financebench_data_dir: Path | None = None  # an existing library, e.g. built elsewhere
    financebench_collection: str | None = None
    companies: int | None = None  # FinanceBench: the first N companies
    half: str | None = None  # FinanceBench: only half A or B


@dataclass(frozen=True, slots=True)
class SuiteRow:
    set: str
    metrics: dict[str, float | None]


@dataclass
class SuiteReport:
    root: str
    config: dict[str, Any]
    rows: list[SuiteRow] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # each set's full report

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "config": self.config,
            "table": [{"set": r.set, **r.metrics} for r in self.rows],
            "sets": self.reports,
        }


def _paths(root: Path) -> dict[str, Path]:
    return {
        "financebench": root / "financebench" / "questions_dev.jsonl",
        "financebench-pdfs": root / "financebench-pdfs",
        "scifact": root / "scifact",
        "rgb_zh": root / "rgb_zh",
        "cmrc2018": root / "cmrc2018" / "cmrc2018_dev.json",
        "covidqa": root / "covidqa" / "covidqa_dev.json",
    }


_SPLITS = {"scifact": "train", "rgb_zh": "dev"}


def check_suite(root: Path, skip: Sequence[str]) -> None:
    """Reads every set the suite will run (not the PDFs), so that a missing or malformed file
    is reported before an hour of work, with the fix."""
    unknown = sorted(set(skip) - set(SETS))
    if unknown:
        raise DatasetError(
            f"--skip {', '.join(unknown)}: no such set; the sets are {', '.join(SETS)}"
        )
    if not root.is_dir():
        raise DatasetError(
            f"{root} is not a folder: pass a folder laid out like the shared data "
            f"({', '.join(SETS)})"
        )
    paths = _paths(root)
    for name in SETS:
        if name in skip:
            continue
        try:
            if name == "financebench":
                load_questions(paths[name])
                if not paths["financebench-pdfs"].is_dir():
                    raise DatasetError(f"{paths['financebench-pdfs']} is not a folder of PDFs")
            elif name in _SPLITS:
                load_beir(paths[name], _SPLITS[name])
            else:
                load_squad(paths[name])
        except DatasetError as e:
            raise DatasetError(f"set {name}: {e} (or leave the set out with --skip {name})") from e


def commit_of_code() -> str | None:
    """The git commit of the code that runs (`-dirty` with uncommitted changes), if known."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def run_suite(
    settings: Settings,
    root: Path,
    options: SuiteOptions = SuiteOptions(),
    *,
    announce: Callable[[str], None] | None = None,
    progress: EvalProgress | None = None,
) -> SuiteReport:
    """Runs every set not skipped, in the order of `SETS`; `announce` is told each set's
    name as it starts."""
    from app.evaluation.docqa import evaluate_docqa
    from app.evaluation.retrieval import evaluate
    from app.evaluation.squad import evaluate_squad

    check_suite(root, sorted(options.skip))
    paths = _paths(root)
    squad_limit = options.limit if options.limit is not None else SQUAD_QUESTIONS
    report = SuiteReport(
        root=str(root.resolve()),
        config={
            "commit": commit_of_code(),
            "skipped": sorted(options.skip),
            "limit": options.limit,
            "squad_questions": squad_limit,
            "retrieval_mode": "hybrid",
            "answer_mode": "extractive",
        },
    )
    for name in SETS:
        if name in options.skip:
            continue
        if announce is not None:
            announce(name)
        if name == "financebench":
            docqa = evaluate_docqa(
                settings,
                paths["financebench-pdfs"],
                paths[name],
                companies=options.companies,
                data_dir=options.financebench_data_dir or options.data_dir,
                collection=options.financebench_collection,
                half=options.half,
                progress=progress,
            )
            report.reports[name] = docqa.to_dict()
            for half in "AB":
                table = docqa.tables.get(f"docrag {half}")
                if table is not None:
                    report.rows.append(SuiteRow(f"FinanceBench dev, half {half}", table["all"]))
        elif name in _SPLITS:
            beir = evaluate(
                settings,
                paths[name],
                split=_SPLITS[name],
                limit=options.limit,
                data_dir=options.data_dir,
                mode="hybrid",
                progress=progress,
            )
            report.reports[name] = beir.to_dict()
            label = "SciFact" if name == "scifact" else name
            metrics: dict[str, float | None] = {
                "questions": float(beir.query.queries),
                "ndcg@10": beir.metrics["ndcg@10"],
                "recall@10": beir.metrics["recall@10"],
                "latency_p50_ms": beir.query.retrieve_ms_p50,
            }
            report.rows.append(SuiteRow(f"{label} {_SPLITS[name]}, retrieval", metrics))
        else:
            squad = evaluate_squad(
                settings,
                paths[name],
                name=name,
                limit=squad_limit,
                data_dir=options.data_dir,
                progress=progress,
            )
            report.reports[name] = squad.to_dict()
            label = "CMRC 2018 dev" if name == "cmrc2018" else "COVID-QA"
            first = int(squad.metrics["questions"] or 0)
            report.rows.append(SuiteRow(f"{label}, first {first} questions", squad.metrics))
    return report


# Every metric a row may have; a column is printed when a row has it.
_COLUMNS = (
    ("questions", "n"),
    ("ndcg@10", "nDCG@10"),
    ("recall@10", "R@10"),
    ("evidence_top5", "page@top5"),
    ("evidence_cited", "page cited"),
    ("top5_right_filing", "top5 filing"),
    ("passage_top5", "passage@top5"),
    ("span_top5", "span@top5"),
    ("span_cited", "span cited"),
    ("answer_has_span", "span in answer"),
    ("false_abstention", "false abstain"),
    ("abstained_without_filing", "abstain, no filing"),
    ("abstained_without_company", "abstain, no company"),
    ("latency_p50_ms", "p50 ms"),
)


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "questions" or key.startswith("latency"):
        return f"{value:.0f}"
    if key.startswith(("ndcg", "recall")):
        return f"{value:.3f}"
    return f"{value * 100:.1f}%"


def format_suite(report: SuiteReport) -> str:
    """One Markdown table: a row per set (a row per half for FinanceBench), a column per
    metric any of them has; `-` where a set does not measure it."""
    columns = [(k, t) for k, t in _COLUMNS if any(k in row.metrics for row in report.rows)]
    lines = [
        "| set | " + " | ".join(t for _, t in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in report.rows:
        cells = [_cell(k, row.metrics.get(k)) for k, _ in columns]
        lines.append(f"| {row.set} | " + " | ".join(cells) + " |")
    commit = report.config.get("commit") or "unknown"
    lines.append("")
    lines.append(
        f"code {commit}; data {report.root}; skipped: {report.config['skipped'] or 'none'}"
    )
    return "\n".join(lines)
