"""Does each rule of the question path earn its place? FinanceBench dev as document QA on one
library, once as built and once with each rule switched off, each table split into the two
fixed halves of the companies (`company_halves`): rules were chosen on half A, half B is the
check nobody tuned on. A rule stays when switching it off costs half B something.

    DOCRAG_LIMITS__PARSE_TIMEOUT_S=1800 HF_HUB_OFFLINE=1 python bench/rule_ablation.py \\
        --pdfs ../shared/data/financebench-pdfs \\
        --questions ../shared/data/financebench/questions_dev.jsonl \\
        --data-dir /work/fb/docrag/eval --collection "$(cat /work/fb/COLLECTION)" [--only NAME ...]

The library is the one `bench/financebench.py --work DIR` built (DIR/docrag/eval); nothing is
embedded when it holds every filing. Rules that are settings are switched off through their
setting; the rest are replaced by the plain behaviour for the length of one run."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.evaluation.docqa import evaluate_docqa  # noqa: E402
from app.query import profiles  # noqa: E402


def _setting(section: str, **values: Any) -> Callable[[Settings], Settings]:
    def change(settings: Settings) -> Settings:
        part = getattr(settings, section).model_copy(update=values)
        return settings.model_copy(update={section: part})

    return change


@contextlib.contextmanager
def _patched(*patches: Any) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


# Rules that only decide which sources are found are measured without the runs that leave
# the question's filing (or company) out, which only abstention needs: a third of the time.
FINDING_ONLY = frozenset(
    {
        "no routing",
        "no comparison covering (filings)",
        "every page (no one source per page)",
    }
)

# name -> (settings change, patches while it runs)
ABLATIONS: dict[str, tuple[Callable[[Settings], Settings], Callable[[], Any]]] = {
    "as built": (lambda s: s, contextlib.nullcontext),
    "generic profile (no SEC knowledge)": (
        _setting("questions", profile="generic"),
        contextlib.nullcontext,
    ),
    "no routing": (_setting("retrieval", routing=False), contextlib.nullcontext),
    "no name abstention": (_setting("abstention", missing_share=1.0), contextlib.nullcontext),
    "no period abstention": (_setting("abstention", periods=False), contextlib.nullcontext),
    "no comparison covering (filings)": (
        lambda s: s,
        lambda: mock.patch.object(
            profiles.FilingsProfile, "covering", lambda self, periods, documents: list(documents)
        ),
    ),
    "every page (no one source per page)": (
        _setting("retrieval", distinct_pages=False),
        contextlib.nullcontext,
    ),
}

_KEYS = (
    ("evidence_top5", "top-5"),
    ("evidence_cited", "cited"),
    ("top5_right_filing", "right filing"),
    ("abstained_without_filing", "abstain, no filing"),
    ("abstained_without_company", "abstain, no company"),
    ("false_abstention", "false abstain"),
)


def _row(name: str, half: str, table: dict[str, Any]) -> str:
    cells = []
    for key, _ in _KEYS:
        value = table["all"][key]
        cells.append("-" if value is None else f"{value * 100:.0f}%")
    return f"| {name} | {half} ({int(table['all']['questions'])}) | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--profile", default="filings", help="the profile 'as built' uses")
    parser.add_argument("--only", nargs="*", default=None, help="ablations to run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    base = _setting("questions", profile=args.profile)(Settings(data_dir=args.data_dir))
    results: dict[str, Any] = {}
    print("| rule switched off | half (questions) | " + " | ".join(t for _, t in _KEYS) + " |")
    print("| --- | --- |" + " ---: |" * len(_KEYS), flush=True)
    for name, (change, patches) in ABLATIONS.items():
        if args.only and name not in args.only:
            continue
        with _patched(patches()):
            report = evaluate_docqa(
                change(base),
                args.pdfs,
                args.questions,
                data_dir=args.data_dir,
                collection=args.collection,
                without_filing=name not in FINDING_ONLY,
            )
        results[name] = report.tables
        for half in "AB":
            print(_row(name, half, report.tables[f"docrag {half}"]), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
