"""Partner suggestions: ranked, explained organisations from past funded AMIF projects.

Given a proposal vector (and optionally who is applying and who is already in the consortium),
:class:`PartnerRecommender` ranks the registry's organisations by four signals.

**Text relevance.** Each corpus project has a vector (:class:`~amif_match.index.ProjectIndex`).
For one query, project similarities are first put on a per-query scale,

    rel_j = clip((cos(q, p_j) - median_j cos(q, p_j)) / (max_j cos(q, p_j) - median), 0, 1)

so that the most similar project has 1 and every project at or below the median has 0 (the
cosines of one E5 model sit in a narrow band whose position moves with the query's length).
An organisation's projects (as lead or partner) are sorted by ``rel`` and aggregated as

    text_raw(o) = rel_(1) + bonus * sum_{i >= 2} decay**(i - 2) * rel_(i)

One very relevant project is enough to rank high; further relevant projects add a bonus that
shrinks geometrically, so a hub with twenty loosely related projects does not beat an
organisation with one closely matching project.

**Network.** The co-participation graph links two organisations once per project they shared.
From the *seed* set (the applicant and the consortium members the corpus knows) a candidate
``c`` gets

    net_raw(c) = sum_{a in seed} [ AA(a, c) + repeat * shared_projects(a, c) ]

where ``AA(a, c) = sum_{z in N(a) & N(c)} 1 / log(deg z)`` is the Adamic-Adar index and
``shared_projects`` counts past projects ``a`` and ``c`` ran together (repeat collaboration).
It is zero when no seed organisation is known (a newcomer applicant).

**Profile.** ``profile_raw(o)``: the same per-query 0-1 scale applied to the cosine between the
query and the organisation's own profile text (:func:`organisation_texts`: name, aliases,
type, city, region; no project facts). It is the only text signal for a registry organisation
without past projects.

**Popularity prior.** ``pop(o) = log(1 + n_projects(o)) / log(1 + max n_projects)``.

``text_raw``, ``net_raw`` and ``profile_raw`` are each divided by their maximum over the
query's candidates, and

    score = text_weight * text + network_weight * network + profile_weight * profile
            + popularity_weight * pop   (+ complement_weight * complement, in complement mode)

where ``complement`` is 1 for an organisation whose type the applicant and consortium lack.

Defaults (:data:`DEFAULT_WEIGHTS`): text 1, network 0.5, profile 0.4, popularity 0.05,
bonus 0.1, decay 0.5, repeat 2, complement 0.3. They come from the grid
:data:`DEFAULT_GRID` searched by :func:`tune_weights` with the leave-one-partner-out
evaluation on queries from 2014-2020 projects only (2021-2027 stays held out); the pick is
the best ``MRR[all]`` among grid points with ``bonus > 0`` and ``profile_weight > 0`` (the
issue asks that several relevant projects count more, and organisations without history need
the profile to be ranked at all); it is within 0.003 MRR of the unconstrained optimum
(0.261 vs 0.264 on 92 queries, noise at this size) and has the higher incumbent Hit@10. The
complement weight is a user preference, not tuned: it lifts an organisation of a missing type
over same-type ones that are up to 0.3 more relevant. See ``benchmarks/bench_partners.py``.

Typical use::

    from amif_match.partners import suggest_partners_for_text
    frame = suggest_partners_for_text("Kehitetään pakolaistaustaisten nuorten asumisvalmennusta",
                                      k=5, applicant="Helsingin kaupunki")
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amif_match.corpus import ORG_TYPES, Corpus

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.embedding import Embedder

__all__ = [
    "COLUMNS",
    "DEFAULT_GRID",
    "DEFAULT_WEIGHTS",
    "PartnerRecommender",
    "evaluate_partners",
    "fitted_recommender",
    "format_markdown",
    "gini",
    "mask_organisation_names",
    "organisation_texts",
    "suggest_partners_for_text",
    "to_records",
    "tune_weights",
]

#: Defaults of :class:`PartnerRecommender`, chosen by :func:`tune_weights` on 2014-2020 queries.
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

COLUMNS = [
    "rank",
    "id",
    "name",
    "type",
    "city",
    "region",
    "score",
    "text_score",
    "network_score",
    "popularity_score",
    "profile_score",
    "complement_score",
    "n_projects",
    "evidence",
    "shared_partners",
    "worked_with",
    "explanation",
]

_ROLE_LEAD = 2
_ROLE_PARTNER = 1

#: Readable organisation types (English / Finnish) used in profile texts and explanations.
TYPE_LABELS: dict[str, tuple[str, str]] = {
    "state_authority": ("state authority", "valtion viranomainen"),
    "municipality": ("municipality", "kunta"),
    "regional_authority": ("regional authority", "alueellinen viranomainen"),
    "ngo": ("non-governmental organisation", "järjestö"),
    "foundation": ("foundation", "säätiö"),
    "education": ("education provider", "oppilaitos"),
    "church": ("church or parish", "seurakunta"),
    "company": ("company", "yritys"),
    "international_organisation": ("international organisation", "kansainvälinen järjestö"),
    "research_institute": ("research institute", "tutkimuslaitos"),
    "other": ("other organisation", "muu organisaatio"),
}


# --------------------------------------------------------------------------- small helpers


def _as_str_list(value: object, what: str) -> list[str]:
    """``None`` -> [], a str -> [str], an iterable of str -> list; anything else: TypeError."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a str or a list of str, got {type(value).__name__}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must contain only str, got {type(item).__name__}")
    return items


def _participants(lead: object, partners: object) -> list[str]:
    """Lead first, then partners; tolerant of ``None``/NaN leads and duplicates."""
    out: list[str] = []
    items = [lead, *(partners if isinstance(partners, list | tuple) else [])]
    for org in items:
        if isinstance(org, str) and org.strip() and org not in out:
            out.append(org)
    return out


def _clean(value: object) -> str:
    return value if isinstance(value, str) else ""


