"""Partner suggestions from past funded projects: signals, their combination, explanations.

- :mod:`~amif_match.partners.query`: :class:`PartnerQuery`, the checked options of a search.
- :mod:`~amif_match.partners.registry`: the organisation and participation tables.
- :mod:`~amif_match.partners.signals`: one scorer per signal (``fit``/``score``).
- :mod:`~amif_match.partners.recommender`: :class:`PartnerRecommender`, the weighted sum.
- :mod:`~amif_match.partners.explain`: result rows and explanations, :func:`to_records`.
- :mod:`~amif_match.partners.fitting`: a fitted recommender from a corpus and an embedder.

The evaluation lives in :mod:`amif_match.evaluate.partners`.
"""

from amif_match.partners.explain import COLUMNS, to_records
from amif_match.partners.fitting import fit_recommender, suggest_partners_for_text
from amif_match.partners.query import PartnerQuery, ResolvedQuery
from amif_match.partners.recommender import (
    DEFAULT_WEIGHTS,
    SIGNAL_WEIGHTS,
    PartnerRecommender,
    cover_member_states,
    default_signals,
)
from amif_match.partners.registry import TYPE_LABELS, Registry, organisation_texts
from amif_match.partners.signals import (
    Complement,
    CoParticipation,
    Popularity,
    ProfileSimilarity,
    Signal,
    TextRelevance,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_WEIGHTS",
    "SIGNAL_WEIGHTS",
    "TYPE_LABELS",
    "CoParticipation",
    "Complement",
    "PartnerQuery",
    "PartnerRecommender",
    "Popularity",
    "ProfileSimilarity",
    "Registry",
    "ResolvedQuery",
    "Signal",
    "TextRelevance",
    "cover_member_states",
    "default_signals",
    "fit_recommender",
    "organisation_texts",
    "suggest_partners_for_text",
    "to_records",
]
