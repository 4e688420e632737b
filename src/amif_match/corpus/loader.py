"""The programme corpus: objectives, activity catalogue, target groups, organisations, projects.

All of it is plain CSV in ``corpus/`` (documented in ``corpus/README.md``), declared in
:mod:`~amif_match.corpus.schemas` and validated on load by :mod:`~amif_match.corpus.validation`.

Users extend the corpus without touching code::

    from amif_match.corpus import Corpus
    corpus = Corpus.default().add(projects="our_projects.csv", organisations="our_orgs.csv")
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pandas as pd

from amif_match.corpus.schemas import COUNTRIES, FILES, SCHEMAS
from amif_match.corpus.validation import (
    check_no_clash,
    check_org_names,
    check_project_references,
    load_organisations,
    load_out_of_scope,
    load_projects,
    norm_key,
    org_lookup,
    resolve_org_columns,
    validate_table,
)

__all__ = ["Corpus"]


class Corpus:
    """Everything amif_match knows about the programme, as validated pandas DataFrames.

    Attributes:
        objectives: The four specific objectives with fi/sv/en names and descriptions.
        activities: The activity catalogue (activity types, EU intervention fields, Finnish
            national actions), one row per item.
        target_groups: The controlled target-group vocabulary.
        organisations: The organisation registry (``id``, ``name``, ``aliases``, ``type``, ...).
        projects: Past projects with organisation ids, objective, target groups and texts.
        out_of_scope: Non-AMIF proposal texts used to train and test the scope check.

    Use :meth:`default` for the bundled data, :meth:`from_dir` for a folder of the same files,
    and :meth:`add` to extend a corpus with your own projects and organisations.
    """

    def __init__(
        self,
        *,
        objectives: pd.DataFrame,
        activities: pd.DataFrame,
        target_groups: pd.DataFrame,
        organisations: pd.DataFrame,
        projects: pd.DataFrame,
        out_of_scope: pd.DataFrame | None = None,
    ) -> None:
        self.objectives = objectives.reset_index(drop=True)
        self.activities = activities.reset_index(drop=True)
        self.target_groups = target_groups.reset_index(drop=True)
        self.organisations = organisations.reset_index(drop=True)
        self.projects = projects.reset_index(drop=True)
        self.out_of_scope = (
            out_of_scope.reset_index(drop=True)
            if out_of_scope is not None
            else pd.DataFrame(columns=[c.name for c in SCHEMAS["out_of_scope"]])
        )
        self._check_references()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_dir(cls, folder: str | os.PathLike[str]) -> Corpus:
        """Load a corpus folder holding the six files named in ``corpus/README.md``.

        ``out_of_scope.csv`` is optional; the other five are required.
        """
        folder = Path(folder)
        tables: dict[str, pd.DataFrame] = {}
        for kind, filename in FILES.items():
            path = folder / filename
            if kind == "out_of_scope" and not path.exists():
                continue
            id_column = "code" if kind in ("objectives", "activities", "target_groups") else "id"
            if kind == "projects":
                tables[kind] = load_projects(path)
            elif kind == "organisations":
                tables[kind] = load_organisations(path)
            elif kind == "out_of_scope":
                tables[kind] = load_out_of_scope(path)
            else:
                tables[kind] = validate_table(path, kind, id_column=id_column)
        return cls(**tables)

    @classmethod
    def default(cls, countries: str | Sequence[str] | None = None) -> Corpus:
        """The corpus bundled with the package (cached; treat it as read-only).

        Args:
            countries: Keep only the projects of these countries (ISO 3166-1 alpha-2 codes,
                ``"EU"`` for Union actions); see :meth:`filter`.
        """
        corpus = _default_corpus()
        return corpus if countries is None else corpus.filter(countries=countries)

    def filter(self, *, countries: str | Sequence[str]) -> Corpus:
        """A corpus with only the projects of ``countries`` (and every organisation).

        The catalogue, the organisation registry and the negative examples stay whole: an
        organisation of another country can still be named, it just has no projects here.
        """
        wanted = [countries] if isinstance(countries, str) else list(countries)
        if not wanted or not all(isinstance(c, str) for c in wanted):
            raise TypeError(f"countries must be a code or a list of codes, got {countries!r}")
        codes = {c.strip().upper() for c in wanted}
        unknown = sorted(codes - COUNTRIES - {"EU"})
        if unknown:
            raise ValueError(
                f"unknown country code(s) {', '.join(unknown)}: use ISO 3166-1 alpha-2 codes "
                "(e.g. FI, SE, DE) or EU for Union actions"
            )
        keep = self.projects["country"].isin(codes)
        return Corpus(
            objectives=self.objectives,
            activities=self.activities,
            target_groups=self.target_groups,
            organisations=self.organisations,
            projects=self.projects[keep],
            out_of_scope=self.out_of_scope,
        )

    @property
    def countries(self) -> list[str]:
        """The countries with projects, most projects first (``EU``: Union actions)."""
        counts = self.projects["country"].replace("", "unknown").value_counts()
        return [c for c in counts.index if c != "unknown"]

    def add(
        self,
        *,
        projects: str | os.PathLike[str] | pd.DataFrame | None = None,
        organisations: str | os.PathLike[str] | pd.DataFrame | None = None,
    ) -> Corpus:
        """Return a new corpus with extra projects and/or organisations.

        The files use the same columns as the bundled ones (only ``id``, ``name``,
        ``objective`` and one text column are required for a project; ``id``, ``name`` and
        ``type`` for an organisation). In a project's ``lead`` and ``partners`` you may write an
        organisation id, its name or one of its aliases; names are resolved to ids. Ids must not
        clash with existing ones.
        """
        orgs = self.organisations
        if organisations is not None:
            extra_orgs = load_organisations(organisations)
            check_no_clash(orgs, extra_orgs, "id", "organisation")
            check_org_names(orgs, extra_orgs)
            orgs = pd.concat([orgs, extra_orgs], ignore_index=True)
        projs = self.projects
        if projects is not None:
            extra = load_projects(projects)
            check_no_clash(projs, extra, "id", "project")
            extra = resolve_org_columns(extra, orgs)
            # Checked before concatenation so errors name the user's file and row.
            check_project_references(extra, orgs, self.target_groups, self.activities)
            projs = pd.concat([projs, extra], ignore_index=True)
        return Corpus(
            objectives=self.objectives,
            activities=self.activities,
            target_groups=self.target_groups,
            organisations=orgs,
            projects=projs,
            out_of_scope=self.out_of_scope,
        )

    # -- validation across files ---------------------------------------------------------

    def _check_references(self) -> None:
        check_project_references(
            self.projects, self.organisations, self.target_groups, self.activities
        )

    # -- look-ups ------------------------------------------------------------------------

    def resolve_organisation(self, name_or_id: str) -> str | None:
        """Return the id of an organisation given its id, name or an alias (case-insensitive).

        Returns ``None`` for an unknown organisation.
        """
        return org_lookup(self.organisations).get(norm_key(name_or_id))

    def project_texts(self, language: str | None = None) -> pd.Series:
        """One text per project, indexed by project id.

        With ``language="fi"`` the Finnish description, with ``"en"`` the English summary, each
        falling back to whatever text the project has. ``None`` prefers Finnish.
        """
        order = {
            "en": ("summary_en", "description", "description_fi"),
            "fi": ("description_fi", "description", "summary_en"),
        }.get(language or "fi", ("description", "description_fi", "summary_en"))
        texts = []
        for row in self.projects.to_dict("records"):
            text = next((row[c] for c in order if row.get(c)), "")
            texts.append(f"{row['name']}. {text}" if text else row["name"])
        return pd.Series(texts, index=self.projects["id"], name="text")

    def text(self, table: str, code: str, field: str, language: str = "en") -> str:
        """A localised field (``name``, ``description``, ``term``, ``definition``) of a row.

        Falls back to English, then Finnish, when the language has no text.
        """
        frame = getattr(self, table)
        key = "code" if "code" in frame.columns else "id"
        row = frame[frame[key] == code]
        if row.empty:
            raise KeyError(f"{table} has no {key} {code!r}")
        record = row.iloc[0]
        for lang in (language, "en", "fi"):
            value = record.get(f"{field}_{lang}")
            if isinstance(value, str) and value:
                return value
        return str(code)

    @property
    def fingerprint(self) -> str:
        """Content hash of every table; changes whenever any data changes (cache key)."""
        digest = hashlib.sha256()
        for name in ("objectives", "activities", "target_groups", "organisations", "projects"):
            digest.update(name.encode())
            digest.update(getattr(self, name).to_json(orient="values").encode())
        return digest.hexdigest()[:16]

    def summary(self) -> pd.DataFrame:
        """Row counts of each table."""
        return pd.DataFrame(
            {
                "table": list(FILES),
                "rows": [len(getattr(self, name)) for name in FILES],
            }
        )

    def __repr__(self) -> str:
        return (
            f"Corpus({len(self.projects)} projects, {len(self.organisations)} organisations, "
            f"{len(self.activities)} activities, {len(self.target_groups)} target groups)"
        )


@cache
def _default_corpus() -> Corpus:
    from amif_match._resources import bundled_path

    return Corpus.from_dir(bundled_path("corpus"))