def _regions(value: object) -> list[str]:
    return [part.strip() for part in _clean(value).split(";") if part.strip()]


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def organisation_texts(organisations: Corpus | pd.DataFrame) -> list[str]:
    """One profile text per registry organisation: name, aliases, type, city and region.

    Deliberately free of project facts (``type_original`` is left out because it sometimes
    names a project), so the profile component never repeats the project evidence.
    """
    frame = organisations.organisations if isinstance(organisations, Corpus) else organisations
    texts = []
    for row in frame.to_dict("records"):
        aliases = row.get("aliases") if isinstance(row.get("aliases"), list) else []
        en, fi = TYPE_LABELS.get(_clean(row.get("type")), ("organisation", "organisaatio"))
        place = ", ".join(p for p in (_clean(row.get("city")), _clean(row.get("region"))) if p)
        parts = [_clean(row.get("name")) or str(row["id"]), "; ".join(aliases), f"{fi} ({en})"]
        texts.append(". ".join(p for p in [*parts, place] if p))
    return texts


# --------------------------------------------------------------------------- recommender


class PartnerRecommender:
    """Rank partner organisations for a proposal from the corpus's past projects.

    scikit-learn style: ``__init__`` only stores the weights, :meth:`fit` learns the
    organisation profiles and the co-participation graph (attributes ending in ``_``), and
    :meth:`suggest` ranks organisations for one query vector.

    Args:
        text_weight: Weight of the text-relevance component.
        network_weight: Weight of the network component (Adamic-Adar + repeat collaboration).
        popularity_weight: Weight of the popularity prior (number of past projects).
        complement_weight: Added to organisations of a type the consortium lacks, in
            complement mode only.
        bonus: Share of a further relevant project's relevance added to the best one's.
        decay: Geometric decay of that bonus from the second project on.
        repeat: Weight of one past shared project relative to the Adamic-Adar index.
        profile_weight: Weight of the profile component: similarity of the proposal to the
            organisation's own description (name, aliases, type, place). It is the only text
            signal for an organisation without past projects. Needs ``organisation_vectors``
            in :meth:`fit`; zero otherwise.
        max_evidence: Most past projects listed as evidence per organisation.

    Example:
        >>> from amif_match.corpus import Corpus
        >>> from amif_match.embedding import get_embedder, embed_documents
        >>> from amif_match.index import ProjectIndex, cached
        >>> corpus, embedder = Corpus.default(), get_embedder()
        >>> vectors = ProjectIndex.build(corpus, cached(embedder)).vectors
        >>> profiles = embed_documents(cached(embedder), organisation_texts(corpus))[0]
        >>> rec = PartnerRecommender().fit(corpus, vectors, profiles)
        >>> query = embed_documents(embedder, ["Paluuneuvontaa turvapaikanhakijoille"])[0][0]
        >>> rec.suggest(query, k=3, applicant="Migri")[["id", "score"]]  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        text_weight: float = DEFAULT_WEIGHTS["text_weight"],
        network_weight: float = DEFAULT_WEIGHTS["network_weight"],
        popularity_weight: float = DEFAULT_WEIGHTS["popularity_weight"],
        complement_weight: float = DEFAULT_WEIGHTS["complement_weight"],
        bonus: float = DEFAULT_WEIGHTS["bonus"],
        decay: float = DEFAULT_WEIGHTS["decay"],
        repeat: float = DEFAULT_WEIGHTS["repeat"],
        profile_weight: float = DEFAULT_WEIGHTS["profile_weight"],
        max_evidence: int = 3,
    ) -> None:
        self.text_weight = text_weight
        self.network_weight = network_weight
        self.popularity_weight = popularity_weight
        self.complement_weight = complement_weight
        self.bonus = bonus
        self.decay = decay
        self.repeat = repeat
        self.profile_weight = profile_weight
        self.max_evidence = max_evidence

    # -- sklearn-style parameters --------------------------------------------------------

    _PARAMS = (
        "text_weight",
        "network_weight",
        "popularity_weight",
        "complement_weight",
        "bonus",
        "decay",
        "repeat",
        "profile_weight",
        "max_evidence",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as a dict."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> PartnerRecommender:
        """Set constructor arguments; unknown names raise ``ValueError``."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(
                    f"unknown parameter {name!r} for PartnerRecommender "
                    f"(valid: {', '.join(self._PARAMS)})"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {
            name: getattr(self, name)
            for name in self._PARAMS
            if getattr(self, name) != (DEFAULT_WEIGHTS.get(name, 3))
        }
        return f"PartnerRecommender({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _check_params(self) -> None:
        for name in self._PARAMS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.decay > 1:
            raise ValueError(f"decay must be between 0 and 1, got {self.decay!r}")
        if int(self.max_evidence) != self.max_evidence or self.max_evidence < 1:
            raise ValueError(f"max_evidence must be an int >= 1, got {self.max_evidence!r}")

    # -- fitting -------------------------------------------------------------------------

    def fit(
        self,
        corpus: Corpus,
        project_vectors: np.ndarray,
        organisation_vectors: np.ndarray | None = None,
    ) -> PartnerRecommender:
        """Learn organisation profiles and the co-participation graph.

        Args:
            corpus: The corpus (its ``projects`` and ``organisations`` tables).
            project_vectors: ``(n_projects, dim)`` vectors in ``corpus.projects`` row order,
                e.g. ``ProjectIndex.build(corpus, cached(embedder)).vectors``.
            organisation_vectors: Optional ``(n_organisations, dim)`` vectors of
                :func:`organisation_texts` (same embedder), for the profile component.

        Returns:
            ``self``, with ``organisations_``, ``projects_``, ``project_vectors_``,
            ``membership_`` (organisations x projects: 2 lead, 1 partner, 0 none),
            ``org_projects_`` (org id -> list of (project row, role)), ``coparticipation_``
            (organisations x organisations: number of shared projects), ``degree_``,
            ``n_projects_``, ``popularity_`` and ``fingerprint_``.
        """
        if not isinstance(corpus, Corpus):
            raise TypeError(f"corpus must be an amif_match Corpus, got {type(corpus).__name__}")
        self._check_params()
        self.corpus_ = corpus
        self.fingerprint_ = corpus.fingerprint
        return self._fit_tables(
            corpus.projects, corpus.organisations, project_vectors, organisation_vectors
        )

    def _fit_tables(
        self,
        projects: pd.DataFrame,
        organisations: pd.DataFrame,
        project_vectors: np.ndarray,
        organisation_vectors: np.ndarray | None = None,
    ) -> PartnerRecommender:
        self.project_vectors_ = _unit_rows(project_vectors, len(projects), "project_vectors")
        self.organisation_vectors_ = (
            None
            if organisation_vectors is None
            else _unit_rows(organisation_vectors, len(organisations), "organisation_vectors")
        )
        if (
            self.organisation_vectors_ is not None
            and self.organisation_vectors_.shape[1] != self.project_vectors_.shape[1]
        ):
            raise ValueError(
                "organisation_vectors and project_vectors must have the same dimension "
                f"({self.organisation_vectors_.shape[1]} != {self.project_vectors_.shape[1]})"
            )
        vectors = self.project_vectors_
        self.projects_ = projects.reset_index(drop=True)
        orgs = organisations.reset_index(drop=True)
        self.organisations_ = orgs
        self.org_ids_ = orgs["id"].astype(str).to_numpy()
        self.org_index_ = {org: i for i, org in enumerate(self.org_ids_)}
        self.org_names_ = [
            _clean(v) or org for v, org in zip(orgs["name"], self.org_ids_, strict=True)
        ]
        self.org_types_ = np.array([_clean(v) for v in orgs["type"]], dtype=object)
        self.org_regions_ = [_regions(v) for v in orgs["region"]]
        self.org_cities_ = [_clean(v) for v in orgs.get("city", pd.Series([""] * len(orgs)))]

        n_orgs, n_proj = len(orgs), len(self.projects_)
        membership = np.zeros((n_orgs, n_proj), dtype=np.int8)
        for j, (lead, partners) in enumerate(
            zip(self.projects_["lead"], self.projects_["partners"], strict=True)
        ):
            for pos, org in enumerate(_participants(lead, partners)):
                i = self.org_index_.get(org)
                if i is None:
                    continue  # Corpus validation guarantees known ids; be lenient anyway.
                is_lead = pos == 0 and isinstance(lead, str) and lead == org
                membership[i, j] = max(membership[i, j], _ROLE_LEAD if is_lead else _ROLE_PARTNER)
        self.membership_ = membership
        member = (membership > 0).astype(np.float32)
        shared = member @ member.T
        np.fill_diagonal(shared, 0.0)
        self.coparticipation_ = shared
        self.degree_ = (shared > 0).sum(axis=1).astype(np.float32)
        self.n_projects_ = member.sum(axis=1).astype(int)
        self.org_projects_ = {
            self.org_ids_[i]: [(int(j), int(membership[i, j])) for j in np.flatnonzero(row)]
            for i, row in enumerate(membership)
        }
        top = max(int(self.n_projects_.max(initial=0)), 1)
        self.popularity_ = (np.log1p(self.n_projects_) / np.log1p(top)).astype(np.float32)
        # Inverse log degree, the Adamic-Adar weight of a common neighbour (degree >= 2 there).
        with np.errstate(divide="ignore"):
            inv = np.where(self.degree_ > 1, 1.0 / np.log(np.maximum(self.degree_, 2)), 0.0)
        self.aa_weight_ = inv.astype(np.float32)
        self.n_features_in_ = int(vectors.shape[1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "membership_"):
            raise RuntimeError("this PartnerRecommender is not fitted yet; call fit() first")

    # -- option handling -----------------------------------------------------------------

    def resolve(self, name_or_id: str) -> str | None:
        """Organisation id for an id, name or alias (case-insensitive); ``None`` if unknown."""
        self._check_fitted()
        if name_or_id in self.org_index_:
            return name_or_id
        corpus = getattr(self, "corpus_", None)
        if corpus is not None:
            found = corpus.resolve_organisation(name_or_id)
            if found in self.org_index_:
                return found
        key = _norm(name_or_id)
        for i, row in enumerate(self.organisations_.itertuples(index=False)):
            aliases = row.aliases if isinstance(row.aliases, list) else []
            if key in {_norm(str(row.id)), _norm(_clean(row.name)), *map(_norm, aliases)}:
                return self.org_ids_[i]
        return None

    def _prepare(
        self,
        k: object,
        *,
        applicant: object,
        applicant_type: object,
        consortium: object,
        org_types: object,
        region: object,
        exclude: object,
        complement: object,
        newcomers: object = True,
    ) -> dict[str, Any]:
        """Validate and resolve the options of :meth:`suggest` (cheap; call before embedding)."""
        self._check_fitted()
        self._check_params()
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not isinstance(complement, bool):
            raise TypeError(f"complement must be True or False, got {complement!r}")
        if not isinstance(newcomers, bool):
            raise TypeError(f"newcomers must be True or False, got {newcomers!r}")
        if applicant is not None and not isinstance(applicant, str):
            raise TypeError(
                f"applicant must be a str (id, name or alias) or None, got {applicant!r}"
            )
        if applicant is not None and not applicant.strip():
            raise ValueError("applicant is empty; pass None when the applicant is not known")
        types = _as_str_list(org_types, "org_types")
        bad = [t for t in types if t not in ORG_TYPES]
        if bad:
            hint = difflib.get_close_matches(bad[0], ORG_TYPES, n=1)
            raise ValueError(
                f"unknown org_types value {bad[0]!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; allowed: {', '.join(ORG_TYPES)}"
            )
        if applicant_type is not None and applicant_type not in ORG_TYPES:
            raise ValueError(
                f"unknown applicant_type {applicant_type!r}; allowed: {', '.join(ORG_TYPES)}"
            )
        regions = _as_str_list(region, "region")
        known_regions = sorted({r for rs in self.org_regions_ for r in rs})
        by_key = {r.casefold(): r for r in known_regions}
        wanted: set[str] = set()
        for r in regions:
            if r.strip().casefold() not in by_key:
                hint = difflib.get_close_matches(r, known_regions, n=1)
                raise ValueError(
                    f"unknown region {r!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; regions in the corpus: {', '.join(known_regions)}"
                )
            wanted.add(by_key[r.strip().casefold()])
        excluded: set[str] = set()
        for name in _as_str_list(exclude, "exclude"):
            found = self.resolve(name)
            if found is None:
                hint = difflib.get_close_matches(name, self.org_names_, n=1)
                raise ValueError(
                    f"cannot exclude unknown organisation {name!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                )
            excluded.add(found)
        applicant_id = self.resolve(applicant) if applicant else None
        members: list[str] = []
        unresolved: list[str] = []
        if applicant and applicant_id is None:
            unresolved.append(applicant)
        for name in _as_str_list(consortium, "consortium"):
            if not name.strip():
                continue
            found = self.resolve(name)
            if found is None:
                unresolved.append(name)
            elif found != applicant_id and found not in members:
                members.append(found)
        seeds = ([applicant_id] if applicant_id else []) + members
        present = {self.org_types_[self.org_index_[s]] for s in seeds}
        if applicant_type is not None:
            present.add(applicant_type)
        return {
            "k": int(k),
            "applicant_id": applicant_id,
            "members": members,
            "seeds": seeds,
            "unresolved": unresolved,
            "types": set(types),
            "regions": wanted,
            "excluded": excluded,
            "complement": complement,
            "newcomers": newcomers,
            "present_types": present,
        }

    # -- scoring ---------------------------------------------------------------------------

    def _check_query(self, query_vector: object) -> np.ndarray:
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

    def project_relevance(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cosine, rel)`` per corpus project: raw cosine and the per-query 0-1 relevance."""
        self._check_fitted()
        q = self._check_query(query_vector)
        sims = self.project_vectors_ @ q
        return sims, _calibrate(sims)

    def profile_scores(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cosine, rel)`` per organisation against its profile text (zeros if not fitted
        with ``organisation_vectors``)."""
        self._check_fitted()
        q = self._check_query(query_vector)
        if self.organisation_vectors_ is None:
            zeros = np.zeros(len(self.org_ids_), dtype=np.float32)
            return zeros, zeros
        sims = self.organisation_vectors_ @ q
        return sims, _calibrate(sims)

    def text_scores(self, rel: np.ndarray) -> np.ndarray:
        """``text_raw`` per organisation from per-project relevance (see the module docs)."""
        out = np.zeros(len(self.org_ids_), dtype=np.float32)
        for i, org in enumerate(self.org_ids_):
            items = self.org_projects_[org]
            if not items:
                continue
            values = np.sort(rel[[j for j, _ in items]])[::-1]
            weights = np.ones(len(values), dtype=np.float32)
            if len(values) > 1:
                weights[1:] = self.bonus * self.decay ** np.arange(len(values) - 1)
            out[i] = float(values @ weights)
        return out

    def network_scores(self, seeds: Sequence[str], *, repeat: float | None = None) -> np.ndarray:
        """``net_raw`` per organisation from the seed organisations (zero without seeds)."""
        self._check_fitted()
        repeat = self.repeat if repeat is None else repeat
        out = np.zeros(len(self.org_ids_), dtype=np.float32)
        if not seeds:
            return out
        adjacency = (self.coparticipation_ > 0).astype(np.float32)
        idx = [self.org_index_[s] for s in seeds]
        # AA(a, c) = sum_z A[a, z] * w_z * A[z, c], summed over the seeds a.
        out += (adjacency[idx] * self.aa_weight_).sum(axis=0) @ adjacency
        out += repeat * self.coparticipation_[idx].sum(axis=0)
        return out

    def score_all(
        self,
        query_vector: np.ndarray,
        *,
        seeds: Sequence[str] = (),
        present_types: Iterable[str] = (),
        complement: bool = False,
    ) -> dict[str, np.ndarray]:
        """Every component and the final score for every organisation (registry order).

        Returns a dict of arrays: ``cosine`` and ``relevance`` (per project), ``text``,
        ``network``, ``popularity``, ``profile``, ``profile_cosine``, ``complement`` and
        ``score`` (per organisation). The text, network and profile components are scaled to
        a maximum of 1 over the non-seed organisations.
        """
        self._check_fitted()
        sims, rel = self.project_relevance(query_vector)
        text = self.text_scores(rel)
        network = self.network_scores(list(seeds))
        profile_cos, profile = self.profile_scores(query_vector)
        candidate = np.ones(len(self.org_ids_), dtype=bool)
        candidate[[self.org_index_[s] for s in seeds]] = False
        text = _scale(text, candidate)
        network = _scale(network, candidate)
        profile = _scale(profile, candidate)
        present = set(present_types)
        comp = np.array(
            [1.0 if present and t not in present else 0.0 for t in self.org_types_],
            dtype=np.float32,
        )
        score = (
            self.text_weight * text
            + self.network_weight * network
            + self.popularity_weight * self.popularity_
            + self.profile_weight * profile
        )
        if complement:
            # Only for organisations that have something else going for them.
            score = score + np.where(score > 0, self.complement_weight * comp, 0.0)
        return {
            "cosine": sims,
            "relevance": rel,
            "text": text,
            "network": network,
            "popularity": self.popularity_,
            "profile": profile,
            "profile_cosine": profile_cos,
            "complement": comp,
            "score": score.astype(np.float32),
        }

    # -- suggestions -----------------------------------------------------------------------

    def suggest(
        self,
        query_vector: np.ndarray,
        k: int = 10,
        *,
        applicant: str | None = None,
        applicant_type: str | None = None,
        consortium: str | Sequence[str] | None = None,
        org_types: str | Sequence[str] | None = None,
        region: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        complement: bool = False,
        newcomers: bool = True,
    ) -> pd.DataFrame:
        """Rank organisations for one proposal vector.

        Args:
            query_vector: The proposal's vector, embedded like the projects
                (``embed_documents(embedder, [text])[0][0]``).
            k: Most rows returned (fewer when filters leave fewer organisations with history).
            applicant: Id, name or alias of the applicant. Never suggested. An unknown name
                is allowed: it has no history, so the network component is zero.
            applicant_type: The applicant's organisation type, for complement mode when the
                applicant is not in the registry.
            consortium: Partners already in the consortium (ids, names or aliases). Never
                suggested; the known ones seed the network signal. Unknown names are ignored
                (listed in ``frame.attrs["unresolved"]``).
            org_types: Keep only these organisation types (see ``amif_match.corpus.ORG_TYPES``).
            region: Keep only organisations whose ``region`` lists one of these. National
                bodies have the region ``"nationwide"``; add it to keep them.
            exclude: Organisations (ids, names or aliases) never to suggest.
            complement: Favour organisation types the applicant and consortium lack.
            newcomers: Also suggest registry organisations without past projects, ranked by
                their profile only (needs ``organisation_vectors`` in :meth:`fit`). Their
                ``evidence`` is empty and the explanation says so.

        Returns:
            One row per organisation, best first, with the columns in :data:`COLUMNS`.
            ``evidence`` lists the organisation's most similar past projects as dicts
            ``{project_id, project_name, role, similarity}``; ``shared_partners`` the
            organisations it shares with the seeds; ``worked_with`` the seeds it already ran
            projects with. ``frame.attrs`` records the resolved applicant and consortium.

        Raises:
            ValueError: ``k < 1``, unknown ``org_types``/``region``/``exclude`` values, or a
                query vector of the wrong shape.
            TypeError: options of the wrong type.
        """
        opts = self._prepare(
            k,
            applicant=applicant,
            applicant_type=applicant_type,
            consortium=consortium,
            org_types=org_types,
            region=region,
            exclude=exclude,
            complement=complement,
            newcomers=newcomers,
        )
        return self._suggest_prepared(query_vector, opts)

    def _suggest_prepared(self, query_vector: np.ndarray, opts: dict[str, Any]) -> pd.DataFrame:
        parts = self.score_all(
            query_vector,
            seeds=opts["seeds"],
            present_types=opts["present_types"],
            complement=opts["complement"],
        )
        blocked = set(opts["seeds"]) | opts["excluded"]
        keep = [
            i
            for i, org in enumerate(self.org_ids_)
            if org not in blocked
            and parts["score"][i] > 0
            and (self.n_projects_[i] > 0 or opts["newcomers"])
            and (not opts["types"] or self.org_types_[i] in opts["types"])
            and (not opts["regions"] or opts["regions"] & set(self.org_regions_[i]))
        ]
        keep.sort(key=lambda i: (-float(parts["score"][i]), -self.n_projects_[i], self.org_ids_[i]))
        rows = [self._row(i, rank, parts, opts) for rank, i in enumerate(keep[: opts["k"]], 1)]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame.attrs.update(
            {
                "applicant": opts["applicant_id"],
                "consortium": list(opts["members"]),
                "unresolved": list(opts["unresolved"]),
                "complement": opts["complement"],
                "present_types": sorted(opts["present_types"]),
            }
        )
        return frame

    def _row(self, i: int, rank: int, parts: dict[str, np.ndarray], opts: dict[str, Any]) -> dict:
        org = self.org_ids_[i]
        sims, rel = parts["cosine"], parts["relevance"]
        # 1 = the corpus project most similar to the proposal.
        project_rank = np.empty(len(sims), dtype=int)
        project_rank[np.argsort(-sims, kind="stable")] = np.arange(1, len(sims) + 1)
        items = sorted(self.org_projects_[org], key=lambda item: (-sims[item[0]], item[0]))
        evidence = [
            {
                "project_id": str(self.projects_.at[j, "id"]),
                "project_name": str(self.projects_.at[j, "name"]),
                "role": "lead" if role == _ROLE_LEAD else "partner",
                "similarity": round(float(sims[j]), 4),
                "relevance": round(float(rel[j]), 4),
                "project_rank": int(project_rank[j]),
            }
            for j, role in items[: int(self.max_evidence)]
        ]
        seeds = opts["seeds"]
        seed_idx = [self.org_index_[s] for s in seeds]
        adjacency = self.coparticipation_ > 0
        worked_with = [s for s, a in zip(seeds, seed_idx, strict=True) if adjacency[a, i]]
        common: list[str] = []
        if seed_idx:
            mask = adjacency[seed_idx].any(axis=0) & adjacency[i]
            mask[seed_idx] = False
            mask[i] = False
            order = np.flatnonzero(mask)
            common = [self.org_ids_[z] for z in sorted(order, key=lambda z: -self.degree_[z])]
        row = {
            "rank": rank,
            "id": org,
            "name": self.org_names_[i],
            "type": self.org_types_[i],
            "city": self.org_cities_[i],
            "region": ";".join(self.org_regions_[i]),
            "score": float(parts["score"][i]),
            "text_score": float(parts["text"][i]),
            "network_score": float(parts["network"][i]),
            "popularity_score": float(parts["popularity"][i]),
            "profile_score": float(parts["profile"][i]),
            "complement_score": float(parts["complement"][i]),
            "n_projects": int(self.n_projects_[i]),
            "evidence": evidence,
            "shared_partners": common,
            "worked_with": worked_with,
        }
        row["explanation"] = self._explain(row, opts)
        return row

    def _explain(self, row: dict[str, Any], opts: dict[str, Any]) -> str:
        def name(org: str) -> str:
            return self.org_names_[self.org_index_[org]]

        label = TYPE_LABELS.get(row["type"], ("organisation",))[0]
        lacking = opts["complement"] and row["complement_score"] > 0
        shown = row["evidence"][:2]
        if not shown:
            place = f", {row['city']}" if row["city"] else ""
            text = (
                f"{row['name']} has no AMIF project in the corpus yet; it is suggested because "
                f"its profile ({label}{place}) matches the proposal"
            )
            if lacking:
                text += f", and its type ({label}) is missing from your consortium"
            return text + "."
        n_total = len(self.projects_)
        projects = " and ".join(
            f"{e['role']} of '{e['project_name']}' ({e['project_id']}, similarity "
            f"{e['similarity']:.2f}, #{e['project_rank']} of {n_total} projects)"
            for e in shown
        )
        text = f"{row['name']} was {projects}"
        more = row["n_projects"] - len(shown)
        if more > 0:
            text += f", plus {more} more AMIF project{'s' if more > 1 else ''}"
        clauses = []
        if row["worked_with"]:
            clauses.append("has worked with " + ", ".join(name(o) for o in row["worked_with"]))
        if row["shared_partners"]:
            names = [name(o) for o in row["shared_partners"][:3]]
            extra = len(row["shared_partners"]) - len(names)
            clauses.append(
                "shares the partners "
                + ", ".join(names)
                + (f" and {extra} more" if extra > 0 else "")
                + " with your consortium"
            )
        if lacking:
            clauses.append(f"brings a type your consortium lacks ({label})")
        if clauses:
            joined = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1])
            if len(clauses) > 1:
                joined += f" and {clauses[-1]}"
            text += "; it " + joined
        return text + "."


