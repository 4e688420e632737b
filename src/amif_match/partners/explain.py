"""Result rows and their explanation text for a ranked partner list."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from amif_match.corpus import MEMBER_STATES
from amif_match.partners.query import ResolvedQuery
from amif_match.partners.registry import ROLE_LEAD, TYPE_LABELS, Registry
from amif_match.partners.signals import Scores
from amif_match.serialise import to_jsonable

__all__ = ["COLUMNS", "SCORE_SIGNALS", "country_name", "result_frame", "to_records"]

#: Signals with a ``<name>_score`` column, in column order.
SCORE_SIGNALS = ("text", "network", "popularity", "profile", "complement")

COLUMNS = [
    "rank",
    "id",
    "name",
    "type",
    "city",
    "region",
    "country",
    "score",
    *(f"{name}_score" for name in SCORE_SIGNALS),
    "n_projects",
    "evidence",
    "shared_partners",
    "worked_with",
    "explanation",
]


def result_frame(
    registry: Registry,
    scores: Scores,
    query: ResolvedQuery,
    order: list[int],
    max_evidence: int,
) -> pd.DataFrame:
    """One explained row per organisation row in ``order`` (best first), :data:`COLUMNS`;
    ``frame.attrs`` records the resolved applicant and consortium, the country scope
    (``countries``, empty: every country; ``country``: the applicant's) and, in transnational
    mode, the ``member_states`` the consortium with these suggestions spans."""
    # 1 = the corpus project most similar to the proposal.
    project_rank = np.empty(len(scores.cosine), dtype=int)
    project_rank[np.argsort(-scores.cosine, kind="stable")] = np.arange(1, len(scores.cosine) + 1)
    rows = []
    states = set(query.covered)
    for rank, i in enumerate(order, 1):
        row = _row(registry, scores, query, i, max_evidence, project_rank)
        row["rank"] = rank
        # In transnational mode the best-ranked organisation of each new Member State adds it.
        adds = bool(query.transnational) and row["country"] in set(MEMBER_STATES) - states
        states |= {row["country"]} if adds else set()
        row["explanation"] = explain(registry, row, query, adds_state=len(states) if adds else 0)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update(
        {
            "applicant": query.applicant_id,
            "consortium": list(query.members),
            "unresolved": list(query.unresolved),
            "complement": query.complement,
            "present_types": sorted(query.present_types),
            "countries": sorted(query.countries),
            "country": query.country,
            "transnational": query.transnational,
        }
    )
    if query.transnational:
        frame.attrs["member_states"] = sorted(states)
    return frame


def _row(
    registry: Registry,
    scores: Scores,
    query: ResolvedQuery,
    i: int,
    max_evidence: int,
    project_rank: np.ndarray,
) -> dict[str, Any]:
    org = registry.org_ids[i]
    sims, rel = scores.cosine, scores.relevance
    items = sorted(registry.org_projects[org], key=lambda item: (-sims[item[0]], item[0]))
    evidence = [
        {
            "project_id": str(registry.projects.at[j, "id"]),
            "project_name": str(registry.projects.at[j, "name"]),
            "role": "lead" if role == ROLE_LEAD else "partner",
            "similarity": round(float(sims[j]), 4),
            "relevance": round(float(rel[j]), 4),
            "project_rank": int(project_rank[j]),
        }
        for j, role in items[: int(max_evidence)]
    ]
    seeds = list(query.seeds)
    seed_idx = [registry.org_index[s] for s in seeds]
    adjacency = registry.coparticipation > 0
    worked_with = [s for s, a in zip(seeds, seed_idx, strict=True) if adjacency[a, i]]
    common: list[str] = []
    if seed_idx:
        mask = adjacency[seed_idx].any(axis=0) & adjacency[i]
        mask[seed_idx] = False
        mask[i] = False
        found = np.flatnonzero(mask)
        common = [registry.org_ids[z] for z in sorted(found, key=lambda z: -registry.degree[z])]
    parts = {
        f"{name}_score": float(scores.parts[name][i]) if name in scores.parts else 0.0
        for name in SCORE_SIGNALS
    }
    return {
        "id": org,
        "name": registry.org_names[i],
        "type": registry.org_types[i],
        "city": registry.org_cities[i],
        "region": ";".join(registry.org_regions[i]),
        "country": registry.org_countries[i] or None,
        "score": float(scores.score[i]),
        **parts,
        "n_projects": int(registry.n_projects[i]),
        "evidence": evidence,
        "shared_partners": common,
        "worked_with": worked_with,
    }


def country_name(code: str) -> str:
    """English short name of an ISO 3166 alpha-2 code (the code itself when unknown)."""
    from iso3166 import countries_by_alpha2

    found = countries_by_alpha2.get(code)
    return found.name if found else code


def explain(
    registry: Registry, row: dict[str, Any], query: ResolvedQuery, *, adds_state: int = 0
) -> str:
    """The one-sentence explanation of a result row: evidence, network and complement, and in
    transnational mode the Member State it brings into the consortium (``adds_state``: the
    number of Member States with it, counting the applicant's and the members'; 0: none)."""
    label = TYPE_LABELS.get(row["type"], ("organisation",))[0]
    lacking = query.complement and row["complement_score"] > 0
    shown = row["evidence"][:2]
    need = query.transnational or 0
    count = (
        f"Member State {adds_state} of the {need} needed"
        if adds_state <= need
        else f"Member State {adds_state}; {need} needed"
    )
    state = f"it brings {country_name(row['country'])} ({row['country']}) into the consortium"
    state += f" ({count})"
    if not shown:
        place = f", {row['city']}" if row["city"] else ""
        text = (
            f"{row['name']} has no AMIF project in the corpus yet; it is suggested because "
            f"its profile ({label}{place}) matches the proposal"
        )
        if lacking:
            text += f", and its type ({label}) is missing from your consortium"
        return text + (f"; {state}." if adds_state else ".")
    n_total = len(registry.projects)
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
        clauses.append("has worked with " + ", ".join(map(registry.name, row["worked_with"])))
    if row["shared_partners"]:
        names = [registry.name(o) for o in row["shared_partners"][:3]]
        extra = len(row["shared_partners"]) - len(names)
        clauses.append(
            "shares the partners "
            + ", ".join(names)
            + (f" and {extra} more" if extra > 0 else "")
            + " with your consortium"
        )
    if lacking:
        clauses.append(f"brings a type your consortium lacks ({label})")
    if adds_state:
        clauses.append(state[len("it ") :])
    if clauses:
        joined = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1])
        if len(clauses) > 1:
            joined += f" and {clauses[-1]}"
        text += "; it " + joined
    return text + "."


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a :meth:`PartnerRecommender.suggest` frame as JSON-safe dicts.

    Only plain ``str``, ``int``, ``float`` (never NaN), ``bool``, ``None``, lists and dicts, so
    ``json.dumps`` always works. Scores are computed in float32; six decimals drop the binary
    noise, not information.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    return [to_jsonable(row, float_digits=6) for row in frame.to_dict("records")]
