"""The objective estimator: zero-shot catalogue similarity blended with a supervised head.

Probabilities are ``p ∝ p_sup^w · p_zs^(1-w)``: ``p_zs`` is a softmax of the zero-shot scores
at a temperature fitted by likelihood, ``p_sup`` the logistic-regression head, and the weight
``w`` is chosen by cross-validated likelihood. A second objective is selected above a threshold
tuned on the same out-of-fold probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from amif_match.classification.calibration import blend, softmax, tune_threshold
from amif_match.classification.heads import EmbeddingClassifier
from amif_match.corpus import OBJECTIVES
from amif_match.index import CatalogueIndex

__all__ = [
    "ACTIVITY_TOP",
    "BLEND_WEIGHTS",
    "MODES",
    "OBJECTIVE_THRESHOLDS",
    "TEMPERATURES",
    "ObjectiveClassifier",
    "catalogue_training_rows",
    "fit_temperature",
    "zero_shot_objective_scores",
]

#: Catalogue activities averaged per objective in the zero-shot score.
ACTIVITY_TOP = 3
#: Zero-shot softmax temperatures tried (geometric grid from 0.002 to 0.2).
TEMPERATURES: tuple[float, ...] = tuple(float(t) for t in np.geomspace(0.002, 0.2, 60))
#: Weights ``w`` of the supervised side tried for the blend; the first best one wins.
BLEND_WEIGHTS: tuple[float, ...] = (1.0, 0.85, 0.7, 0.5, 0.3, 0.0)
#: Thresholds tried for selecting a second objective.
OBJECTIVE_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.arange(0.3, 0.95, 0.05))
#: What :meth:`ObjectiveClassifier.predict_proba` can return.
MODES = ("combined", "supervised", "zero-shot")


def zero_shot_objective_scores(
    vectors: np.ndarray, catalogue: CatalogueIndex, *, top: int = ACTIVITY_TOP
) -> np.ndarray:
    """Similarity of each row to each objective: its description plus its best activities.

    Returns ``(n, 4)`` scores in :data:`~amif_match.corpus.OBJECTIVES` order. An objective's
    score is the cosine to its description centroid plus the mean cosine to its ``top``
    closest catalogue activities; the activity term makes the score sensitive to concrete
    activities rather than to the wording of one description.
    """
    obj_sims = vectors @ catalogue.objective_vectors.T
    act_sims = vectors @ catalogue.activity_vectors.T
    scores = np.zeros((len(vectors), len(OBJECTIVES)), dtype=np.float32)
    order = {code: i for i, code in enumerate(catalogue.objective_codes)}
    for j, code in enumerate(OBJECTIVES):
        mask = np.array([code in objs for objs in catalogue.activities["objectives"]])
        # An objective with fewer catalogue activities than ``top`` (SO4 has two) averages
        # over those it has, never over the masked-out ones.
        n_top = max(1, min(top, int(mask.sum())))
        best = np.sort(np.where(mask, act_sims, -1.0), axis=1)[:, -n_top:]
        scores[:, j] = obj_sims[:, order[code]] + best.mean(axis=1)
    return scores


def fit_temperature(scores: np.ndarray, y_idx: np.ndarray, grid: Sequence[float]) -> float:
    """Temperature of ``grid`` minimising the negative log-likelihood of ``softmax(scores / t)``."""
    # numpy scalars, not Python floats: ``float32 / numpy.float64`` computes in float64 (NEP 50),
    # and the fitted temperature must not depend on how the grid was passed.
    temperatures = np.asarray(grid, dtype=np.float64)
    rows = np.arange(len(y_idx))
    nll = [-np.log(softmax(scores / t)[rows, y_idx] + 1e-12).mean() for t in temperatures]
    return float(temperatures[int(np.argmin(nll))])


def catalogue_training_rows(catalogue: CatalogueIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per-language catalogue vectors labelled with their objective (single-objective items)."""
    X, Y = [], []
    objectives = catalogue.language_vectors["objectives"]
    activities = catalogue.language_vectors["activities"]
    for i, code in enumerate(catalogue.objective_codes):
        X.append(objectives[i])
        Y.extend([code] * objectives.shape[1])
    for i, objs in enumerate(catalogue.activities["objectives"]):
        if len(objs) == 1:
            X.append(activities[i])
            Y.extend([objs[0]] * activities.shape[1])
    return np.concatenate(X), np.array(Y)


def _supervised_proba(head: EmbeddingClassifier, vectors: np.ndarray) -> np.ndarray:
    """The head's probabilities in OBJECTIVES order; an objective it never saw gets ~0."""
    proba = head.predict_proba(vectors)
    out = np.full((len(vectors), len(OBJECTIVES)), 1e-6)
    for k, code in enumerate(head.classes_):
        out[:, OBJECTIVES.index(code)] = proba[:, k]
    return out / out.sum(axis=1, keepdims=True)


