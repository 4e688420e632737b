"""Officers' corrections as training data.

Each stored correction (the latest one per text) becomes one more training project: its text
is embedded like a project description and labelled with the corrected objective. When the
correction gives no target groups or no activities, those of the most similar corpus project
*with the corrected objective* are used, so the target-group and activity heads do not learn
"none" from a correction that was silent about them (and the intervention-field route of the
objective learns the corrected objective as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amif_match.embedding import Embedder, embed_documents
from amif_match.feedback.store import FeedbackRecord

__all__ = ["add_feedback"]


def add_feedback(
    signals: dict[str, Any],
    objectives: Sequence[str],
    target_groups: Sequence[Sequence[str]],
    records: Sequence[FeedbackRecord],
    store: Embedder,
) -> tuple[dict[str, Any], list[str], list[list[str]]]:
    """``training_signals`` plus one project per record; returns ``(signals, objectives,
    target_groups)`` with the records appended (the inputs are not modified)."""
    objectives = list(objectives)
    groups = [list(g) for g in target_groups]
    activities = [list(a) for a in signals["project_activities"]]
    if not records:
        return dict(signals), objectives, groups
    from amif_match.text import normalise

    docs = [normalise(r.text) for r in records]
    vectors, sentences = embed_documents(store, docs)
    # Borrow missing labels from the nearest corpus project with the corrected objective.
    reference = signals["project_vectors"]["fi"]
    corpus_objectives = np.asarray(objectives)
    new_groups, new_activities = [], []
    for record, vector in zip(records, vectors, strict=True):
        nearest = None
        if not (record.target_groups and record.activities):
            same = np.flatnonzero(corpus_objectives == record.objective)
            if len(same):
                nearest = int(same[np.argmax(reference[same] @ vector)])
        new_groups.append(
            list(record.target_groups) or (groups[nearest] if nearest is not None else [])
        )
        new_activities.append(
            list(record.activities) or (activities[nearest] if nearest is not None else [])
        )
    out = dict(signals)
    out["project_vectors"] = {
        key: np.concatenate([v, vectors.astype(v.dtype)])
        for key, v in signals["project_vectors"].items()
    }
    out["project_sentences"] = {
        key: [*v, *sentences] for key, v in signals["project_sentences"].items()
    }
    out["project_texts"] = {
        key: [*v, *(d.text for d in docs)] for key, v in signals["project_texts"].items()
    }
    out["project_languages"] = {
        key: [*v, *(d.language for d in docs)] for key, v in signals["project_languages"].items()
    }
    out["project_activities"] = [*activities, *new_activities]
    return out, [*objectives, *(r.objective for r in records)], [*groups, *new_groups]
