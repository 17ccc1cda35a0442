"""PUT /documents/{id}: the content changes, the id stays, and a question sees the old version
or the new one, never a mix (also while a replace is half-way, and across a crash)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from ingest.ids import chunk_generation, chunk_id_for, sibling_chunk_id
from ingest.store import StoredChunk
from tests import samples as f
from tests.app.test_jobs import poll, wait_for_job

QUESTION = "What spice goes into the harbour stew?"


def version(tag: str, extra: str = "") -> bytes:
    """A document whose every sentence names its version, long enough for several chunks."""
    sentences = [
        f"In the {tag} edition, the harbour stew is seasoned with smoked paprika and fennel.",
        f"The {tag} edition says the harbour stew simmers for three hours in a copper pot.",
        f"According to the {tag} edition, the harbour stew spice is bought at the market.",
        f"The {tag} edition lists saffron as the second spice of the harbour stew.",
    ]
    text = " ".join(sentences * 20) + extra
    return text.encode()


def tags(answer: dict[str, Any]) -> set[str]:
    return {
        t for c in answer["citations"] for t in ("alpha", "beta") if f"{t} edition" in c["text"]
    }


def ask(client: Any, **extra: Any) -> dict[str, Any]:
    response = client.post("/ask", json={"question": QUESTION, "top_k": 5, **extra})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def put(client: Any, document_id: str, name: str, data: bytes, **params: Any) -> Any:
    return client.put(f"/documents/{document_id}", files={"file": (name, data)}, params=params)


@pytest.fixture
def stored(client: Any) -> dict[str, Any]:
    response = client.post(
        "/documents",
        files=[("files", ("stew.txt", version("alpha")))],
        data={"metadata": '{"k": 1}'},
    )
    doc: dict[str, Any] = response.json()["documents"][0]
    assert doc["chunks"] > 5
    return doc


def test_replace_keeps_the_id_and_switches_the_content(client: Any, stored: dict[str, Any]) -> None:
    assert tags(ask(client)) == {"alpha"}
    response = put(client, stored["id"], "stew-v2.txt", version("beta"))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["id"] == stored["id"] and doc["status"] == "ready"
    assert doc["filename"] == "stew-v2.txt" and doc["sha256"] != stored["sha256"]
    assert doc["metadata"] == {"k": 1} and doc["created_at"] == stored["created_at"]
    assert client.get(f"/documents/{stored['id']}").json() == doc
    pages = client.get(f"/documents/{stored['id']}/content").json()["pages"]
    assert "beta edition" in pages[0]["text"] and "alpha" not in pages[0]["text"]

    answer = ask(client)
    assert tags(answer) == {"beta"}
    assert {c["document_id"] for c in answer["citations"]} == {stored["id"]}
    # The old version's chunks are gone: the store holds exactly the new ones.
    assert client.get("/health").json()["chunks"] == doc["chunks"]
    assert client.get("/documents").json()["total"] == 1


def test_replace_with_neighbour_expansion(make_client: Any) -> None:
    client = make_client(retrieval={"expand_neighbors": 1})
    doc = client.post("/documents", files=[("files", ("s.txt", version("alpha")))]).json()
    doc = put(client, doc["documents"][0]["id"], "s.txt", version("beta")).json()
    answer = ask(client)
    assert tags(answer) == {"beta"}
    assert all(len(c["text"]) > 300 for c in answer["citations"])  # widened by neighbours


def test_a_question_during_a_replace_sees_one_version(
    client: Any, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: the replace is held just before its switch (the new chunks are stored
    and indexed) and just after it (the old chunks are not yet deleted)."""
    container = client.app.state.parts
    pipeline = container.pipeline
    at_switch, after_switch, go_on = threading.Event(), threading.Event(), threading.Event()
    real_put = container.catalog.put
    real_remove = pipeline._remove_generation

    def put_record(record: Any) -> None:
        if record.generation == 1 and record.status == "ready":
            at_switch.set()
            go_on.wait(60)
        real_put(record)

    def remove_generation(document_id: str, generation: int) -> None:
        if generation == 0:
            after_switch.set()
            go_on.wait(60)
        real_remove(document_id, generation)

    monkeypatch.setattr(container.catalog, "put", put_record)
    monkeypatch.setattr(pipeline, "_remove_generation", remove_generation)
    replacing = threading.Thread(target=put, args=(client, stored["id"], "v2.txt", version("beta")))
    replacing.start()
    assert at_switch.wait(60)
    both = {
        chunk_generation(c.id) for c in container.store.get(where={"document_id": stored["id"]})
    }
    assert both == {0, 1}
    assert tags(ask(client)) == {"alpha"}

    monkeypatch.setattr(container.catalog, "put", real_put)
    go_on.set()
    assert after_switch.wait(60)
    # go_on is set, so the deletion proceeds; a question now may race it and still sees one.
    assert tags(ask(client)) == {"beta"}
    replacing.join(60)
    assert tags(ask(client)) == {"beta"}


