"""Embedding: backends behind the :class:`Embedder` protocol, the vector cache, model conversion."""

from amif_match.embedding.backends import (
    DEFAULT_EMBEDDER,
    CachedEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    TfidfEmbedder,
    cache_key,
    embed_documents,
    folder_fingerprint,
    get_embedder,
    passages,
    text_hash,
)
from amif_match.embedding.cache import EmbeddingCache

__all__ = [
    "DEFAULT_EMBEDDER",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "cache_key",
    "embed_documents",
    "folder_fingerprint",
    "get_embedder",
    "passages",
    "text_hash",
]
