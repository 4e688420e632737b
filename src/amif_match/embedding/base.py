"""The :class:`Embedder` protocol and what every embedder shares: cache keys, text hashes, progress.

Every backend follows the small :class:`Embedder` protocol: ``encode(texts)`` returns an
``(n, dim)`` float32 array of L2-normalised rows, and ``name`` is the model's stable display
name (recorded with trained heads and in results). The on-disk cache keys vectors by the
embedder's ``cache_key`` instead (see :func:`cache_key`), which identifies the exact weights, so
cached vectors are never mixed between models or between versions of one model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["PROGRESS_THRESHOLD", "Embedder", "cache_key", "show_progress", "text_hash"]

#: Batches at least this long show a progress bar unless ``show_progress_bar=False``.
PROGRESS_THRESHOLD = 256


@runtime_checkable
class Embedder(Protocol):
    """What amif_match needs from an embedding model."""

    @property
    def name(self) -> str:
        """Stable display name of the model (results, and the embedder trained heads expect)."""
        ...

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        """Embed ``texts`` into an ``(len(texts), dim)`` float32 array of unit-length rows."""
        ...


_NO_KEY = object()


def cache_key(embedder: Any) -> str | None:
    """The key under which the embedding cache stores ``embedder``'s vectors.

    An embedder may define a ``cache_key`` attribute naming its exact weights (the built-in
    backends do); ``None`` there means "do not cache". Embedders without one are keyed by their
    ``name``, so a custom embedder should put a version in its name or define ``cache_key``.
    """
    key = getattr(embedder, "cache_key", _NO_KEY)
    return str(embedder.name) if key is _NO_KEY else key


def text_hash(text: str) -> str:
    """Content hash used as the cache key of one text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def show_progress(flag: bool | None, n: int) -> bool:
    """Whether to show a progress bar: ``flag`` if given, else for batches of at least
    :data:`PROGRESS_THRESHOLD` texts unless ``AMIF_MATCH_PROGRESS=0``."""
    if flag is not None:
        return flag
    return n >= PROGRESS_THRESHOLD and os.environ.get("AMIF_MATCH_PROGRESS", "1") != "0"
