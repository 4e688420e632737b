"""Small numeric pieces the classification estimators share: softmax, sigmoid, the geometric
blend of two probability tables, and the micro-F1 threshold search."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["blend", "sigmoid", "softmax", "tune_threshold"]


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis (shifted by the row maximum, so it cannot overflow)."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, element-wise."""
    return 1.0 / (1.0 + np.exp(-x))


def blend(p_sup: np.ndarray, p_zs: np.ndarray, w: float) -> np.ndarray:
    """Geometric blend ``p ∝ p_sup^w · p_zs^(1-w)`` of two row-stochastic tables."""
    logp = w * np.log(p_sup + 1e-12) + (1 - w) * np.log(p_zs + 1e-12)
    return softmax(logp)


def tune_threshold(proba: np.ndarray, truth: np.ndarray, *, grid: Sequence[float]) -> float:
    """Threshold on ``proba`` maximising micro-F1 against binary ``truth`` (same shape).

    The first best grid value wins, rounded to three decimals (it is written to ``heads.json``).
    """
    best_f1, best_t = -1.0, 0.5
    for t in grid:
        pred = proba >= t
        tp = float((pred & (truth > 0)).sum())
        fp = float((pred & (truth == 0)).sum())
        fn = float((~pred & (truth > 0)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_t = f1, float(t)
    return round(best_t, 3)
