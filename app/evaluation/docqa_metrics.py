"""Document QA with page evidence: the questions file, the subset of a run, what each answer
scores and the table by question type. Shared by `docrag eval --questions` and
`bench/financebench.py`, so docrag and the LangChain baseline are scored the same way.

The questions file is JSON lines in FinanceBench's format: `id`, `company`, `doc_name` (the
PDF's file name without `.pdf`), `question`, `question_type`, `evidence_pages` (1-based)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.evaluation.beir import DatasetError, percentile

PAGE_SLACK = 1  # evidence on page p counts when a source spans p-1..p+1


@dataclass(frozen=True, slots=True)
class DocQuestion:
    id: str
    company: str
    doc_name: str
    question: str
    question_type: str
    evidence_pages: tuple[int, ...]
    answer: str = ""

    @property
    def filename(self) -> str:
        return f"{self.doc_name}.pdf"


def load_questions(path: Path) -> list[DocQuestion]:
    if not path.is_file():
        raise DatasetError(f"questions file {path} not found: pass a JSON-lines file")
    questions: list[DocQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                DocQuestion(
                    id=str(row["id"]),
                    company=str(row.get("company") or row["doc_name"].split("_")[0]),
                    doc_name=str(row["doc_name"]),
                    question=str(row["question"]),
                    question_type=str(row.get("question_type") or "all"),
                    evidence_pages=tuple(int(p) for p in row.get("evidence_pages") or ()),
                    answer=str(row.get("answer") or ""),
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetError(
                f"{path} line {number} is not a question: {e!r}; each line needs id, doc_name, "
                "question and evidence_pages"
            ) from e
    if not questions:
        raise DatasetError(f"{path} holds no questions")
    return questions


def choose_subset(
    questions: Sequence[DocQuestion], pdf_dir: Path, companies: int | None
) -> tuple[list[Path], list[DocQuestion]]:
    """The filings the questions ask about that are in `pdf_dir`, and those questions; with
    `companies`, only the first N companies in alphabetical order (all their filings that
    have questions), so a subset is the same on every machine."""
    if not pdf_dir.is_dir():
        raise DatasetError(f"{pdf_dir} is not a folder of PDFs")
    present = {p.name: p for p in pdf_dir.glob("*.pdf")}
    asked = [q for q in questions if q.filename in present]
    if not asked:
        raise DatasetError(f"none of the questions' filings (doc_name.pdf) is in {pdf_dir}")
    names = sorted({q.company.lower() for q in asked})
    if companies is not None:
        names = names[:companies]
    chosen = [q for q in asked if q.company.lower() in names]
    files = sorted({q.filename for q in chosen})
    return [present[name] for name in files], chosen


def company_halves(questions: Sequence[DocQuestion]) -> dict[str, str]:
    """Each company of a questions file in half "A" or "B": the companies in alphabetical
    order (lower case), alternating A, B. Fixed before any result was seen: rules and numbers
    are chosen on half A, and half B, which nobody tunes on, is reported beside it."""
    names = sorted({q.company.lower() for q in questions})
    return {name: "AB"[i % 2] for i, name in enumerate(names)}


def in_half(questions: Sequence[DocQuestion], half: str | None) -> list[DocQuestion]:
    """The questions about the companies of one half (all of them when `half` is None)."""
    if half is None:
        return list(questions)
    halves = company_halves(questions)
    return [q for q in questions if halves[q.company.lower()] == half]


@dataclass(frozen=True, slots=True)
class SourcePage:
    filename: str
    page: int | None
    page_end: int | None


def evidence_found(question: DocQuestion, sources: Sequence[SourcePage]) -> bool:
    """A source from the question's filing spans an evidence page (give or take one)."""
    for source in sources:
        if source.filename != question.filename or source.page is None:
            continue
        last = source.page_end if source.page_end is not None else source.page
        if any(source.page - PAGE_SLACK <= p <= last + PAGE_SLACK for p in question.evidence_pages):
            return True
    return False


def all_from_filing(question: DocQuestion, sources: Sequence[SourcePage]) -> bool:
    return bool(sources) and all(s.filename == question.filename for s in sources)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one pipeline did with one question."""

    question: DocQuestion
    top5_evidence: bool
    top5_all_right_filing: bool
    latency_ms: float
    cited_evidence: bool | None = None  # None: the pipeline does not cite
    abstained: bool | None = None  # on the library holding the filing
    abstained_without_filing: bool | None = None  # the same question, its filing left out
    abstained_without_company: bool | None = None  # ... and the company's other filings
    detail: dict[str, object] = field(default_factory=dict)


def _share(values: Sequence[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def summarize(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | None]]:
    """The metrics for every question type and for all of them together."""
    groups: dict[str, list[Outcome]] = {"all": list(outcomes)}
    for outcome in outcomes:
        groups.setdefault(outcome.question.question_type, []).append(outcome)
    table: dict[str, dict[str, float | None]] = {}
    for name, group in groups.items():
        latencies = [o.latency_ms for o in group]
        table[name] = {
            "questions": float(len(group)),
            "evidence_top5": _share([o.top5_evidence for o in group]),
            "evidence_cited": _share([o.cited_evidence for o in group]),
            "top5_right_filing": _share([o.top5_all_right_filing for o in group]),
            "abstained_without_filing": _share([o.abstained_without_filing for o in group]),
            "abstained_without_company": _share([o.abstained_without_company for o in group]),
            "false_abstention": _share([o.abstained for o in group]),
            "latency_p50_ms": percentile(latencies, 50) if latencies else None,
            "latency_p95_ms": percentile(latencies, 95) if latencies else None,
        }
    return table


_COLUMNS = (
    ("evidence_top5", "page@top5"),
    ("evidence_cited", "page@cited"),
    ("top5_right_filing", "top5 filing"),
    ("abstained_without_filing", "abstain(no filing)"),
    ("abstained_without_company", "abstain(no company)"),
    ("false_abstention", "false abstain"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def format_table(tables: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """One row per pipeline and question type, side by side: `tables` maps a pipeline's
    name to its `summarize` result."""
    header = f"{'pipeline':<10} {'type':<18} {'n':>3} " + " ".join(
        f"{title:>{max(len(title), 8)}}" for _, title in _COLUMNS
    )
    lines = [header]
    types = list(dict.fromkeys(t for table in tables.values() for t in table))
    for question_type in types:
        for pipeline, table in tables.items():
            row = table.get(question_type)
            if row is None:
                continue
            cells = []
            for key, title in _COLUMNS:
                value = row[key]
                width = max(len(title), 8)
                if value is None:
                    cells.append(f"{'-':>{width}}")
                elif key.startswith("latency"):
                    cells.append(f"{value:>{width}.0f}")
                else:
                    cells.append(f"{value * 100:>{width - 1}.0f}%")
            count = int(row["questions"] or 0)
            lines.append(f"{pipeline:<10} {question_type:<18} {count:>3} " + " ".join(cells))
    return "\n".join(lines)
