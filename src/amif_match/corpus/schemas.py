"""The corpus files, declared: every column's name, kind, whether it is required, allowed values.

This is the one description of the corpus format (``corpus/README.md`` documents it for people);
:mod:`~amif_match.corpus.validation` parses and checks every file against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from iso3166 import countries_by_alpha2

from amif_match.text import LANGUAGES

__all__ = [
    "COUNTRIES",
    "DESCRIPTION_LANGUAGES",
    "FILES",
    "FUNDS",
    "LANGS",
    "LAYERS",
    "MEMBER_STATES",
    "OBJECTIVES",
    "OBJECTIVE_BASES",
    "ORG_TYPES",
    "SCHEMAS",
    "TEXT_COLUMNS",
    "TG_KINDS",
    "Column",
]

OBJECTIVES = ("SO1", "SO2", "SO3", "SO4")
ORG_TYPES = (
    "state_authority",
    "municipality",
    "regional_authority",
    "ngo",
    "foundation",
    "education",
    "church",
    "company",
    "international_organisation",
    "research_institute",
    "other",
)
LAYERS = ("activity_type", "intervention_field", "national_action")
TG_KINDS = ("beneficiary", "intermediary")
FUNDS = ("ISF", "BMVI", "ERDF", "ESF+", "EAFRD", "EMFAF", "Horizon", "other")
#: Languages of the localised columns (``name_fi``, ``name_sv``, ``name_en``, ...).
LANGS = LANGUAGES
#: ISO 3166-1 alpha-2 codes (the ``iso3166`` package's list).
COUNTRIES = frozenset(countries_by_alpha2)
#: EU Member States (Denmark does not take part in AMIF but is listed: it is a Member State).
MEMBER_STATES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
#: How a project's specific objective was decided (see corpus/README.md).
OBJECTIVE_BASES = ("explicit", "programme", "implied")
#: ISO 639-1 codes of the EU's official languages: the languages project descriptions are in.
DESCRIPTION_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
    "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    """One column of a corpus file.

    ``kind`` is how the cell is parsed: ``str``, ``id``, ``list`` (``;``-separated), ``bool``,
    ``number``, ``date`` (YYYY, YYYY-MM or YYYY-MM-DD), ``country`` (an ISO 3166-1 alpha-2 code,
    or one of ``allowed``), or ``choice``/``choices`` (one/several of ``allowed``).
    """

    name: str
    kind: str = "str"
    required: bool = False
    allowed: tuple[str, ...] = ()


def _lang_columns(*stems: str, required: tuple[str, ...] = ("fi", "en")) -> list[Column]:
    """One column per stem and language (``name_fi``, ``name_sv``, ...); ``required`` languages
    must be filled."""
    return [Column(f"{stem}_{lang}", required=lang in required) for stem in stems for lang in LANGS]


SCHEMAS: dict[str, list[Column]] = {
    "objectives": [
        Column("code", "choice", True, OBJECTIVES),
        *_lang_columns("name", "description"),
        Column("source", "list", True),
    ],
    "activities": [
        Column("code", "id", True),
        Column("layer", "choice", True, LAYERS),
        Column("objectives", "choices", True, OBJECTIVES),
        *_lang_columns("name", "description"),
        Column("to_check", "bool"),
        Column("source", "list", True),
    ],
    "target_groups": [
        Column("code", "id", True),
        Column("kind", "choice", True, TG_KINDS),
        *_lang_columns("term"),
        *[Column(f"synonyms_{lang}", "list") for lang in LANGS],
        *_lang_columns("definition"),
        Column("objectives", "choices", False, OBJECTIVES),
        Column("source", "list", True),
    ],
    "organisations": [
        Column("id", "id", True),
        Column("name", required=True),
        Column("aliases", "list"),
        Column("type", "choice", True, ORG_TYPES),
        Column("type_original"),
        Column("city"),
        Column("region"),
        Column("country", "country"),
        Column("source_url", "list"),
    ],
    "projects": [
        Column("id", "id", True),
        Column("name", required=True),
        Column("acronym"),
        # "EU" marks a Union action (a transnational project managed by the Commission).
        Column("country", "country", False, ("EU",)),
        Column("lead"),
        Column("partners", "list"),
        Column("period"),
        Column("call"),
        Column("objective", "choice", True, OBJECTIVES),
        Column("objective_basis", "choice", False, OBJECTIVE_BASES),
        Column("objective_original"),
        Column("objective_inferred", "bool"),
        Column("target_groups", "list"),
        Column("target_groups_original"),
        Column("activities", "list"),
        Column("region"),
        Column("eu_funding_eur", "number"),
        Column("total_cost_eur", "number"),
        Column("start", "date"),
        Column("end", "date"),
        Column("status"),
        Column("summary_en"),
        Column("description_fi"),
        # The description in the project's own language (``language``), for every country but
        # Finland, whose rows keep ``description_fi``.
        Column("description"),
        Column("language", "choice", False, DESCRIPTION_LANGUAGES),
        Column("notes"),
        Column("inferred", "bool"),
        Column("inferred_notes"),
        Column("source_url", "list"),
    ],
    "out_of_scope": [
        Column("id", "id", True),
        # The text's language: any EU official language (rows of real projects are written in
        # the project's own language or in English).
        Column("language", "choice", True, DESCRIPTION_LANGUAGES),
        Column("text", required=True),
        Column("resembles", "choice", True, FUNDS),
        Column("note"),
        # A real project of another fund: its title as the source gives it, its country (as for
        # projects: ISO 3166-1 alpha-2, "EU" for a Union action) and its sources. Empty for the
        # invented examples; a row with a name must have a source_url (checked on load).
        Column("name"),
        Column("country", "country", False, ("EU",)),
        # Whether the subject is migrants, refugees, asylum, integration, return, visas, borders
        # or third-country nationals: the hard negatives of the scope check.
        Column("migration_related", "bool"),
        Column("source_url", "list"),
    ],
}
TEXT_COLUMNS = ("description_fi", "description", "summary_en")

FILES = {
    "objectives": "objectives.csv",
    "activities": "activities.csv",
    "target_groups": "target_groups.csv",
    "organisations": "organisations.csv",
    "projects": "projects.csv",
    "out_of_scope": "out_of_scope.csv",
}
