from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request

from app.api.deps import PartsDep
from app.api.schemas import HealthResponse

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return version("docrag")
    except PackageNotFoundError:
        return "unknown"


def open_to_network_warning(state: Any, keys_required: bool) -> str | None:
    """The warning for a server that listens beyond this machine (`state.open_address`, set
    by `docrag serve`) while no API key is configured or stored."""
    address = getattr(state, "open_address", None)
    if address is None or keys_required:
        return None
    return (
        f"docrag listens on {address} with no API key: anyone who can reach this port can "
        "read, upload and delete documents. Set DOCRAG_AUTH__API_KEYS (or create a key with "
        "`docrag keys`), or bind 127.0.0.1 (DOCRAG_HOST)."
    )


@router.get("/health", response_model=HealthResponse)
def health(request: Request, parts: PartsDep) -> HealthResponse:
    """Liveness, and what this service is configured with (its default knowledge base's
    index). Never needs an API key."""
    parts.follow_index()
    return HealthResponse(
        status="ok",
        version=_version(),
        mode=parts.ask_service.mode,
        embedding_model=parts.index.model,
        index=parts.store.name,
        reindex_needed=parts.reindex_needed,
        chroma=parts.chroma_description,
        chat_model=parts.chat_model.name if parts.chat_model else None,
        reranker=parts.reranker.name,
        documents=parts.catalog.count(),
        chunks=parts.store.count(),
        auth=parts.keys.required,
        warnings=[
            w
            for w in [open_to_network_warning(request.app.state, parts.keys.required)]
            if w is not None
        ],
    )
