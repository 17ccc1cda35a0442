"""`/v1/files` through the real `openai` SDK: the calls people bring from OpenAI and Kimi
(`files.create/content/list/retrieve/delete`), on the same catalog as /documents, with the
SDK's own exception classes for errors."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.app.chat_fakes import FakeChatServer, completion, reply
from tests.app.live_server import live_server
from tests.app.test_generation import llm_settings
from tests.conftest import FILES

PDF = FILES / "three_pages.pdf"


def sdk(client: Any, api_key: str = "not-needed") -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=api_key, http_client=client, max_retries=0
    )


def test_the_kimi_flow_over_a_real_socket(make_settings: Any, embedder: Any) -> None:
    from app.main import create_app

    app = create_app(make_settings(), embedder=embedder)
    with live_server(app, log_level="warning") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        file_object = client.files.create(file=PDF, purpose="file-extract")
        file_content = client.files.content(file_id=file_object.id).text
        listed = client.files.list()
        retrieved = client.files.retrieve(file_id=file_object.id)
        deleted = client.files.delete(file_id=file_object.id)
        after = httpx.get(f"{url}/documents/{file_object.id}", timeout=10)
    assert file_object.object == "file" and file_object.filename == "three_pages.pdf"
    assert file_object.bytes == PDF.stat().st_size and file_object.purpose == "file-extract"
    assert file_object.status == "processed" and file_object.created_at > 1_700_000_000
    assert "forty-two ships" in file_content and "smoked paprika" in file_content
    assert "长江大桥" in file_content  # decoded as UTF-8 by the SDK
    assert [f.id for f in listed] == [file_object.id]
    assert retrieved.model_dump() == file_object.model_dump()
    assert deleted.id == file_object.id and deleted.deleted is True
    assert after.status_code == 404  # the document went with the file


def test_a_file_answers_through_ask_and_chat_completions(
    make_client: Any, fake: FakeChatServer
) -> None:
    client = make_client(**llm_settings(fake.url))
    uploaded = sdk(client).files.create(file=PDF, purpose="assistants")
    fake.behaviour = reply(200, completion("Smoked paprika [1]."))
    question = "What is the secret ingredient of the harbour stew?"
    body = client.post("/ask", json={"question": question, "document_ids": [uploaded.id]}).json()
    assert body["citations"][0]["document_id"] == uploaded.id
    assert "smoked paprika" in body["citations"][0]["text"]
    chat = sdk(client).chat.completions.create(
        model="docrag-rag",
        messages=[{"role": "user", "content": question}],
        extra_body={"docrag": {"document_ids": [uploaded.id]}},
    )
    assert chat.choices[0].message.content == "Smoked paprika [1]."
    extras: Any = chat.docrag  # type: ignore[attr-defined]
    assert extras["citations"][0]["filename"] == "three_pages.pdf"
    # The same document in the catalog, with its purpose kept as metadata.
    record = client.get(f"/documents/{uploaded.id}").json()
    assert record["metadata"] == {"openai_purpose": "assistants"}


def test_documents_uploaded_the_other_way_are_files_too(client: Any) -> None:
    client.post("/documents", files=[("files", ("notes.txt", b"The pier is 300 metres long."))])
    (listed,) = sdk(client).files.list().data
    assert listed.filename == "notes.txt" and listed.purpose == "user_data"
    assert sdk(client).files.content(listed.id).text == "The pier is 300 metres long."


def test_the_list_pages_with_the_sdk_cursor(client: Any) -> None:
    for i in range(3):
        sdk(client).files.create(
            file=(f"n{i}.txt", f"note number {i}".encode()), purpose="user_data"
        )
    first = sdk(client).files.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    everything = [f.filename for f in sdk(client).files.list(limit=2)]  # follows `after`
    assert sorted(everything) == ["n0.txt", "n1.txt", "n2.txt"]


def test_same_bytes_twice_is_the_same_file(client: Any) -> None:
    one = sdk(client).files.create(file=("a.txt", b"the same words"), purpose="user_data")
    two = sdk(client).files.create(file=("b.txt", b"the same words"), purpose="user_data")
    assert one.id == two.id and len(sdk(client).files.list().data) == 1


def test_unknown_file_is_the_sdks_not_found(client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(client).files.retrieve("no-such-file")
    assert caught.value.code == "document_not_found"
    assert caught.value.type == "not_found_error"
    with pytest.raises(openai.NotFoundError):
        sdk(client).files.content("no-such-file")
    with pytest.raises(openai.NotFoundError):
        sdk(client).files.delete("no-such-file")


def test_a_bad_purpose_is_422_naming_the_field(client: Any) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk(client).files.create(file=("a.txt", b"words"), purpose="fine-tune")
    assert "purpose" in caught.value.message and "file-extract" in caught.value.message
    assert client.get("/documents").json()["total"] == 0


def test_a_missing_file_field_is_422(client: Any) -> None:
    response = client.post("/v1/files", data={"purpose": "user_data"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert "'file'" in error["message"]


def test_an_unreadable_file_is_the_sdks_error_with_the_reason(client: Any) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk(client).files.create(file=FILES / "encrypted.pdf", purpose="file-extract")
    assert "password" in caught.value.message.lower()
    with pytest.raises(openai.APIStatusError) as unsupported:
        sdk(client).files.create(file=("x.bin", b"\x00\x01\x02\xff" * 50), purpose="user_data")
    assert unsupported.value.status_code == 415


def test_the_upload_limit_applies(make_client: Any) -> None:
    client = make_client(limits={"max_upload_mb": 0.001})
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(client).files.create(file=("big.txt", b"word " * 1000), purpose="user_data")
    assert caught.value.status_code == 413
    assert "DOCRAG_LIMITS__MAX_UPLOAD_MB" in caught.value.message


def test_api_keys_apply(make_client: Any) -> None:
    client = make_client(auth={"api_keys": ["s3cret"]})
    with pytest.raises(openai.AuthenticationError):
        sdk(client, api_key="wrong").files.list()
    uploaded = sdk(client, api_key="s3cret").files.create(file=("a.txt", b"w"), purpose="user_data")
    assert sdk(client, api_key="s3cret").files.retrieve(uploaded.id).id == uploaded.id
