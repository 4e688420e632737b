"""An :class:`~amif_match.embedding.base.Embedder` in front of the on-disk vector cache."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from amif_match.embedding.base import Embedder, cache_key, show_progress, text_hash
from amif_match.embedding.cache import EmbeddingCache
from amif_match.embedding.shipped import ShippedVectors
from amif_match.text import validate_texts

__all__ = ["CachedEmbedder"]


class CachedEmbedder:
    """Wrap an :class:`Embedder` so each distinct text is embedded once, ever.

    Used for the catalogue and the project corpus: the first run embeds them, later runs (and
    other processes) read the vectors back by content hash, under the wrapped embedder's
    :func:`cache_key`. Duplicates within a batch are embedded once too. A damaged, read-only or
    locked cache never fails a call: the vectors are computed and returned (see
    :class:`~amif_match.embedding.cache.EmbeddingCache`).

    ``shipped`` vectors (see :mod:`~.shipped`) are read first, so every install serves the
    released corpus vectors, whatever its own cache holds.
    """

    def __init__(
        self, embedder: Embedder, cache: EmbeddingCache, shipped: ShippedVectors | None = None
    ) -> None:
        self.embedder = embedder
        self.cache = cache
        self.shipped = shipped
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def cache_key(self) -> str | None:
        return cache_key(self.embedder)

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        items = validate_texts(texts)
        model_key = self.cache_key
        if model_key is None:
            self.misses += len(items)
            return self.embedder.encode(items, show_progress_bar=show_progress_bar)
        keys = [text_hash(t) for t in items]
        found = self.shipped.get(model_key, keys) if self.shipped is not None else {}
        if len(found) < len(set(keys)):
            found.update(self.cache.get(model_key, [k for k in keys if k not in found]))
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            if show_progress(show_progress_bar, len(missing)):
                # Say what the bar is for: on a new machine this is the one-off corpus embedding.
                print(
                    f"amif_match: embedding {len(missing)} texts not yet in the cache "
                    f"{self.cache.path} (done once per machine)",
                    file=sys.stderr,
                )
            by_key = dict(zip(keys, items, strict=True))
            vectors = self.embedder.encode(
                [by_key[k] for k in missing], show_progress_bar=show_progress_bar
            )
            fresh = dict(zip(missing, vectors, strict=True))
            self.cache.put(model_key, fresh)  # warns and carries on if it cannot be saved
            found.update(fresh)
        self.misses += len(missing)
        self.hits += len(items) - len(missing)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def __deepcopy__(self, memo: dict[int, Any]) -> CachedEmbedder:
        return self  # shares the wrapped model, like SentenceTransformerEmbedder

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.embedder!r}, cache={str(self.cache.path)!r})"
