"""A folder synced into a knowledge base of a running server, through its REST API (so that
no second process opens the server's embedded store). Adds and replaces run as the server's
background jobs, so their progress shows in its jobs API; each write waits for its job."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from ingest.store import MetadataValue
from ingest.sync import SyncCancelled, SyncedDocument, SyncRefused, filename_of, sync_metadata
from ingest.sync import synced_document as as_synced
from ingest.sync_files import FileStamp

_PAGE = 1000


class RemoteUnusable(Exception):
    """The server cannot be used at all (unreachable, a key refused): the pass stops."""


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    return str(error.get("message") or f"HTTP {response.status_code}")


class RemoteSyncTarget:
    """One knowledge base of the docrag at `url`."""

    def __init__(
        self,
        url: str,
        *,
        knowledge_base: str,
        api_key: str | None = None,
        poll_s: float = 0.3,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120.0)
        self._params = {"knowledge_base": knowledge_base}
        self._poll_s = poll_s
        self._cancelled = threading.Event()

    def close(self) -> None:
        self._http.close()

    def cancel(self) -> None:
        self._cancelled.set()

    def synced(self) -> list[SyncedDocument]:
        found: list[SyncedDocument] = []
        offset = 0
        while True:
            page = self._call(
                "GET", "/documents", params={"limit": _PAGE, "offset": offset}, fatal=True
            )
            body = page.json()
            for d in body["data"]:
                error = (d.get("error") or {}).get("message")
                synced = as_synced(d["id"], d["sha256"], d["status"], d["metadata"], error)
                if synced is not None:
                    found.append(synced)
            offset += len(body["data"])
            if not body["data"] or offset >= body["total"]:
                return found

    def add(self, path: str, data: bytes, stamp: FileStamp) -> None:
        response = self._call(
            "POST",
            "/documents",
            params={"wait": "false"},
            files=[("files", (filename_of(path), data))],
            data={"metadata": json.dumps(sync_metadata(path, stamp))},
        )
        body = response.json()
        if not body.get("jobs"):
            raise SyncRefused(_message(response))
        job = self._wait(body["jobs"][0])
        if not job["created"]:  # the same bytes were stored already: that document is this one
            self.rename(job["document_id"], path, stamp)

    def replace(self, document_id: str, path: str, data: bytes, stamp: FileStamp) -> None:
        metadata = {**self._metadata_of(document_id), **sync_metadata(path, stamp)}
        response = self._call(
            "PUT",
            f"/documents/{document_id}",
            params={"wait": "false"},
            files={"file": (filename_of(path), data)},
            data={"metadata": json.dumps(metadata)},
        )
        self._wait(response.json())

    def rename(self, document_id: str, path: str, stamp: FileStamp) -> None:
        metadata = {**self._metadata_of(document_id), **sync_metadata(path, stamp)}
        self._call(
            "PATCH",
            f"/documents/{document_id}",
            json={"filename": filename_of(path), "metadata": metadata},
        )

    def delete(self, document_id: str) -> None:
        self._call("DELETE", f"/documents/{document_id}", missing_ok=True)

    def _metadata_of(self, document_id: str) -> dict[str, MetadataValue]:
        metadata: dict[str, MetadataValue] = self._call("GET", f"/documents/{document_id}").json()[
            "metadata"
        ]
        return metadata

    def _wait(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job once finished; a failed job's reason as `SyncRefused`."""
        while job["status"] not in ("ready", "failed"):
            if self._cancelled.wait(self._poll_s):
                raise SyncCancelled(f"stopped while waiting for job {job['id']}")
            job = self._call("GET", f"/jobs/{job['id']}").json()
        if job["status"] == "failed":
            raise SyncRefused((job.get("error") or {}).get("message") or "the ingest job failed")
        return job

    def _call(
        self,
        method: str,
        path: str,
        *,
        missing_ok: bool = False,
        fatal: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; a refusal of the whole sync (`fatal`, a key, the server) raises
        `RemoteUnusable`, a refusal of one file `SyncRefused`."""
        params = {**self._params, **kwargs.pop("params", {})}
        try:
            response = self._http.request(method, path, params=params, **kwargs)
        except httpx.HTTPError as e:
            raise RemoteUnusable(f"cannot reach {self._http.base_url}: {e}") from e
        status = response.status_code
        if status < 300 or (missing_ok and status == 404):
            return response
        if status in (401, 403):
            raise RemoteUnusable(
                f"the server refused the API key ({_message(response)}); pass a key with "
                "write access to this knowledge base: --api-key KEY or DOCRAG_API_KEY"
            )
        if fatal:
            raise RemoteUnusable(f"the server refused the sync: {_message(response)}")
        if status in (404, 409):  # deleted or still being ingested meanwhile
            raise SyncRefused(f"{_message(response)}; tried again next pass", retry=True)
        if status >= 500:
            raise RemoteUnusable(f"the server failed: {_message(response)}")
        raise SyncRefused(_message(response))
