"""The corpus: objectives, activity catalogue, target groups, organisations, projects, negatives.

- :mod:`.schemas`: the declarative description of every file (:data:`SCHEMAS`) and the
  vocabularies (:data:`OBJECTIVES`, :data:`LAYERS`, :data:`ORG_TYPES`, ...);
- :mod:`.validation`: parsing and checking files against the schemas;
- :mod:`.loader`: :class:`Corpus`, which assembles validated tables.
"""

from amif_match.corpus.loader import Corpus
from amif_match.corpus.schemas import (
    COUNTRIES,
    LANGS,
    LAYERS,
    MEMBER_STATES,
    OBJECTIVE_BASES,
    OBJECTIVES,
    ORG_TYPES,
    SCHEMAS,
)
from amif_match.corpus.validation import load_organisations, load_projects

__all__ = [
    "COUNTRIES",
    "LANGS",
    "LAYERS",
    "MEMBER_STATES",
    "OBJECTIVES",
    "OBJECTIVE_BASES",
    "ORG_TYPES",
    "SCHEMAS",
    "Corpus",
    "load_organisations",
    "load_projects",
]
