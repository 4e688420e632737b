"""Classification of proposals: the objective, target-group and scope estimators in one model.

The model combines two sources of knowledge:

* **zero-shot** — similarity to the catalogue (objective descriptions and the activities under
  each objective, in Finnish, Swedish and English), so it works with no training data;
* **supervised** — logistic-regression heads (:class:`~.heads.EmbeddingClassifier`)
  trained on the corpus projects (their Finnish and English texts) and on the catalogue texts
  labelled by their objective.

Each task is one estimator: :class:`~.objective.ObjectiveClassifier`,
:class:`~.target_groups.TargetGroupClassifier` and :class:`~.scope.ScopeClassifier`;
:class:`ProposalClassifier` fits them on the same data and saves them together, without
pickles, as ``heads.npz`` + ``heads.json``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amif_match.classification.activities import ActivityRanker
from amif_match.classification.heads import HeadsError, load_heads, save_heads
from amif_match.classification.objective import ObjectiveClassifier
from amif_match.classification.scope import ScopeClassifier
from amif_match.classification.signals import Signals
from amif_match.classification.target_groups import (
    FEATURES,
    TargetGroupCalibrator,
    TargetGroupClassifier,
)
from amif_match.corpus import OBJECTIVES
from amif_match.estimator import Estimator, check_is_fitted, clone
from amif_match.index import CatalogueIndex

__all__ = ["ProposalClassifier", "model_folder"]

#: Attribute names of the single-class model (before the estimators were split), still readable.
_ALIASES = {
    "objective_head_": ("objective_", "head_"),
    "temperature_": ("objective_", "temperature_"),
    "blend_weight_": ("objective_", "blend_weight_"),
    "objective_threshold_": ("objective_", "threshold_"),
    "target_group_head_": ("target_groups_", "head_"),
    "tg_threshold_": ("target_groups_", "threshold_"),
    "scope_head_": ("scope_", "head_"),
    "fund_head_": ("scope_", "fund_head_"),
    "scope_threshold_": ("scope_", "threshold_"),
}


def scope_row_languages(
    project_vectors: Mapping[str, np.ndarray],
    catalogue: CatalogueIndex,
    n_negatives: int,
    project_languages: Mapping[str, Sequence[str]] | None,
    negative_languages: Sequence[str] | None,
) -> list[str]:
    """The language of every scope training row, in the order :meth:`ProposalClassifier.fit`
    stacks them: project rows per key, catalogue rows per language, then the negatives."""
    given = project_languages or {}
    out: list[str] = []
    for key, vectors in project_vectors.items():
        langs = list(given.get(key) or [])
        out += (
            [lang or key for lang in langs] if len(langs) == len(vectors) else [key] * len(vectors)
        )
    for lang, vectors in catalogue.language_vectors.items():
        out += [lang] * len(vectors.reshape(-1, vectors.shape[-1]))
    negs = list(negative_languages or [])
    out += negs if len(negs) == n_negatives else ["und"] * n_negatives
    return out


class ProposalClassifier(Estimator):
    """All fitted estimators behind :meth:`amif_match.Matcher.classify`.

    Args:
        objective: The objective estimator (default :class:`ObjectiveClassifier`).
        target_groups: The target-group estimator (default :class:`TargetGroupClassifier`).
        scope: The scope estimator (default :class:`ScopeClassifier`).
        activities: The activity ranker (default :class:`~.activities.ActivityRanker`).

    Learned attributes (after :meth:`fit` or :meth:`load`): ``objective_``,
    ``target_groups_``, ``scope_``, ``activities_`` (fitted clones of the four; heads saved
    before the ranker was trained load with a catalogue-only ranker), and ``training_`` (counts of
    the training data). The names of the former single model (``objective_head_``,
    ``tg_threshold_``, ``scope_threshold_``, ...) still read the same values.
    """

    def __init__(
        self,
        *,
        objective: ObjectiveClassifier | None = None,
        target_groups: TargetGroupClassifier | None = None,
        scope: ScopeClassifier | None = None,
        activities: ActivityRanker | None = None,
    ) -> None:
        self.objective = objective
        self.target_groups = target_groups
        self.scope = scope
        self.activities = activities

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not set: the aliases of the former single model.
        if name in _ALIASES:
            part, attribute = _ALIASES[name]
            return getattr(getattr(self, part), attribute)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- training ------------------------------------------------------------------------

    def fit(
        self,
        catalogue: CatalogueIndex,
        project_vectors: dict[str, np.ndarray],
        project_sentences: dict[str, list[np.ndarray]],
        project_texts: dict[str, list[str]],
        objectives: Sequence[str],
        target_groups: Sequence[Sequence[str]],
        *,
        scope_negatives: np.ndarray | None = None,
        scope_funds: Sequence[str] | None = None,
        project_languages: Mapping[str, Sequence[str]] | None = None,
        scope_languages: Sequence[str] | None = None,
        activities: Sequence[Sequence[str]] | None = None,
        scope_migration: Sequence[bool] | None = None,
    ) -> ProposalClassifier:
        """Fit every estimator.

        Args:
            catalogue: The embedded catalogue.
            project_vectors: Language code -> ``(n, d)`` document vectors of the projects (one
                entry per language the projects are written in, e.g. ``fi`` and ``en``).
            project_sentences: Language code -> per-project sentence vectors.
            project_texts: Language code -> project texts (for the term matcher).
            objectives: Objective code of each project.
            target_groups: Target-group codes of each project.
            scope_negatives: ``(m, d)`` vectors of texts that are not AMIF proposals.
            scope_funds: Fund each negative resembles (ISF, BMVI, ERDF, ...).
            project_languages: Key of ``project_vectors`` -> the language of each row (a
                key's rows are in that language when missing), for the scope head's
                language balance.
            scope_languages: The language of each negative.
            activities: Catalogue codes of each project (the intervention-field route of the
                objective and the learned activity ranking).
            scope_migration: Whether each negative is about migration (the first stage of
                the scope decision).
        """
        objective = ObjectiveClassifier() if self.objective is None else self.objective
        self.objective_ = clone(objective).fit(
            project_vectors,
            objectives,
            catalogue=catalogue,
            activities=activities,
            languages=project_languages,
        )
        ranker = ActivityRanker() if self.activities is None else self.activities
        self.activities_ = clone(ranker).fit(
            catalogue, vectors=project_vectors, sentences=project_sentences, activities=activities
        )
        signals = {
            lang: Signals(project_vectors[lang], project_sentences[lang], project_texts[lang])
            for lang in project_vectors
        }
        groups = TargetGroupClassifier() if self.target_groups is None else self.target_groups
        self.target_groups_ = clone(groups).fit(signals, target_groups, catalogue=catalogue)
        # Scope positives: the projects in every language and every catalogue text.
        positives = np.concatenate(
            [
                *project_vectors.values(),
                *[v.reshape(-1, v.shape[-1]) for v in catalogue.language_vectors.values()],
            ]
        )
        negatives = positives[:0] if scope_negatives is None else scope_negatives
        scope = ScopeClassifier() if self.scope is None else self.scope
        languages = scope_row_languages(
            project_vectors, catalogue, len(negatives), project_languages, scope_languages
        )
        self.scope_ = clone(scope).fit(
            np.concatenate([positives, negatives]),
            np.arange(len(positives) + len(negatives)) < len(positives),
            funds=scope_funds,
            languages=languages,
            migration=None
            if scope_migration is None
            else np.concatenate([np.ones(len(positives), bool), np.asarray(scope_migration, bool)]),
        )
        self.training_ = {
            "projects": len(objectives),
            "languages": list(project_vectors),
            "catalogue_items": len(catalogue.activities) + len(catalogue.objectives),
            "scope_negatives": len(negatives),
        }
        return self

    # -- prediction ----------------------------------------------------------------------

    def objective_proba(
        self, vectors: np.ndarray, catalogue: CatalogueIndex, *, mode: str = "combined"
    ) -> np.ndarray:
        """``(n, 4)`` objective probabilities; ``mode``: one of :data:`~.objective.MODES`."""
        check_is_fitted(self)
        return self.objective_.predict_proba(vectors, catalogue, mode=mode)

    def target_group_proba(self, signals: Signals, catalogue: CatalogueIndex) -> np.ndarray:
        """``(n, T)`` calibrated target-group probabilities."""
        check_is_fitted(self)
        return self.target_groups_.predict_proba(signals, catalogue)

    def scope_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probability that each text is an AMIF proposal."""
        check_is_fitted(self)
        return self.scope_.scope_proba(vectors)

    def fund_guess(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """The non-AMIF fund each text resembles most, with its probability."""
        check_is_fitted(self)
        return self.scope_.fund_guess(vectors)

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str], meta: dict[str, Any]) -> None:
        """Write the heads as ``heads.npz`` + ``heads.json`` (no pickles)."""
        check_is_fitted(self)
        objective, groups, scope = self.objective_, self.target_groups_, self.scope_
        heads = {"objective": objective.head_, "target_groups": groups.head_}
        if scope.head_ is not None:
            heads["scope"] = scope.head_
        if scope.fund_head_ is not None:
            heads["fund"] = scope.fund_head_
        heads.update(_learned_parts(objective, scope, self.activities_))
        calibrator = groups.calibrator_
        params = {
            "temperature": objective.temperature_,
            "blend_weight": objective.blend_weight_,
            "objective_threshold": objective.threshold_,
            # Coefficients in the order of tg_calibrator_features, then the intercept.
            "tg_calibrator": [float(x) for x in [*calibrator.coef_, calibrator.intercept_]],
            "tg_calibrator_features": [str(n) for n in calibrator.feature_names_in_],
            "tg_threshold": groups.threshold_,
            "scope_threshold": scope.threshold_,
            "use_catalogue": objective.use_catalogue,
            # Read by files of format 1 (before "estimators"): keep writing them.
            "hyperparameters": {
                "C_objective": objective.C,
                "C_target_groups": groups.C,
                "n_splits": objective.n_splits,
                "random_state": objective.random_state,
            },
            # Format 2: every parameter of each estimator (format 1 readers ignore it).
            "estimators": {
                "objective": _plain_params(objective),
                "target_groups": _plain_params(groups),
                "scope": _plain_params(scope),
            },
            "training": self.training_,
            # Format 3: the ensemble's field route and calibration, the trained activity
            # ranker and the two-stage scope (format 2 readers ignore them).
            "ensemble_temperature": objective.ensemble_temperature_,
            "fields": dict(objective.fields_),
            "activity_ranker": {
                "params": _plain_params(self.activities_),
                "codes": self.activities_.codes_,
                "layers": self.activities_.layers_,
                "objectives": self.activities_.objectives_,
                "similarity_calibration": self.activities_.similarity_calibration_,
            },
        }
        save_heads(folder, heads, {**meta, "params": params})

    @classmethod
    def load(
        cls, folder: str | os.PathLike[str], *, dim: int | None = None
    ) -> tuple[ProposalClassifier, dict[str, Any]]:
        """Read heads written by :meth:`save`; returns ``(classifier, metadata)``.

        Files written before the estimators were split (no ``estimators`` entry) load with
        the defaults of that time, which are today's. Raises
        :class:`~amif_match.errors.HeadsError` naming the file for any damage (``dim``: the
        embedding size the heads must have, checked when given).
        """
        heads, meta = load_heads(folder, embedder=None, dim=dim)
        try:
            params = meta["params"]
            objective, groups, scope = _estimators(params)
            model = cls(objective=objective, target_groups=groups, scope=scope)
            model.objective_ = objective = clone(objective)
            objective.head_ = heads["objective"]
            objective.temperature_ = float(params["temperature"])
            objective.blend_weight_ = float(params["blend_weight"])
            objective.threshold_ = float(params["objective_threshold"])
            objective.classes_ = np.array(OBJECTIVES, dtype=object)
            model.target_groups_ = groups = clone(groups)
            groups.head_ = heads["target_groups"]
            groups.calibrator_ = _calibrator(params, groups.calibrator)
            groups.threshold_ = float(params["tg_threshold"])
            model.scope_ = scope = clone(scope)
            scope.head_, scope.fund_head_ = heads.get("scope"), heads.get("fund")
            scope.threshold_ = float(params["scope_threshold"])
            scope.migration_head_ = heads.get("migration")
            model.training_ = params["training"]
            _restore_format_3(model, heads, params)
            checked = [objective.temperature_, objective.blend_weight_, objective.threshold_]
            checked += [groups.threshold_, scope.threshold_, *params["tg_calibrator"]]
            if not np.isfinite(checked).all():
                raise ValueError("a calibration parameter is NaN, infinite or misshapen")
        except (KeyError, TypeError, ValueError) as exc:  # wrong shape or type in the JSON
            raise HeadsError(
                f"invalid classifier data: {type(exc).__name__}: {exc}",
                file=str(Path(folder) / "heads.json"),
            ) from exc
        return model, meta


