"""Cross-validated quality of the scope check (AMIF or not) and of the fund guess."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold

from amif_match.classification import ScopeClassifier
from amif_match.corpus import Corpus
from amif_match.embedding import DEFAULT_EMBEDDER

__all__ = ["evaluate_scope"]


def evaluate_scope(
    corpus: Corpus | None = None,
    embedder: Any = DEFAULT_EMBEDDER,
    *,
    n_splits: int = 5,
    random_state: int = 0,
    scope: ScopeClassifier | None = None,
) -> pd.DataFrame:
    """Cross-validated scope check (AMIF or not) and fund guess for rejected texts.

    Folds split the projects (both language versions of a project stay together) and the
    out-of-scope texts; catalogue texts are always in training. ``scope`` is the estimator to
    evaluate (default: :class:`~amif_match.classification.ScopeClassifier` with the
    production parameters). Returns one row per fold plus a ``mean`` row.
    """
    from amif_match.matcher import Matcher

    matcher = Matcher(corpus, embedder)
    cat = matcher.catalogue_
    signals = matcher.training_signals()
    proj = signals["project_vectors"]
    neg = signals["scope_negatives"]
    funds = np.asarray(signals["scope_funds"])
    catalogue_rows = np.concatenate(
        [v.reshape(-1, v.shape[-1]) for v in cat.language_vectors.values()]
    )
    # Row languages for the production language balance (see ScopeClassifier).
    proj_langs = {key: np.asarray(signals["project_languages"][key]) for key in proj}
    cat_langs = [
        lang
        for lang, v in cat.language_vectors.items()
        for _ in range(len(v.reshape(-1, v.shape[-1])))
    ]
    neg_langs = np.asarray(signals["scope_languages"])
    flags = signals.get("scope_migration")
    migration = None if flags is None else np.asarray(flags, dtype=bool)
    names = matcher.corpus_.out_of_scope.get("name")
    real = (
        np.zeros(len(neg), dtype=bool)
        if names is None
        else names.fillna("").astype(str).str.strip().ne("").to_numpy()
    )
    n_proj = len(next(iter(proj.values())))
    kf = KFold(n_splits, shuffle=True, random_state=random_state)
    proj_folds = list(kf.split(np.arange(n_proj)))
    neg_folds = list(kf.split(np.arange(len(neg))))
    estimator = ScopeClassifier() if scope is None else scope
    rows = []
    for fold, ((ptr, pte), (ntr, nte)) in enumerate(zip(proj_folds, neg_folds, strict=True)):
        pos_train = np.concatenate([*(v[ptr] for v in proj.values()), catalogue_rows])
        X = np.concatenate([pos_train, neg[ntr]])
        in_scope = np.arange(len(X)) < len(pos_train)
        languages = [*(lang for key in proj for lang in proj_langs[key][ptr]), *cat_langs]
        languages += list(neg_langs[ntr])
        about = None
        if migration is not None:
            about = np.concatenate([np.ones(len(pos_train), dtype=bool), migration[ntr]])
        model = clone(estimator).fit(
            X, in_scope, funds=funds[ntr], languages=languages, migration=about
        )
        pos_test = np.concatenate([v[pte] for v in proj.values()])
        Xte = np.concatenate([pos_test, neg[nte]])
        truth = np.array([True] * len(pos_test) + [False] * len(nte))
        pred = model.predict(Xte)
        out_pred, out_true = ~pred, ~truth
        tp = float((out_pred & out_true).sum())
        guessed = np.array([fund for fund, _ in model.fund_guess(neg[nte])])
        rows.append(
            {
                "fold": fold,
                "accuracy": float((pred == truth).mean()),
                "out_of_scope_precision": tp / max(out_pred.sum(), 1),
                "out_of_scope_recall": tp / max(out_true.sum(), 1),
                "amif_kept": float(pred[truth].mean()),
                # Recall on the real projects of other funds, and on the migration-related ones
                # (the hard second stage); NaN where a fold has none.
                "real_negatives_recall": _share(~pred[len(pos_test) :], real[nte]),
                "migration_negatives_recall": _share(
                    ~pred[len(pos_test) :],
                    np.zeros(len(nte), bool) if migration is None else migration[nte],
                ),
                "fund_accuracy": float((guessed == funds[nte]).mean()),
                "n_test": len(Xte),
            }
        )
    frame = pd.DataFrame(rows)
    mean = frame.mean(numeric_only=True, skipna=True).to_dict()
    mean["fold"] = "mean"
    return pd.concat([frame, pd.DataFrame([mean])], ignore_index=True)


def _share(hit: np.ndarray, rows: np.ndarray) -> float:
    return float(hit[rows].mean()) if rows.any() else float("nan")
