"""The ingestion queue's message: typed, JSON, refused with a reason when malformed."""

from __future__ import annotations

import json

import pytest

from ingest.queue import IngestTask


def test_a_task_crosses_the_broker_as_a_json_object_and_back() -> None:
    task = IngestTask(job_id="5f" * 16, knowledge_base="contracts")
    message = json.loads(json.dumps(task.to_message()))
    assert message == {"job_id": "5f" * 16, "knowledge_base": "contracts", "version": 1}
    assert IngestTask.from_message(message) == task
    assert IngestTask.from_message(json.dumps(message)) == task
    assert IngestTask.from_message({"job_id": "ab"}).knowledge_base == "default"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (["ab", "default"], "JSON object"),
        ({"knowledge_base": "default"}, "job_id"),
        ({"job_id": "ab", "knowledge_base": ""}, "knowledge_base"),
        ({"job_id": "ab", "version": 2}, "version 2"),
    ],
)
def test_a_malformed_message_is_refused_with_its_reason(message: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        IngestTask.from_message(message)
