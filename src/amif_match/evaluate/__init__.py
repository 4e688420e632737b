"""The evaluation harness: cross-validated classification, scope and partner tables, model card."""

from amif_match.evaluate.classification import (
    evaluate_classification,
    evaluate_partners,
    evaluate_scope,
    main,
    write_model_card,
)

__all__ = [
    "evaluate_classification",
    "evaluate_partners",
    "evaluate_scope",
    "main",
    "write_model_card",
]
