from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from app.api.deps import ContainerDep
from app.api.schemas import HealthResponse

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return version("docrag")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=HealthResponse)
def health(container: ContainerDep) -> HealthResponse:
    """Liveness, and what this service is configured with. Never needs an API key."""
    return HealthResponse(
        status="ok",
        version=_version(),
        mode=container.ask_service.mode,
        embedding_model=container.index.model if container.index else "",
        index=container.store.name,
        reindex_needed=container.reindex_needed,
        chroma=container.chroma_description,
        chat_model=container.chat_model.name if container.chat_model else None,
        reranker=container.reranker.name,
        documents=container.catalog.count(),
        chunks=container.store.count(),
        auth=bool(container.settings.auth.api_keys),
    )
