"""Classification of proposals: objectives, target groups, scope and fund, and the result object."""

from amif_match.classification.model import (
    Classification,
    ProposalClassifier,
    model_folder,
    zero_shot_objective_scores,
)

__all__ = ["Classification", "ProposalClassifier", "model_folder", "zero_shot_objective_scores"]