def test_questions_racing_replaces_never_mix_versions(client: Any, stored: dict[str, Any]) -> None:
    answers: list[dict[str, Any]] = []
    done = threading.Event()

    def asking() -> None:
        while not done.is_set():
            answers.append(ask(client))

    askers = [threading.Thread(target=asking) for _ in range(2)]
    for thread in askers:
        thread.start()
    try:
        for n in range(4):
            tag = "beta" if n % 2 == 0 else "alpha"
            response = put(client, stored["id"], "stew.txt", version(tag, f" Revision {n}."))
            assert response.status_code == 200, response.text
    finally:
        done.set()
        for thread in askers:
            thread.join(120)
    assert answers and all(len(tags(a)) <= 1 for a in answers)
    assert all(a["citations"] for a in answers)
    assert tags(ask(client)) == {"alpha"}


def test_a_replace_that_fails_changes_nothing(client: Any, stored: dict[str, Any]) -> None:
    before = client.get("/health").json()["chunks"]
    response = put(client, stored["id"], "locked.pdf", f.ENCRYPTED_PDF.read_bytes())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "encrypted_document"
    assert client.get(f"/documents/{stored['id']}").json() == stored
    assert client.get("/health").json()["chunks"] == before
    assert tags(ask(client)) == {"alpha"}


def test_replace_refusals(client: Any, stored: dict[str, Any]) -> None:
    missing = put(client, "0" * 32, "x.txt", b"text")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    container = client.app.state.parts
    record = container.catalog.get(stored["id"])
    container.catalog.put(replace(record, status="embedding"))
    busy = put(client, stored["id"], "x.txt", b"text")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "document_not_ready"
    container.catalog.put(record)
    same = put(client, stored["id"], "stew.txt", version("alpha"))
    assert same.status_code == 200 and same.json() == stored


def test_the_old_bytes_uploaded_again_become_a_new_document(
    client: Any, stored: dict[str, Any]
) -> None:
    put(client, stored["id"], "stew.txt", version("beta"))
    again = client.post("/documents", files=[("files", ("old.txt", version("alpha")))])
    assert again.status_code == 201
    old = again.json()["documents"][0]
    assert old["id"] != stored["id"] and old["sha256"] == stored["sha256"]
    assert client.get(f"/documents/{stored['id']}").json()["filename"] == "stew.txt"
    # And once more: the same bytes find that new document.
    third = client.post("/documents", files=[("files", ("old.txt", version("alpha")))])
    assert third.status_code == 200 and third.json()["documents"][0]["id"] == old["id"]


def test_replace_in_the_background(client: Any, stored: dict[str, Any]) -> None:
    response = put(client, stored["id"], "v2.txt", version("beta"), wait="false")
    assert response.status_code == 202
    job = response.json()
    assert job["kind"] == "replace" and job["document_id"] == stored["id"]
    done = wait_for_job(client, job["id"])
    assert done["status"] == "ready" and done["created"] is True
    assert tags(ask(client)) == {"beta"}
    missing = put(client, "0" * 32, "x.txt", b"text", wait="false")
    assert missing.status_code == 404


def test_restart_removes_what_a_crashed_replace_left(make_client: Any, make_settings: Any) -> None:
    settings = make_settings()
    client = make_client(settings)
    doc = client.post("/documents", files=[("files", ("s.txt", version("alpha")))]).json()
    doc = doc["documents"][0]
    container = client.app.state.parts
    vector = [[1.0] + [0.0] * 383]
    # A replace that crashed before its switch left generation-1 chunks...
    container.store.add(
        [StoredChunk(chunk_id_for(doc["id"], 0, 1), doc["id"], "beta edition, half written")],
        vector,
    )
    # ...and one that crashed after it left chunks of the generation it replaced.
    other = client.post("/documents", files=[("files", ("o.txt", version("beta")))]).json()
    other = other["documents"][0]
    record = container.catalog.get(other["id"])
    old_chunks = container.store.get(where={"document_id": other["id"]})
    container.catalog.put(replace(record, generation=2))
    container.store.add(
        [
            StoredChunk(chunk_id_for(other["id"], c.metadata["ordinal"], 2), other["id"], c.text)
            for c in old_chunks
        ],
        vector * len(old_chunks),
    )
    client.__exit__(None, None, None)

    restarted = make_client(settings)
    store = restarted.app.state.parts.store
    # The clean-up runs beside the service's start: wait for it to be done.
    poll(lambda: chunk_id_for(doc["id"], 0, 1) not in {c.id for c in store.get()}, "clean-up")
    poll(lambda: store.count() == doc["chunks"] + other["chunks"], "clean-up of generations")
    ids = {c.id for c in store.get()}
    assert chunk_id_for(doc["id"], 0, 1) not in ids
    assert {chunk_generation(i) for i in ids if i.startswith(other["id"])} == {2}
    assert store.count() == doc["chunks"] + other["chunks"]
    poll(lambda: tags(ask(restarted)), "an answer")


def test_chunk_ids_carry_their_generation() -> None:
    assert chunk_id_for("abc", 3) == "abc:3" and chunk_generation("abc:3") == 0
    assert chunk_id_for("abc", 3, 2) == "abc:g2:3" and chunk_generation("abc:g2:3") == 2
    assert sibling_chunk_id("abc:g2:3", 4) == "abc:g2:4"
    assert sibling_chunk_id("abc:3", 2) == "abc:2"
