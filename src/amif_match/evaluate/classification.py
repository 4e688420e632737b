"""Cross-validated quality of the objective, target-group and activity estimators.

Everything is measured on held-out folds of the corpus projects: the estimators are refitted
on the training folds only; the catalogue (not a test item) is always available, as it is in
production.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

from amif_match.classification import (
    ActivityRanker,
    ObjectiveClassifier,
    ProposalClassifier,
    Signals,
    TargetGroupClassifier,
)
from amif_match.classification.calibration import sigmoid
from amif_match.corpus import OBJECTIVES, Corpus
from amif_match.embedding import DEFAULT_EMBEDDER
from amif_match.evaluate.metrics import (
    activity_hits,
    calibration,
    objective_scores,
    select,
    target_group_scores,
)

__all__ = ["METHODS", "evaluate_classification"]

METHODS = ("zero-shot", "supervised", "combined", "tfidf+logreg")


@dataclass
class _Baseline:
    """The character TF-IDF + logistic regression baseline of one fold."""

    tfidf: TfidfVectorizer
    objective: LogisticRegression
    target_groups: OneVsRestClassifier
    codes: list[str]  # the target groups it has a model for (two or more training examples)

    @classmethod
    def fit(
        cls, texts: list[str], y: np.ndarray, groups: list[list[str]], codes: list[str]
    ) -> _Baseline:
        tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        X = tfidf.fit_transform(texts)
        objective = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000).fit(X, y)
        Y = MultiLabelBinarizer(classes=codes).fit_transform(groups)
        keep = Y.sum(axis=0) >= 2
        target_groups = OneVsRestClassifier(
            LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000)
        ).fit(X, Y[:, keep])
        kept = [c for c, k in zip(codes, keep, strict=True) if k]
        return cls(tfidf, objective, target_groups, kept)


def _subset(d: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    return {
        k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in d.items()
    }


def evaluate_classification(
    corpus: Corpus | None = None,
    embedder: Any = DEFAULT_EMBEDDER,
    *,
    n_splits: int = 5,
    random_state: int = 0,
    folds_of: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Stratified k-fold cross-validation of objectives, target groups and activities.

    With ``folds_of`` (country codes, e.g. ``["FI"]``) only those countries' projects are split
    into folds and tested; every other project is always in training (the production model is
    trained on all countries, so this is what a Finnish applicant gets). Without it, every
    project is split into folds.

    Methods, side by side on the same folds: ``zero-shot`` (catalogue similarity only),
    ``supervised`` (heads trained on the training-fold projects only), ``combined`` (the
    production model: supervised + catalogue, blended with zero-shot) and ``tfidf+logreg``
    (character TF-IDF + logistic regression baseline). Test texts are scored in Finnish
    (``description_fi``) and in English (``summary_en``) separately.

    Returns:
        ``{"folds": one row per (method, language, fold), "summary": means over folds}``.
    """
    from amif_match.matcher import Matcher

    matcher = Matcher(corpus, embedder)
    cat = matcher.catalogue_
    signals = matcher.training_signals()
    vectors, sentences, texts = (
        signals["project_vectors"],
        signals["project_sentences"],
        signals["project_texts"],
    )
    projects = matcher.corpus_.projects
    y = projects["objective"].to_numpy()
    tg = [list(t) for t in projects["target_groups"]]
    acts = [list(a) for a in projects["activities"]]
    tg_codes = cat.target_group_codes
    langs = list(vectors)
    languages = signals["project_languages"]
    is_field = (cat.activities["layer"] == "intervention_field").to_numpy()

    rows_out: list[dict[str, Any]] = []
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    tested = np.arange(len(y))
    if folds_of is not None:
        tested = np.flatnonzero(projects["country"].isin(list(folds_of)).to_numpy())
        if not len(tested):
            raise ValueError(f"no projects of {list(folds_of)} in the corpus")
    always = np.setdiff1d(np.arange(len(y)), tested)  # in every training set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Finland has a single SO4 project: sklearn warns
        splits = [
            (np.concatenate([always, tested[train]]), tested[test])
            for train, test in folds.split(np.zeros(len(tested)), y[tested])
        ]
    for fold, (train, test) in enumerate(splits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            combined = ProposalClassifier(
                objective=ObjectiveClassifier(random_state=random_state),
                target_groups=TargetGroupClassifier(random_state=random_state),
            ).fit(
                cat,
                _subset(vectors, train),
                _subset(sentences, train),
                _subset(texts, train),
                list(y[train]),
                [tg[i] for i in train],
                project_languages=_subset({k: list(v) for k, v in languages.items()}, train),
                activities=[acts[i] for i in train],
            )
            # The similarity-only ranker (zero-shot) next to the trained one (combined).
            ranker = ActivityRanker().fit(cat)
            supervised = ObjectiveClassifier(use_catalogue=False, random_state=random_state)
            supervised.fit(_subset(vectors, train), list(y[train]), catalogue=cat)
            baseline = _Baseline.fit(
                [texts[lang][i] for lang in langs for i in train],
                np.tile(y[train], len(langs)),
                [tg[i] for _ in langs for i in train],
                tg_codes,
            )

        for lang in langs:
            view = cat.for_language(lang)
            V = vectors[lang][test]
            sig = Signals(V, [sentences[lang][i] for i in test], [texts[lang][i] for i in test])
            truth_tg = [tg[i] for i in test]
            truth_acts = [acts[i] for i in test]

            def hits(
                scores: np.ndarray, truth_acts: list[list[str]] = truth_acts
            ) -> dict[str, float]:
                # The corpus labels are mostly intervention fields: also rank within that layer.
                return {
                    "activities_hit@3": activity_hits(scores, truth_acts, cat.activity_codes),
                    "intervention_field_hit@3": activity_hits(
                        np.where(is_field, scores, -np.inf), truth_acts, cat.activity_codes
                    ),
                }

            act_zs = hits(ranker.score(V, sig.sentences, view))
            act = hits(
                combined.activities_.score(
                    V, sig.sentences, view, combined.objective_proba(V, view)
                )
            )
            no_act = dict.fromkeys(act, float("nan"))
            Xte = baseline.tfidf.transform(sig.texts)
            lex = np.stack([cat.lexical_target_groups(t) for t in sig.texts])
            zs_tg_scores = lex + 0.01 * (V @ view.target_group_vectors.T)  # ties -> most similar
            groups = combined.target_groups_
            probas = {
                "zero-shot": combined.objective_proba(V, view, mode="zero-shot"),
                "supervised": supervised.predict_proba(V, view, mode="supervised"),
                "combined": combined.objective_proba(V, view),
            }
            zero_shot = combined.objective_.zero_shot_scores(V, view)
            # The supervised method's target groups: the head alone (it does not depend on the
            # catalogue, so the combined model's head is the supervised one), at 0.5.
            supervised_tg = sigmoid(groups.supervised_logits(V, tg_codes))
            preds = {
                "zero-shot": (
                    np.array(OBJECTIVES)[zero_shot.argmax(axis=1)],
                    select(zs_tg_scores, 1.0, tg_codes),
                    act_zs,
                ),
                "supervised": (
                    np.array(OBJECTIVES)[probas["supervised"].argmax(axis=1)],
                    select(supervised_tg, 0.5, tg_codes),
                    no_act,
                ),
                "combined": (
                    np.array(OBJECTIVES)[probas["combined"].argmax(axis=1)],
                    select(groups.predict_proba(sig, view), groups.threshold_, tg_codes),
                    act,
                ),
                "tfidf+logreg": (
                    baseline.objective.predict(Xte),
                    select(baseline.target_groups.predict_proba(Xte), 0.5, baseline.codes),
                    no_act,
                ),
            }
            for method, (pred, tg_pred, hits) in preds.items():
                rows_out.append(
                    {
                        "method": method,
                        "language": lang,
                        "fold": fold,
                        "n_test": len(test),
                        **objective_scores(y[test], pred),
                        **target_group_scores(truth_tg, tg_pred, tg_codes),
                        **(calibration(y[test], probas[method]) if method in probas else {}),
                        **hits,
                    }
                )
    folds_frame = pd.DataFrame(rows_out)
    summary = (
        folds_frame.drop(columns=["fold"])
        .groupby(["method", "language"], sort=False)
        .mean(numeric_only=True)
        .reset_index()
    )
    return {"folds": folds_frame, "summary": summary}
