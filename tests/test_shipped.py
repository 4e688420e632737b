"""Vectors shipped in ``models/vectors.npz``: a fresh install embeds only the user's text."""

from __future__ import annotations

import sqlite3
import warnings

import numpy as np
import pytest

from amif_match.embedding.model_cache import cache_root
from amif_match.embedding.shipped import VECTORS_FILE, ShippedVectors, write_vectors
from amif_match.errors import CacheWarning


def _rows(path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_fresh_install_embeds_only_the_proposal(embedder, tmp_path):
    """A new cache (models linked, no embeddings) builds everything from the shipped file."""
    from amif_match import Matcher

    (tmp_path / "models").symlink_to(cache_root() / "models", target_is_directory=True)
    fresh = Matcher(cache_dir=tmp_path)
    result = fresh.classify("Kotoutumiskoulutusta ja kielikursseja maahanmuuttajanaisille.")
    assert result.objective == "SO2"
    fresh.suggest_partners("Kotoutumiskoulutusta maahanmuuttajanaisille.", k=3)
    fresh.training_signals()  # what `amif-match train` embeds, too
    # The proposal itself is embedded without the cache; every corpus text came shipped.
    assert _rows(tmp_path / "embeddings.sqlite") == 0


def test_shipped_file_belongs_to_the_default_backend(embedder):
    shipped = ShippedVectors.bundled()
    assert shipped.path.name == VECTORS_FILE
    assert shipped.model_key == embedder.cache_key
    assert 5000 < len(shipped) < 20000
    assert shipped.path.stat().st_size < 15 * 2**20  # the bound on the wheel's growth


def test_shipped_vectors_match_a_fresh_encoding(embedder):
    from amif_match.corpus import Corpus
    from amif_match.embedding import text_hash
    from amif_match.text import normalise

    texts = [normalise(t).sentences[0] for t in Corpus.default().project_texts("fi")[:20]]
    shipped = ShippedVectors.bundled().get(embedder.cache_key, [text_hash(t) for t in texts])
    assert len(shipped) == len(texts)
    fresh = embedder.encode(texts)
    for text, vector in zip(texts, fresh, strict=True):
        assert float(shipped[text_hash(text)] @ vector) > 0.9995  # float16 rounding only


def test_round_trip_other_key_and_damage(tmp_path):
    rng = np.random.default_rng(0)
    vectors = {f"{i:064x}": rng.standard_normal(8).astype(np.float32) for i in range(5)}
    path = write_vectors(tmp_path / "v.npz", "model@1", vectors)
    shipped = ShippedVectors(path)
    got = shipped.get("model@1", [*vectors, "f" * 64])
    assert set(got) == set(vectors)
    for key, vector in vectors.items():
        np.testing.assert_allclose(got[key], vector, rtol=1e-3, atol=1e-3)
    assert ShippedVectors(path).get("another-model@2", list(vectors)) == {}
    assert ShippedVectors(tmp_path / "missing.npz").get("model@1", list(vectors)) == {}

    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(CacheWarning, match="ignoring the shipped vectors"):
        assert ShippedVectors(path).get("model@1", list(vectors)) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_vectors(path, "model@1", vectors)  # rewritten atomically
        assert len(ShippedVectors(path).get("model@1", list(vectors))) == 5
