"""The objective estimator: three experts on one embedding, combined and calibrated.

* ``supervised``: a class-balanced logistic regression on the projects (and catalogue texts);
* ``fields``: the intervention-field route, one-vs-rest heads trained on the projects'
  intervention-field codes; each field belongs to one objective, so an objective with few
  projects but a clear field (relocation) is found from the field;
* ``zero-shot``: similarity to the objective descriptions and their activities, a softmax at a
  temperature fitted by likelihood.

``combined`` (the default, ``combination="ensemble"``) is their product of experts,
``p ∝ (p_sup · p_field · p_zs)^(1/T)``, with the temperature ``T`` fitted on out-of-fold
predictions of the training data, so the probabilities are calibrated. The former model,
``p ∝ p_sup^w · p_zs^(1-w)`` with ``w`` chosen by cross-validated likelihood, remains as
``combination="blend"``. A second objective is selected above a threshold tuned on the same
out-of-fold probabilities. Everything is tuned inside the training data only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from amif_match.classification.calibration import blend, softmax, tune_threshold
from amif_match.classification.heads import EmbeddingClassifier
from amif_match.corpus import OBJECTIVES
from amif_match.estimator import Estimator, check_is_fitted
from amif_match.index import CatalogueIndex

__all__ = [
    "ACTIVITY_TOP",
    "BLEND_WEIGHTS",
    "COMBINATIONS",
    "ENSEMBLE_TEMPERATURES",
    "MODES",
    "OBJECTIVE_THRESHOLDS",
    "TEMPERATURES",
    "ObjectiveClassifier",
    "catalogue_training_rows",
    "field_objectives",
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
#: Temperatures tried to calibrate the product of experts (geometric grid from 0.3 to 4).
ENSEMBLE_TEMPERATURES: tuple[float, ...] = tuple(float(t) for t in np.geomspace(0.3, 4.0, 50))
#: What :meth:`ObjectiveClassifier.predict_proba` can return.
MODES = ("combined", "supervised", "fields", "zero-shot", "blend")
#: How ``combined`` is formed: the calibrated product of the three experts, or the former blend.
COMBINATIONS = ("ensemble", "blend")


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


def field_objectives(catalogue: CatalogueIndex) -> dict[str, str]:
    """Intervention-field code -> the one objective it belongs to."""
    acts = catalogue.activities
    return {
        code: objs[0]
        for code, layer, objs in zip(acts["code"], acts["layer"], acts["objectives"], strict=True)
        if layer == "intervention_field" and len(objs) == 1
    }


def _field_labels(
    activities: Sequence[Sequence[str]], fields: Mapping[str, str]
) -> list[list[str]]:
    return [[code for code in codes if code in fields] for codes in activities]


def _field_proba(
    head: EmbeddingClassifier, vectors: np.ndarray, fields: Mapping[str, str]
) -> np.ndarray:
    """``(n, 4)``: each objective scored by its most probable intervention field, normalised."""
    proba = head.predict_proba(vectors)
    out = np.full((len(vectors), len(OBJECTIVES)), 1e-3)
    for k, code in enumerate(head.classes_):
        j = OBJECTIVES.index(fields[code])
        out[:, j] = np.maximum(out[:, j], proba[:, k])
    return out / out.sum(axis=1, keepdims=True)


def _ensemble_logits(p_sup: np.ndarray, p_fields: np.ndarray, p_zs: np.ndarray) -> np.ndarray:
    """Log of the product of the three experts (uncalibrated)."""
    return np.log(p_sup + 1e-9) + np.log(p_fields + 1e-9) + np.log(p_zs + 1e-9)


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    """A clear ``ValueError`` for an option outside ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


