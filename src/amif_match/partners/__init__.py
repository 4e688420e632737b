"""Partner suggestions from past funded projects: signals, their combination, explanations."""

from amif_match.partners.recommender import (
    COLUMNS,
    DEFAULT_GRID,
    DEFAULT_WEIGHTS,
    PartnerRecommender,
    evaluate_partners,
    fitted_recommender,
    format_markdown,
    gini,
    mask_organisation_names,
    organisation_texts,
    suggest_partners_for_text,
    to_records,
    tune_weights,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_GRID",
    "DEFAULT_WEIGHTS",
    "PartnerRecommender",
    "evaluate_partners",
    "fitted_recommender",
    "format_markdown",
    "gini",
    "mask_organisation_names",
    "organisation_texts",
    "suggest_partners_for_text",
    "to_records",
    "tune_weights",
]
