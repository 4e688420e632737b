"""Partner suggestions: ranked, explained organisations from past funded AMIF projects.

:class:`PartnerRecommender` combines the signals of :mod:`amif_match.partners.signals` the
way scikit-learn's ``FeatureUnion`` weights its transformers: each signal is fitted on the
same registry and scores every organisation; text, network and profile scores are divided by
their maximum over the query's candidates, and

    score = sum_s weights[s] * signal_s    (+ weights["complement"] * complement, in
                                             complement mode, where the sum is above zero)

A baseline is a one-signal recommender, e.g. ``PartnerRecommender([("text",
TextRelevance())])``.

Defaults (:data:`DEFAULT_WEIGHTS`): text 1, network 0.5, profile 0.4, popularity 0.05,
bonus 0.1, decay 0.5, repeat 2, complement 0.3. They come from the grid
:data:`~amif_match.evaluate.partners.DEFAULT_GRID` searched by
:func:`~amif_match.evaluate.partners.tune_weights` with the leave-one-partner-out evaluation
on queries from 2014-2020 projects only (2021-2027 stays held out); the pick is the best
``MRR[all]`` among grid points with ``bonus > 0`` and ``profile_weight > 0`` (several relevant
projects should count more, and organisations without history need the profile to be ranked
at all); it is within 0.003 MRR of the unconstrained optimum (0.261 vs 0.264 on 92 queries,
noise at this size) and has the higher incumbent Hit@10. The complement weight is a user
preference, not tuned: it lifts an organisation of a missing type over same-type ones that
are up to 0.3 more relevant. See ``benchmarks/bench_partners.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from amif_match.corpus import MEMBER_STATES, Corpus
from amif_match.estimator import Estimator, check_is_fitted, clone
from amif_match.partners.explain import result_frame
from amif_match.partners.query import PartnerQuery, ResolvedQuery
from amif_match.partners.registry import Registry
from amif_match.partners.signals import (
    Complement,
    CoParticipation,
    FitData,
    Popularity,
    ProfileSimilarity,
    Scores,
    Signal,
    TextRelevance,
    calibrate,
    check_weight,
    unit_rows,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "SIGNAL_WEIGHTS",
    "PartnerRecommender",
    "cover_member_states",
    "default_signals",
]

#: The tuned defaults under the names the weight grid uses (see :meth:`from_params`).
DEFAULT_WEIGHTS: dict[str, float] = {
    "text_weight": 1.0,
    "network_weight": 0.5,
    "popularity_weight": 0.05,
    "complement_weight": 0.3,
    "bonus": 0.1,
    "decay": 0.5,
    "repeat": 2.0,
    "profile_weight": 0.4,
}

#: Weight per signal of the default recommender.
SIGNAL_WEIGHTS: dict[str, float] = {
    name: DEFAULT_WEIGHTS[f"{name}_weight"]
    for name in ("text", "network", "popularity", "profile", "complement")
}


def default_signals(
    bonus: float = DEFAULT_WEIGHTS["bonus"],
    decay: float = DEFAULT_WEIGHTS["decay"],
    repeat: float = DEFAULT_WEIGHTS["repeat"],
) -> list[tuple[str, Signal]]:
    """The five signals, named as :data:`SIGNAL_WEIGHTS` (the order is the summation order)."""
    return [
        ("text", TextRelevance(bonus=bonus, decay=decay)),
        ("network", CoParticipation(repeat=repeat)),
        ("popularity", Popularity()),
        ("profile", ProfileSimilarity()),
        ("complement", Complement()),
    ]


def cover_member_states(
    order: Sequence[int],
    countries: Sequence[str],
    covered: set[str] | frozenset[str],
    n: int,
    k: int,
) -> list[int]:
    """The ``k`` best of ``order`` (best first) re-ranked to span at least ``n`` Member States.

    Greedy: walking down ``order``, the best organisation of each Member State not yet in
    ``covered`` is taken until ``n`` are covered (or ``k`` are taken); the remaining places go
    to the best of the rest. The result keeps the score order, so a consortium of the top rows
    spans the states and every row still outranks the ones below it in score. Fewer than ``n``
    states are covered only when fewer are in ``order`` (or ``k`` is too small).
    """
    have = set(covered)
    chosen: set[int] = set()
    for i in order:
        if len(have) >= n or len(chosen) >= k:
            break
        if countries[i] in MEMBER_STATES and countries[i] not in have:
            chosen.add(i)
            have.add(countries[i])
    rest = [i for i in order if i not in chosen][: k - len(chosen)]
    picked = chosen | set(rest)
    return [i for i in order if i in picked]


class PartnerRecommender(Estimator):
    """Rank partner organisations for a proposal from the corpus's past projects.

    Args:
        signals: ``(name, signal)`` pairs (:mod:`amif_match.partners.signals`); ``None``:
            :func:`default_signals`.
        weights: Weight per signal name; a name left out weighs 1 (as in ``FeatureUnion``).
            ``None``: :data:`SIGNAL_WEIGHTS` for the default signals, 1 for given ones.
        max_evidence: Most past projects listed as evidence per organisation.

    Fitted attributes: ``registry_`` (:class:`~amif_match.partners.registry.Registry`),
    ``signals_`` (the fitted signals), ``weights_``, ``project_vectors_``,
    ``organisation_vectors_`` (unit rows), ``n_features_in_``.

    Example:
        >>> from amif_match import Matcher
        >>> rec = Matcher.default().partners_
        >>> rec.suggest(query_vector, k=3, applicant="Migri")[["id", "score"]]  # doctest: +SKIP
    """

    def __init__(
        self,
        signals: Sequence[tuple[str, Signal]] | None = None,
        weights: dict[str, float] | None = None,
        *,
        max_evidence: int = 3,
    ) -> None:
        self.signals = signals
        self.weights = weights
        self.max_evidence = max_evidence

    @classmethod
    def from_params(cls, **params: float) -> PartnerRecommender:
        """The default signals with :data:`DEFAULT_WEIGHTS`-style flat parameters
        (``network_weight=0.2``, ``bonus=0.3``, ...); unknown names raise ``ValueError``."""
        unknown = sorted(set(params) - set(DEFAULT_WEIGHTS) - {"max_evidence"})
        if unknown:
            raise ValueError(
                f"unknown parameter {unknown[0]!r} for PartnerRecommender "
                f"(valid: {', '.join([*DEFAULT_WEIGHTS, 'max_evidence'])})"
            )
        flat = {**DEFAULT_WEIGHTS, **params}
        return cls(
            default_signals(flat["bonus"], flat["decay"], flat["repeat"]),
            {name: flat[f"{name}_weight"] for name in SIGNAL_WEIGHTS},
            max_evidence=int(params.get("max_evidence", 3)),
        )

    # -- fitting -------------------------------------------------------------------------

    def fit(
        self,
        corpus: Corpus,
        project_vectors: np.ndarray,
        organisation_vectors: np.ndarray | None = None,
    ) -> PartnerRecommender:
        """Fit every signal on the corpus's registry.

        Args:
            corpus: The corpus (its ``projects`` and ``organisations`` tables).
            project_vectors: ``(n_projects, dim)`` vectors in ``corpus.projects`` row order,
                e.g. ``ProjectIndex.build(corpus, cached(embedder)).vectors``.
            organisation_vectors: Optional ``(n_organisations, dim)`` vectors of
                :func:`~amif_match.partners.organisation_texts` (same embedder), for the
                profile signal.
        """
        if not isinstance(corpus, Corpus):
            raise TypeError(f"corpus must be an amif_match Corpus, got {type(corpus).__name__}")
        registry = Registry.from_tables(corpus.projects, corpus.organisations, corpus)
        return self.fit_registry(registry, project_vectors, organisation_vectors)

    def fit_registry(
        self,
        registry: Registry,
        project_vectors: np.ndarray,
        organisation_vectors: np.ndarray | None = None,
    ) -> PartnerRecommender:
        """:meth:`fit` on an already built registry (the evaluation drops one project)."""
        pairs = list(default_signals() if self.signals is None else self.signals)
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"signal names must be unique, got {names}")
        defaults = SIGNAL_WEIGHTS if self.signals is None else {}
        weights = {name: (self.weights or defaults).get(name, 1.0) for name in names}
        for name, value in weights.items():
            check_weight(f"{name}_weight", value)
        unknown = sorted(set(self.weights or {}) - set(names))
        if unknown:
            raise ValueError(f"weights name no signal: {unknown}; signals: {names}")
        if int(self.max_evidence) != self.max_evidence or self.max_evidence < 1:
            raise ValueError(f"max_evidence must be an int >= 1, got {self.max_evidence!r}")
        pv = unit_rows(project_vectors, len(registry.projects), "project_vectors")
        ov = None
        if organisation_vectors is not None:
            ov = unit_rows(organisation_vectors, len(registry), "organisation_vectors")
            if ov.shape[1] != pv.shape[1]:
                raise ValueError(
                    "organisation_vectors and project_vectors must have the same dimension "
                    f"({ov.shape[1]} != {pv.shape[1]})"
                )
        data = FitData(registry, pv, ov)
        self.signals_ = [(name, clone(signal).fit(data)) for name, signal in pairs]
        self.weights_ = weights
        self.registry_ = registry
        self.project_vectors_ = pv
        self.organisation_vectors_ = ov
        self.n_features_in_ = int(pv.shape[1])
        return self

    # -- queries ---------------------------------------------------------------------------

    def resolve(self, name_or_id: str) -> str | None:
        """Organisation id for an id, name or alias (case-insensitive); ``None`` if unknown."""
        check_is_fitted(self)
        return self.registry_.resolve(name_or_id)

    def prepare(self, query: PartnerQuery) -> ResolvedQuery:
        """Check ``query`` against the fitted registry (cheap; call it before embedding)."""
        check_is_fitted(self)
        if not isinstance(query, PartnerQuery):
            raise TypeError(f"query must be a PartnerQuery, got {type(query).__name__}")
        return query.resolve(self.registry_)

    def _check_vector(self, query_vector: object) -> np.ndarray:
        q = np.asarray(query_vector, dtype=np.float32)
        if q.ndim == 2 and q.shape[0] == 1:
            q = q[0]
        if q.ndim != 1 or q.shape[0] != self.n_features_in_:
            raise ValueError(
                f"query_vector must be one vector of length {self.n_features_in_} (the project "
                f"vectors' dimension), got shape {q.shape}"
            )
        if not np.isfinite(q).all():
            raise ValueError("query_vector contains NaN or infinite values")
        norm = float(np.linalg.norm(q))
        if norm == 0:
            raise ValueError("query_vector is all zeros")
        return q / norm

    def scores(self, query_vector: np.ndarray, query: ResolvedQuery) -> Scores:
        """Every signal's score and the combined score for every organisation (registry
        order); rescaled signals reach 1 over the non-seed organisations."""
        check_is_fitted(self)
        q = self._check_vector(query_vector)
        registry = self.registry_
        candidate = np.ones(len(registry), dtype=bool)
        candidate[[registry.org_index[s] for s in query.seeds]] = False
        parts: dict[str, np.ndarray] = {}
        score: np.ndarray | None = None
        boosts = []
        for name, signal in self.signals_:
            part = signal.score(q, query)
            if signal.rescale:
                top = float(part[candidate].max(initial=0.0))
                part = (part / top).astype(np.float32) if top > 0 else np.zeros_like(part)
            parts[name] = part
            if signal.boost:
                boosts.append((name, signal))
                continue
            term = self.weights_[name] * part
            score = term if score is None else score + term
        if score is None:
            score = np.zeros(len(registry), dtype=np.float32)
        for name, signal in boosts:
            if signal.applies(query):
                # Only for organisations that have something else going for them.
                score = score + np.where(score > 0, self.weights_[name] * parts[name], 0.0)
        sims = self.project_vectors_ @ q
        return Scores(parts, score.astype(np.float32), sims, calibrate(sims))

    def rank(self, query_vector: np.ndarray, query: ResolvedQuery) -> pd.DataFrame:
        """The top ``query.k`` organisations as an explained frame (see :meth:`suggest`)."""
        scores = self.scores(query_vector, query)
        registry = self.registry_
        blocked = set(query.seeds) | query.excluded
        keep = [
            i
            for i, org in enumerate(registry.org_ids)
            if org not in blocked
            and scores.score[i] > 0
            and (registry.n_projects[i] > 0 or query.newcomers)
            and (not query.types or registry.org_types[i] in query.types)
            and (not query.regions or query.regions & set(registry.org_regions[i]))
            and query.in_scope(registry.org_countries[i])
        ]
        keep.sort(
            key=lambda i: (-float(scores.score[i]), -registry.n_projects[i], registry.org_ids[i])
        )
        if query.transnational:
            top = cover_member_states(
                keep, registry.org_countries, query.covered, query.transnational, query.k
            )
        else:
            top = keep[: query.k]
        return result_frame(registry, scores, query, top, int(self.max_evidence))

    def suggest(self, query_vector: np.ndarray, k: int = 10, **options: Any) -> pd.DataFrame:
        """Rank organisations for one proposal vector.

        Args:
            query_vector: The proposal's vector, embedded like the projects
                (``embed_documents(embedder, [text])[0][0]``).
            k: Most rows returned (fewer when filters leave fewer organisations).
            **options: The other fields of :class:`PartnerQuery`: ``applicant`` (id, name or
                alias; never suggested; an unknown name is allowed), ``applicant_type`` (for
                complement mode when the applicant is not in the registry), ``consortium``
                (never suggested; the known ones seed the network signal; unknown names are
                listed in ``frame.attrs["unresolved"]``), ``org_types``, ``region`` (national
                bodies have the region ``"nationwide"``), ``exclude``, ``countries`` (keep
                only organisations of these ISO 3166 alpha-2 countries), ``country`` (the
                applicant's country when the registry does not know it), ``transnational``
                (N: the top ``k`` spans at least N Member States, see
                :func:`cover_member_states`), ``complement`` (favour types the consortium
                lacks) and ``newcomers`` (also suggest organisations without past projects,
                ranked by their profile; default True). Without ``countries`` and
                ``transnational``, a known applicant country (``country`` or the applicant's
                registry row) limits the suggestions to that country: a national call needs
                national partners (see :mod:`amif_match.partners.query`).

        Returns:
            One row per organisation, best first, with the columns in
            :data:`~amif_match.partners.COLUMNS`. ``evidence`` lists the organisation's most
            similar past projects as dicts ``{project_id, project_name, role, similarity,
            relevance, project_rank}``; ``shared_partners`` the organisations it shares with
            the seeds; ``worked_with`` the seeds it already ran projects with.

        Raises:
            ValueError: ``k < 1``, unknown ``org_types``/``region``/``exclude`` values, or a
                query vector of the wrong shape.
            TypeError: options of the wrong type.
            sklearn.exceptions.NotFittedError: before :meth:`fit`.
        """
        check_is_fitted(self)
        resolved = self.prepare(PartnerQuery(k=k, **options))
        return self.rank(query_vector, resolved)

    def project_relevance(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cosine, rel)`` per corpus project: raw cosine and the per-query 0-1 relevance."""
        check_is_fitted(self)
        sims = self.project_vectors_ @ self._check_vector(query_vector)
        return sims, calibrate(sims)
