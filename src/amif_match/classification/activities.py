"""Ranking catalogue activities for a proposal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from amif_match.corpus import OBJECTIVES
from amif_match.index import CatalogueIndex

__all__ = ["ActivityRanker"]


class ActivityRanker(BaseEstimator):
    """Scores every catalogue activity by its similarity to a proposal and lists the best.

    The score mixes the document's similarity with its best sentence's similarity, so that one
    concrete sentence ("voluntary return counselling") can lift an activity that the document
    as a whole only touches.

    Args:
        document_weight: Weight of the document similarity; the best sentence gets the rest.

    Learned attributes (after :meth:`fit` on the catalogue):
        codes_, layers_, objectives_: Code, layer and objective codes of each activity.
    """

    def __init__(self, *, document_weight: float = 0.5) -> None:
        self.document_weight = document_weight

    def fit(self, catalogue: CatalogueIndex, y: None = None) -> ActivityRanker:
        """Read the activities' codes, layers and objectives from the catalogue."""
        acts = catalogue.activities
        self.codes_ = list(catalogue.activity_codes)
        self.layers_ = list(acts["layer"])
        self.objectives_ = [list(objs) for objs in acts["objectives"]]
        return self

    def score(
        self, doc_vecs: np.ndarray, sent_vecs: Sequence[np.ndarray], catalogue: CatalogueIndex
    ) -> np.ndarray:
        """``(n, A)`` scores against ``catalogue`` (the view in the documents' language)."""
        acts = catalogue.activity_vectors
        doc = doc_vecs @ acts.T
        best_sentence = np.stack([(s @ acts.T).max(axis=0) for s in sent_vecs])
        return self.document_weight * doc + (1 - self.document_weight) * best_sentence

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
