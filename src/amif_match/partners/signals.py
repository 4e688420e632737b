"""The five partner signals, one scorer each: ``fit(data)`` returns self, ``score`` one value
per registry organisation.

**Text relevance** (:class:`TextRelevance`). Project similarities are first put on a per-query
scale, ``rel_j = clip((cos(q, p_j) - median) / (max - median), 0, 1)``, so that the most
similar project has 1 and every project at or below the median 0 (the cosines of one E5 model
sit in a narrow band whose position moves with the query's length). An organisation's projects
are sorted by ``rel`` and aggregated as ``rel_(1) + bonus * sum_{i>=2} decay**(i-2) * rel_(i)``:
one very relevant project is enough to rank high, and a hub with twenty loosely related
projects does not beat an organisation with one closely matching project.

**Co-participation** (:class:`CoParticipation`). From the *seed* set (the applicant and the
consortium members the registry knows) a candidate ``c`` gets
``sum_{a in seed} [AA(a, c) + repeat * shared_projects(a, c)]``, the Adamic-Adar index plus
repeated collaboration. Zero without seeds (a newcomer applicant).

**Profile similarity** (:class:`ProfileSimilarity`). The per-query 0-1 scale of the cosine
between the query and the organisation's own profile text; the only text signal for an
organisation without past projects.

**Popularity** (:class:`Popularity`). ``log(1 + n_projects) / log(1 + max n_projects)``.

**Complement** (:class:`Complement`). 1 for an organisation whose type the applicant and
consortium lack; counted in complement mode only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from amif_match.estimator import Estimator, check_is_fitted
from amif_match.partners.query import ResolvedQuery
from amif_match.partners.registry import Registry

__all__ = [
    "CoParticipation",
    "Complement",
    "FitData",
    "Popularity",
    "ProfileSimilarity",
    "Scores",
    "Signal",
    "TextRelevance",
    "calibrate",
    "check_weight",
    "unit_rows",
]


def unit_rows(matrix: object, n_rows: int, what: str) -> np.ndarray:
    """``matrix`` as float32 rows of length 1, checked to have ``n_rows`` finite rows."""
    vectors = np.asarray(matrix, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != n_rows:
        raise ValueError(
            f"{what} must have one row per item: expected shape ({n_rows}, dim), "
            f"got {vectors.shape}"
        )
    if not np.isfinite(vectors).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def calibrate(sims: np.ndarray) -> np.ndarray:
    """Per-query 0-1 scale: the best item 1, items at or below the median 0."""
    if sims.size == 0:
        return sims.astype(np.float32)
    median, top = float(np.median(sims)), float(sims.max())
    if top <= median:
        return np.zeros_like(sims, dtype=np.float32)
    return np.clip((sims - median) / (top - median), 0.0, 1.0).astype(np.float32)


def check_weight(name: str, value: object) -> None:
    """A weight or parameter must be a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, eq=False)
class FitData:
    """What signals are fitted on: the registry and unit-length vectors in its row orders."""

    registry: Registry
    project_vectors: np.ndarray
    organisation_vectors: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Scores:
    """Every signal's score for one query: ``parts`` per signal name (per organisation, scaled
    as combined), the combined ``score``, and per project the raw ``cosine`` and the 0-1
    ``relevance`` the evidence is sorted by."""

    parts: dict[str, np.ndarray]
    score: np.ndarray
    cosine: np.ndarray
    relevance: np.ndarray


class Signal(Estimator):
    """Base of the partner signals: a scikit-learn estimator with ``fit`` and ``score``.

    Class attributes say how :class:`~amif_match.partners.PartnerRecommender` combines it:
    ``rescale`` divides the score by its maximum over the query's candidates; ``boost`` adds
    it only to organisations the other signals already score above zero, and only when
    :meth:`applies`.
    """

    rescale: ClassVar[bool] = True
    boost: ClassVar[bool] = False

    def fit(self, data: FitData) -> Signal:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        """One float32 score per registry organisation (``query_vector`` has unit length)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def applies(self, query: ResolvedQuery) -> bool:
        """Whether the signal counts for this query."""
        return True


@dataclass(frozen=True, eq=False)
class TextState:
    """Fitted :class:`TextRelevance`: project vectors and each organisation's project rows."""

    project_vectors: np.ndarray
    org_rows: list[list[int]]