def _unit_rows(matrix: object, n_rows: int, what: str) -> np.ndarray:
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


def _calibrate(sims: np.ndarray) -> np.ndarray:
    """Per-query 0-1 scale: the best item 1, items at or below the median 0."""
    if sims.size == 0:
        return sims.astype(np.float32)
    median, top = float(np.median(sims)), float(sims.max())
    if top <= median:
        return np.zeros_like(sims, dtype=np.float32)
    return np.clip((sims - median) / (top - median), 0.0, 1.0).astype(np.float32)


def _scale(values: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    top = float(values[candidate].max(initial=0.0))
    return (values / top).astype(np.float32) if top > 0 else np.zeros_like(values)


# --------------------------------------------------------------------------- end to end

_CACHE: OrderedDict[tuple[str, str, str], PartnerRecommender] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def fitted_recommender(
    corpus: Corpus | None = None, embedder: Embedder | None = None, **params: Any
) -> PartnerRecommender:
    """A fitted :class:`PartnerRecommender`, cached per (corpus fingerprint, embedder, params).

    Project vectors go through the persistent embedding cache, so only new or changed project
    texts are ever embedded.
    """
    from amif_match.embedding import embed_documents, get_embedder
    from amif_match.index import ProjectIndex, cached

    corpus = Corpus.default() if corpus is None else corpus
    embedder = get_embedder() if embedder is None else embedder
    key = (corpus.fingerprint, embedder.name, json.dumps(params, sort_keys=True, default=str))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    wrapped = cached(embedder)
    vectors = ProjectIndex.build(corpus, wrapped).vectors
    org_vectors = embed_documents(wrapped, organisation_texts(corpus))[0]
    rec = PartnerRecommender(**params).fit(corpus, vectors, org_vectors)
    with _CACHE_LOCK:
        _CACHE[key] = rec
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return rec


def suggest_partners_for_text(
    text: str,
    k: int = 10,
    *,
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    applicant: str | None = None,
    applicant_type: str | None = None,
    consortium: str | Sequence[str] | None = None,
    org_types: str | Sequence[str] | None = None,
    region: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    complement: bool = False,
    newcomers: bool = True,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Suggest partners for a proposal text, end to end (see :meth:`PartnerRecommender.suggest`).

    Args:
        text: The proposal (Finnish, Swedish or English; plain text or HTML).
        corpus: Defaults to the bundled corpus; pass ``Corpus.default().add(...)`` to include
            your own projects and organisations.
        embedder: Defaults to ``get_embedder()`` (the offline ``me5-small`` model).
        params: Constructor arguments of :class:`PartnerRecommender` (weights).

    Raises:
        TypeError, amif_match.errors.InputError: bad ``text`` (see ``amif_match.text``).
        ValueError: bad options (checked before the text is embedded).
    """
    from amif_match.embedding import embed_documents, get_embedder
    from amif_match.text import normalise

    embedder = get_embedder() if embedder is None else embedder
    nt = normalise(text)
    rec = fitted_recommender(corpus, embedder, **(params or {}))
    opts = rec._prepare(
        k,
        applicant=applicant,
        applicant_type=applicant_type,
        consortium=consortium,
        org_types=org_types,
        region=region,
        exclude=exclude,
        complement=complement,
        newcomers=newcomers,
    )
    query = embed_documents(embedder, [nt])[0][0]
    return rec._suggest_prepared(query, opts)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        # Scores are computed in float32; six decimals drop the binary noise, not information.
        value = round(float(value), 6)
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a :meth:`PartnerRecommender.suggest` frame as JSON-safe dicts.

    Only plain ``str``, ``int``, ``float`` (never NaN), ``bool``, ``None``, lists and dicts, so
    ``json.dumps`` always works.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    return [_json_safe(row) for row in frame.to_dict("records")]


# --------------------------------------------------------------------------- evaluation

_LEGAL_FORMS = {"ry", "rf", "sr", "oy", "ab", "oyj", "abp", "ltd"}


def _name_pattern(name: str) -> str | None:
    """Regex for an organisation name that tolerates Finnish/Swedish inflection.

    Legal forms (ry, oy, ...) are optional. Words of up to five letters take up to three more
    letters (THL:n, Humakin); longer words keep all but their last two letters as the stem
    (Maahanmuuttoviraston, Pakolaisavun) so that a one-word name such as ``Pakolaisapu`` does
    not also swallow the topic word ``pakolaisia``.
    """
    words = [w for w in re.findall(r"\w+", name.casefold()) if w not in _LEGAL_FORMS]
    if not words:
        return None
    parts = []
    for word in words:
        if len(word) <= 5:
            parts.append(re.escape(word) + r"\w{0,3}")
        else:
            parts.append(re.escape(word[: len(word) - 2]) + r"\w*")
    return r"\b" + r"\W+".join(parts) + r"\b"


def mask_organisation_names(text: str, names: Iterable[str], token: str = "organisaatio") -> str:
    """Replace mentions of an organisation (any of ``names``, inflected) in ``text``.

    Used by the evaluation: corpus descriptions name their partners, so a query built from a
    project's own text would otherwise give the hidden partner away by name.
    """
    patterns = sorted(
        {p for p in (_name_pattern(n) for n in names if n) if p}, key=len, reverse=True
    )
    for pattern in patterns:
        text = re.sub(pattern, token, text, flags=re.IGNORECASE)
    return text


def _org_names(organisations: pd.DataFrame, org: str) -> list[str]:
    row = organisations[organisations["id"] == org].iloc[0]
    aliases = row["aliases"] if isinstance(row["aliases"], list) else []
    return [str(org), _clean(row["name"]), *aliases]


def _expected_rank_metrics(higher: int, ties: int, k: int) -> dict[str, float]:
    """Hit@1/5/k, MRR and nDCG@k when the truth is tied with ``ties - 1`` others, averaged
    over a uniformly random order of the ties (so no method gains from a lucky tie-break)."""
    ranks = np.arange(higher + 1, higher + ties + 1, dtype=np.float64)
    out = {f"Hit@{n}": float((ranks <= n).mean()) for n in sorted({1, 5, k})}
    out["MRR"] = float((1.0 / ranks).mean())
    out[f"nDCG@{k}"] = float(np.where(ranks <= k, 1.0 / np.log2(ranks + 1), 0.0).mean())
    out["rank"] = float(ranks.mean())
    return out


def gini(counts: Sequence[float]) -> float:
    """Gini index of how often each item was recommended (0 = even, 1 = one item only)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


METHODS = ("combined", "text_only", "adamic_adar_only", "popularity")


def _method_scores(
    rec: PartnerRecommender, method: str, query: np.ndarray, seeds: list[str]
) -> np.ndarray:
    if method == "popularity":
        return rec.n_projects_.astype(np.float64)
    if method == "adamic_adar_only":
        return rec.network_scores(seeds, repeat=0.0).astype(np.float64)
    if method == "text_only":
        _, rel = rec.project_relevance(query)
        return rec.text_scores(rel).astype(np.float64)
    if method == "combined":
        return rec.score_all(query, seeds=seeds)["score"].astype(np.float64)
    raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")


def _leave_one_partner_out_queries(corpus: Corpus, *, mask_names: bool) -> list[dict[str, Any]]:
    texts = corpus.project_texts("fi")
    queries: list[dict[str, Any]] = []
    for j, row in enumerate(corpus.projects.to_dict("records")):
        members = _participants(row["lead"], row["partners"])
        if len(members) < 2:
            continue
        for hidden in members:
            text = texts.iloc[j]
            if mask_names:
                text = mask_organisation_names(text, _org_names(corpus.organisations, hidden))
            queries.append(
                {
                    "project_row": j,
                    "project_id": row["id"],
                    "period": _clean(row.get("period")),
                    "hidden": hidden,
                    "consortium": [m for m in members if m != hidden],
                    "text": text,
                }
            )
    return queries


@dataclass
class _EvalData:
    corpus: Corpus
    project_vectors: np.ndarray
    organisation_vectors: np.ndarray
    queries: list[dict[str, Any]]
    query_vectors: np.ndarray
    embedder_name: str

    def subset(self, period: str | None) -> _EvalData:
        if period is None:
            return self
        chosen = [i for i, q in enumerate(self.queries) if q["period"] == period]
        if not chosen:
            raise ValueError(f"no evaluation query comes from a project of period {period!r}")
        return _EvalData(
            self.corpus,
            self.project_vectors,
            self.organisation_vectors,
            [self.queries[i] for i in chosen],
            self.query_vectors[chosen],
            self.embedder_name,
        )


def _eval_data(corpus: Corpus | None, embedder: Embedder | None, mask_names: bool) -> _EvalData:
    from amif_match.embedding import embed_documents, get_embedder
    from amif_match.index import ProjectIndex, cached

    corpus = Corpus.default() if corpus is None else corpus
    embedder = get_embedder() if embedder is None else embedder
    wrapped = cached(embedder)
    project_vectors = ProjectIndex.build(corpus, wrapped).vectors
    organisation_vectors = embed_documents(wrapped, organisation_texts(corpus))[0]
    queries = _leave_one_partner_out_queries(corpus, mask_names=mask_names)
    if not queries:
        raise ValueError("the corpus has no project with two or more participants to evaluate")
    query_vectors = embed_documents(wrapped, [q["text"] for q in queries])[0]
    return _EvalData(
        corpus, project_vectors, organisation_vectors, queries, query_vectors, embedder.name
    )


def _run_lopo(
    data: _EvalData,
    params_list: Sequence[dict[str, Any]],
    methods: Sequence[str],
    k: int,
) -> list[dict[str, Any]]:
    """One result row per (params index, method, query); baselines only for params 0."""
    rows: list[dict[str, Any]] = []
    by_project: dict[int, list[int]] = {}
    for qi, q in enumerate(data.queries):
        by_project.setdefault(q["project_row"], []).append(qi)
    corpus = data.corpus
    for j, qis in by_project.items():
        # The query project is a proposal being written: drop it from the fitted corpus, which
        # removes the hidden partner's link from both its text profile and the graph.
        keep = np.ones(len(corpus.projects), dtype=bool)
        keep[j] = False
        rec = PartnerRecommender()
        rec._fit_tables(
            corpus.projects[keep].reset_index(drop=True),
            corpus.organisations,
            data.project_vectors[keep],
            data.organisation_vectors,
        )
        for pi, params in enumerate(params_list):
            rec.set_params(**{**DEFAULT_WEIGHTS, **params})
            rec._check_params()
            for qi in qis:
                q = data.queries[qi]
                seeds = [m for m in q["consortium"] if m in rec.org_index_]
                candidates = np.ones(len(rec.org_ids_), dtype=bool)
                candidates[[rec.org_index_[s] for s in seeds]] = False
                truth = rec.org_index_[q["hidden"]]
                incumbent = bool(rec.n_projects_[truth] > 0)
                for method in methods:
                    if method != "combined" and pi > 0:
                        continue
                    scores = _method_scores(rec, method, data.query_vectors[qi], seeds)
                    cand_scores = scores[candidates]
                    s_true = scores[truth]
                    higher = int((cand_scores > s_true + 1e-9).sum())
                    ties = int((np.abs(cand_scores - s_true) <= 1e-9).sum())
                    order = sorted(
                        np.flatnonzero(candidates),
                        key=lambda i: (-scores[i], -rec.n_projects_[i], rec.org_ids_[i]),
                    )
                    rows.append(
                        {
                            "params": pi,
                            "method": method,
                            "project_id": q["project_id"],
                            "period": q["period"],
                            "hidden": q["hidden"],
                            "segment": "incumbents" if incumbent else "newcomers",
                            "top": [str(rec.org_ids_[i]) for i in order[:k]],
                            **_expected_rank_metrics(higher, ties, k),
                        }
                    )
    return rows


def _metric_table(rows: pd.DataFrame, k: int, by: Sequence[str]) -> pd.DataFrame:
    cols = list(dict.fromkeys(["Hit@1", "Hit@5", f"Hit@{k}", "MRR", f"nDCG@{k}"]))
    parts = []
    for segment in ("incumbents", "newcomers", "all"):
        sub = rows if segment == "all" else rows[rows["segment"] == segment]
        if sub.empty:
            continue
        grouped = sub.groupby(list(by), sort=False)
        agg = grouped[cols].mean()
        agg["n_queries"] = grouped.size()
        agg.insert(0, "segment", segment)
        parts.append(agg.reset_index())
    return pd.concat(parts, ignore_index=True)


def evaluate_partners(
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    *,
    k: int = 10,
    mask_names: bool = True,
    params: dict[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Leave-one-partner-out evaluation of partner suggestions and three baselines.

    For every corpus project with at least two participants and for each of its participants:
    hide that participant, drop the project from the fitted corpus (so the hidden
    organisation's link to it is gone from both its text profile and the co-participation
    graph), query with the project's Finnish text (with every mention of the hidden
    organisation masked when ``mask_names``: the corpus descriptions name their partners) and
    the remaining participants as the consortium, and rank *all* registry organisations except
    the consortium. Ties are scored as the expectation over a random order of the tied
    organisations, so no method profits from a lucky tie-break.

    Methods: ``combined`` (:class:`PartnerRecommender` with ``params`` over the defaults),
    ``text_only`` (the text component alone), ``adamic_adar_only`` (Adamic-Adar from the
    consortium) and ``popularity`` (most past projects).

    Returns:
        ``metrics``: Hit@1/5/k, MRR, nDCG@k and n_queries per method and segment
        (``incumbents``: the hidden organisation has other projects; ``newcomers``: it has
        none; ``all``). ``by_period``: the same per project period (the defaults were tuned on
        2014-2020 queries only, so 2021-2027 is held out). ``diversity``: coverage (share of
        registry organisations in any top-k list) and Gini of top-k appearances per method.
        ``queries``: one row per (method, query) with the expected rank and the top-k list.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    data = _eval_data(corpus, embedder, mask_names)
    rows = pd.DataFrame(_run_lopo(data, [params or {}], METHODS, k))
    metrics = _metric_table(rows, k, ["method"])
    by_period = _metric_table(rows, k, ["period", "method"])
    organisations = data.corpus.organisations["id"].tolist()
    diversity = []
    for method in METHODS:
        counts = Counter(itertools.chain.from_iterable(rows.loc[rows["method"] == method, "top"]))
        diversity.append(
            {
                "method": method,
                f"coverage@{k}": len(counts) / len(organisations),
                f"gini@{k}": gini([counts.get(o, 0) for o in organisations]),
                "distinct_recommended": len(counts),
                "n_organisations": len(organisations),
            }
        )
    out = {
        "metrics": metrics,
        "by_period": by_period,
        "diversity": pd.DataFrame(diversity),
        "queries": rows.drop(columns=["params"]),
    }
    for frame in out.values():
        frame.attrs.update({"embedder": data.embedder_name, "mask_names": mask_names, "k": k})
    return out


#: The grid :func:`tune_weights` searches by default.
DEFAULT_GRID: dict[str, Sequence[float]] = {
    "network_weight": [0.0, 0.25, 0.5, 1.0],
    "popularity_weight": [0.0, 0.05, 0.1, 0.2],
    "profile_weight": [0.0, 0.2, 0.4, 0.6, 1.0],
    "bonus": [0.0, 0.1, 0.25, 0.5],
    "repeat": [0.0, 1.0, 2.0],
}


def tune_weights(
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
    *,
    grid: dict[str, Sequence[float]] | None = None,
    period: str | None = "2014-2020",
    k: int = 10,
    mask_names: bool = True,
) -> pd.DataFrame:
    """Grid search of :class:`PartnerRecommender` weights with leave-one-partner-out.

    Only queries from projects of ``period`` are used (``None``: all), so the defaults are
    tuned on 2014-2020 projects and the 2021-2027 ones stay held out. Parameters not in
    ``grid`` keep their defaults. Returns one row per grid point with the metrics per segment,
    best ``MRR[all]`` first.
    """
    grid = dict(DEFAULT_GRID if grid is None else grid)
    data = _eval_data(corpus, embedder, mask_names).subset(period)
    names = list(grid)
    params_list = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())
    ]
    rows = pd.DataFrame(_run_lopo(data, params_list, ["combined"], k))
    table = _metric_table(rows, k, ["params"])
    wide = table.pivot(index="params", columns="segment")
    wide.columns = [f"{metric}[{segment}]" for metric, segment in wide.columns]
    wide = wide.reset_index()
    for pos, name in enumerate(names):
        wide.insert(pos, name, [params_list[p][name] for p in wide["params"]])
    return wide.drop(columns=["params"]).sort_values(
        ["MRR[all]", f"Hit@{k}[all]"], ascending=False, ignore_index=True
    )


def format_markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m amif_match.partners [--k 10] [--no-mask]``: print the evaluation tables."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-mask", action="store_true", help="keep partner names in queries")
    args = parser.parse_args(argv)
    result = evaluate_partners(k=args.k, mask_names=not args.no_mask)
    print(
        f"Leave-one-partner-out, embedder {result['metrics'].attrs['embedder']}, "
        f"names masked: {not args.no_mask}\n"
    )
    print(format_markdown(result["metrics"]))
    print()
    print(format_markdown(result["diversity"]))
    print()
    print("By project period (weights tuned on 2014-2020 queries only):\n")
    print(format_markdown(result["by_period"]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
