"""Parser faults for the tests, run inside docrag's parse workers (which import this module by
name): a file whose name says so hangs, allocates without end, segfaults or exits; any other
file is parsed normally."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from parsers.registry import parse_document
from parsers.types import ParsedDocument

TARGET = "tests.hostile_parsing:parse"


def parse(data: bytes, filename: str, **kwargs: Any) -> ParsedDocument:
    if filename.startswith("hang"):
        while True:  # what a parser stuck in a reference loop looks like from outside
            time.sleep(0.05)
    if filename.startswith("bomb"):
        inflated = []
        while True:  # a decompression bomb: ever more memory
            inflated.append(bytearray(64 * 1024 * 1024))
    if filename.startswith("segfault"):
        ctypes.string_at(0)
    if filename.startswith("exit"):
        os._exit(3)
    return parse_document(data, filename, **kwargs)
