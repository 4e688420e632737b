"""Embedding: backends behind the :class:`Embedder` protocol, the vector cache, model conversion.

- :mod:`.base`: the :class:`Embedder` protocol, :func:`cache_key`, :func:`text_hash`;
- :mod:`.backends`: the models (:func:`get_embedder` picks one by name);
- :mod:`.cache` and :mod:`.cached`: the on-disk vector store and :class:`CachedEmbedder`;
- :mod:`.documents`: documents -> vectors through their sentences (:func:`embed_documents`);
- :mod:`.model_cache`: the one-off, atomic conversion of the default model;
- :mod:`.onnx_backend`: the default model on ONNX Runtime (backends ``onnx`` and ``fast``).
"""

from amif_match.embedding.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_EMBEDDER,
    Me5SmallEmbedder,
    SentenceTransformerEmbedder,
    TfidfEmbedder,
    folder_fingerprint,
    get_embedder,
)
from amif_match.embedding.base import Embedder, cache_key, text_hash
from amif_match.embedding.cache import EmbeddingCache
from amif_match.embedding.cached import CachedEmbedder
from amif_match.embedding.documents import MAX_PASSAGES, embed_documents, passages

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_EMBEDDER",
    "MAX_PASSAGES",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "Me5SmallEmbedder",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "cache_key",
    "embed_documents",
    "folder_fingerprint",
    "get_embedder",
    "passages",
    "text_hash",
]
