"""Evaluation harness: cross-validated quality of classification (and partner suggestions).

Run ``python -m amif_match.evaluate`` (or ``amif-match evaluate``) to reproduce the tables in
``models/MODEL_CARD.md``. Everything is measured on held-out folds of the corpus projects:
the heads are refitted on the training folds only; the catalogue (not a test item) is always
available, as it is in production.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amif_match.corpus import OBJECTIVES, Corpus

__all__ = [
    "evaluate_classification",
    "evaluate_partners",
    "evaluate_scope",
    "main",
    "write_model_card",
]

METHODS = ("zero-shot", "supervised", "combined", "tfidf+logreg")


def _prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    out = {
        "accuracy": accuracy_score(y_true, y_pred),
        # Macro-F1 over the objectives present in the corpus (SO4 has one project, so it is in
        # the average: a model that never predicts SO4 pays for it).
        "macro_f1": f1_score(
            y_true, y_pred, labels=list(OBJECTIVES), average="macro", zero_division=0
        ),
    }
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(OBJECTIVES), zero_division=0
    )
    for i, code in enumerate(OBJECTIVES):
        out[f"{code}_precision"], out[f"{code}_recall"], out[f"{code}_f1"] = p[i], r[i], f[i]
    return out


def _calibration(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Log loss, Brier score and expected calibration error (10 bins) of the top class."""
    idx = np.array([OBJECTIVES.index(c) for c in y_true])
    p_true = proba[np.arange(len(idx)), idx]
    onehot = np.eye(len(OBJECTIVES))[idx]
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == idx
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(
        abs(conf[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    return {
        "log_loss": float(-np.log(np.clip(p_true, 1e-12, 1)).mean()),
        "brier": float(((proba - onehot) ** 2).sum(axis=1).mean()),
        "ece": float(ece),
    }


def _tg_scores(
    truth: list[list[str]], predicted: list[list[str]], codes: list[str]
) -> dict[str, float]:
    from sklearn.metrics import f1_score

    T = np.array([[c in t for c in codes] for t in truth])
    P = np.array([[c in p for c in codes] for p in predicted])
    present = T.any(axis=0)  # macro over groups that occur in the test fold
    return {
        "tg_micro_f1": f1_score(T, P, average="micro", zero_division=0),
        "tg_macro_f1": f1_score(T[:, present], P[:, present], average="macro", zero_division=0),
        "tg_no_label_share": float((~P.any(axis=1)).mean()),
    }


def _select(
    proba: np.ndarray, threshold: float, codes: list[str], min_labels: int = 1
) -> list[list[str]]:
    out = []
    for row in proba:
        order = np.argsort(-row)
        out.append(
            [codes[j] for rank, j in enumerate(order) if row[j] >= threshold or rank < min_labels]
        )
    return out


def _activity_hits(
    scores: np.ndarray, truth: list[list[str]], codes: list[str], k: int = 3
) -> float:
    hits = []
    for row, labels in zip(scores, truth, strict=True):
        if labels:
            top = {codes[j] for j in np.argsort(-row)[:k]}
            hits.append(bool(top & set(labels)))
    return float(np.mean(hits)) if hits else float("nan")


def evaluate_classification(
    corpus: Corpus | None = None,
    embedder: Any = "me5-small",
    *,
    n_splits: int = 5,
    random_state: int = 0,
) -> dict[str, pd.DataFrame]:
    """Stratified k-fold cross-validation of objectives, target groups and activities.

    Methods, side by side on the same folds: ``zero-shot`` (catalogue similarity only),
    ``supervised`` (heads trained on the training-fold projects only), ``combined`` (the
    production model: supervised + catalogue, blended with zero-shot) and ``tfidf+logreg``
    (character TF-IDF + logistic regression baseline). Test texts are scored in Finnish
    (``description_fi``) and in English (``summary_en``) separately.

    Returns:
        ``{"folds": one row per (method, language, fold), "summary": means over folds}``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    from amif_match.classification.model import (
        ProposalClassifier,
        _Signals,
        zero_shot_objective_scores,
    )
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

    is_field = (cat.activities["layer"] == "intervention_field").to_numpy()

    def act_scores(lang: str, rows: np.ndarray) -> np.ndarray:
        A = cat.for_language(lang).activity_vectors
        doc = vectors[lang][rows] @ A.T
        best = np.stack([(sentences[lang][i] @ A.T).max(axis=0) for i in rows])
        return 0.5 * doc + 0.5 * best

    rows_out: list[dict[str, Any]] = []
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SO4 has a single project: sklearn warns about it
        splits = list(folds.split(np.zeros(len(y)), y))
    for fold, (train, test) in enumerate(splits):

        def subset(d: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
            return {
                k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows])
                for k, v in d.items()
            }

        fit_args = (
            cat,
            subset(vectors, train),
            subset(sentences, train),
            subset(texts, train),
            list(y[train]),
            [tg[i] for i in train],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            combined = ProposalClassifier(random_state=random_state).fit(*fit_args)
            supervised = ProposalClassifier(random_state=random_state).fit(
                *fit_args, use_catalogue=False
            )
            tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
            Xtr = tfidf.fit_transform([texts[lang][i] for lang in langs for i in train])
            ytr = np.tile(y[train], len(langs))
            base = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000).fit(Xtr, ytr)
            mlb = MultiLabelBinarizer(classes=tg_codes)
            Ytr = mlb.fit_transform([tg[i] for _ in langs for i in train])
            keep = Ytr.sum(axis=0) >= 2
            base_tg = OneVsRestClassifier(
                LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000)
            ).fit(Xtr, Ytr[:, keep])
        kept_codes = [c for c, k in zip(tg_codes, keep, strict=True) if k]

        for lang in langs:
            view = cat.for_language(lang)
            V = vectors[lang][test]
            sig = _Signals(V, [sentences[lang][i] for i in test], [texts[lang][i] for i in test])
            truth_tg = [tg[i] for i in test]
            scores = act_scores(lang, test)
            truth_acts = [acts[i] for i in test]
            # The corpus labels are intervention-field codes, so also rank within that layer.
            act = {
                "activities_hit@3": _activity_hits(scores, truth_acts, cat.activity_codes),
                "intervention_field_hit@3": _activity_hits(
                    np.where(is_field, scores, -np.inf), truth_acts, cat.activity_codes
                ),
            }
            no_act = dict.fromkeys(act, float("nan"))
            Xte = tfidf.transform([texts[lang][i] for i in test])
            lex = np.stack([cat.lexical_target_groups(t) for t in sig.texts])
            zs_tg_scores = lex + 0.01 * (V @ view.target_group_vectors.T)  # ties -> most similar
            comb_p = combined.objective_proba(V, view)
            probas = {
                "zero-shot": combined.objective_proba(V, view, mode="zero-shot"),
                "supervised": supervised.objective_proba(V, view, mode="supervised"),
                "combined": comb_p,
            }
            preds = {
                "zero-shot": (
                    np.array(OBJECTIVES)[zero_shot_objective_scores(V, view).argmax(axis=1)],
                    _select(zs_tg_scores, 1.0, tg_codes),
                    act,
                ),
                "supervised": (
                    np.array(OBJECTIVES)[
                        supervised.objective_proba(V, view, mode="supervised").argmax(axis=1)
                    ],
                    _select(
                        1
                        / (
                            1
                            + np.exp(
                                -supervised._tg_logits(supervised.target_group_head_, V, tg_codes)
                            )
                        ),
                        0.5,
                        tg_codes,
                    ),
                    no_act,
                ),
                "combined": (
                    np.array(OBJECTIVES)[comb_p.argmax(axis=1)],
                    _select(
                        combined.target_group_proba(sig, view), combined.tg_threshold_, tg_codes
                    ),
                    act,
                ),
                "tfidf+logreg": (
                    base.predict(Xte),
                    _select(base_tg.predict_proba(Xte), 0.5, kept_codes),
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
                        **_prf(y[test], pred),
                        **_tg_scores(truth_tg, tg_pred, tg_codes),
                        **(_calibration(y[test], probas[method]) if method in probas else {}),
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


def evaluate_scope(
    corpus: Corpus | None = None,
    embedder: Any = "me5-small",
    *,
    n_splits: int = 5,
    random_state: int = 0,
) -> pd.DataFrame:
    """Cross-validated scope check (AMIF or not) and fund guess for rejected texts.

    Folds split the projects (both language versions of a project stay together) and the
    out-of-scope texts; catalogue texts are always in training. Returns one row per fold plus
    a ``mean`` row.
    """
    from sklearn.model_selection import KFold

    from amif_match.classification.heads import EmbeddingClassifier
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
    n_proj = len(next(iter(proj.values())))
    kf = KFold(n_splits, shuffle=True, random_state=random_state)
    proj_folds = list(kf.split(np.arange(n_proj)))
    neg_folds = list(kf.split(np.arange(len(neg))))
    rows = []
    for fold, ((ptr, pte), (ntr, nte)) in enumerate(zip(proj_folds, neg_folds, strict=True)):
        pos_train = np.concatenate([*(v[ptr] for v in proj.values()), catalogue_rows])
        X = np.concatenate([pos_train, neg[ntr]])
        yy = np.array(["amif"] * len(pos_train) + ["other"] * len(ntr))
        head = EmbeddingClassifier(None, C=4.0).fit(X, yy)
        fund_head = EmbeddingClassifier(None, C=4.0).fit(neg[ntr], funds[ntr])
        pos_test = np.concatenate([v[pte] for v in proj.values()])
        Xte = np.concatenate([pos_test, neg[nte]])
        truth = np.array([True] * len(pos_test) + [False] * len(nte))
        pred = head.predict(Xte) == "amif"
        out_pred, out_true = ~pred, ~truth
        tp = float((out_pred & out_true).sum())
        rows.append(
            {
                "fold": fold,
                "accuracy": float((pred == truth).mean()),
                "out_of_scope_precision": tp / max(out_pred.sum(), 1),
                "out_of_scope_recall": tp / max(out_true.sum(), 1),
                "amif_kept": float(pred[truth].mean()),
                "fund_accuracy": float((fund_head.predict(neg[nte]) == funds[nte]).mean()),
                "n_test": len(Xte),
            }
        )
    frame = pd.DataFrame(rows)
    mean = frame.mean(numeric_only=True).to_dict()
    mean["fold"] = "mean"
    return pd.concat([frame, pd.DataFrame([mean])], ignore_index=True)


def evaluate_partners(
    corpus: Corpus | None = None, embedder: Any = None, **options: Any
) -> dict[str, pd.DataFrame]:
    """Leave-one-partner-out evaluation of partner suggestions against three baselines.

    See :func:`amif_match.partners.evaluate_partners` for the protocol and the tables.
    """
    from amif_match.partners import evaluate_partners as run

    return run(corpus, embedder, **options)


def _md(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_model_card(results: dict[str, Any], path: str | Path, *, command: str) -> Path:
    """Replace the generated section of ``MODEL_CARD.md`` with fresh tables.

    Only the text between ``<!-- results:start -->`` and ``<!-- results:end -->`` is
    rewritten, so the hand-written parts of the card stay.
    """
    path = Path(path)
    summary = results["classification"]["summary"]
    objective_cols = [
        "method",
        "language",
        "accuracy",
        "macro_f1",
        "SO1_f1",
        "SO2_f1",
        "SO3_f1",
        "SO4_f1",
    ]
    tg_cols = [
        "method",
        "language",
        "tg_micro_f1",
        "tg_macro_f1",
        "tg_no_label_share",
        "activities_hit@3",
        "intervention_field_hit@3",
    ]
    per_obj = summary[summary["method"] == "combined"][
        ["language"] + [f"{c}_{m}" for c in OBJECTIVES for m in ("precision", "recall", "f1")]
    ]
    folds = results["classification"]["folds"]
    per_fold = folds[folds["method"].isin(["combined", "tfidf+logreg"])][
        ["method", "language", "fold", "accuracy", "macro_f1"]
    ]
    parts = [
        "<!-- results:start -->",
        f"_Generated by `{command}` on {time.strftime('%Y-%m-%d')} "
        f"(embedder `{results['embedder']}`, amif_match {results['version']}, "
        f"{results['n_projects']} projects, {results['n_splits']}-fold stratified CV, "
        f"{results['seconds']:.0f} s)._",
        "",
        "### Objectives (mean over folds)",
        _md(summary[objective_cols]),
        "",
        "### Objectives per fold (combined vs. baseline)",
        _md(per_fold),
        "",
        "### Calibration of objective probabilities (mean over folds; lower is better)",
        _md(
            summary[summary["method"] != "tfidf+logreg"][
                ["method", "language", "log_loss", "brier", "ece"]
            ]
        ),
        "",
        "### Per-objective precision / recall / F1 (combined)",
        _md(per_obj),
        "",
        "### Target groups and activities (mean over folds)",
        _md(summary[tg_cols]),
        "",
        "### Scope check (cross-validated)",
        _md(results["scope"]),
    ]
    if "partners" in results:
        parts += ["", "### Partner suggestions (leave-one-partner-out)"]
        for name, frame in results["partners"].items():
            parts += ["", f"**{name}**", "", _md(frame)]
    parts.append("<!-- results:end -->")
    block = "\n".join(parts)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = text.find("<!-- results:start -->"), text.find("<!-- results:end -->")
    if start >= 0 and end >= 0:
        text = text[:start] + block + text[end + len("<!-- results:end -->") :]
    else:
        text = text + ("\n\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _print_tables(results: dict[str, Any]) -> None:
    summary = results["classification"]["summary"]
    columns = [
        "method",
        "language",
        "accuracy",
        "macro_f1",
        "tg_micro_f1",
        "tg_macro_f1",
        "tg_no_label_share",
        "activities_hit@3",
        "intervention_field_hit@3",
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(summary[columns].to_string(index=False))
        print(results["scope"].to_string(index=False))
        for name, frame in results.get("partners", {}).items():
            print(f"\n{name}\n{frame.to_string(index=False)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m amif_match.evaluate [--splits 5] [--card models/MODEL_CARD.md]``."""
    from amif_match._version import __version__

    parser = argparse.ArgumentParser(
        prog="amif-match evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--splits", type=int, default=5, help="number of CV folds (default 5)")
    parser.add_argument("--embedder", default="me5-small")
    parser.add_argument("--card", default=None, help="write the tables into this model card")
    parser.add_argument("--no-partners", action="store_true", help="skip the partner evaluation")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "classification": evaluate_classification(embedder=args.embedder, n_splits=args.splits),
        "scope": evaluate_scope(embedder=args.embedder, n_splits=args.splits),
    }
    if not args.no_partners:
        tables = evaluate_partners()
        results["partners"] = {
            "by segment (all periods)": tables["metrics"],
            "by period (weights tuned on 2014-2020 queries only)": tables["by_period"],
            "diversity of top-10 lists": tables["diversity"],
        }
    results.update(
        embedder=args.embedder,
        version=__version__,
        n_projects=len(Corpus.default().projects),
        n_splits=args.splits,
        seconds=time.perf_counter() - start,
    )
    summary = results["classification"]["summary"]
    if args.json:

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(frame.to_json(orient="records"))

        print(
            json.dumps(
                {
                    "classification": records(summary),
                    "classification_folds": records(results["classification"]["folds"]),
                    "scope": records(results["scope"]),
                    "partners": {k: records(v) for k, v in results.get("partners", {}).items()},
                    **{k: results[k] for k in ("embedder", "version", "n_projects", "n_splits")},
                },
                ensure_ascii=False,
            )
        )
    else:
        _print_tables(results)
    if args.card:
        command = (
            "python -m amif_match.evaluate"
            + (f" --splits {args.splits}" if args.splits != 5 else "")
            + f" --card {args.card}"
        )
        write_model_card(results, args.card, command=command)
        print(f"wrote {args.card}", file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
