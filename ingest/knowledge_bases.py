"""Knowledge bases: named libraries, each with collections of its own (chunks, catalog, jobs,
index pointer, lexical index) and its own stored originals. Their list is a record collection
beside them, so every API process sharing a Chroma server sees the same bases."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from ingest.ids import DEFAULT_KNOWLEDGE_BASE, KNOWLEDGE_BASE_NAME
from ingest.store import MetadataValue, RecordStore

Profile = Literal["generic", "filings"]


class KnowledgeBaseNameInvalid(ValueError):
    """A knowledge base name that is not URL-safe."""


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """A base and what it sets for itself; None means the service's setting."""

    name: str
    created_at: str = ""
    profile: Profile | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    sync_folder: str | None = None  # a folder the base follows
    watch: bool = False  # followed as it changes while `serve` runs (else: `docrag sync`)

    def updated(self, **changes: object) -> KnowledgeBase:
        return replace(self, **changes)  # type: ignore[arg-type]


def check_name(name: str) -> str:
    if not KNOWLEDGE_BASE_NAME.fullmatch(name):
        raise KnowledgeBaseNameInvalid(
            f"{name!r} is not a knowledge base name: use 1-48 lower-case letters, digits or '-', "
            "starting with a letter or digit (for example 'finance' or 'hr-2026')"
        )
    return name


def _flat(base: KnowledgeBase) -> dict[str, MetadataValue]:
    flat: dict[str, MetadataValue] = {"name": base.name, "created_at": base.created_at}
    for key in ("profile", "chunk_size", "chunk_overlap", "sync_folder"):
        value = getattr(base, key)
        if value is not None:
            flat[key] = value
    flat["watch"] = base.watch
    return flat


def _base(flat: dict[str, MetadataValue]) -> KnowledgeBase:
    def number(key: str) -> int | None:
        value = flat.get(key)
        return int(value) if isinstance(value, int | float) else None

    profile = flat.get("profile")
    folder = flat.get("sync_folder")
    return KnowledgeBase(
        name=str(flat.get("name", "")),
        created_at=str(flat.get("created_at", "")),
        profile=profile if profile in ("generic", "filings") else None,  # type: ignore[arg-type]
        chunk_size=number("chunk_size"),
        chunk_overlap=number("chunk_overlap"),
        sync_folder=str(folder) if folder else None,
        watch=bool(flat.get("watch", False)),
    )


class KnowledgeBaseStore:
    """The list of bases. The default base is always there, recorded or not, so a library
    from before knowledge bases needs no migration."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records

    def all(self) -> list[KnowledgeBase]:
        bases = {name: _base(flat) for name, flat in self._records.all().items()}
        bases.setdefault(DEFAULT_KNOWLEDGE_BASE, KnowledgeBase(DEFAULT_KNOWLEDGE_BASE))
        return sorted(bases.values(), key=lambda b: (b.name != DEFAULT_KNOWLEDGE_BASE, b.name))

    def get(self, name: str) -> KnowledgeBase | None:
        found = self._records.get([name]).get(name)
        if found is not None:
            return _base(found[0])
        if name == DEFAULT_KNOWLEDGE_BASE:
            return KnowledgeBase(DEFAULT_KNOWLEDGE_BASE)
        return None

    def put(self, base: KnowledgeBase) -> KnowledgeBase:
        check_name(base.name)
        if not base.created_at:
            base = base.updated(created_at=datetime.now(UTC).isoformat())
        self._records.put(base.name, _flat(base))
        return base

    def delete(self, name: str) -> None:
        self._records.delete([name])