class ObjectiveClassifier(Estimator):
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
        combination: ``"ensemble"`` (product of the three experts, calibrated) or ``"blend"``
            (the former supervised/zero-shot blend); ``ensemble`` needs intervention-field
            labels in :meth:`fit` and falls back to the blend without them.
        field_C: Regularisation of the intervention-field heads.
        field_min_positive: Projects a field needs to get its own head.
        ensemble_temperatures: Temperatures tried to calibrate the ensemble.

    Learned attributes:
        classes_: :data:`~amif_match.corpus.OBJECTIVES`, the column order of the probabilities.
        head_: The supervised :class:`~.heads.EmbeddingClassifier`.
        field_head_: Multi-label head over intervention fields (``None`` without field labels).
        fields_: Intervention-field code -> objective.
        temperature_: Zero-shot softmax temperature. blend_weight_: ``w`` of the blend.
        ensemble_temperature_: Calibration temperature of the ensemble.
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
        combination: str = "ensemble",
        field_C: float = 4.0,
        field_min_positive: int = 3,
        ensemble_temperatures: Sequence[float] = ENSEMBLE_TEMPERATURES,
    ) -> None:
        self.C = C
        self.use_catalogue = use_catalogue
        self.n_splits = n_splits
        self.random_state = random_state
        self.activity_top = activity_top
        self.temperatures = temperatures
        self.blend_weights = blend_weights
        self.thresholds = thresholds
        self.combination = combination
        self.field_C = field_C
        self.field_min_positive = field_min_positive
        self.ensemble_temperatures = ensemble_temperatures

    def fit(
        self,
        X: Mapping[str, np.ndarray],
        y: Sequence[str],
        *,
        catalogue: CatalogueIndex,
        activities: Sequence[Sequence[str]] | None = None,
        languages: Mapping[str, Sequence[str]] | None = None,
    ) -> ObjectiveClassifier:
        """Fit the heads, the temperatures, the blend weight and the threshold.

        Args:
            X: View name -> ``(n, d)`` vectors of the same ``n`` projects in that view (e.g.
                ``fi``: each project's own-language description, ``en``: English summaries).
            y: Objective code of each project.
            catalogue: The embedded catalogue (zero-shot side and extra training rows).
            activities: Catalogue codes of each project; its intervention fields train the
                field route (without them, ``combined`` is the blend).
            languages: View name -> the language of each row, so each text meets the catalogue
                in its own language as at prediction time (default: the view name).
        """
        from sklearn.model_selection import KFold

        check_choice("combination", self.combination, COMBINATIONS)
        views = list(X)
        y = np.asarray(y)
        n = len(y)
        y_idx = np.array([OBJECTIVES.index(c) for c in y])
        self.classes_ = np.array(OBJECTIVES, dtype=object)
        self.fields_ = field_objectives(catalogue)
        labels = None
        if activities is not None and self.combination == "ensemble":
            labels = _field_labels(activities, self.fields_)
            if sum(map(bool, labels)) < 2 * self.field_min_positive:
                labels = None  # too few field labels for a route
        self.head_ = self._fit_head(catalogue, X, y, np.arange(n))
        self.field_head_ = None if labels is None else self._fit_fields(X, labels, np.arange(n))
        # Out-of-fold probabilities: the temperatures, the blend and the threshold are tuned on
        # them, so every calibration parameter is learned from predictions on unseen projects.
        oof = {v: np.zeros((n, len(OBJECTIVES))) for v in views}
        oof_fields = {v: np.ones((n, len(OBJECTIVES))) / len(OBJECTIVES) for v in views}
        folds = KFold(min(self.n_splits, n), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.arange(n)):
            head = self._fit_head(catalogue, X, y, train)
            fields = None if labels is None else self._fit_fields(X, labels, train)
            for v in views:
                oof[v][test] = _supervised_proba(head, X[v][test])
                if fields is not None:
                    oof_fields[v][test] = _field_proba(fields, X[v][test], self.fields_)
        zs = {
            v: self._zero_shot_by_language(X[v], catalogue, (languages or {}).get(v), v)
            for v in views
        }
        self.temperature_ = fit_temperature(
            np.concatenate(list(zs.values())), np.tile(y_idx, len(views)), self.temperatures
        )
        best = (-np.inf, 1.0)
        for w in self.blend_weights:
            ll = 0.0
            for v in views:
                p = blend(oof[v], softmax(zs[v] / self.temperature_), w)
                ll += np.log(p[np.arange(n), y_idx] + 1e-12).mean()
            best = max(best, (ll, w))
        self.blend_weight_ = float(best[1])
        logits = np.concatenate(
            [
                _ensemble_logits(oof[v], oof_fields[v], softmax(zs[v] / self.temperature_))
                for v in views
            ]
        )
        truth = np.tile(y_idx, len(views))
        self.ensemble_temperature_ = fit_temperature(logits, truth, self.ensemble_temperatures)
        if self.field_head_ is not None:
            probs = softmax(logits / self.ensemble_temperature_)
        else:
            probs = np.concatenate(
                [
                    blend(oof[v], softmax(zs[v] / self.temperature_), self.blend_weight_)
                    for v in views
                ]
            )
        # The corpus is single-label, so this threshold is tuned for precision of the selected
        # set on out-of-fold probabilities.
        self.threshold_ = tune_threshold(
            probs, np.eye(len(OBJECTIVES))[truth], grid=self.thresholds
        )
        return self

    def _zero_shot_by_language(
        self,
        vectors: np.ndarray,
        catalogue: CatalogueIndex,
        languages: Sequence[str] | None,
        default: str,
    ) -> np.ndarray:
        rows = np.array(
            languages
            if languages is not None and len(languages) == len(vectors)
            else [default] * len(vectors),
            dtype=object,
        )
        out = np.zeros((len(vectors), len(OBJECTIVES)), dtype=np.float32)
        for language in set(rows):
            mask = rows == language
            out[mask] = self.zero_shot_scores(
                vectors[mask], catalogue.for_language(language or default)
            )
        return out

    def _fit_fields(
        self, X: Mapping[str, np.ndarray], labels: list[list[str]], rows: np.ndarray
    ) -> EmbeddingClassifier:
        Xs = np.concatenate([v[rows] for v in X.values()])
        Ys = [labels[i] for _ in X for i in rows]
        return EmbeddingClassifier(
            None, C=self.field_C, multilabel=True, min_positive=self.field_min_positive * len(X)
        ).fit(Xs, Ys)

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
        """``(n, 4)`` objective probabilities; ``mode`` is one of :data:`MODES`."""
        check_is_fitted(self)
        check_choice("mode", mode, MODES)
        p_zs = softmax(self.zero_shot_scores(X, catalogue) / self.temperature_)
        if mode == "zero-shot":
            return p_zs
        p_sup = _supervised_proba(self.head_, X)
        if mode == "supervised":
            return p_sup
        if mode == "blend":  # the former combination, whatever this model's default
            return blend(p_sup, p_zs, self.blend_weight_)
        field_head = getattr(self, "field_head_", None)
        p_fields = None if field_head is None else _field_proba(field_head, X, self.fields_)
        if mode == "fields":
            if p_fields is None:
                raise ValueError(
                    "this model has no intervention-field route (fit it with activities)"
                )
            return p_fields
        if p_fields is None or self.combination == "blend":
            return blend(p_sup, p_zs, self.blend_weight_)
        return softmax(_ensemble_logits(p_sup, p_fields, p_zs) / self.ensemble_temperature_)

    def predict(self, X: np.ndarray, catalogue: CatalogueIndex) -> np.ndarray:
        """The most probable objective code of each row."""
        return self.classes_[self.predict_proba(X, catalogue).argmax(axis=1)]
