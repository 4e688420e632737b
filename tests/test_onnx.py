"""The opt-in ``me5-small-onnx`` backend: quality against fp32, integrity of its cache, no torch.

The int8 model is exported once per cache (into the same user cache as the default model, so
later sessions reuse it); the first export takes ~35 s on 2 cores.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from amif_match.embedding import get_embedder, onnx_backend
from amif_match.embedding.model_cache import MANIFEST

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _texts() -> list[str]:
    """~100 corpus texts (summaries and descriptions) plus every catalogue name."""
    texts: list[str] = []
    with open(CORPUS / "projects.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for column in ("summary_en", "description_fi", "description"):
        texts += [r[column] for r in rows if r[column].strip()][:34]
    for table, columns in (
        ("activities", ("name_fi", "name_sv", "name_en")),
        ("objectives", ("name_fi", "name_sv", "name_en")),
        ("target_groups", ("term_fi", "term_sv", "term_en")),
    ):
        with open(CORPUS / f"{table}.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                texts += [row[c] for c in columns if row[c].strip()]
    return texts


@pytest.fixture(scope="session")
def onnx_folder():
    """The exported int8 model in the default cache (exported here if missing; timed)."""
    start = time.perf_counter()
    folder = onnx_backend.ensure_onnx_model()
    print(f"\nensure_onnx_model: {time.perf_counter() - start:.1f} s")
    return folder


@pytest.fixture(scope="session")
def onnx_embedder(onnx_folder):
    return get_embedder(onnx_backend.ONNX_EMBEDDER)


def test_close_to_fp32(onnx_embedder, embedder):
    texts = _texts()
    assert len(texts) > 300
    fast = onnx_embedder.encode(texts)
    ref = embedder.encode(texts)
    assert fast.shape == ref.shape == (len(texts), 384)
    assert fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cos = (fast * ref).sum(axis=1)
    print(f"\ncosine to fp32 over {len(texts)} texts: mean {cos.mean():.4f}, min {cos.min():.4f}")
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.98


def test_own_name_and_cache_key(onnx_embedder, embedder):
    assert onnx_embedder.name == "me5-small-onnx"
    assert onnx_embedder.cache_key.startswith("me5-small-onnx@")
    assert onnx_embedder.cache_key != embedder.cache_key
    texts = ["kotoutumiskoulutus", "Return counselling for rejected asylum seekers " * 5, "ja"]
    batched = onnx_embedder.encode(texts)
    np.testing.assert_array_equal(onnx_embedder.encode(texts), batched)  # deterministic
    # Activations are quantised per batch, so a text's vector depends on its batch, slightly.
    one_by_one = np.vstack([onnx_embedder.encode([t]) for t in texts])
    cos = (batched * one_by_one).sum(axis=1)
    print(f"\nbatched vs one by one: min cosine {cos.min():.4f}")
    assert cos.min() >= 0.995


def test_corrupt_model_is_rebuilt(onnx_folder, tmp_path, monkeypatch):
    target = onnx_backend.onnx_model_dir(tmp_path)
    target.parent.mkdir(parents=True)
    shutil.copytree(onnx_folder, target)
    onnx_backend.ensure_onnx_model(tmp_path)  # intact: kept as is
    model = target / onnx_backend.MODEL_FILE
    with open(model, "r+b") as fh:  # flip bytes in the middle, same size
        fh.seek(model.stat().st_size // 2)
        fh.write(b"\x00garbage\x00")

    exports = []

    def fake_export(out, cache_dir=None):  # a real export is covered by the fixture
        exports.append(out)
        for name in (onnx_backend.MODEL_FILE, onnx_backend.TOKENIZER_FILE):
            shutil.copyfile(onnx_folder / name, out / name)

    monkeypatch.setattr(onnx_backend, "export_from_cache", fake_export)
    assert onnx_backend.ensure_onnx_model(tmp_path) == target
    assert len(exports) == 1
    assert model.read_bytes() == (onnx_folder / onnx_backend.MODEL_FILE).read_bytes()
    (target / MANIFEST).write_text("[]", encoding="utf-8")  # a damaged manifest too
    onnx_backend.ensure_onnx_model(tmp_path)
    assert len(exports) == 2
    e = onnx_backend.OnnxMe5Embedder(cache_dir=tmp_path)
    assert e.encode(["paluuneuvonta"]).shape == (1, 384)


NO_TORCH = """
import sys
from amif_match.embedding import get_embedder
e = get_embedder("me5-small-onnx")
v = e.encode(["Kotoutumiskoulutusta maahanmuuttajanaisille", "return counselling"])
assert v.shape == (2, 384), v.shape
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_no_torch_on_the_inference_path(onnx_folder):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout


def test_missing_extra_names_it(monkeypatch):
    from amif_match.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r"amif-match\[onnx\]"):
        onnx_backend.OnnxMe5Embedder(cache_dir="/nonexistent").encode(["x"])
