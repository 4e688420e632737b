"""The scope estimator: is a text an AMIF proposal at all, and if not, which fund it resembles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from amif_match.classification.heads import EmbeddingClassifier

__all__ = ["SCOPE_C", "ScopeClassifier"]

#: Regularisation of the scope and fund heads (the one default, also used by the evaluation).
SCOPE_C = 4.0


class ScopeClassifier(BaseEstimator):
    """AMIF or not (binary head), plus the fund an out-of-scope text resembles.

    Args:
        C: Regularisation of the scope head.
        fund_C: Regularisation of the fund head.
        threshold: Probability of "AMIF" at or above which a text is in scope.

    Learned attributes:
        head_: The scope :class:`~.heads.EmbeddingClassifier` (classes ``amif``, ``other``), or
            ``None`` when there were no out-of-scope examples: then every text is in scope.
        fund_head_: The fund head, or ``None`` when fewer than two funds were given.
        threshold_: The decision threshold.
    """

    def __init__(self, *, C: float = SCOPE_C, fund_C: float = SCOPE_C, threshold: float = 0.5):
        self.C = C
        self.fund_C = fund_C
        self.threshold = threshold

    def fit(
        self, X: np.ndarray, y: Sequence[bool], *, funds: Sequence[str] | None = None
    ) -> ScopeClassifier:
        """Fit on vectors ``X`` with ``y`` true for AMIF texts.

        Args:
            X: ``(n, d)`` vectors.
            y: ``True`` where the row is an AMIF text.
            funds: The fund each out-of-scope row resembles, in row order (ISF, BMVI, ...).
        """
        in_scope = np.asarray(y, dtype=bool)
        if len(in_scope) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(in_scope)} labels")
        self.threshold_ = float(self.threshold)
        self.head_ = None
        self.fund_head_ = None
        if in_scope.all():  # nothing to tell apart
            return self
        labels = np.where(in_scope, "amif", "other")
        self.head_ = EmbeddingClassifier(None, C=self.C).fit(X, labels)
        if funds is not None and len(set(funds)) > 1:
            self.fund_head_ = EmbeddingClassifier(None, C=self.fund_C).fit(
                X[~in_scope], np.asarray(funds)
            )
        return self

    def scope_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability that each row is an AMIF proposal."""
        check_is_fitted(self, "threshold_")
        if self.head_ is None:
            return np.ones(len(X))
        proba = self.head_.predict_proba(X)
        return proba[:, list(self.head_.classes_).index("amif")]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``True`` where a row is in scope (probability at or above :attr:`threshold_`)."""
        return self.scope_proba(X) >= self.threshold_

    def fund_guess(self, X: np.ndarray) -> list[tuple[str, float]]:
        """The non-AMIF fund each row resembles most, with its probability (``("", 0.0)``
        when no fund head was fitted)."""
        check_is_fitted(self, "threshold_")
        if self.fund_head_ is None:
            return [("", 0.0)] * len(X)
        proba = self.fund_head_.predict_proba(X)
        best = proba.argmax(axis=1)
        return [(str(self.fund_head_.classes_[b]), float(proba[i, b])) for i, b in enumerate(best)]