class ObjectiveClassifier(BaseEstimator):
    """Specific objective (SO1-SO4) of a proposal from its embedding.

    Args:
        C: Regularisation of the supervised head.
        use_catalogue: Also train the head on catalogue texts labelled by their objective (the
            "combined" model); ``False`` gives the purely supervised baseline.
        n_splits: Folds of the cross-validation behind the blend weight and the threshold.
        random_state: Seed of the fold split.
        activity_top: Activities averaged per objective in the zero-shot score.
        temperatures: Zero-shot temperatures tried by likelihood.
        blend_weights: Supervised weights ``w`` tried for the blend.
        thresholds: Thresholds tried for selecting a second objective.

    Learned attributes:
        classes_: :data:`~amif_match.corpus.OBJECTIVES`, the column order of the probabilities.
        head_: The supervised :class:`~.heads.EmbeddingClassifier`.
        temperature_: Zero-shot softmax temperature. blend_weight_: ``w`` of the blend.
        threshold_: Probability above which a second objective is also selected.
    """

    def __init__(
        self,
        *,
        C: float = 8.0,
        use_catalogue: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
        activity_top: int = ACTIVITY_TOP,
        temperatures: Sequence[float] = TEMPERATURES,
        blend_weights: Sequence[float] = BLEND_WEIGHTS,
        thresholds: Sequence[float] = OBJECTIVE_THRESHOLDS,
    ) -> None:
        self.C = C
        self.use_catalogue = use_catalogue
        self.n_splits = n_splits
        self.random_state = random_state
        self.activity_top = activity_top
        self.temperatures = temperatures
        self.blend_weights = blend_weights
        self.thresholds = thresholds

    def fit(
        self, X: Mapping[str, np.ndarray], y: Sequence[str], *, catalogue: CatalogueIndex
    ) -> ObjectiveClassifier:
        """Fit the head, the temperature, the blend weight and the threshold.

        Args:
            X: Language code -> ``(n, d)`` vectors of the same ``n`` projects in that language.
            y: Objective code of each project.
            catalogue: The embedded catalogue (zero-shot side and extra training rows).
        """
        langs = list(X)
        y = np.asarray(y)
        n = len(y)
        y_idx = np.array([OBJECTIVES.index(c) for c in y])
        self.classes_ = np.array(OBJECTIVES, dtype=object)
        self.head_ = self._fit_head(catalogue, X, y, np.arange(n))
        # Out-of-fold supervised probabilities: the blend and the threshold are tuned on them.
        oof = {lang: np.zeros((n, len(OBJECTIVES))) for lang in langs}
        folds = KFold(min(self.n_splits, n), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.arange(n)):
            head = self._fit_head(catalogue, X, y, train)
            for lang in langs:
                oof[lang][test] = _supervised_proba(head, X[lang][test])
        zs = {lang: self.zero_shot_scores(X[lang], catalogue.for_language(lang)) for lang in langs}
        self.temperature_ = fit_temperature(
            np.concatenate(list(zs.values())), np.tile(y_idx, len(langs)), self.temperatures
        )
        best = (-np.inf, 1.0)
        for w in self.blend_weights:
            ll = 0.0
            for lang in langs:
                p = blend(oof[lang], softmax(zs[lang] / self.temperature_), w)
                ll += np.log(p[np.arange(n), y_idx] + 1e-12).mean()
            best = max(best, (ll, w))
        self.blend_weight_ = float(best[1])
        # The corpus is single-label, so this threshold is tuned for precision of the selected
        # set on out-of-fold probabilities.
        probs = np.concatenate(
            [
                blend(oof[lg], softmax(zs[lg] / self.temperature_), self.blend_weight_)
                for lg in langs
            ]
        )
        self.threshold_ = tune_threshold(
            probs, np.eye(len(OBJECTIVES))[np.tile(y_idx, len(langs))], grid=self.thresholds
        )
        return self

    def _fit_head(
        self,
        catalogue: CatalogueIndex,
        X: Mapping[str, np.ndarray],
        y: np.ndarray,
        rows: np.ndarray,
    ) -> EmbeddingClassifier:
        Xs = [v[rows] for v in X.values()]
        Ys = [y[rows] for _ in X]
        if self.use_catalogue:
            Xc, Yc = catalogue_training_rows(catalogue)
            Xs.append(Xc)
            Ys.append(Yc)
        return EmbeddingClassifier(None, C=self.C).fit(np.concatenate(Xs), np.concatenate(Ys))

    def zero_shot_scores(self, vectors: np.ndarray, catalogue: CatalogueIndex) -> np.ndarray:
        """``(n, 4)`` zero-shot scores (:func:`zero_shot_objective_scores`)."""
        return zero_shot_objective_scores(vectors, catalogue, top=self.activity_top)

    def predict_proba(
        self, X: np.ndarray, catalogue: CatalogueIndex, *, mode: str = "combined"
    ) -> np.ndarray:
        """``(n, 4)`` objective probabilities; ``mode`` is combined, supervised or zero-shot."""
        check_is_fitted(self)
        if mode not in MODES:
            raise ValueError(f"mode must be combined, supervised or zero-shot, got {mode!r}")
        p_zs = softmax(self.zero_shot_scores(X, catalogue) / self.temperature_)
        if mode == "zero-shot":
            return p_zs
        p_sup = _supervised_proba(self.head_, X)
        if mode == "supervised":
            return p_sup
        return blend(p_sup, p_zs, self.blend_weight_)

    def predict(self, X: np.ndarray, catalogue: CatalogueIndex) -> np.ndarray:
        """The most probable objective code of each row."""
        return self.classes_[self.predict_proba(X, catalogue).argmax(axis=1)]
