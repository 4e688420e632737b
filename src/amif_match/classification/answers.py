"""From probabilities to the lists of a :class:`~.results.Classification`: which labels are
selected, which are shown, and which sentences are evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from amif_match.classification.results import Classification
from amif_match.corpus import OBJECTIVES

__all__ = ["evidence_rows", "label_rows", "not_assessed", "selected_objectives"]


def label_rows(
    proba: np.ndarray,
    codes: Sequence[str],
    names: Mapping[str, str],
    *,
    threshold: float,
    min_labels: int,
    k: int | None = None,
) -> list[dict[str, Any]]:
    """``{code, name, probability, selected}`` rows, most probable first.

    A label is selected at or above ``threshold``, and the ``min_labels`` most probable always
    are. With ``k``, the selected labels are shown and then the next best up to ``k`` in all;
    without, every label is shown.
    """
    order = np.argsort(-proba)
    chosen = [j for rank, j in enumerate(order) if proba[j] >= threshold or rank < min_labels]
    shown = list(order) if k is None else chosen + [j for j in order if j not in chosen]
    if k is not None:
        shown = shown[: max(k, len(chosen))]
    return [
        {
            "code": codes[j],
            "name": names[codes[j]],
            "probability": round(float(proba[j]), 4),
            "selected": j in chosen,
        }
        for j in shown
    ]


def selected_objectives(rows: list[dict[str, Any]]) -> list[str]:
    """The selected objective codes of :func:`label_rows`, in OBJECTIVES order."""
    selected = {row["code"] for row in rows if row["selected"]}
    return [code for code in OBJECTIVES if code in selected]


def evidence_rows(
    units: Sequence[str], proba: np.ndarray, selected: Sequence[str], k: int
) -> list[dict[str, Any]]:
    """Sentences ranked by how strongly each supports a selected objective.

    ``proba`` holds one row of objective probabilities per sentence. A sentence that occurs
    more than once (repeated paragraphs, boilerplate; compared ignoring case) is listed once,
    with its best score: copies would only crowd out other evidence.
    """
    rows = []
    for i, sentence in enumerate(units):
        j = max((OBJECTIVES.index(o) for o in selected), key=lambda c: proba[i, c])
        rows.append(
            {"text": sentence, "supports": OBJECTIVES[j], "score": round(float(proba[i, j]), 4)}
        )
    rows.sort(key=lambda r: -r["score"])  # stable: equal scores keep the text order
    evidence: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        key = row["text"].casefold()
        if key not in seen:
            seen.add(key)
            evidence.append(row)
            if len(evidence) == k:
                break
    return evidence


def not_assessed(
    text: str,
    language: str,
    problem: str | None,
    objective_names: Mapping[str, str],
    model: dict[str, str],
) -> Classification:
    """The answer for a text that is not a project description: no labels, no scores.

    The model would map such a text to some vector and answer with confident-looking
    probabilities, so it is not asked; the objectives are reported at chance.
    """
    chance = round(1.0 / len(OBJECTIVES), 4)
    return Classification(
        objective=OBJECTIVES[0],
        objectives=[
            {"code": code, "name": objective_names[code], "probability": chance, "selected": False}
            for code in OBJECTIVES
        ],
        activities=[],
        target_groups=[],
        evidence=[],
        similar_projects=[],
        in_scope=False,
        scope_score=0.0,
        resembles=None,
        language=language,
        model=model,
        text=text,
        scope_reason=problem,
    )
