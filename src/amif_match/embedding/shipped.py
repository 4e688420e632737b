"""Vectors shipped with the package, so that a fresh install embeds only the user's text.

``models/vectors.npz`` holds the vectors of every catalogue and corpus text (documents,
passages, sentences, organisation profiles) for the default model and backend, as float16,
keyed by the model's cache key and each text's content hash (see
:func:`~amif_match.embedding.base.text_hash`). :class:`~.cached.CachedEmbedder` reads them
before its SQLite cache. Nothing needs invalidating: another model or backend has another key,
so the file is ignored; an edited or user-extended corpus has other hashes for the changed
texts, which are embedded (and cached) as usual. The file is written at release time by
``python -m amif_match.release``.

Like the cache, the file only saves time: a missing or damaged one is ignored with a
:class:`~amif_match.errors.CacheWarning`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from amif_match.errors import CacheWarning

__all__ = ["VECTORS_FILE", "ShippedVectors", "write_vectors"]

VECTORS_FILE = "vectors.npz"


class ShippedVectors:
    """Read-only vectors of one model, loaded on first use.

    Args:
        path: The ``.npz`` file (see :func:`write_vectors`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._index: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None
        self._model = ""
        self._lock = threading.Lock()

    @classmethod
    def bundled(cls) -> ShippedVectors:
        """The vectors shipped in the package's ``models/`` folder."""
        from amif_match._resources import bundled_path

        return cls(bundled_path("models") / VECTORS_FILE)

    @property
    def model_key(self) -> str:
        """Cache key of the model the vectors belong to (``""`` if there are none)."""
        self._load()
        return self._model

    def __len__(self) -> int:
        self._load()
        return len(self._index or {})

    def _load(self) -> None:
        if self._index is not None:
            return
        with self._lock:
            if self._index is not None:
                return
            index: dict[str, int] = {}
            if self.path.is_file():
                try:
                    with np.load(self.path, allow_pickle=False) as data:
                        keys = [k.decode("ascii") for k in data["hashes"]]
                        vectors = np.asarray(data["vectors"])
                        self._model = str(data["model"])
                    if vectors.ndim != 2 or len(vectors) != len(keys):
                        raise ValueError("hashes and vectors differ in length")
                    index = {k: i for i, k in enumerate(keys)}
                    self._vectors = vectors
                except Exception as exc:  # damaged: only speed is lost
                    warnings.warn(
                        f"amif_match: ignoring the shipped vectors {self.path} ({exc}); "
                        "the texts are embedded instead",
                        CacheWarning,
                        stacklevel=3,
                    )
                    self._model, self._vectors = "", None
                    index = {}
            self._index = index

    def get(self, model_key: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Float32 vectors of those ``keys`` (text hashes) shipped for ``model_key``."""
        self._load()
        if not self._index or model_key != self._model or self._vectors is None:
            return {}
        rows = {k: self._index[k] for k in keys if k in self._index}
        if not rows:
            return {}
        block = self._vectors[list(rows.values())].astype(np.float32)
        return dict(zip(rows, block, strict=True))

    def __repr__(self) -> str:
        return f"ShippedVectors({str(self.path)!r})"


def write_vectors(
    path: str | os.PathLike[str], model_key: str, vectors: Mapping[str, np.ndarray]
) -> Path:
    """Write ``{text hash: vector}`` of ``model_key`` as float16, atomically; returns the path.

    Rows are sorted by hash, so the same vectors always give the same file.
    """
    path = Path(path)
    keys = sorted(vectors)
    matrix = np.stack([np.asarray(vectors[k], dtype=np.float32) for k in keys])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            model=np.array(model_key),
            hashes=np.array([k.encode("ascii") for k in keys], dtype="S64"),
            vectors=matrix.astype(np.float16),
        )
    os.replace(tmp, path)
    return path
