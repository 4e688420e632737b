"""What one partner search asks for: :class:`PartnerQuery`, checked on construction.

A query is validated in two steps, both before any text is embedded: :class:`PartnerQuery`
checks types and the values that need no corpus (``k``, ``org_types``, ``applicant_type``);
:meth:`PartnerQuery.resolve` checks names and regions against a fitted :class:`Registry` and
returns the :class:`ResolvedQuery` the signals score with.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from amif_match.corpus import ORG_TYPES
from amif_match.partners.registry import Registry, as_str_list

__all__ = ["PartnerQuery", "ResolvedQuery"]


def _hint(value: str, choices: list[str] | tuple[str, ...]) -> str:
    found = difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean {found[0]!r}?)" if found else ""


@dataclass(frozen=True)
class PartnerQuery:
    """The options of one partner search (see :meth:`PartnerRecommender.suggest`).

    List options accept a str or an iterable of str and are stored as tuples.

    Raises:
        TypeError: an option of the wrong type.
        ValueError: ``k < 1``, an empty ``applicant``, unknown ``org_types`` or
            ``applicant_type``.
    """

    k: int = 10
    applicant: str | None = None
    applicant_type: str | None = None
    consortium: tuple[str, ...] = ()
    org_types: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
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

    def resolve(self, registry: Registry) -> ResolvedQuery:
        """Map names to organisation ids and check regions against ``registry``.

        Raises:
            ValueError: an unknown region or an unknown organisation in ``exclude``.
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
        )


@dataclass(frozen=True)
class ResolvedQuery:
    """A :class:`PartnerQuery` with names mapped to the ids of one fitted registry.

    ``seeds`` are the applicant and consortium members the registry knows (they seed the
    network signal and are never suggested); ``present_types`` the organisation types the
    consortium already has (for complement mode).
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
