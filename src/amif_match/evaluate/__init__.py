"""The evaluation harness: cross-validated classification, scope and partner tables, model card.

- :mod:`.classification`: objectives, target groups, activities (:func:`evaluate_classification`);
- :mod:`.countries`: leave-one-country-out objectives (:func:`evaluate_countries`);
- :mod:`.scope`: the scope check and fund guess (:func:`evaluate_scope`);
- :mod:`.partners`: leave-one-partner-out partner suggestions (:func:`evaluate_partners`);
- :mod:`.metrics`: the metric functions; :mod:`.card`: the generated model-card section;
- :mod:`.cli`: ``python -m amif_match.evaluate`` (:func:`main`).
"""

from amif_match.evaluate.card import write_model_card
from amif_match.evaluate.classification import evaluate_classification
from amif_match.evaluate.cli import main
from amif_match.evaluate.countries import evaluate_countries
from amif_match.evaluate.partners import evaluate_partners
from amif_match.evaluate.scope import evaluate_scope

__all__ = [
    "evaluate_classification",
    "evaluate_countries",
    "evaluate_partners",
    "evaluate_scope",
    "main",
    "write_model_card",
]
