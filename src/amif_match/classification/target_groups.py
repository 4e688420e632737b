"""The target-group estimator: four signals per (document, group), one logistic calibrator.

The signals are the supervised head's logit, the cosine of the document and of its best
sentence to the group's description, and a term match. The calibrator is fitted on out-of-fold
signals (so the logit is as noisy as it is on unseen text) and the decision threshold is tuned
on the same predictions for micro-F1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from amif_match.classification.calibration import sigmoid, tune_threshold
from amif_match.classification.heads import EmbeddingClassifier
from amif_match.classification.signals import Signals
from amif_match.estimator import Estimator, check_is_fitted, clone
from amif_match.index import CatalogueIndex

__all__ = [
    "FEATURES",
    "TARGET_GROUP_THRESHOLDS",
    "TargetGroupCalibrator",
    "TargetGroupClassifier",
    "similarity_signals",
]

#: The calibrator's features, in the order its coefficients are stored in ``heads.json``.
FEATURES: tuple[str, ...] = (
    "supervised_logit",
    "document_similarity",
    "sentence_similarity",
    "term_match",
)
#: Thresholds tried for selecting a target group.
TARGET_GROUP_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.arange(0.1, 0.8, 0.025))


def similarity_signals(signals: Signals, catalogue: CatalogueIndex) -> dict[str, np.ndarray]:
    """The three unsupervised features, each ``(n, T)`` in target-group code order."""
    tg = catalogue.target_group_vectors
    return {
        "document_similarity": signals.doc @ tg.T,
        "sentence_similarity": np.stack([(s @ tg.T).max(axis=0) for s in signals.sentences]),
        "term_match": np.stack([catalogue.lexical_target_groups(t) for t in signals.texts]),
    }


class TargetGroupCalibrator(Estimator):
    """Logistic regression from named per-(document, group) features to a probability.

    ``fit`` and ``predict_proba`` take a mapping of feature name -> array, all of one shape
    (``(n, T)``: one value per document and group); the coefficients are kept by name.

    Args:
        C: Inverse regularisation strength.
        max_iter: Iterations of the solver.

    Learned attributes:
        feature_names_in_: The feature names, in the order of ``coef_``.
        coef_: One float32 coefficient per feature. intercept_: The float32 intercept.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: Mapping[str, np.ndarray], y: np.ndarray) -> TargetGroupCalibrator:
        """Fit on features ``X`` and binary truth ``y`` of the same shape as each feature."""
        from sklearn.linear_model import LogisticRegression

        names = tuple(X)
        model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(self._matrix(X, names), np.asarray(y).reshape(-1))
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        # Stored as float32, which is also what heads.json holds, so that a fitted and a
        # reloaded calibrator compute the same probabilities.
        self.coef_ = model.coef_[0].astype(np.float32)
        self.intercept_ = np.float32(model.intercept_[0])
        return self

    @staticmethod
    def _matrix(X: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
        missing = [name for name in names if name not in X]
        if missing:
            raise ValueError(f"missing calibrator features: {', '.join(missing)}")
        return np.stack([X[name] for name in names], axis=-1).reshape(-1, len(names))

    def decision_function(self, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """The calibrated logit, in the shape of one feature."""
        check_is_fitted(self)
        names = list(self.feature_names_in_)
        matrix = self._matrix(X, names)
        return (matrix @ self.coef_ + self.intercept_).reshape(np.shape(X[names[0]]))

    def predict_proba(self, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """Probability that the group applies, in the shape of one feature."""
        return sigmoid(self.decision_function(X))

    def coefficients(self) -> dict[str, float]:
        """Feature name -> coefficient (for reading, e.g. in the model card)."""
        check_is_fitted(self)
        return {str(n): float(c) for n, c in zip(self.feature_names_in_, self.coef_, strict=True)}


def _logits(
    head: EmbeddingClassifier, vectors: np.ndarray, codes: Sequence[str], unseen: float
) -> np.ndarray:
    """The head's logits in ``codes`` order; a group it never saw in training gets ``unseen``."""
    scores = head.decision_function(vectors)
    out = np.full((len(vectors), len(codes)), unseen)
    index = {c: i for i, c in enumerate(codes)}
    for k, code in enumerate(head.classes_):
        if code in index:
            out[:, index[code]] = scores[:, k]
    return out


class TargetGroupClassifier(Estimator):
    """Target groups of a proposal (multi-label), calibrated over four signals.

    Args:
        C: Regularisation of the supervised one-vs-rest head.
        n_splits: Folds of the cross-validation behind the calibrator and the threshold.
        random_state: Seed of the fold split.
        calibrator: The calibrator to fit (default :class:`TargetGroupCalibrator`).
        thresholds: Thresholds tried for selecting a group.
        unseen_logit: Logit of a group the head never saw in training (very unlikely).

    Probabilities and logits are in the order of ``catalogue.target_group_codes``.

    Learned attributes:
        head_: The supervised :class:`~.heads.EmbeddingClassifier` (multi-label).
        calibrator_: The fitted :class:`TargetGroupCalibrator`.
        threshold_: Probability at or above which a group is selected.
    """

    def __init__(
        self,
        *,
        C: float = 4.0,
        n_splits: int = 5,
        random_state: int = 0,
        calibrator: TargetGroupCalibrator | None = None,
        thresholds: Sequence[float] = TARGET_GROUP_THRESHOLDS,
        unseen_logit: float = -6.0,
    ) -> None:
        self.C = C
        self.n_splits = n_splits
        self.random_state = random_state
        self.calibrator = calibrator
        self.thresholds = thresholds
        self.unseen_logit = unseen_logit

    def fit(
        self,
        X: Mapping[str, Signals],
        y: Sequence[Sequence[str]],
        *,
        catalogue: CatalogueIndex,
    ) -> TargetGroupClassifier:
        """Fit the head, the calibrator and the threshold.

        Args:
            X: Language code -> :class:`~.signals.Signals` of the same ``n`` projects.
            y: Target-group codes of each project.
            catalogue: The embedded catalogue (its groups are the classes).
        """
        from sklearn.model_selection import KFold

        labels = [list(t) for t in y]
        n = len(labels)
        codes = list(catalogue.target_group_codes)
        oof = {lang: np.zeros((n, len(codes))) for lang in X}
        folds = KFold(min(self.n_splits, n), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.arange(n)):
            head = self._fit_head(X, labels, train)
            for lang, signals in X.items():
                oof[lang][test] = _logits(head, signals.doc[test], codes, self.unseen_logit)
        self.head_ = self._fit_head(X, labels, np.arange(n))
        per_language = [
            self._features(oof[lang], signals, catalogue.for_language(lang))
            for lang, signals in X.items()
        ]
        features = {name: np.concatenate([f[name] for f in per_language]) for name in FEATURES}
        truth = np.array([[c in t for c in codes] for t in labels])
        truth = np.concatenate([truth] * len(per_language))
        calibrator = TargetGroupCalibrator() if self.calibrator is None else self.calibrator
        self.calibrator_ = clone(calibrator).fit(features, truth)
        self.threshold_ = tune_threshold(
            self.calibrator_.predict_proba(features), truth.astype(float), grid=self.thresholds
        )
        return self

    def _fit_head(
        self, X: Mapping[str, Signals], labels: list[list[str]], rows: np.ndarray
    ) -> EmbeddingClassifier:
        vectors = np.concatenate([signals.doc[rows] for signals in X.values()])
        Y = [labels[i] for _ in X for i in rows]
        return EmbeddingClassifier(None, C=self.C, multilabel=True).fit(vectors, Y)

    @staticmethod
    def _features(
        logits: np.ndarray, signals: Signals, catalogue: CatalogueIndex
    ) -> dict[str, np.ndarray]:
        return {"supervised_logit": logits, **similarity_signals(signals, catalogue)}

    def supervised_logits(self, vectors: np.ndarray, codes: Sequence[str]) -> np.ndarray:
        """``(n, len(codes))`` logits of the supervised head alone, in ``codes`` order."""
        check_is_fitted(self)
        return _logits(self.head_, vectors, codes, self.unseen_logit)

    def predict_proba(self, X: Signals, catalogue: CatalogueIndex) -> np.ndarray:
        """``(n, T)`` calibrated probabilities (``catalogue`` in the language of ``X``)."""
        logits = self.supervised_logits(X.doc, catalogue.target_group_codes)
        return self.calibrator_.predict_proba(self._features(logits, X, catalogue))

    def predict(self, X: Signals, catalogue: CatalogueIndex) -> list[list[str]]:
        """The selected group codes of each document (at or above :attr:`threshold_`)."""
        codes = np.array(catalogue.target_group_codes, dtype=object)
        return [list(codes[row >= self.threshold_]) for row in self.predict_proba(X, catalogue)]
