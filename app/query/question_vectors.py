"""A question's embedding, computed once per question whoever asks for it.

Retrieval embeds the question to search; the extractive answerer embeds it again to rank
the sentences of the hits. Both ask here, with the same embedder, and the second is answered
from the few questions kept per embedder (not for ever: a weak reference lets an embedder go
with the parts that built it)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from ingest.embedding import Embedder

# Questions in flight at once, and the follow-ups of a conversation, fit in this many.
KEPT_PER_EMBEDDER = 64

_lock = threading.Lock()
_kept: weakref.WeakKeyDictionary[Embedder, OrderedDict[str, list[float]]] = (
    weakref.WeakKeyDictionary()
)


def question_vector(embedder: Embedder, text: str) -> list[float]:
    """`embedder.embed_query(text)`, computed once for the last `KEPT_PER_EMBEDDER`
    questions."""
    with _lock:
        try:
            kept = _kept.setdefault(embedder, OrderedDict())
        except TypeError:  # an embedder that cannot be weakly referenced or hashed
            kept = OrderedDict()
        vector = kept.get(text)
        if vector is not None:
            kept.move_to_end(text)
            return vector
    vector = embedder.embed_query(text)
    with _lock:
        kept[text] = vector
        while len(kept) > KEPT_PER_EMBEDDER:
            kept.popitem(last=False)
    return vector
