"""A parse target for the tests, run inside docrag's parse workers: it writes its process id
to the file its data names, then never returns, like a parser stuck in a loop."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

TARGET = "tests.ingest.stuck_parsing:parse"


def parse(data: bytes, filename: str, **kwargs: Any) -> Any:
    Path(data.decode()).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)
