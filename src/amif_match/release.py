"""The release step: ship the corpus vectors and the heads for the default model and backend.

Run from a source checkout before building the wheel, whenever the corpus, the default model
or the default backend changes::

    python -m amif_match.release            # writes models/vectors.npz and models/heads.*

It embeds every text a Matcher needs on the bundled corpus (catalogue, projects, their
sentences, organisation profiles, the training texts of the heads), writes them to
``models/vectors.npz`` (float16, see :mod:`amif_match.embedding.shipped`), then trains the heads
on exactly those vectors, as a fresh install will read them, and saves them to ``models/``.
Then regenerate the model card: ``python -m amif_match.evaluate --card models/MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.embedding.base import Embedder, text_hash

__all__ = ["ship_vectors"]


class _Recorder:
    """An :class:`Embedder` that passes calls on and keeps every vector it returned."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        vectors = self.inner.encode(texts, show_progress_bar=show_progress_bar)
        for text, vector in zip(texts, vectors, strict=True):
            self.vectors[text_hash(text)] = vector
        return vectors


def ship_vectors(
    folder: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Write the default model's vectors of every bundled corpus text to ``folder``."""
    from amif_match.classification.training import fit_proposal_classifier
    from amif_match.corpus import Corpus
    from amif_match.embedding import CachedEmbedder, EmbeddingCache, get_embedder
    from amif_match.embedding.base import cache_key
    from amif_match.embedding.model_cache import cache_root
    from amif_match.embedding.shipped import VECTORS_FILE, write_vectors
    from amif_match.index import CatalogueIndex, ProjectIndex
    from amif_match.partners import fit_recommender

    embedder = get_embedder(cache_dir=cache_dir)
    store = CachedEmbedder(embedder, EmbeddingCache(cache_root(cache_dir) / "embeddings.sqlite"))
    recorder = _Recorder(store)
    corpus = Corpus.default()
    catalogue = CatalogueIndex.build(corpus, recorder)
    projects = ProjectIndex.build(corpus, recorder)
    fit_recommender(corpus, recorder, projects.vectors)
    fit_proposal_classifier(corpus, recorder, catalogue)  # every training text
    key = cache_key(embedder)
    if key is None:  # pragma: no cover - the default model always has a key
        raise RuntimeError("the default model has no cache key")
    path = write_vectors(Path(folder) / VECTORS_FILE, key, recorder.vectors)
    return {"path": str(path), "model": key, "texts": len(recorder.vectors)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="output folder (default: models/)")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    from amif_match.classification import model_folder
    from amif_match.matcher import Matcher

    folder = model_folder(args.models)
    start = time.perf_counter()
    shipped = ship_vectors(folder, cache_dir=args.cache_dir)
    size = Path(shipped["path"]).stat().st_size / 2**20
    print(f"{shipped['texts']} vectors of {shipped['model']} -> {shipped['path']} ({size:.1f} MiB)")
    # This Matcher's store reads the bundled file for the first time here, so it serves the
    # vectors just written: the heads learn from what a fresh install will read.
    Matcher(cache_dir=args.cache_dir).train(save_to=folder)
    print(f"heads -> {folder} ({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
