"""The corpus files, declared: every column's name, kind, whether it is required, allowed values.

This is the one description of the corpus format (``corpus/README.md`` documents it for people);
:mod:`~amif_match.corpus.validation` parses and checks every file against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from amif_match.text import LANGUAGES

__all__ = [
    "FILES",
    "FUNDS",
    "LANGS",
    "LAYERS",
    "OBJECTIVES",
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


@dataclass(frozen=True)
class Column:
    """One column of a corpus file.

    ``kind`` is how the cell is parsed: ``str``, ``id``, ``list`` (``;``-separated), ``bool``,
    ``number``, ``date`` (YYYY, YYYY-MM or YYYY-MM-DD), or ``choice``/``choices`` (one/several of
    ``allowed``).
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
        Column("source_url", "list"),
    ],
    "projects": [
        Column("id", "id", True),
        Column("name", required=True),
        Column("acronym"),
        Column("lead"),
        Column("partners", "list"),
        Column("period"),
        Column("call"),
        Column("objective", "choice", True, OBJECTIVES),
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
        # For user rows written in any language (e.g. Swedish); the bundled file leaves it empty.
        Column("description"),
        Column("inferred", "bool"),
        Column("inferred_notes"),
        Column("source_url", "list"),
    ],
    "out_of_scope": [
        Column("id", "id", True),
        Column("language", "choice", True, LANGS),
        Column("text", required=True),
        Column("resembles", "choice", True, FUNDS),
        Column("note"),
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
