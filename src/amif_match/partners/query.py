"""What one partner search asks for: :class:`PartnerQuery`, checked on construction.

A query is validated in two steps, both before any text is embedded: :class:`PartnerQuery`
checks types and the values that need no corpus (``k``, ``org_types``, ``applicant_type``,
country codes, ``transnational``); :meth:`PartnerQuery.resolve` checks names and regions
against a fitted :class:`Registry` and returns the :class:`ResolvedQuery` the signals score
with.

Country scope: a national AMIF call needs national partners, so when the applicant's country
is known (``country=``, else the applicant organisation's ``country`` in the registry) only
organisations of that country are suggested. ``countries=`` replaces that scope; in
``transnational`` mode the scope is every country (the consortium must span Member States).
Without any country information every country is in scope. An organisation without a country
(e.g. one a user added without the column) stays in the default scope, which would otherwise
hide it silently, but not in an explicit ``countries=`` list. An organisation counts for the
country of its registry row: an international organisation's country office (IOM Finland,
UNHCR Italia) for that country, a headquarters entry (``int-iom``, ``int-unhcr``) for its
seat's country; only EU Member States count towards ``transnational``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from amif_match.corpus import COUNTRIES, MEMBER_STATES, ORG_TYPES
from amif_match.partners.registry import Registry, as_str_list

__all__ = ["PartnerQuery", "ResolvedQuery"]


def _hint(value: str, choices: list[str] | tuple[str, ...]) -> str:
    found = difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean {found[0]!r}?)" if found else ""


#: Codes the EU's own style guide uses where ISO 3166 differs.
_EU_CODES = {"EL": "GR", "UK": "GB"}


def _country_code(value: str, what: str) -> str:
    """``value`` as an upper-case ISO 3166 alpha-2 code; ``ValueError`` otherwise."""
    code = value.strip().upper()
    if code == "EU":
        # Projects use EU for Union actions; organisations always have a real country.
        raise ValueError(
            f"{what} 'EU' is not an organisation's country; for a Union action consortium "
            "use transnational=N (at least N Member States) or list the countries"
        )
    if code not in COUNTRIES:
        from iso3166 import countries_by_name

        # EU usage (EL for Greece, UK) and country names map to the ISO code they mean.
        found = _EU_CODES.get(code) or getattr(countries_by_name.get(code), "alpha2", None)
        hint = f" (did you mean {found!r}?)" if found else ""
        raise ValueError(
            f"unknown {what} {value!r}{hint}; use ISO 3166 alpha-2 codes such as "
            f"{', '.join(MEMBER_STATES[:4])} (Member States: {' '.join(MEMBER_STATES)})"
        )
    return code


@dataclass(frozen=True)
class PartnerQuery:
    """The options of one partner search (see :meth:`PartnerRecommender.suggest`).

    List options accept a str or an iterable of str and are stored as tuples.

    Country codes (``countries``, ``country``) are ISO 3166 alpha-2, any case; see the module
    docstring for the country scope they set.

    Raises:
        TypeError: an option of the wrong type.
        ValueError: ``k < 1``, an empty ``applicant``, unknown ``org_types``,
            ``applicant_type`` or country codes, ``transnational`` not an int from 2 to the
            number of Member States.
    """

    k: int = 10
    applicant: str | None = None
    applicant_type: str | None = None
    consortium: tuple[str, ...] = ()
    org_types: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    country: str | None = None
    transnational: int | None = None
    complement: bool = False
    newcomers: bool = True

    def __post_init__(self) -> None:
        k = self.k
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        object.__setattr__(self, "k", int(k))
        if not isinstance(self.complement, bool):
            raise TypeError(f"complement must be True or False, got {self.complement!r}")
        if not isinstance(self.newcomers, bool):
            raise TypeError(f"newcomers must be True or False, got {self.newcomers!r}")
        applicant = self.applicant
        if applicant is not None and not isinstance(applicant, str):
            raise TypeError(
                f"applicant must be a str (id, name or alias) or None, got {applicant!r}"
            )
        if applicant is not None and not applicant.strip():
            raise ValueError("applicant is empty; pass None when the applicant is not known")
        for name in ("org_types", "consortium", "region", "exclude"):
            object.__setattr__(self, name, tuple(as_str_list(getattr(self, name), name)))
        bad = [t for t in self.org_types if t not in ORG_TYPES]
        if bad:
            raise ValueError(
                f"unknown org_types value {bad[0]!r}{_hint(bad[0], ORG_TYPES)}; "
                f"allowed: {', '.join(ORG_TYPES)}"
            )
        if self.applicant_type is not None and self.applicant_type not in ORG_TYPES:
            raise ValueError(
                f"unknown applicant_type {self.applicant_type!r}; allowed: {', '.join(ORG_TYPES)}"
            )
        codes = [_country_code(c, "country code") for c in as_str_list(self.countries, "countries")]
        object.__setattr__(self, "countries", tuple(dict.fromkeys(codes)))
        if self.country is not None:
            if not isinstance(self.country, str):
                raise TypeError(
                    f"country must be a str (ISO 3166 alpha-2) or None, got {self.country!r}"
                )
            object.__setattr__(self, "country", _country_code(self.country, "country"))
        n = self.transnational
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int | np.integer):
                raise TypeError(f"transnational must be an int or None, got {n!r}")
            if not 2 <= n <= len(MEMBER_STATES):
                raise ValueError(
                    f"transnational must be between 2 and {len(MEMBER_STATES)} Member States, "
                    f"got {n}"
                )
            object.__setattr__(self, "transnational", int(n))

    def resolve(self, registry: Registry) -> ResolvedQuery:
        """Map names to organisation ids and check regions against ``registry``.

        Raises:
            ValueError: an unknown region or an unknown organisation in ``exclude``, or
                ``countries`` with fewer Member States than ``transnational`` asks for.
        """
        known_regions = sorted({r for rs in registry.org_regions for r in rs})
        by_key = {r.casefold(): r for r in known_regions}
        regions: set[str] = set()
        for r in self.region:
            if r.strip().casefold() not in by_key:
                raise ValueError(
                    f"unknown region {r!r}{_hint(r, known_regions)}; "
                    f"regions in the corpus: {', '.join(known_regions)}"
                )
            regions.add(by_key[r.strip().casefold()])
        excluded: set[str] = set()
        for name in self.exclude:
            found = registry.resolve(name)
            if found is None:
                raise ValueError(
                    f"cannot exclude unknown organisation {name!r}{_hint(name, registry.org_names)}"
                )
            excluded.add(found)
        applicant_id = registry.resolve(self.applicant) if self.applicant else None
        members: list[str] = []
        # Unknown names are allowed (a newcomer applicant); they are reported, not scored.
        unresolved: list[str] = []
        if self.applicant and applicant_id is None:
            unresolved.append(self.applicant)
        for name in self.consortium:
            if not name.strip():
                continue
            found = registry.resolve(name)
            if found is None:
                unresolved.append(name)
            elif found != applicant_id and found not in members:
                members.append(found)
        seeds = ([applicant_id] if applicant_id else []) + members
        present = {registry.org_types[registry.org_index[s]] for s in seeds}
        if self.applicant_type is not None:
            present.add(self.applicant_type)
        country = self.country or (registry.country(applicant_id) if applicant_id else "")
        # The consortium's Member States so far: the applicant's country and the known members'.
        covered = {registry.country(s) for s in seeds} | {country}
        covered &= set(MEMBER_STATES)
        if self.countries:
            scope = frozenset(self.countries)
        elif self.transnational or not country:
            scope = frozenset()  # every country
        else:
            scope = frozenset({country})
        if self.transnational and scope:
            reachable = (scope | covered) & set(MEMBER_STATES)
            if len(reachable) < self.transnational:
                raise ValueError(
                    f"transnational={self.transnational} needs {self.transnational} Member States "
                    f"but countries= and the consortium allow only {len(reachable)} "
                    f"({' '.join(sorted(reachable)) or 'none'})"
                )
        return ResolvedQuery(
            k=self.k,
            applicant_id=applicant_id,
            members=tuple(members),
            seeds=tuple(seeds),
            unresolved=tuple(unresolved),
            types=frozenset(self.org_types),
            regions=frozenset(regions),
            excluded=frozenset(excluded),
            complement=self.complement,
            newcomers=self.newcomers,
            present_types=frozenset(present),
            countries=scope,
            countries_given=bool(self.countries),
            country=country or None,
            transnational=self.transnational,
            covered=frozenset(covered),
        )


@dataclass(frozen=True)
class ResolvedQuery:
    """A :class:`PartnerQuery` with names mapped to the ids of one fitted registry.

    ``seeds`` are the applicant and consortium members the registry knows (they seed the
    network signal and are never suggested); ``present_types`` the organisation types the
    consortium already has (for complement mode); ``countries`` the country scope (empty:
    every country; ``countries_given``: set by ``countries=``), ``country`` the applicant's
    country, ``covered`` the Member States the
    applicant and the known members already bring (for ``transnational``).
    """

    k: int = 10
    applicant_id: str | None = None
    members: tuple[str, ...] = ()
    seeds: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    types: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    complement: bool = False
    newcomers: bool = True
    present_types: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    countries_given: bool = False
    country: str | None = None
    transnational: int | None = None
    covered: frozenset[str] = frozenset()

    def in_scope(self, country: str) -> bool:
        """Whether an organisation of ``country`` (``""``: unknown) is in the country scope."""
        if not self.countries:
            return True
        return country in self.countries or (not country and not self.countries_given)
