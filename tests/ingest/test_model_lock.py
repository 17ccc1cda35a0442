"""The model's lock lets a question go before an ingest's next batch: a question asked while a
document is read waits for one batch at most, however many passes it makes."""

from __future__ import annotations

import threading
import time

from ingest.model_lock import QuestionFirstLock, in_background


def test_a_question_waits_for_one_background_batch_at_most() -> None:
    lock = QuestionFirstLock()
    batches = 0
    stop = threading.Event()
    running = threading.Event()

    def ingest() -> None:
        nonlocal batches
        with in_background():
            while not stop.is_set():
                with lock:
                    batches += 1
                    running.set()
                    time.sleep(0.02)  # one forward pass

    worker = threading.Thread(target=ingest)
    worker.start()
    try:
        assert running.wait(10)
        before = batches
        for _ in range(5):  # one question's passes, one after the other
            with lock:
                pass
        waited = batches - before
    finally:
        stop.set()
        worker.join(10)
    # The batch under way when it asked, no more: the background did not slip in between.
    assert waited <= 1, waited


def test_background_work_is_marked_only_inside_its_block() -> None:
    lock = QuestionFirstLock()
    with in_background(), lock:
        pass
    with lock:  # neither marked nor left held
        pass


def test_an_ingest_is_delayed_but_never_stopped_by_a_stream_of_questions() -> None:
    """Questions that keep the model busy without a pause (several clients asking while a
    document is replaced) let the ingest's batches through, each after at most
    MAX_BACKGROUND_WAIT_S (before, the replace never finished)."""
    lock = QuestionFirstLock()
    stop = threading.Event()

    def questions() -> None:
        while not stop.is_set():
            with lock:
                time.sleep(0.01)  # a question's pass; the next one asks at once

    askers = [threading.Thread(target=questions) for _ in range(3)]
    for asker in askers:
        asker.start()
    batches: list[float] = []

    def ingest() -> None:
        with in_background():
            for _ in range(3):
                started = time.monotonic()
                with lock:
                    batches.append(time.monotonic() - started)

    try:
        worker = threading.Thread(target=ingest)
        worker.start()
        worker.join(30)
        assert not worker.is_alive(), "the ingest never got the model"
    finally:
        stop.set()
        for asker in askers:
            asker.join(10)
    assert len(batches) == 3
