"""The parts of one process, as `app/builders.py` builds them: what it builds once (the
Chroma client, the parse pool, the reranker, the chat model), the knowledge bases and their
keys, and one `Library` per knowledge base (app/library.py), opened through the builders'
own function as bases appear."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.access import Caller, KeyStore, Role
from app.base_sync import BaseSyncs
from app.config import Settings
from app.errors import DocragError, KnowledgeBaseExists, KnowledgeBaseNotFound
from app.library import IndexParts, Library, Shared, UsesShared
from app.query.answering import AskService
from app.query.dispatch import AnswerDispatch
from app.query.retrieval import HybridRetriever
from ingest import store as store_module
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder
from ingest.ids import DEFAULT_KNOWLEDGE_BASE
from ingest.jobs import IngestJobs
from ingest.knowledge_bases import KnowledgeBase, KnowledgeBaseStore, check_name
from ingest.pipeline import IngestPipeline
from ingest.reindex import ActiveIndex, IndexRegistry
from ingest.store import ChromaChunkStore

logger = logging.getLogger(__name__)

# How often a process re-reads the list of bases, to follow bases another process made or
# deleted (with a shared Chroma server).
BASES_CHECK_INTERVAL_S = 2.0


class Catalogs:
    """The catalogs of the bases a question is asked of, looked up as one."""

    def __init__(self, catalogs: Sequence[DocumentCatalog]) -> None:
        self._catalogs = list(catalogs)

    def get_many(self, document_ids: list[str]) -> dict[str, DocumentRecord]:
        found: dict[str, DocumentRecord] = {}
        for catalog in self._catalogs:
            missing = [d for d in document_ids if d not in found]
            if not missing:
                break
            found.update(catalog.get_many(missing))
        return found


class DefaultBaseKept(DocragError, status=409, code="default_knowledge_base"):
    """The default knowledge base cannot be deleted."""


@dataclass
class Parts(UsesShared):
    """The parts of one process."""

    shared: Shared
    bases: KnowledgeBaseStore
    keys: KeyStore
    libraries: dict[str, Library]
    syncs: BaseSyncs
    # A base's parts, with the embedding model to reuse (None: the base loads its own).
    open_library: Callable[[KnowledgeBase, Embedder | None], Library]
    # One answer service over several bases' (a question asked of them all).
    federate: Callable[[list[AskService]], AnswerDispatch]
    embedder: Embedder | None = None  # handed in (tests): every base uses it
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _listed_at: float = field(default=0.0, repr=False)
    _started: bool = field(default=False, repr=False)

    @property
    def settings(self) -> Settings:
        return self.shared.settings

    # --- knowledge bases

    def library(self, name: str) -> Library:
        """The parts of a base; raises `KnowledgeBaseNotFound`. Follows bases that another
        process sharing the Chroma server made or deleted."""
        with self._lock:
            self._follow_bases()
            found = self.libraries.get(name)
        if found is None:
            raise KnowledgeBaseNotFound(name)
        return found

    def library_for(self, caller: Caller, name: str, role: Role) -> Library:
        """The one scope check every face makes: the key's role on the base, then the base's
        parts, switched to the index `docrag reindex` made active."""
        caller.require(name, role)
        library = self.library(name)
        library.follow_index()
        return library

    def answering(
        self, caller: Caller, names: Sequence[str]
    ) -> tuple[list[Library], Catalogs, AnswerDispatch]:
        """What answers a question asked of these bases (each checked for the caller), and
        their catalogs as one, where the question's document ids must be."""
        libraries = [self.library_for(caller, name, "read") for name in dict.fromkeys(names)]
        catalogs = Catalogs([library.catalog for library in libraries])
        if len(libraries) == 1:
            return libraries, catalogs, libraries[0].answers
        return libraries, catalogs, self.federate([lib.ask_service for lib in libraries])

    def readable_by(self, caller: Caller) -> list[Library]:
        return [lib for lib in self.all_libraries() if caller.role_on(lib.name) is not None]

    def all_libraries(self) -> list[Library]:
        with self._lock:
            self._follow_bases()
            return list(self.libraries.values())

    def create_base(self, base: KnowledgeBase) -> Library:
        check_name(base.name)
        with self._lock:
            self._follow_bases(force=True)
            if base.name in self.libraries:
                raise KnowledgeBaseExists(base.name)
            base = self.bases.put(base)
            return self._open(base)

    def update_base(self, base: KnowledgeBase) -> Library:
        """Records what a base sets for itself and rebuilds its parts with it."""
        with self._lock:
            self.bases.put(base)
            old = self.libraries.pop(base.name, None)
            self.syncs.unbind(base.name)
            if old is not None:
                old.request_stop()
                old.close()
            return self._open(base)

    def sync_status(self, name: str) -> dict[str, object] | None:
        """The folder sync of a base, when it is bound to a folder."""
        return self.syncs.status(name)

    def delete_base(self, name: str) -> None:
        """Removes a base: its chunks, lexical entries, catalog, jobs, stored files and keys."""
        if name == DEFAULT_KNOWLEDGE_BASE:
            raise DefaultBaseKept(
                "the default knowledge base cannot be deleted; delete its documents instead"
            )
        library = self.library(name)
        with self._lock:
            self.libraries.pop(name, None)
        self.syncs.unbind(name)
        library.request_stop()
        library.close()
        prefix = library.settings.chroma.collection
        for collection in store_module.collection_names(self.client):
            if collection.startswith(prefix + "_"):
                store_module.drop_collection(self.client, collection)
        lexical = self.settings.data_dir / "lexical"
        if lexical.is_dir():
            for directory in lexical.iterdir():
                if directory.name == prefix or directory.name.startswith(prefix + "_"):
                    shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(library.settings.base_dir, ignore_errors=True)
        self.keys.delete_for(name)
        self.bases.delete(name)
        logger.info("deleted knowledge base %s", name)

    def _follow_bases(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._listed_at < BASES_CHECK_INTERVAL_S:
            return
        self._listed_at = now
        try:
            listed = {base.name: base for base in self.bases.all()}
        except Exception as e:  # Chroma unreachable: the request itself will say so
            logger.warning("cannot read the list of knowledge bases: %s", e)
            return
        for name in list(self.libraries):
            if name not in listed:
                self.syncs.unbind(name)
                gone = self.libraries.pop(name)
                gone.request_stop()
                gone.close()
        for name, base in listed.items():
            if name not in self.libraries:
                self._open(base)

    def _open(self, base: KnowledgeBase) -> Library:
        default = self.libraries.get(DEFAULT_KNOWLEDGE_BASE)
        embedder = self.embedder
        if embedder is None and default is not None and not default.reindex_needed:
            embedder = default.embedder  # loaded once per process
        library = self.open_library(base, embedder)
        self.libraries[base.name] = library
        if self._started:
            library.start_background_work()
        self.syncs.bind(library, start=self._started)
        return library

    def open_bases(self) -> None:
        """Opens the default base, then every other (they reuse its embedding model)."""
        with self._lock:
            self._open(
                self.bases.get(DEFAULT_KNOWLEDGE_BASE) or KnowledgeBase(DEFAULT_KNOWLEDGE_BASE)
            )
            self._follow_bases(force=True)

    # --- the default base's parts, for callers outside a request (CLI, MCP, tests)

    @property
    def default(self) -> Library:
        return self.libraries[DEFAULT_KNOWLEDGE_BASE]

    @property
    def current(self) -> IndexParts:
        return self.default.current

    @property
    def catalog(self) -> DocumentCatalog:
        return self.default.catalog

    @property
    def registry(self) -> IndexRegistry:
        return self.default.registry

    @property
    def jobs(self) -> IngestJobs | None:
        return self.default.jobs

    @property
    def store(self) -> ChromaChunkStore:
        return self.default.store

    @property
    def pipeline(self) -> IngestPipeline:
        return self.default.pipeline

    @property
    def retriever(self) -> HybridRetriever:
        return self.default.retriever

    @property
    def ask_service(self) -> AskService:
        return self.default.ask_service

    @property
    def answers(self) -> AnswerDispatch:
        return self.default.answers

    @property
    def index(self) -> ActiveIndex:
        return self.default.index

    @property
    def reindex_needed(self) -> bool:
        return self.default.reindex_needed

    @property
    def chroma_description(self) -> str:
        return self.default.chroma_description

    def follow_index(self, max_age_s: float = 1.0) -> bool:
        return self.default.follow_index(max_age_s)

    # --- lifecycle

    def start_background_work(self) -> None:
        """Resumes every base's unfinished jobs and starts the job workers: only the API
        server does this, never a CLI command."""
        with self._lock:
            self._started = True
            for library in self.libraries.values():
                library.start_background_work()
                self.syncs.bind(library, start=True)  # a watched folder catches up first

    def close(self) -> None:
        self.syncs.close()
        with self._lock:
            libraries = list(self.libraries.values())
        for library in libraries:
            library.request_stop()
        if self.parser is not None:
            self.parser.close()  # a job's parse in progress ends now; the job is requeued
        for library in libraries:
            library.close()
