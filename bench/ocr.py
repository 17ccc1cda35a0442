"""OCR accuracy, speed and memory per engine, on real pages, and the hostile-PDF set with OCR.

    .venv/bin/python bench/ocr.py [--pages 10] [--chinese 4] [--engines tesseract,rapidocr]
                                  [--dpi 200] [--hostile] [--out bench/results/ocr.json]

English: N text-rich pages of the filings in ../shared/data/financebench-pdfs are rendered
with pypdfium2 and OCR'd; accuracy is the share of characters matched (difflib, whitespace
ignored, NFKC) against pypdf's text layer of the same page. Chinese: CMRC 2018 passages drawn
on a page with a Debian CJK font, clean and degraded (blurred, noisy, tilted half a degree),
against the passage text. Each engine runs in a fresh process, so its peak RSS is its own.

`--hostile` re-runs bench/hostile_pdfs.py over ../shared/data/pdf with DOCRAG_OCR__ENGINE=off
and then auto, and reports the files refused before and accepted now, and any 5xx or hang.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FILINGS = DATA / "financebench-pdfs"
CMRC = DATA / "cmrc2018" / "cmrc2018_dev.json"
DEFAULT_OUT = REPO / "bench" / "results" / "ocr.json"
# A page counts as text-rich with this many characters in its text layer.
MIN_PAGE_CHARS = 1500
sys.path.insert(0, str(REPO))


def english_pages(count: int) -> list[tuple[Path, int, str]]:
    """(file, page number, pypdf text): the first text-rich page past the cover of each
    filing, in name order, until `count` pages."""
    import pypdf

    from parsers.pdf import normalise_pdf_text

    chosen: list[tuple[Path, int, str]] = []
    for path in sorted(FILINGS.glob("*.pdf")):
        reader = pypdf.PdfReader(path)
        for number in range(min(len(reader.pages), 40), 2, -1):
            text = normalise_pdf_text(reader.pages[number - 1].extract_text() or "")
            if len(text) >= MIN_PAGE_CHARS:
                chosen.append((path, number, text))
                break
        if len(chosen) == count:
            break
    return chosen


def chinese_passages(count: int) -> list[str]:
    data = json.loads(CMRC.read_text(encoding="utf-8"))["data"]
    passages = [p["context"] for doc in data for p in doc["paragraphs"]]
    return [p[:600] for p in passages if len(p) >= 400][:count]


def draw_chinese(text: str, degraded: bool) -> Any:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    from tests.ocr_samples import CJK_FONTS

    font = ImageFont.truetype(str(next(p for p in CJK_FONTS if p.exists())), 40)
    per_line = 36
    lines = [text[i : i + per_line] for i in range(0, len(text), per_line)]
    page = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((130, 150 + i * 72), line, font=font, fill=0)
    if degraded:
        import random

        rng = random.Random(7)
        page = page.rotate(0.5, fillcolor=255, resample=Image.Resampling.BICUBIC)
        page = page.filter(ImageFilter.GaussianBlur(1.2))
        pixels = page.load()
        for _ in range(60_000):
            x, y = rng.randrange(page.width), rng.randrange(page.height)
            pixels[x, y] = rng.choice((0, 255))
    return page


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def accuracy(reference: str, read: str) -> float:
    """Characters matched in order (difflib): a table read column-wise counts as errors."""
    from tests.ocr_samples import character_accuracy

    return character_accuracy(_normal(reference), _normal(read))


def unordered_accuracy(reference: str, read: str) -> float:
    """Characters matched regardless of order: reading order does not count, misreads do."""
    a, b = collections.Counter(_normal(reference)), collections.Counter(_normal(read))
    total = max(sum(a.values()), sum(b.values()))
    return sum((a & b).values()) / total if total else 1.0


def run_engine(engine: str, pages: int, chinese: int, dpi: int) -> dict[str, Any]:
    """One engine on every page, in this process (called in a fresh child process)."""
    from parsers.ocr import OcrOptions, build_ocr
    from parsers.ocr.pdf_pages import PdfPageOcr

    setup = build_ocr(OcrOptions(engine=engine, dpi=dpi))  # type: ignore[arg-type]
    assert setup is not None, engine
    started = time.monotonic()
    warm_up = None
    english: list[dict[str, Any]] = []
    for path, number, text in english_pages(pages):
        image = PdfPageOcr(path.read_bytes(), setup, path.name).render(number)
        begin = time.monotonic()
        read = setup.engine.read(image)
        seconds = time.monotonic() - begin
        if warm_up is None:
            warm_up = seconds
        english.append(
            {
                "file": path.name,
                "page": number,
                "chars": len(text),
                "accuracy": round(accuracy(text, read), 4),
                "unordered_accuracy": round(unordered_accuracy(text, read), 4),
                "seconds": round(seconds, 2),
            }
        )
    chinese_results: list[dict[str, Any]] = []
    for i, passage in enumerate(chinese_passages(chinese)):
        for degraded in (False, True):
            begin = time.monotonic()
            read = setup.engine.read(draw_chinese(passage, degraded))
            chinese_results.append(
                {
                    "passage": i,
                    "degraded": degraded,
                    "accuracy": round(accuracy(passage, read), 4),
                    "unordered_accuracy": round(unordered_accuracy(passage, read), 4),
                    "seconds": round(time.monotonic() - begin, 2),
                }
            )
    ocr_seconds = sum(r["seconds"] for r in english)
    return {
        "engine": engine,
        "dpi": dpi,
        "english": summary(english) | {"pages_per_s": round(len(english) / ocr_seconds, 3)},
        "chinese_clean": summary([r for r in chinese_results if not r["degraded"]]),
        "chinese_degraded": summary([r for r in chinese_results if r["degraded"]]),
        "first_page_s": warm_up,
        "wall_s": round(time.monotonic() - started, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "english_pages": english,
        "chinese_pages": chinese_results,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"pages": 0}
    scores = [r["accuracy"] for r in rows]
    return {
        "pages": len(rows),
        "mean_accuracy": round(statistics.fmean(scores), 4),
        "min_accuracy": min(scores),
        "mean_unordered_accuracy": round(
            statistics.fmean(r["unordered_accuracy"] for r in rows), 4
        ),
        "mean_page_s": round(statistics.fmean(r["seconds"] for r in rows), 2),
    }


def hostile(out_dir: Path) -> dict[str, Any]:
    """bench/hostile_pdfs.py with OCR off, then auto; the files each run accepted."""
    import bench.hostile_pdfs as hostile_pdfs

    original = hostile_pdfs.Server.__init__
    runs: dict[str, dict[str, Any]] = {}
    for engine in ("off", "auto"):

        def with_engine(self: Any, *args: Any, _engine: str = engine, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self._env["DOCRAG_OCR__ENGINE"] = _engine

        hostile_pdfs.Server.__init__ = with_engine  # type: ignore[method-assign]
        out = out_dir / f"hostile_pdfs_ocr_{engine}.json"
        hostile_pdfs.main(["--out", str(out)])
        runs[engine] = json.loads(out.read_text())
    hostile_pdfs.Server.__init__ = original  # type: ignore[method-assign]
    outcome = {
        engine: {u["file"]: (u["outcome"], u.get("code")) for u in run["uploads"]}
        for engine, run in runs.items()
    }
    refused_before = {f for f, (o, _) in outcome["off"].items() if o == "4xx"}
    accepted_now = {f for f, (o, _) in outcome["auto"].items() if o == "2xx"}
    return {
        "files": runs["auto"]["files"],
        "accepted_off": sum(1 for o, _ in outcome["off"].values() if o == "2xx"),
        "accepted_auto": len(accepted_now),
        "newly_accepted": sorted(refused_before & accepted_now),
        "no_text_layer_before": sum(1 for _, c in outcome["off"].values() if c == "no_text_layer"),
        "still_refused": {
            f: c for f, (o, c) in outcome["auto"].items() if o == "4xx" and f in refused_before
        },
        "outcomes_off": runs["off"]["outcomes"],
        "outcomes_auto": runs["auto"]["outcomes"],
        "total_wall_s": {e: r["total_wall_s"] for e, r in runs.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--chinese", type=int, default=4)
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_engine(args.child, args.pages, args.chinese, args.dpi)))
        return 0

    results: dict[str, Any] = {"engines": {}}
    for engine in args.engines.split(","):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                engine,
                "--pages",
                str(args.pages),
                "--chinese",
                str(args.chinese),
                "--dpi",
                str(args.dpi),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"OMP_THREAD_LIMIT": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        results["engines"][engine] = result
        brief = {
            k: result[k]
            for k in ("english", "chinese_clean", "chinese_degraded", "first_page_s", "peak_rss_mb")
        }
        print(engine, json.dumps(brief), flush=True)
    if args.hostile:
        results["hostile"] = hostile(args.out.parent)
        print(
            "hostile",
            json.dumps({k: v for k, v in results["hostile"].items() if k != "still_refused"}),
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
