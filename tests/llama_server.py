"""Starts llama.cpp's OpenAI-compatible server (`python -m tests.llama_server ARGS`, the same
arguments as `python -m llama_cpp.server`) with llama.cpp's extra CPU buffer types off.

On CPUs with AMX (recent Xeons, which CI machines are), llama.cpp repacks the weights into
AMX tiles and the server dies with a general protection fault on its first request; plain
CPU buffers work everywhere and cost this tiny model nothing measurable."""

from __future__ import annotations

import llama_cpp.llama_cpp as native
from llama_cpp.server.__main__ import main

_default_params = native.llama_model_default_params


def _params_without_extra_buffers():  # type: ignore[no-untyped-def]
    params = _default_params()
    params.use_extra_bufts = False
    return params


native.llama_model_default_params = _params_without_extra_buffers

if __name__ == "__main__":
    main()
