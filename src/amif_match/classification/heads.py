"""Supervised heads on sentence embeddings, and their safe on-disk format.

:class:`EmbeddingClassifier` follows scikit-learn's estimator protocol (through
:class:`~amif_match.estimator.Estimator`, so predicting never imports scikit-learn):
``__init__`` only stores its keyword arguments, ``fit(X, y)`` returns ``self``, learned
attributes end in ``_``, and it has ``predict`` / ``predict_proba``, so it works in pipelines,
``cross_val_predict`` and grid searches. ``X`` is a list of texts (embedded with ``embedder``)
or an already embedded array.

Fitted heads are stored as plain numpy arrays (``.npz``, loaded with ``allow_pickle=False``) plus
JSON, never as pickles, so loading a model file can not run code.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.errors import HeadsError
from amif_match.estimator import Estimator

__all__ = ["EmbeddingClassifier", "HeadsError", "load_heads", "save_heads"]


def _embed(X: Any, embedder: Any) -> np.ndarray:
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array of embeddings, got shape {X.shape}")
        return X.astype(np.float32, copy=False)
    from amif_match.embedding import embed_documents, get_embedder

    if embedder is None:
        raise ValueError(
            "this head has no embedder (heads loaded from models/ work on vectors): pass an "
            "(n, dim) array of embeddings, or create the head with embedder='me5-small'"
        )
    model = get_embedder(embedder) if isinstance(embedder, str) else embedder
    vectors, _ = embed_documents(model, list(X))
    return vectors


class EmbeddingClassifier(Estimator):
    """Logistic regression on document embeddings, single- or multi-label.

    Args:
        embedder: Embedder name (see :func:`~amif_match.embedding.get_embedder`) or instance,
            used when ``X`` holds texts.
        C: Inverse regularisation strength.
        multilabel: ``y`` holds label lists (one-vs-rest) instead of one label per row.
        min_positive: In multi-label mode, labels with fewer positive examples get no model
            (their probability is the training frequency).
        class_weight: Passed to :class:`~sklearn.linear_model.LogisticRegression`.

    Learned attributes:
        classes_: Label names, in column order of :meth:`predict_proba`.
        coef_, intercept_: One row/value per class (multinomial) or per label (multi-label).
        prior_: Training frequency of each label (multi-label).
    """

    _estimator_type = "classifier"

    def __init__(
        self,
        embedder: Any = "me5-small",
        *,
        C: float = 4.0,
        multilabel: bool = False,
        min_positive: int = 2,
        class_weight: str | None = "balanced",
    ) -> None:
        self.embedder = embedder
        self.C = C
        self.multilabel = multilabel
        self.min_positive = min_positive
        self.class_weight = class_weight

    def fit(self, X: Any, y: Sequence[Any], sample_weight: Any = None) -> EmbeddingClassifier:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import MultiLabelBinarizer

        vectors = _embed(X, self.embedder)
        if len(vectors) != len(y):
            raise ValueError(f"X has {len(vectors)} rows but y has {len(y)} labels")
        if self.multilabel:
            binarizer = MultiLabelBinarizer()
            Y = binarizer.fit_transform([list(labels) for labels in y])
            self.classes_ = np.array(binarizer.classes_, dtype=object)
            dim = vectors.shape[1]
            self.coef_ = np.zeros((len(self.classes_), dim), dtype=np.float32)
            self.intercept_ = np.zeros(len(self.classes_), dtype=np.float32)
            self.prior_ = Y.mean(axis=0).astype(np.float32)
            self.active_ = np.zeros(len(self.classes_), dtype=bool)
            for j in range(len(self.classes_)):
                positives = int(Y[:, j].sum())
                if positives < self.min_positive or positives == len(Y):
                    p = np.clip(self.prior_[j], 1e-3, 1 - 1e-3)
                    self.intercept_[j] = np.log(p / (1 - p))
                    continue
                model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
                model.fit(vectors, Y[:, j], sample_weight=sample_weight)
                self.coef_[j] = model.coef_[0]
                self.intercept_[j] = model.intercept_[0]
                self.active_[j] = True
        else:
            model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
            model.fit(vectors, np.asarray(y), sample_weight=sample_weight)
            self.classes_ = model.classes_.astype(object)
            if len(self.classes_) == 2:  # sklearn stores one row for binary problems
                self.coef_ = np.vstack([-model.coef_[0], model.coef_[0]]).astype(np.float32) / 2
                self.intercept_ = np.array(
                    [-model.intercept_[0] / 2, model.intercept_[0] / 2], dtype=np.float32
                )
            else:
                self.coef_ = model.coef_.astype(np.float32)
                self.intercept_ = model.intercept_.astype(np.float32)
        self.n_features_in_ = vectors.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        vectors = _embed(X, self.embedder)
        if vectors.shape[1] != self.coef_.shape[1]:
            message = (
                f"this head expects {self.coef_.shape[1]}-dimensional embeddings, got "
                f"{vectors.shape[1]} (it was trained with another embedding model)"
            )
            source = getattr(self, "source_", None)
            if source is not None:  # loaded from disk: name the file
                raise HeadsError(message, file=source)
            raise ValueError(message)
        return vectors @ self.coef_.T + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax) or, in multi-label mode, per-label probabilities."""
        scores = self.decision_function(X)
        if self.multilabel:
            return 1.0 / (1.0 + np.exp(-scores))
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> Any:
        proba = self.predict_proba(X)
        if self.multilabel:
            return [list(self.classes_[row >= 0.5]) for row in proba]
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X: Any, y: Sequence[Any], sample_weight: Any = None) -> float:
        """Accuracy (subset accuracy in multi-label mode), as scikit-learn classifiers score."""
        from sklearn.metrics import accuracy_score
        from sklearn.preprocessing import MultiLabelBinarizer

        predicted = self.predict(X)
        if self.multilabel:  # label lists as indicator rows over the known classes
            binarizer = MultiLabelBinarizer(classes=list(self.classes_)).fit([])
            y, predicted = binarizer.transform(y), binarizer.transform(predicted)
        return float(accuracy_score(y, predicted, sample_weight=sample_weight))

    # -- safe persistence ----------------------------------------------------------------

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned state as numpy arrays plus JSON-able metadata."""
        arrays = {"coef": self.coef_, "intercept": self.intercept_}
        if self.multilabel:
            arrays["prior"] = self.prior_
            arrays["active"] = self.active_
        meta = {
            "classes": [str(c) for c in self.classes_],
            "params": {
                "C": self.C,
                "multilabel": self.multilabel,
                "min_positive": self.min_positive,
                "class_weight": self.class_weight,
            },
        }
        return arrays, meta

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], embedder: Any = "me5-small"
    ) -> EmbeddingClassifier:
        head = cls(embedder, **meta["params"])
        head.classes_ = np.array(meta["classes"], dtype=object)
        head.coef_ = np.asarray(arrays["coef"], dtype=np.float32)
        head.intercept_ = np.asarray(arrays["intercept"], dtype=np.float32)
        if head.multilabel:
            head.prior_ = np.asarray(arrays["prior"], dtype=np.float32)
            head.active_ = np.asarray(arrays["active"], dtype=bool)
        if head.coef_.shape[0] != len(head.classes_):
            raise ValueError("stored head is inconsistent: coefficient rows != classes")
        head.n_features_in_ = head.coef_.shape[1]
        return head


def save_heads(
    folder: str | os.PathLike[str],
    heads: dict[str, EmbeddingClassifier],
    meta: dict[str, Any],
    *,
    stem: str = "heads",
) -> tuple[Path, Path]:
    """Write heads to ``<stem>.npz`` (arrays) and ``<stem>.json`` (classes, params, ``meta``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    described: dict[str, Any] = {}
    for name, head in heads.items():
        head_arrays, head_meta = head.to_arrays()
        for key, value in head_arrays.items():
            arrays[f"{name}.{key}"] = value
        described[name] = head_meta
    npz = folder / f"{stem}.npz"
    np.savez_compressed(npz, **arrays)
    doc = folder / f"{stem}.json"
    doc.write_text(
        json.dumps({"heads": described, **meta}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return npz, doc


def _head_problem(
    name: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> tuple[str, str] | None:
    """What is wrong with one stored head, as ``(which file, message)``; ``None`` if sound."""
    if not isinstance(meta, dict):
        return "json", f"head {name!r} is a JSON {type(meta).__name__}, not an object"
    classes = meta.get("classes")
    if (
        not isinstance(classes, list)
        or not classes
        or not all(isinstance(c, str) for c in classes)
        or len(set(classes)) != len(classes)
    ):
        return "json", f"head {name!r}: 'classes' must be a non-empty list of distinct strings"
    params = meta.get("params")
    if not isinstance(params, dict):
        return "json", f"head {name!r} has no 'params' object"
    expected = {
        "C": (int, float),
        "multilabel": (bool,),
        "min_positive": (int,),
        "class_weight": (str, dict, type(None)),
    }
    for key, value in params.items():
        if key not in expected:
            return "json", f"head {name!r} has an unknown parameter {key!r}"
        if not isinstance(value, expected[key]) or (key != "multilabel" and type(value) is bool):
            return "json", f"head {name!r}: parameter {key!r} has the wrong type ({value!r})"
    n = len(classes)
    shapes: dict[str, tuple[int, ...] | None] = {"coef": None, "intercept": (n,)}
    if params.get("multilabel"):
        shapes.update(prior=(n,), active=(n,))
    for key, shape in shapes.items():
        arr = arrays.get(key)
        if arr is None:
            return "npz", f"has no array {name}.{key}"
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            return "npz", f"array {name}.{key} holds {arr.dtype}, not numbers"
        if shape is None:  # the coefficients: one row of the embedding size per class
            if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] == 0:
                return "npz", (
                    f"array {name}.coef has shape {arr.shape}, expected ({n}, dim) for the "
                    f"{n} classes in the JSON file"
                )
        elif arr.shape != shape:
            return "npz", f"array {name}.{key} has shape {arr.shape}, expected {shape}"
        if key != "active" and not np.isfinite(arr).all():
            return "npz", f"array {name}.{key} contains NaN or infinite values"
    return None


def load_heads(
    folder: str | os.PathLike[str],
    *,
    stem: str = "heads",
    embedder: Any = "me5-small",
    dim: int | None = None,
) -> tuple[dict[str, EmbeddingClassifier], dict[str, Any]]:
    """Read heads written by :func:`save_heads`; never unpickles anything.

    Everything is checked here, at load time: both files readable, the JSON of the right shape,
    every array present with the shape its classes need, finite coefficients, one embedding size
    for all heads (and equal to ``dim`` when given).

    Raises:
        FileNotFoundError: Neither ``<stem>.json`` nor ``<stem>.npz`` exists (no heads there).
        HeadsError: The files exist but are unusable; the message names the file and the
            problem.
    """
    folder = Path(folder)
    doc_path, npz_path = folder / f"{stem}.json", folder / f"{stem}.npz"
    if not doc_path.exists() and not npz_path.exists():
        raise FileNotFoundError(f"no {stem}.json / {stem}.npz in {folder}")
    files = {"json": str(doc_path), "npz": str(npz_path)}
    retrain = " (rebuild the heads with `amif-match train`)"
    for path, other in ((doc_path, npz_path), (npz_path, doc_path)):
        if not path.is_file():
            raise HeadsError(f"is missing although {other.name} exists{retrain}", file=str(path))
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise HeadsError(f"is not readable JSON: {exc}{retrain}", file=files["json"]) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("heads"), dict) or not doc["heads"]:
        raise HeadsError(
            f"must be a JSON object with a non-empty 'heads' object{retrain}", file=files["json"]
        )
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # ValueError: not an .npz at all, or object arrays that would need unpickling.
        raise HeadsError(
            f"is not a readable numpy .npz archive: {exc}{retrain}", file=files["npz"]
        ) from exc
    heads = {}
    for name, head_meta in doc["heads"].items():
        prefix = f"{name}."
        own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        problem = _head_problem(name, own, head_meta)
        if problem is not None:
            raise HeadsError(problem[1] + retrain, file=files[problem[0]])
        head = EmbeddingClassifier.from_arrays(own, head_meta, embedder)
        head.source_ = files["npz"]
        heads[name] = head
    sizes = {name: head.n_features_in_ for name, head in heads.items()}
    if len(set(sizes.values())) > 1:
        raise HeadsError(
            f"the heads disagree on the embedding size: {sizes}{retrain}", file=files["npz"]
        )
    size = next(iter(sizes.values()))
    if dim is not None and size != dim:
        raise HeadsError(
            f"the heads expect {size}-dimensional embeddings but the embedder gives {dim}: they "
            f"were trained with another model{retrain}",
            file=files["npz"],
        )
    return heads, {k: v for k, v in doc.items() if k != "heads"}
