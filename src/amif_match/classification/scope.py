"""The scope estimator: is a text an AMIF proposal at all, and if not, which fund it resembles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from amif_match.classification.heads import EmbeddingClassifier

__all__ = ["SCOPE_C", "ScopeClassifier", "language_weights"]

#: Regularisation of the scope and fund heads (the one default, also used by the evaluation).
SCOPE_C = 4.0


class ScopeClassifier(BaseEstimator):
    """AMIF or not (binary head), plus the fund an out-of-scope text resembles.

    Args:
        C: Regularisation of the scope head.
        fund_C: Regularisation of the fund head.
        threshold: Probability of "AMIF" at or above which a text is in scope.
        balance_languages: Weight the training rows so that, in every language that has
            examples of both kinds, AMIF and other texts weigh the same; languages with AMIF
            texts only share one language's weight. Without it the language itself becomes a
            cue: a corpus whose AMIF projects are mostly Italian, German or Portuguese and
            whose counter-examples are Finnish, Swedish and English teaches the head that a
            short Finnish text is probably not AMIF.

    Learned attributes:
        head_: The scope :class:`~.heads.EmbeddingClassifier` (classes ``amif``, ``other``), or
            ``None`` when there were no out-of-scope examples: then every text is in scope.
        fund_head_: The fund head, or ``None`` when fewer than two funds were given.
        threshold_: The decision threshold.
    """

    def __init__(
        self,
        *,
        C: float = SCOPE_C,
        fund_C: float = SCOPE_C,
        threshold: float = 0.5,
        balance_languages: bool = True,
    ):
        self.C = C
        self.fund_C = fund_C
        self.threshold = threshold
        self.balance_languages = balance_languages

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[bool],
        *,
        funds: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
    ) -> ScopeClassifier:
        """Fit on vectors ``X`` with ``y`` true for AMIF texts.

        Args:
            X: ``(n, d)`` vectors.
            y: ``True`` where the row is an AMIF text.
            funds: The fund each out-of-scope row resembles, in row order (ISF, BMVI, ...).
            languages: The language of each row (used by ``balance_languages``).
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
        weights = None
        if self.balance_languages and languages is not None:
            weights = language_weights(in_scope, languages)
        self.head_ = EmbeddingClassifier(None, C=self.C).fit(X, labels, sample_weight=weights)
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


def language_weights(in_scope: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Row weights that make the language uninformative for the scope decision.

    Each (kind, language) cell of a language with rows of both kinds weighs 1; AMIF rows in
    languages without counter-examples share one cell's weight. Rows within a cell weigh the
    same. (The estimator's ``class_weight="balanced"`` then evens out the two kinds.)
    """
    langs = np.asarray(languages, dtype=object)
    if len(langs) != len(in_scope):
        raise ValueError(f"got {len(langs)} languages for {len(in_scope)} rows")
    both = set(langs[in_scope]) & set(langs[~in_scope])
    cells = np.where(np.isin(langs, list(both)), langs, "other languages")
    weights = np.zeros(len(langs))
    for kind in (True, False):
        for cell in set(cells[in_scope == kind]):
            rows = (in_scope == kind) & (cells == cell)
            weights[rows] = 1.0 / rows.sum()
    return weights * len(langs) / weights.sum()
