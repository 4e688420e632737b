"""The scope estimator: is a text an AMIF proposal at all, and if not, which fund it resembles.

Two stages, multiplied: is the text about migration at all (asylum, integration, return,
borders, third-country nationals), and, if so, is it AMIF rather than another fund that also
touches migration (BMVI's borders and visas, ISF's smuggling investigations, ESF+ employment of
migrants, Horizon research)? ``P(in scope) = P(migration) · P(AMIF | migration)``. The decision
threshold is tuned on out-of-fold probabilities of the training data to keep at least
``keep`` of the AMIF texts, because turning away a real AMIF project costs an applicant more
than one more text for an officer to look at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from amif_match.classification.heads import EmbeddingClassifier
from amif_match.estimator import Estimator, check_is_fitted

__all__ = ["FUND_C", "SCOPE_C", "ScopeClassifier", "language_weights"]

#: Regularisation of the two scope stages (the one default, also used by the evaluation).
SCOPE_C = 4.0
#: Regularisation of the fund head.
FUND_C = 4.0


class ScopeClassifier(Estimator):
    """AMIF or not (two stages), plus the fund an out-of-scope text resembles.

    Args:
        C: Regularisation of the scope heads.
        fund_C: Regularisation of the fund head.
        threshold: Probability of "AMIF" at or above which a text is in scope; ``None`` tunes
            it on out-of-fold probabilities (see ``keep``).
        keep: Share of the AMIF training texts the tuned threshold keeps in scope.
        max_threshold: The tuned threshold is never above this.
        balance_languages: Weight the training rows so that, in every language that has
            examples of both kinds, AMIF and other texts weigh the same; languages with AMIF
            texts only share one language's weight. Without it the language itself becomes a
            cue: a corpus whose AMIF projects are mostly Italian, German or Portuguese and
            whose counter-examples are Finnish, Swedish and English teaches the head that a
            short Finnish text is probably not AMIF.

    Learned attributes:
        head_: The scope :class:`~.heads.EmbeddingClassifier` (classes ``amif``, ``other``), or
            ``None`` when there were no out-of-scope examples: then every text is in scope.
            With migration labels it is the second stage (AMIF vs. migration-related texts of
            other funds).
        migration_head_: The first stage (classes ``migration``, ``other``), or ``None``
            without migration labels (then ``head_`` alone decides, against every negative).
        fund_head_: The fund head, or ``None`` when fewer than two funds were given.
        threshold_: The decision threshold.
    """

    def __init__(
        self,
        *,
        C: float = SCOPE_C,
        fund_C: float = FUND_C,
        threshold: float | None = None,
        keep: float = 0.97,
        max_threshold: float = 0.5,
        balance_languages: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
    ):
        self.C = C
        self.fund_C = fund_C
        self.threshold = threshold
        self.keep = keep
        self.max_threshold = max_threshold
        self.balance_languages = balance_languages
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[bool],
        *,
        funds: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
        migration: Sequence[bool] | None = None,
    ) -> ScopeClassifier:
        """Fit on vectors ``X`` with ``y`` true for AMIF texts.

        Args:
            X: ``(n, d)`` vectors.
            y: ``True`` where the row is an AMIF text.
            funds: The fund each out-of-scope row resembles, in row order (ISF, BMVI, ...).
            languages: The language of each row (used by ``balance_languages``).
            migration: ``True`` where the row is about migration (every AMIF row is); enables
                the two-stage decision.
        """
        in_scope = np.asarray(y, dtype=bool)
        if len(in_scope) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(in_scope)} labels")
        about = None if migration is None else np.asarray(migration, dtype=bool) | in_scope
        if about is not None and len(about) != len(X):
            raise ValueError(f"X has {len(X)} rows but migration has {len(about)} labels")
        self.head_ = None
        self.migration_head_ = None
        self.fund_head_ = None
        self.threshold_ = 0.5 if self.threshold is None else float(self.threshold)
        if in_scope.all():  # nothing to tell apart
            return self
        langs = None if languages is None else np.asarray(languages, dtype=object)
        self.head_, self.migration_head_ = self._fit_stages(X, in_scope, about, langs)
        if self.threshold is None:
            self.threshold_ = self._tune_threshold(X, in_scope, about, langs)
        if funds is not None and len(set(funds)) > 1:
            self.fund_head_ = EmbeddingClassifier(None, C=self.fund_C).fit(
                X[~in_scope], np.asarray(funds)
            )
        return self

    def _fit_stages(
        self,
        X: np.ndarray,
        in_scope: np.ndarray,
        about: np.ndarray | None,
        languages: np.ndarray | None,
    ) -> tuple[EmbeddingClassifier, EmbeddingClassifier | None]:
        def head(
            rows: np.ndarray, positive: np.ndarray, names: tuple[str, str]
        ) -> EmbeddingClassifier:
            weights = None
            if self.balance_languages and languages is not None:
                weights = language_weights(positive[rows], languages[rows])
            labels = np.where(positive[rows], *names)
            return EmbeddingClassifier(None, C=self.C).fit(X[rows], labels, sample_weight=weights)

        every = np.ones(len(X), dtype=bool)
        if about is None or about.all() or not (about & ~in_scope).any():
            return head(every, in_scope, ("amif", "other")), None
        migration = head(every, about, ("migration", "other"))
        return head(about, in_scope, ("amif", "other")), migration

    def _tune_threshold(
        self,
        X: np.ndarray,
        in_scope: np.ndarray,
        about: np.ndarray | None,
        languages: np.ndarray | None,
    ) -> float:
        """Highest threshold (≤ ``max_threshold``) keeping ``keep`` of the AMIF rows out of fold."""
        from sklearn.model_selection import StratifiedKFold

        oof = np.zeros(len(X))
        strata = in_scope.astype(int) if about is None else in_scope + 2 * about
        n_splits = int(min(self.n_splits, np.bincount(strata)[np.bincount(strata) > 0].min()))
        if n_splits < 2:
            return float(self.max_threshold)
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X, strata):
            sub_about = None if about is None else about[train]
            sub_langs = None if languages is None else languages[train]
            stage2, stage1 = self._fit_stages(X[train], in_scope[train], sub_about, sub_langs)
            oof[test] = _combined(stage2, stage1, X[test])
        kept = np.quantile(oof[in_scope], 1.0 - self.keep)
        return round(float(min(self.max_threshold, kept)), 4)

    def scope_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability that each row is an AMIF proposal (both stages multiplied)."""
        check_is_fitted(self, "threshold_")
        if self.head_ is None:
            return np.ones(len(X))
        return _combined(self.head_, getattr(self, "migration_head_", None), X)

    def migration_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability that each row is about migration at all (first stage; 1 without it)."""
        check_is_fitted(self, "threshold_")
        stage = getattr(self, "migration_head_", None)
        if stage is None:
            return np.ones(len(X))
        return _positive(stage, X, "migration")

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


def _positive(head: EmbeddingClassifier, X: np.ndarray, name: str) -> np.ndarray:
    return head.predict_proba(X)[:, list(head.classes_).index(name)]


def _combined(
    stage2: EmbeddingClassifier, stage1: EmbeddingClassifier | None, X: np.ndarray
) -> np.ndarray:
    p = _positive(stage2, X, "amif")
    return p if stage1 is None else p * _positive(stage1, X, "migration")


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