class TextRelevance(Signal):
    """Relevance of an organisation's past projects to the query (see the module docs).

    Args:
        bonus: Share of a further relevant project's relevance added to the best one's.
        decay: Geometric decay of that bonus from the second project on.
    """

    def __init__(self, bonus: float = 0.1, decay: float = 0.5) -> None:
        self.bonus = bonus
        self.decay = decay

    def fit(self, data: FitData) -> TextRelevance:
        check_weight("bonus", self.bonus)
        check_weight("decay", self.decay)
        if self.decay > 1:
            raise ValueError(f"decay must be between 0 and 1, got {self.decay!r}")
        registry = data.registry
        rows = [[j for j, _ in registry.org_projects[org]] for org in registry.org_ids]
        self.state_ = TextState(data.project_vectors, rows)
        return self

    def project_relevance(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cosine, rel)`` per project: raw cosine and the per-query 0-1 relevance."""
        check_is_fitted(self)
        sims = self.state_.project_vectors @ query_vector
        return sims, calibrate(sims)

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        _, rel = self.project_relevance(query_vector)
        out = np.zeros(len(self.state_.org_rows), dtype=np.float32)
        for i, rows in enumerate(self.state_.org_rows):
            if not rows:
                continue
            values = np.sort(rel[rows])[::-1]
            weights = np.ones(len(values), dtype=np.float32)
            if len(values) > 1:
                weights[1:] = self.bonus * self.decay ** np.arange(len(values) - 1)
            out[i] = float(values @ weights)
        return out


@dataclass(frozen=True, eq=False)
class GraphState:
    """Fitted :class:`CoParticipation`: the co-participation graph."""

    org_index: dict[str, int]
    adjacency: np.ndarray
    coparticipation: np.ndarray
    aa_weight: np.ndarray


class CoParticipation(Signal):
    """Adamic-Adar from the seed organisations plus repeated collaboration.

    Args:
        repeat: Weight of one past shared project relative to the Adamic-Adar index
            (0: Adamic-Adar alone).
    """

    def __init__(self, repeat: float = 2.0) -> None:
        self.repeat = repeat

    def fit(self, data: FitData) -> CoParticipation:
        check_weight("repeat", self.repeat)
        registry = data.registry
        degree = registry.degree
        # Inverse log degree, the Adamic-Adar weight of a common neighbour (degree >= 2 there).
        with np.errstate(divide="ignore"):
            inv = np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0)
        self.state_ = GraphState(
            org_index=registry.org_index,
            adjacency=(registry.coparticipation > 0).astype(np.float32),
            coparticipation=registry.coparticipation,
            aa_weight=inv.astype(np.float32),
        )
        return self

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        check_is_fitted(self)
        state = self.state_
        out = np.zeros(len(state.aa_weight), dtype=np.float32)
        if not query.seeds:
            return out
        idx = [state.org_index[s] for s in query.seeds]
        # AA(a, c) = sum_z A[a, z] * w_z * A[z, c], summed over the seeds a.
        out += (state.adjacency[idx] * state.aa_weight).sum(axis=0) @ state.adjacency
        out += self.repeat * state.coparticipation[idx].sum(axis=0)
        return out


class ProfileSimilarity(Signal):
    """Similarity of the query to each organisation's profile text (zeros when fitted without
    organisation vectors)."""

    def fit(self, data: FitData) -> ProfileSimilarity:
        self.organisation_vectors_ = data.organisation_vectors
        self.n_organisations_ = len(data.registry)
        return self

    def profile_relevance(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cosine, rel)`` per organisation against its profile text."""
        check_is_fitted(self)
        if self.organisation_vectors_ is None:
            zeros = np.zeros(self.n_organisations_, dtype=np.float32)
            return zeros, zeros
        sims = self.organisation_vectors_ @ query_vector
        return sims, calibrate(sims)

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        return self.profile_relevance(query_vector)[1]


class Popularity(Signal):
    """``log(1 + n_projects) / log(1 + max n_projects)``: already 0-1, so never rescaled."""

    rescale: ClassVar[bool] = False

    def fit(self, data: FitData) -> Popularity:
        n_projects = data.registry.n_projects
        top = max(int(n_projects.max(initial=0)), 1)
        self.popularity_ = (np.log1p(n_projects) / np.log1p(top)).astype(np.float32)
        return self

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        check_is_fitted(self)
        return self.popularity_


class Complement(Signal):
    """1 for an organisation of a type the applicant and consortium lack (none known: 0).

    A boost: counted only in complement mode and only for organisations the other signals
    already score above zero.
    """

    rescale: ClassVar[bool] = False
    boost: ClassVar[bool] = True

    def fit(self, data: FitData) -> Complement:
        self.org_types_ = data.registry.org_types
        return self

    def score(self, query_vector: np.ndarray, query: ResolvedQuery) -> np.ndarray:
        check_is_fitted(self)
        present = query.present_types
        return np.array(
            [1.0 if present and t not in present else 0.0 for t in self.org_types_],
            dtype=np.float32,
        )

    def applies(self, query: ResolvedQuery) -> bool:
        return query.complement
