from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from app.api.deps import PartsDep
from app.api.schemas import HealthResponse

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return version("docrag")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=HealthResponse)
def health(parts: PartsDep) -> HealthResponse:
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
    )
