"""The corpus: objectives, activity catalogue, target groups, organisations, projects, negatives."""

from amif_match.corpus.loader import (
    OBJECTIVES,
    ORG_TYPES,
    Corpus,
    load_organisations,
    load_projects,
)

__all__ = ["OBJECTIVES", "ORG_TYPES", "Corpus", "load_organisations", "load_projects"]
