"""The fitted tables every partner signal reads: organisations, projects and who ran what.

:class:`Registry` is built once per fit from the corpus's ``projects`` and ``organisations``
tables; the signals (:mod:`amif_match.partners.signals`) and the explanations
(:mod:`amif_match.partners.explain`) only read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from amif_match.corpus import Corpus

__all__ = [
    "ROLE_LEAD",
    "ROLE_PARTNER",
    "TYPE_LABELS",
    "Registry",
    "as_str_list",
    "clean",
    "organisation_texts",
    "participants",
]

ROLE_LEAD = 2
ROLE_PARTNER = 1

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


def as_str_list(value: object, what: str) -> list[str]:
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


def participants(lead: object, partners: object) -> list[str]:
    """Lead first, then partners; tolerant of ``None``/NaN leads and duplicates."""
    out: list[str] = []
    items = [lead, *(partners if isinstance(partners, list | tuple) else [])]
    for org in items:
        if isinstance(org, str) and org.strip() and org not in out:
            out.append(org)
    return out


def clean(value: object) -> str:
    """``value`` if it is a str, else ``""`` (missing cells are NaN or None)."""
    return value if isinstance(value, str) else ""


def _regions(value: object) -> list[str]:
    return [part.strip() for part in clean(value).split(";") if part.strip()]


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
        en, fi = TYPE_LABELS.get(clean(row.get("type")), ("organisation", "organisaatio"))
        place = ", ".join(p for p in (clean(row.get("city")), clean(row.get("region"))) if p)
        parts = [clean(row.get("name")) or str(row["id"]), "; ".join(aliases), f"{fi} ({en})"]
        texts.append(". ".join(p for p in [*parts, place] if p))
    return texts


@dataclass(frozen=True, eq=False)
class Registry:
    """Organisations, projects and the participation tables derived from them.

    Attributes:
        projects, organisations: The tables, index reset.
        org_ids: Organisation ids in registry order (every per-organisation array uses it).
        org_index: Id -> row.
        org_names, org_types, org_regions, org_cities: Display fields per organisation.
        org_countries: ISO 3166 alpha-2 code per organisation (``""`` when the table has none;
            an international organisation's country office has its office's country).
        membership: Organisations x projects: 2 lead, 1 partner, 0 none.
        coparticipation: Organisations x organisations: number of shared projects.
        degree: Number of distinct co-participants per organisation.
        n_projects: Number of projects per organisation.
        org_projects: Id -> list of (project row, role).
        corpus: The corpus it came from, for alias look-ups (``None`` for bare tables).
    """

    projects: pd.DataFrame
    organisations: pd.DataFrame
    org_ids: np.ndarray
    org_index: dict[str, int]
    org_names: list[str]
    org_types: np.ndarray
    org_regions: list[list[str]]
    org_cities: list[str]
    org_countries: list[str]
    membership: np.ndarray
    coparticipation: np.ndarray
    degree: np.ndarray
    n_projects: np.ndarray
    org_projects: dict[str, list[tuple[int, int]]]
    corpus: Corpus | None = None

    @classmethod
    def from_tables(
        cls, projects: pd.DataFrame, organisations: pd.DataFrame, corpus: Corpus | None = None
    ) -> Registry:
        """Build the tables from a ``projects`` and an ``organisations`` frame."""
        projects = projects.reset_index(drop=True)
        orgs = organisations.reset_index(drop=True)
        org_ids = orgs["id"].astype(str).to_numpy()
        org_index = {org: i for i, org in enumerate(org_ids)}
        membership = np.zeros((len(orgs), len(projects)), dtype=np.int8)
        for j, (lead, partners) in enumerate(
            zip(projects["lead"], projects["partners"], strict=True)
        ):
            for pos, org in enumerate(participants(lead, partners)):
                i = org_index.get(org)
                if i is None:
                    continue  # Corpus validation guarantees known ids; be lenient anyway.
                is_lead = pos == 0 and isinstance(lead, str) and lead == org
                membership[i, j] = max(membership[i, j], ROLE_LEAD if is_lead else ROLE_PARTNER)
        member = (membership > 0).astype(np.float32)
        shared = member @ member.T
        np.fill_diagonal(shared, 0.0)
        return cls(
            projects=projects,
            organisations=orgs,
            org_ids=org_ids,
            org_index=org_index,
            org_names=[clean(v) or org for v, org in zip(orgs["name"], org_ids, strict=True)],
            org_types=np.array([clean(v) for v in orgs["type"]], dtype=object),
            org_regions=[_regions(v) for v in orgs["region"]],
            org_cities=[clean(v) for v in orgs.get("city", pd.Series([""] * len(orgs)))],
            org_countries=[
                clean(v).strip().upper() for v in orgs.get("country", pd.Series([""] * len(orgs)))
            ],
            membership=membership,
            coparticipation=shared,
            degree=(shared > 0).sum(axis=1).astype(np.float32),
            n_projects=member.sum(axis=1).astype(int),
            org_projects={
                org_ids[i]: [(int(j), int(membership[i, j])) for j in np.flatnonzero(row)]
                for i, row in enumerate(membership)
            },
            corpus=corpus,
        )

    def __len__(self) -> int:
        return len(self.org_ids)

    def resolve(self, name_or_id: str) -> str | None:
        """Organisation id for an id, name or alias (case-insensitive); ``None`` if unknown."""
        if name_or_id in self.org_index:
            return name_or_id
        if self.corpus is not None:
            found = self.corpus.resolve_organisation(name_or_id)
            if found in self.org_index:
                return found
        key = _norm(name_or_id)
        for i, row in enumerate(self.organisations.itertuples(index=False)):
            aliases = row.aliases if isinstance(row.aliases, list) else []
            if key in {_norm(str(row.id)), _norm(clean(row.name)), *map(_norm, aliases)}:
                return self.org_ids[i]
        return None

    def name(self, org: str) -> str:
        """Display name of an organisation id."""
        return self.org_names[self.org_index[org]]

    def country(self, org: str) -> str:
        """ISO 3166 alpha-2 code of an organisation id (``""`` when unknown)."""
        return self.org_countries[self.org_index[org]]
