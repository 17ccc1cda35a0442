"""The lexical (BM25) index beside Chroma.

Local Chroma has no BM25, so docrag keeps its own: tantivy segments on disk with docrag's
tokens (`engine`), written incrementally with each document and kept in step across
processes by a change feed in Chroma (`index`, `feed`). It also keeps each chunk's vector,
for exact filtered dense search (`roles.ChunkVectors`).
"""

from ingest.lexical.engine import MatchingChunks
from ingest.lexical.feed import ChangeFeed
from ingest.lexical.fusion import fuse_rankings
from ingest.lexical.index import IndexedChunkStore, LexicalHit, LexicalIndex, indexed_text
from ingest.lexical.roles import ChunkVectors, LexicalSearch
from ingest.lexical.tokens import CjkMode, Tokenizer, has_cjk

__all__ = [
    "ChangeFeed",
    "ChunkVectors",
    "CjkMode",
    "IndexedChunkStore",
    "LexicalHit",
    "LexicalIndex",
    "LexicalSearch",
    "MatchingChunks",
    "Tokenizer",
    "fuse_rankings",
    "has_cjk",
    "indexed_text",
]
