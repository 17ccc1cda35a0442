"""Names: document ids, chunk ids, chunk collection names and the display name of an upload.

A document's id derives from its bytes. A chunk's id is `<document>:<ordinal>` in a
document's first generation and `<document>:g<generation>:<ordinal>` after a replace, where
the generation is the document's replace version (`DocumentRecord.generation`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime

# A replaced document keeps its id, so new bytes hashing to that id need another one.
ID_ATTEMPTS = 16

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]+")


def document_id_for(sha256: str, attempt: int = 0) -> str:
    """Ids derive from content, so the same bytes under any name are the same document.
    `attempt` > 0 gives the alternatives used when a replaced document holds the first one."""
    if attempt == 0:
        return sha256[:32]
    return hashlib.sha256(f"{sha256}:{attempt}".encode()).hexdigest()[:32]


def candidate_ids(sha256: str) -> list[str]:
    """Every id these bytes may be stored under, in the order they are tried."""
    return [document_id_for(sha256, attempt) for attempt in range(ID_ATTEMPTS)]


def chunk_id_for(document_id: str, ordinal: int, generation: int = 0) -> str:
    if generation == 0:
        return f"{document_id}:{ordinal}"
    return f"{document_id}:g{generation}:{ordinal}"


def chunk_generation(chunk_id: str) -> int:
    """The generation (see `DocumentRecord.generation`) a chunk id belongs to."""
    parts = chunk_id.split(":")
    if len(parts) == 3 and parts[1][:1] == "g" and parts[1][1:].isdigit():
        return int(parts[1][1:])
    return 0


def sibling_chunk_id(chunk_id: str, ordinal: int) -> str:
    """The id of chunk `ordinal` of the same document and generation as `chunk_id`."""
    return f"{chunk_id.rsplit(':', 1)[0]}:{ordinal}"


DEFAULT_KNOWLEDGE_BASE = "default"
# URL-safe and valid inside a Chroma collection name. No "_": a base's collections are its
# prefix, "_" and a suffix, so no base's prefix + "_" starts another base's collection name.
KNOWLEDGE_BASE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


def knowledge_base_prefix(prefix: str, knowledge_base: str) -> str:
    """The collection prefix of a knowledge base's collections (chunks, catalog, jobs, index
    pointer). The default base keeps the plain prefix, so a library from before knowledge
    bases is the default base as it stands, with nothing re-embedded."""
    if knowledge_base == DEFAULT_KNOWLEDGE_BASE:
        return prefix
    return f"{prefix}-kb-{knowledge_base}"


def first_chunk_collection(prefix: str) -> str:
    """The collection every docrag before reindex wrote to, and the first one now."""
    return f"{prefix}_chunks"


def new_chunk_collection(prefix: str) -> str:
    """A fresh collection name for a reindex; later names sort after earlier ones."""
    # Chroma names: 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric.
    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
    return f"{first_chunk_collection(prefix)}_r{stamp}"


def is_chunk_collection(prefix: str, name: str) -> bool:
    first = first_chunk_collection(prefix)
    return name == first or name.startswith(first + "_r")


def safe_filename(name: str | None) -> str:
    """A display name from an uploaded file name: no directories, no control characters.

    Stored files are named by document id, never by this name."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    return name[:255] or "upload"