def _learned_parts(
    objective: ObjectiveClassifier, scope: ScopeClassifier, ranker: ActivityRanker
) -> dict[str, Any]:
    """The heads added in format 3, where fitted (names as in ``heads.npz``)."""
    parts = {
        "fields": objective.field_head_,
        "migration": scope.migration_head_,
        "activities": ranker.head_,
    }
    return {name: head for name, head in parts.items() if head is not None}


def _restore_format_3(
    model: ProposalClassifier, heads: dict[str, Any], params: dict[str, Any]
) -> None:
    """Set the format-3 parts; files written before them get the former behaviour (the
    blend, a catalogue-only activity ranker)."""
    objective = model.objective_
    objective.field_head_ = heads.get("fields")
    objective.fields_ = dict(params.get("fields", {}))
    objective.ensemble_temperature_ = float(params.get("ensemble_temperature", 1.0))
    if objective.field_head_ is not None and (
        not objective.fields_ or set(objective.field_head_.classes_) - set(objective.fields_)
    ):
        raise ValueError("the intervention-field head and the 'fields' map disagree")
    stored = params.get("activity_ranker")
    ranker = ActivityRanker(**(stored or {}).get("params", {}))
    model.activities = ranker
    model.activities_ = ranker = clone(ranker)
    ranker.head_, ranker.similarity_calibration_ = None, None
    ranker.codes_, ranker.layers_, ranker.objectives_ = [], [], []
    if stored is not None:
        ranker.codes_ = [str(c) for c in stored["codes"]]
        ranker.layers_ = [str(c) for c in stored["layers"]]
        ranker.objectives_ = [[str(o) for o in objs] for objs in stored["objectives"]]
        if not len(ranker.codes_) == len(ranker.layers_) == len(ranker.objectives_):
            raise ValueError("the activity ranker's codes, layers and objectives differ in length")
        calibration = stored.get("similarity_calibration")
        if calibration is not None:
            slope, intercept = (float(x) for x in calibration)
            if not np.isfinite([slope, intercept]).all():
                raise ValueError("the activity similarity calibration is not finite")
            ranker.similarity_calibration_ = (slope, intercept)
        ranker.head_ = heads.get("activities")
    if not np.isfinite(objective.ensemble_temperature_) or objective.ensemble_temperature_ <= 0:
        raise ValueError("the ensemble temperature must be a positive number")


