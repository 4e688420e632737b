"""Metrics of the classification evaluation: objectives, calibration, target groups, activities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from amif_match.corpus import OBJECTIVES

__all__ = [
    "activity_hits",
    "calibration",
    "objective_scores",
    "reliability_table",
    "select",
    "target_group_scores",
]


def objective_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and per-objective precision, recall and F1."""
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


def calibration(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
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


def target_group_scores(
    truth: list[list[str]], predicted: list[list[str]], codes: list[str]
) -> dict[str, float]:
    """Micro- and macro-F1 of target-group sets, and the share of texts given no group."""
    T = np.array([[c in t for c in codes] for t in truth])
    P = np.array([[c in p for c in codes] for p in predicted])
    present = T.any(axis=0)  # macro over groups that occur in the test fold
    return {
        "tg_micro_f1": f1_score(T, P, average="micro", zero_division=0),
        "tg_macro_f1": f1_score(T[:, present], P[:, present], average="macro", zero_division=0),
        "tg_no_label_share": float((~P.any(axis=1)).mean()),
    }


def select(
    proba: np.ndarray, threshold: float, codes: list[str], min_labels: int = 1
) -> list[list[str]]:
    """Codes at or above ``threshold`` in each row, and at least the ``min_labels`` best."""
    out = []
    for row in proba:
        order = np.argsort(-row)
        out.append(
            [codes[j] for rank, j in enumerate(order) if row[j] >= threshold or rank < min_labels]
        )
    return out


def activity_hits(
    scores: np.ndarray, truth: list[list[str]], codes: list[str], k: int = 3
) -> float:
    """Share of labelled texts with at least one true activity among the ``k`` best scored."""
    hits = []
    for row, labels in zip(scores, truth, strict=True):
        if labels:
            top = {codes[j] for j in np.argsort(-row)[:k]}
            hits.append(bool(top & set(labels)))
    return float(np.mean(hits)) if hits else float("nan")


def reliability_table(y_true: Sequence[str], proba: np.ndarray, *, bins: int = 10) -> pd.DataFrame:
    """Confidence of the top label against its accuracy, in ``bins`` equal-width bins.

    One row per non-empty bin: ``bin`` (its range), ``texts``, ``confidence`` (mean top
    probability) and ``accuracy`` (share of texts whose top label is right); a calibrated
    model has the two close in every bin.
    """
    idx = np.array([OBJECTIVES.index(c) for c in y_true])
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == idx
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows = [
        {
            "bin": f"{b / bins:.1f}–{(b + 1) / bins:.1f}",
            "texts": int((which == b).sum()),
            "confidence": float(conf[which == b].mean()),
            "accuracy": float(correct[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return pd.DataFrame(rows)
