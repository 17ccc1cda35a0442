"""The errors ingest raises. `app/` maps each to an HTTP status in one table."""

from __future__ import annotations

# The (code, message) recorded for a failure that is not the file's fault.
UNEXPECTED_FAILURE = (
    "internal_error",
    "ingesting this file failed unexpectedly; the server log has details",
)


class DocumentMissing(LookupError):
    """No document has this id."""


class DocumentNotReady(RuntimeError):
    """The document is still being ingested (or failed): it cannot be replaced yet."""


class IngestStopped(Exception):
    """The service is shutting down: the document was left to be ingested again later."""


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached or refused the request."""


class EmbedderMismatch(RuntimeError):
    """The collection was built with another embedding model than the one configured."""
