"""Classification of proposals: one estimator per task, composed by :class:`ProposalClassifier`.

- :mod:`.objective`: :class:`ObjectiveClassifier` (zero-shot + supervised blend);
- :mod:`.target_groups`: :class:`TargetGroupClassifier` and its :class:`TargetGroupCalibrator`;
- :mod:`.scope`: :class:`ScopeClassifier` (AMIF or not, and the fund a text resembles);
- :mod:`.activities`: :class:`ActivityRanker` (catalogue activities for a proposal);
- :mod:`.proposal`: :class:`ProposalClassifier` (fits and saves the three classifiers together);
- :mod:`.heads`: the logistic-regression heads and their pickle-free files;
- :mod:`.signals`, :mod:`.results`, :mod:`.calibration`: inputs, the result object, shared maths.
"""

from amif_match.classification.activities import ActivityRanker
from amif_match.classification.objective import ObjectiveClassifier, zero_shot_objective_scores
from amif_match.classification.proposal import ProposalClassifier, model_folder
from amif_match.classification.results import Classification
from amif_match.classification.scope import SCOPE_C, ScopeClassifier
from amif_match.classification.signals import Signals
from amif_match.classification.target_groups import TargetGroupCalibrator, TargetGroupClassifier

__all__ = [
    "SCOPE_C",
    "ActivityRanker",
    "Classification",
    "ObjectiveClassifier",
    "ProposalClassifier",
    "ScopeClassifier",
    "Signals",
    "TargetGroupCalibrator",
    "TargetGroupClassifier",
    "model_folder",
    "zero_shot_objective_scores",
]
