"""Ranking catalogue activities for a proposal.

Two signals, both probabilities, averaged: a **learned** one (one-vs-rest heads trained on the
catalogue codes of the corpus projects: what projects like this one actually did) and a
**similarity** one (the proposal's similarity to each activity, mapped to a probability by a
logistic calibrator fitted on the same projects). Without labelled projects only the raw
similarity ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from amif_match.classification.calibration import sigmoid
from amif_match.classification.heads import EmbeddingClassifier
from amif_match.corpus import OBJECTIVES
from amif_match.estimator import Estimator, check_is_fitted
from amif_match.index import CatalogueIndex, unit

__all__ = ["ActivityRanker"]


def neutral_activity_vectors(catalogue: CatalogueIndex) -> np.ndarray:
    """``(A, d)`` activity vectors averaged over the catalogue languages.

    Every proposal meets the same vectors whatever its language, so the similarity calibrator
    fitted on projects of 21 languages means the same for all of them.
    """
    per_language = catalogue.language_vectors.get("activities")
    if per_language is None:
        return catalogue.activity_vectors
    return unit(per_language.mean(axis=1))


class ActivityRanker(Estimator):
    """Scores every catalogue activity for a proposal and lists the best.

    Args:
        document_weight: In the similarity, weight of the document's similarity; its best
            sentence gets the rest, so one concrete sentence ("voluntary return counselling")
            can lift an activity the document as a whole only touches.
        learned_weight: Weight of the learned probability in the score (the calibrated
            similarity gets the rest).
        C: Regularisation of the learned heads.
        min_positive: Projects an activity needs to get its own learned head (others get the
            share of training projects that have it).
        objective_floor: With the proposal's objective probabilities, each score is scaled by
            ``floor + (1 - floor) · p``, ``p`` the probability of the activity's most probable
            objective, so an activity of an objective the proposal is clearly not about
            (resettlement for a women's employment project) drops; ``1`` turns this off.

    Learned attributes (after :meth:`fit`):
        codes_, layers_, objectives_: Code, layer and objective codes of each activity.
        head_: Multi-label :class:`~.heads.EmbeddingClassifier` over activity codes, or ``None``
            when fitted on the catalogue alone. similarity_calibration_: ``(slope, intercept)``
            of the similarity calibrator (``None`` likewise).
    """

    def __init__(
        self,
        *,
        document_weight: float = 0.5,
        learned_weight: float = 0.5,
        C: float = 4.0,
        min_positive: int = 3,
        objective_floor: float = 0.5,
    ) -> None:
        self.document_weight = document_weight
        self.learned_weight = learned_weight
        self.C = C
        self.min_positive = min_positive
        self.objective_floor = objective_floor

    @classmethod
    def of(cls, classifier: Any, catalogue: CatalogueIndex) -> ActivityRanker:
        """``classifier``'s trained ranker (``activities_``) when it fits ``catalogue``'s
        activities, else a similarity-only ranker (heads saved before it was trained)."""
        ranker = getattr(classifier, "activities_", None)
        if ranker is not None and ranker.codes_ == list(catalogue.activity_codes):
            return ranker
        return cls().fit(catalogue)

    def fit(
        self,
        catalogue: CatalogueIndex,
        y: None = None,
        *,
        vectors: Mapping[str, np.ndarray] | None = None,
        sentences: Mapping[str, Sequence[np.ndarray]] | None = None,
        activities: Sequence[Sequence[str]] | None = None,
    ) -> ActivityRanker:
        """Read the catalogue; with labelled projects, also learn the heads and the calibrator.

        Args:
            catalogue: The embedded catalogue.
            vectors: View name -> ``(n, d)`` document vectors of the projects.
            sentences: View name -> per-project sentence vectors (same views as ``vectors``).
            activities: Catalogue codes of each project.
        """
        from sklearn.linear_model import LogisticRegression

        acts = catalogue.activities
        self.codes_ = list(catalogue.activity_codes)
        self.layers_ = list(acts["layer"])
        self.objectives_ = [list(objs) for objs in acts["objectives"]]
        self.head_ = None
        self.similarity_calibration_ = None
        if activities is None or not vectors or not sentences:
            return self
        known = set(self.codes_)
        labels = [[c for c in codes if c in known] for codes in activities]
        views = list(vectors)
        X = np.concatenate([vectors[v] for v in views])
        Y = [labels[i] for _ in views for i in range(len(labels))]
        self.head_ = EmbeddingClassifier(
            None, C=self.C, multilabel=True, min_positive=self.min_positive * len(views)
        ).fit(X, Y)
        raw = np.concatenate([self.similarity(vectors[v], sentences[v], catalogue) for v in views])
        truth = np.zeros_like(raw, dtype=bool)
        column = {code: j for j, code in enumerate(self.codes_)}
        for r, codes in enumerate(Y):
            truth[r, [column[c] for c in codes]] = True
        calibrator = LogisticRegression(C=1.0, class_weight="balanced").fit(
            raw.reshape(-1, 1), truth.ravel()
        )
        self.similarity_calibration_ = (
            float(calibrator.coef_[0, 0]),
            float(calibrator.intercept_[0]),
        )
        return self

    def similarity(
        self, doc_vecs: np.ndarray, sent_vecs: Sequence[np.ndarray], catalogue: CatalogueIndex
    ) -> np.ndarray:
        """``(n, A)`` raw similarity: document and best sentence, language-neutral catalogue."""
        acts = neutral_activity_vectors(catalogue)
        doc = doc_vecs @ acts.T
        best_sentence = np.stack([(s @ acts.T).max(axis=0) for s in sent_vecs])
        return self.document_weight * doc + (1 - self.document_weight) * best_sentence

    def learned_proba(self, doc_vecs: np.ndarray) -> np.ndarray:
        """``(n, A)`` learned probability of each catalogue activity (0 for codes never seen)."""
        check_is_fitted(self)
        out = np.zeros((len(doc_vecs), len(self.codes_)), dtype=np.float32)
        if self.head_ is None:
            return out
        proba = self.head_.predict_proba(doc_vecs)
        column = {code: j for j, code in enumerate(self.codes_)}
        for k, code in enumerate(self.head_.classes_):
            if code in column:
                out[:, column[code]] = proba[:, k]
        return out

    def score(
        self,
        doc_vecs: np.ndarray,
        sent_vecs: Sequence[np.ndarray],
        catalogue: CatalogueIndex,
        objective_proba: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(n, A)`` scores: a probability-like mean of the learned and similarity signals.

        Fitted on the catalogue alone, the raw similarity. ``objective_proba`` (``(n, 4)``,
        OBJECTIVES order) scales each activity by its objective's probability (see
        ``objective_floor``).
        """
        check_is_fitted(self)
        raw = self.similarity(doc_vecs, sent_vecs, catalogue)
        if self.head_ is None or self.similarity_calibration_ is None:
            return raw
        slope, intercept = self.similarity_calibration_
        p_sim = sigmoid(slope * raw + intercept)
        w = self.learned_weight
        scores = w * self.learned_proba(doc_vecs) + (1 - w) * p_sim
        if objective_proba is None:
            return scores
        # Probability of each activity's most probable objective, per text.
        serves = np.array(
            [[o in objs for o in OBJECTIVES] for objs in self.objectives_], dtype=bool
        )
        best = np.where(serves[None, :, :], objective_proba[:, None, :], 0.0).max(axis=2)
        floor = self.objective_floor
        return scores * (floor + (1 - floor) * best)

    def top(
        self,
        scores: np.ndarray,
        objective_proba: np.ndarray,
        k: int,
        *,
        names: Mapping[str, str] | None = None,
        layer: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``k`` best activities of one document (``scores``: one row of :meth:`score`).

        Each is ``{code, layer, objective, name, score}``; ``objective`` is the most probable
        (by ``objective_proba``, in OBJECTIVES order) of the objectives the activity serves,
        ``name`` comes from ``names`` (code -> display name; the code when missing).
        """
        check_is_fitted(self)
        out = []
        for j in np.argsort(-scores):
            if layer is not None and self.layers_[j] != layer:
                continue
            code = self.codes_[j]
            best = max(self.objectives_[j], key=lambda o: objective_proba[OBJECTIVES.index(o)])
            out.append(
                {
                    "code": code,
                    "layer": self.layers_[j],
                    "objective": best,
                    "name": code if names is None else names.get(code, code),
                    "score": round(float(scores[j]), 4),
                }
            )
            if len(out) == k:
                break
        return out
