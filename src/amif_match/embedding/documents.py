"""Documents -> vectors: each document through its sentences (or passages of them).

The sentence (or passage) split made here is the one classification evidence is aligned with,
so :data:`MAX_PASSAGES` is the one limit both use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amif_match.embedding.base import Embedder

__all__ = ["MAX_PASSAGES", "embed_documents", "passages"]

#: Documents with more sentences than this are embedded as this many passages of consecutive
#: sentences (bounds memory for very long inputs). Anything that re-splits a document to line
#: up with its sentence vectors (classification evidence) must use this same number.
MAX_PASSAGES = 1000


def embed_documents(
    embedder: Embedder,
    docs: Sequence[Any],
    *,
    show_progress_bar: bool | None = None,
    max_passages: int = MAX_PASSAGES,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embed documents through their sentences.

    Each document's sentences are embedded in one batch with all the others; the document
    vector is the word-count-weighted mean of its sentence vectors, re-normalised. This handles
    texts of any length (the model sees at most 512 tokens at a time), costs about the same as
    embedding the whole text once, and yields the per-sentence vectors that evidence needs.

    Args:
        embedder: Any :class:`Embedder`.
        docs: :class:`~amif_match.text.NormalisedText` objects or plain strings (normalised
            here).
        max_passages: Documents with more sentences are embedded as this many passages of
            consecutive sentences, which bounds memory for very long inputs.

    Returns:
        ``(doc_vectors, sentence_vectors)``: an ``(n, dim)`` array and, per document, an
        ``(m_i, dim)`` array aligned with its (possibly merged) sentences.
    """
    from amif_match.text import NormalisedText
    from amif_match.text.normalise import sentences_of

    units: list[list[str]] = []
    for i, doc in enumerate(docs):
        sentences = (
            doc.sentences if isinstance(doc, NormalisedText) else sentences_of(doc, position=i)
        )
        units.append(passages(list(sentences), max_passages))
    flat = [s for sentences in units for s in sentences]
    vectors = embedder.encode(flat, show_progress_bar=show_progress_bar)
    doc_vectors = np.empty((len(units), vectors.shape[1]), dtype=np.float32)
    per_doc: list[np.ndarray] = []
    start = 0
    for i, sentences in enumerate(units):
        block = vectors[start : start + len(sentences)]
        start += len(sentences)
        weights = np.array([len(s.split()) for s in sentences], dtype=np.float32)
        mean = (block * weights[:, None]).sum(axis=0)
        norm = np.linalg.norm(mean)
        doc_vectors[i] = mean / norm if norm > 0 else mean
        per_doc.append(block)
    return doc_vectors, per_doc


def passages(sentences: list[str], max_passages: int) -> list[str]:
    """Merge consecutive sentences into at most ``max_passages`` passages of similar length."""
    if len(sentences) <= max_passages:
        return sentences
    size = -(-len(sentences) // max_passages)
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]
