"""The ingestion queue on Celery and Redis (`DOCRAG_QUEUE__BROKER_URL`): the Celery app both
sides share, the queue the API sends jobs to, and the marks kept in Redis beside the queue.

Redis holds, besides Celery's own messages:
- `docrag:queued:<job>`: set when a job is sent, removed when a worker takes it. A queued job
  (in the store) without it lost its message (Redis restarted without its data): it is sent
  again from the store.
- `docrag:lease:<job>`: held by the worker running the job and renewed while it runs (a
  `redis.lock.Lock`). A started job without it lost its worker: it is sent again.

Celery and the Redis client come with the `queue` extra and are imported here only.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from app.config import QueueSettings, Settings
from ingest.queue import INGEST_TASK, IngestTask

if TYPE_CHECKING:
    from redis import Redis
    from redis.lock import Lock

logger = logging.getLogger(__name__)

QUEUE_NAME = "docrag-ingest"
_QUEUED = "docrag:queued:"
_LEASE = "docrag:lease:"
_SWEEP = "docrag:sweep"
_MISSING_EXTRA = (
    "DOCRAG_QUEUE__BROKER_URL is set, but Celery and the Redis client are not installed: "
    "pip install 'docrag[queue]' (or unset DOCRAG_QUEUE__BROKER_URL to ingest inside the "
    "API process)"
)


class QueueUnavailable(RuntimeError):
    """The queue's libraries are missing, or its broker cannot be reached."""


def _celery_module() -> Any:
    try:
        import celery
    except ImportError as e:
        raise QueueUnavailable(_MISSING_EXTRA) from e
    return celery


def celery_app(queue: QueueSettings) -> Any:
    """The Celery app of docrag's ingestion queue, configured for long, idempotent tasks."""
    assert queue.broker_url is not None
    app = _celery_module().Celery("docrag", broker=queue.broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_NAME,
        task_ignore_result=True,  # progress and outcome are in the job's record
        # A task is acknowledged when it ends, so a worker that dies mid-document leaves it
        # to another; one whose process was killed gives it back at once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds only what it runs
        worker_max_tasks_per_child=queue.max_tasks_per_child,
        worker_concurrency=queue.concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": queue.visibility_timeout_s},
    )
    return app


def connect_redis(queue: QueueSettings) -> Redis:
    try:
        from redis import Redis
    except ImportError as e:
        raise QueueUnavailable(_MISSING_EXTRA) from e
    assert queue.broker_url is not None
    return Redis.from_url(queue.broker_url, socket_timeout=10, socket_connect_timeout=5)


class RedisJobQueue:
    """The `JobQueue` of the API (and of the workers' sweep): marks a job queued in Redis, then
    sends its message."""

    def __init__(self, queue: QueueSettings) -> None:
        self._app = celery_app(queue)
        self.redis = connect_redis(queue)
        self.lease_s = queue.lease_s

    def put(self, task: IngestTask) -> None:
        self.mark_queued(task)
        self._app.send_task(INGEST_TASK, kwargs={"task": task.to_message()}, queue=QUEUE_NAME)

    def mark_queued(self, task: IngestTask) -> None:
        self.redis.set(_QUEUED + task.job_id, task.knowledge_base)

    def is_queued(self, job_id: str) -> bool:
        return bool(self.redis.exists(_QUEUED + job_id))

    def taken(self, job_id: str) -> None:
        self.redis.delete(_QUEUED + job_id)

    def lease(self, job_id: str) -> Lock:
        """The lease of a job, not yet acquired (renewable from another thread)."""
        return self.redis.lock(_LEASE + job_id, timeout=self.lease_s, thread_local=False)

    def is_leased(self, job_id: str) -> bool:
        return bool(self.redis.exists(_LEASE + job_id))

    def claim_sweep(self, every_s: float) -> bool:
        """True for one caller per `every_s` seconds across every worker."""
        owner = f"{os.uname().nodename}:{os.getpid()}"
        return bool(self.redis.set(_SWEEP, owner, nx=True, px=int(every_s * 1000)))


def build_job_queue(settings: Settings) -> RedisJobQueue | None:
    """The broker's queue when one is configured; None = jobs run inside this process."""
    if not settings.queue.broker_url:
        return None
    return RedisJobQueue(settings.queue)
