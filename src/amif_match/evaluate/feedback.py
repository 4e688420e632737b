"""The effect of officers' corrections on held-out corrections (``amif-match evaluate
--with-feedback``).

The corrections are split into folds. For each fold, heads are trained on the corpus plus the
*other* folds' corrections and predict the held-out fold's texts; the baseline is the heads
trained on the corpus alone, predicting the same texts. Accuracy is measured against the
officers' objectives. With few corrections the numbers are noisy: the table says how many
there were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from amif_match.classification.training import fit_proposal_classifier
from amif_match.corpus import OBJECTIVES, Corpus
from amif_match.embedding import DEFAULT_EMBEDDER, embed_documents
from amif_match.feedback import open_store

__all__ = ["evaluate_feedback"]


def evaluate_feedback(
    feedback: Any = None,
    *,
    corpus: Corpus | None = None,
    embedder: str = DEFAULT_EMBEDDER,
    n_splits: int = 5,
    random_state: int = 0,
) -> pd.DataFrame:
    """Objective accuracy on held-out corrections, without and with the other corrections in
    training: one row each (``training``, ``corrections``, ``folds``, ``accuracy``).

    Args:
        feedback: A :class:`~amif_match.feedback.FeedbackStore` or its path (default: the
            default store).
        corpus: The corpus to train on (default: the bundled one).
        embedder: The embedder's name.
        n_splits: Folds of the corrections (at most one per correction).
    """
    from amif_match.index import cached
    from amif_match.matcher import Matcher
    from amif_match.text import normalise

    records = open_store(feedback, corpus=corpus).for_training()
    if len(records) < 2:
        raise ValueError(
            f"evaluating feedback needs at least 2 corrections; the store has {len(records)}"
        )
    matcher = Matcher(corpus, embedder)
    store = cached(matcher.embedder_, matcher.cache_dir)
    catalogue = matcher.catalogue_
    docs = [normalise(r.text) for r in records]
    vectors = embed_documents(store, docs)[0]
    truth = np.array([r.objective for r in records])

    def predict(model: Any, rows: np.ndarray) -> np.ndarray:
        out = []
        for i in rows:
            proba = model.objective_proba(
                vectors[i : i + 1], catalogue.for_language(docs[i].language)
            )
            out.append(OBJECTIVES[int(np.argmax(proba[0]))])
        return np.array(out)

    everything = np.arange(len(records))
    baseline = predict(fit_proposal_classifier(matcher.corpus_, store, catalogue), everything)
    folds = KFold(min(n_splits, len(records)), shuffle=True, random_state=random_state)
    taught = np.empty(len(records), dtype=object)
    for train, test in folds.split(everything):
        model = fit_proposal_classifier(
            matcher.corpus_, store, catalogue, [records[i] for i in train]
        )
        taught[test] = predict(model, test)
    n = len(records)
    return pd.DataFrame(
        [
            {
                "training": "corpus only",
                "corrections": n,
                "folds": folds.n_splits,
                "accuracy": float((baseline == truth).mean()),
            },
            {
                "training": "corpus + the other folds' corrections",
                "corrections": n,
                "folds": folds.n_splits,
                "accuracy": float((taught == truth).mean()),
            },
        ]
    )