def _plain_params(estimator: Estimator) -> dict[str, Any]:
    """An estimator's own parameters as JSON values (grids as lists, estimators as dicts)."""
    out: dict[str, Any] = {}
    for key, value in estimator.get_params(deep=False).items():
        if isinstance(value, Estimator):
            value = _plain_params(value)
        elif isinstance(value, tuple | list):
            value = list(value)
        out[key] = value
    return out


def _estimators(
    params: dict[str, Any],
) -> tuple[ObjectiveClassifier, TargetGroupClassifier, ScopeClassifier]:
    """Unfitted estimators with the parameters stored in ``heads.json``."""
    stored = params.get("estimators")
    if stored is None:  # format 1: four hyperparameters, everything else at its default
        hyper = params["hyperparameters"]
        split = {"n_splits": hyper["n_splits"], "random_state": hyper["random_state"]}
        return (
            ObjectiveClassifier(
                C=hyper["C_objective"], use_catalogue=bool(params["use_catalogue"]), **split
            ),
            TargetGroupClassifier(C=hyper["C_target_groups"], **split),
            ScopeClassifier(),
        )

    def arguments(name: str) -> dict[str, Any]:
        # JSON lists back to tuples, the type of the defaults.
        return {k: tuple(v) if isinstance(v, list) else v for k, v in stored[name].items()}

    groups = arguments("target_groups")
    if groups.get("calibrator") is not None:
        groups["calibrator"] = TargetGroupCalibrator(**groups["calibrator"])
    return (
        ObjectiveClassifier(**arguments("objective")),
        TargetGroupClassifier(**groups),
        ScopeClassifier(**arguments("scope")),
    )


def _calibrator(
    params: dict[str, Any], unfitted: TargetGroupCalibrator | None
) -> TargetGroupCalibrator:
    """The fitted target-group calibrator stored in ``heads.json``."""
    numbers = np.asarray(params["tg_calibrator"], dtype=np.float32)
    # Format 1 stored no names: its coefficients are in the order of FEATURES.
    names = params.get("tg_calibrator_features", list(FEATURES))
    if numbers.ndim != 1 or len(numbers) != len(names) + 1:
        raise ValueError("the target-group calibrator is misshapen")
    calibrator = clone(unfitted) if unfitted is not None else TargetGroupCalibrator()
    calibrator.feature_names_in_ = np.array(names, dtype=object)
    calibrator.n_features_in_ = len(names)
    calibrator.coef_, calibrator.intercept_ = numbers[:-1], numbers[-1]
    return calibrator


def model_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the fitted heads: ``path`` or the bundled ``models/``."""
    if path is not None:
        return Path(path)
    from amif_match._resources import bundled_path

    return bundled_path("models")
