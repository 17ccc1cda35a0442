"""`docrag eval`: retrieval quality on a BEIR-layout dataset, or document QA with page
evidence on a folder of PDFs and a questions file."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from tqdm import tqdm

from app.cli.common import cli
from app.config import Settings

if TYPE_CHECKING:
    from app.evaluation.suite import SuiteOptions


@cli.command("eval")
def evaluate(
    dataset_dir: Annotated[
        Path | None,
        typer.Argument(
            help="a dataset in BEIR layout (corpus, queries, qrels/<split>.tsv), or with "
            "--questions a folder of PDFs (not with --suite)"
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split: qrels/<split>.tsv")] = "test",
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="only the first N queries that have qrels (--suite: of each set but "
            "FinanceBench, which takes --companies)",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="also write the configuration and results as JSON")
    ] = None,
    mode: Annotated[
        Literal["hybrid", "dense", "lexical"] | None,
        typer.Option(help="retrieval mode (default: DOCRAG_RETRIEVAL__MODE)"),
    ] = None,
    mmr: Annotated[
        bool | None,
        typer.Option("--mmr/--no-mmr", help="MMR diversity (default: DOCRAG_RETRIEVAL__MMR)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where the evaluation collections live (default: DOCRAG_DATA_DIR/eval)"),
    ] = None,
    k: Annotated[int, typer.Option(min=10, help="chunks retrieved per query")] = 100,
    questions: Annotated[
        Path | None,
        typer.Option(
            help="document QA: a JSON-lines questions file (FinanceBench format) about the "
            "PDFs in DATASET_DIR"
        ),
    ] = None,
    companies: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="document QA: only the filings of the first N companies (alphabetical) and "
            "their questions",
        ),
    ] = None,
    half: Annotated[
        Literal["A", "B"] | None,
        typer.Option(
            help="document QA: only the companies of half A or B (alphabetical, alternating); "
            "rules are chosen on A, B is reported beside it"
        ),
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option(
            help="every set in a folder laid out like the shared data (financebench, scifact, "
            "rgb_zh, cmrc2018, covidqa), one table"
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SET", help="--suite: leave this set out (repeatable, or comma-separated)"
        ),
    ] = None,
    financebench_data_dir: Annotated[
        Path | None,
        typer.Option(help="--suite: the data dir of an existing FinanceBench library"),
    ] = None,
    financebench_collection: Annotated[
        str | None,
        typer.Option(help="--suite: that library's collection (default: named after the filings)"),
    ] = None,
) -> None:
    """Measures retrieval (nDCG@10, recall@10/100, MRR@10) on a BEIR-layout dataset, or,
    with --questions, document QA: evidence pages among the sources and citations, filings
    kept apart, abstention without the filing, latency, by question type and half. With
    --suite DIR, every set of a folder laid out like the shared data, in one table.

    The corpus is embedded once and kept for later runs with the same model and chunking.
    """
    from app.errors import DocragError
    from app.evaluation import DatasetError, format_report
    from app.evaluation import evaluate as run_evaluation
    from ingest.errors import EmbedderMismatch, StoreUnavailable

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(
                total=total,
                desc=stage,
                unit="doc" if stage == "ingest" else "query",
                file=sys.stderr,
            )
        bar.update(done - bar.n)

    if suite is not None:
        from app.evaluation.suite import SuiteOptions

        skipped = frozenset(name.strip() for item in skip or () for name in item.split(","))
        options = SuiteOptions(
            skip=skipped - {""},
            limit=limit,
            data_dir=data_dir,
            financebench_data_dir=financebench_data_dir,
            financebench_collection=financebench_collection,
            companies=companies,
            half=half,
        )
        try:
            _evaluate_suite(suite, options, output, progress, bars)
        finally:
            for bar in bars.values():
                bar.close()
        return
    if dataset_dir is None:
        typer.secho(
            "error: name a dataset folder (BEIR layout, or PDFs with --questions), or pass "
            "--suite DIR",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    if questions is not None:
        try:
            _evaluate_documents(dataset_dir, questions, companies, half, data_dir, output, progress)
        finally:
            for bar in bars.values():
                bar.close()
        return
    try:
        report = run_evaluation(
            Settings(),
            dataset_dir,
            split=split,
            limit=limit,
            k=k,
            data_dir=data_dir,
            mode=mode,
            mmr=mmr,
            progress=progress,
        )
    except (DatasetError, DocragError, EmbedderMismatch, StoreUnavailable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    finally:
        for bar in bars.values():
            bar.close()
    typer.echo(format_report(report))
    _write_json(output, report.to_dict())


def _evaluate_documents(
    pdf_dir: Path,
    questions: Path,
    companies: int | None,
    half: str | None,
    data_dir: Path | None,
    output: Path | None,
    progress: Callable[[str, int, int], None],
) -> None:
    from app.errors import DocragError
    from app.evaluation import DatasetError
    from app.evaluation.docqa import evaluate_docqa, format_docqa
    from ingest.errors import EmbedderMismatch, StoreUnavailable

    try:
        report = evaluate_docqa(
            Settings(),
            pdf_dir,
            questions,
            companies=companies,
            half=half,
            data_dir=data_dir,
            progress=progress,
        )
    except (DatasetError, DocragError, EmbedderMismatch, StoreUnavailable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    typer.echo(format_docqa(report))
    _write_json(output, report.to_dict())


def _evaluate_suite(
    root: Path,
    options: SuiteOptions,
    output: Path | None,
    progress: Callable[[str, int, int], None],
    bars: dict[str, tqdm],
) -> None:
    from app.errors import DocragError
    from app.evaluation import DatasetError
    from app.evaluation.suite import format_suite, run_suite
    from ingest.errors import EmbedderMismatch, StoreUnavailable

    def close_bars() -> None:
        for bar in bars.values():
            bar.close()
        bars.clear()  # each set's stages start their bars afresh

    def announce(name: str) -> None:
        close_bars()
        typer.secho(f"== {name}", err=True)

    try:
        report = run_suite(Settings(), root, options, announce=announce, progress=progress)
    except (DatasetError, DocragError, EmbedderMismatch, StoreUnavailable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    close_bars()
    typer.echo("\n" + format_suite(report))  # on a line of its own after the last bar
    _write_json(output, report.to_dict())


def _write_json(output: Path | None, data: dict[str, Any]) -> None:
    if output is None:
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"results written to {output}")
