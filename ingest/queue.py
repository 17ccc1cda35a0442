"""What travels through a broker's queue: one typed message per job, and the role of the queue
that carries it.

A message names a job and its knowledge base, nothing else: the job's record (in the store)
holds its document, file name and progress, so a message lost with a broker is made again
from the record alone, and a message delivered twice runs the job at most once to the end
(the document's id is its content hash and its chunk ids follow from that id).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ingest.ids import DEFAULT_KNOWLEDGE_BASE

# The task's name, on both sides of the broker.
INGEST_TASK = "docrag.ingest_document"
# Bumped when a message's fields change incompatibly.
MESSAGE_VERSION = 1


@dataclass(frozen=True, slots=True)
class IngestTask:
    """One job to run: an ingest or a replace of one document."""

    job_id: str
    knowledge_base: str = DEFAULT_KNOWLEDGE_BASE
    version: int = MESSAGE_VERSION

    def to_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, message: Any) -> IngestTask:
        """The task a message carries; `ValueError` names what is wrong with one that is not."""
        if isinstance(message, str | bytes):
            message = json.loads(message)
        if not isinstance(message, dict):
            raise ValueError(f"an ingest task is a JSON object, not {type(message).__name__}")
        version = message.get("version", MESSAGE_VERSION)
        if version != MESSAGE_VERSION:
            raise ValueError(f"ingest task version {version}; this docrag reads {MESSAGE_VERSION}")
        job_id = message.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("an ingest task names its job in job_id")
        base = message.get("knowledge_base", DEFAULT_KNOWLEDGE_BASE)
        if not isinstance(base, str) or not base:
            raise ValueError("an ingest task's knowledge_base is a name")
        return cls(job_id=job_id, knowledge_base=base)


class JobQueue(Protocol):
    """Where `IngestJobs` sends the jobs it accepted when they run in other processes."""

    def put(self, task: IngestTask) -> None: ...
