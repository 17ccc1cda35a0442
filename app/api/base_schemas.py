"""Requests and responses of the knowledge-base and key routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["read", "write", "admin"]
_NAME = r"^[a-z0-9][a-z0-9-]{0,47}$"


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=_NAME,
        description="1-48 lower-case letters, digits or '-' (it appears in URLs and as the "
        "model docrag/<name>)",
    )
    profile: Literal["generic", "filings"] | None = Field(
        None, description="what the question path knows about its documents (unset: the service's)"
    )
    chunk_size: int | None = Field(
        None, ge=16, le=8192, description="chunk length in tokens (unset: the service's)"
    )
    chunk_overlap: int | None = Field(
        None,
        ge=0,
        le=4096,
        description="tokens shared by consecutive chunks (unset: the service's)",
    )
    sync_folder: str | None = Field(
        None,
        max_length=4096,
        description="a folder on the server that the base follows (inside one of "
        "DOCRAG_SYNC__ROOTS)",
    )
    watch: bool = Field(False, description="follow the folder as it changes while the service runs")


class KnowledgeBaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Literal["generic", "filings"] | None = None
    chunk_size: int | None = Field(None, ge=16, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)
    sync_folder: str | None = Field(None, max_length=4096)
    watch: bool | None = None


class SyncFailurePublic(BaseModel):
    path: str
    error: str


class SyncStatusPublic(BaseModel):
    folder: str
    watch: bool
    state: str = Field(description="idle, syncing, or error (with the reason in `error`)")
    files: int = Field(0, description="files of the folder in step with their document")
    failed: list[SyncFailurePublic] = Field(
        default_factory=list, description="files that could not be read (tried again once changed)"
    )
    skipped: list[SyncFailurePublic] = Field(
        default_factory=list, description="files not read: unsupported types, duplicates"
    )
    last_pass_at: str | None = None
    error: str | None = None


class KnowledgeBasePublic(BaseModel):
    name: str
    created_at: str
    documents: int = Field(description="documents in the base's catalog")
    role: Role = Field(description="what the API key of the request may do in this base")
    profile: Literal["generic", "filings"]
    chunk_size: int
    chunk_overlap: int
    model: str = Field(description="the model serving it on /v1: docrag/<name>")
    sync: SyncStatusPublic | None = None


class KnowledgeBasesPublic(BaseModel):
    data: list[KnowledgeBasePublic]
    count: int


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    knowledge_base: str = Field(
        pattern=r"^(\*|[a-z0-9][a-z0-9-]{0,47})$",
        description="the base the key opens, or '*' for every base",
    )
    role: Role = Field(description="read, write or admin")
    label: str = Field("", max_length=200, description="a note to recognise the key by")


class KeyPublic(BaseModel):
    id: str = Field(description="shown in listings and used to revoke the key")
    knowledge_base: str
    role: Role
    label: str
    created_at: str


class KeyCreated(KeyPublic):
    key: str = Field(description="the secret: shown once, never stored in clear")


class KeysPublic(BaseModel):
    data: list[KeyPublic]
    count: int
