"""The estimator protocol without scikit-learn at predict time (``amif_match.estimator``).

The estimators must stay what scikit-learn expects: its ``clone``, ``Pipeline`` and
``GridSearchCV`` take them, parameters nest, and an unfitted one raises its
``NotFittedError``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone as sklearn_clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils import get_tags

from amif_match.classification.heads import EmbeddingClassifier
from amif_match.classification.target_groups import TargetGroupCalibrator, TargetGroupClassifier
from amif_match.estimator import check_is_fitted, clone
from amif_match.partners import PartnerRecommender


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    y = np.repeat(np.array(["SO1", "SO2", "SO3"]), 20)
    X = (centres[np.repeat(np.arange(3), 20)] + rng.normal(size=(60, 16))).astype(np.float32)
    return X, y


def test_parameters_read_back_set_and_nest():
    head = EmbeddingClassifier(embedder=None, C=0.5)
    assert head.get_params(deep=False) == {
        "C": 0.5,
        "class_weight": "balanced",
        "embedder": None,
        "min_positive": 2,
        "multilabel": False,
    }
    groups = TargetGroupClassifier(calibrator=TargetGroupCalibrator(C=2.0))
    assert groups.get_params()["calibrator__C"] == 2.0
    assert groups.set_params(calibrator__C=3.0, C=1.5) is groups
    assert groups.calibrator.C == 3.0 and groups.C == 1.5
    with pytest.raises(ValueError, match="Invalid parameter 'c' for estimator"):
        groups.set_params(c=1.0)


def test_repr_names_only_changed_parameters():
    assert repr(EmbeddingClassifier()) == "EmbeddingClassifier()"
    assert repr(EmbeddingClassifier(embedder=None, C=0.5)) == (
        "EmbeddingClassifier(C=0.5, embedder=None)"
    )


def test_our_clone_and_sklearns_agree_and_share_nothing():
    calibrator = TargetGroupCalibrator(C=2.0)
    original = TargetGroupClassifier(calibrator=calibrator)
    original.threshold_ = 0.4  # learned: a clone must not carry it
    for copy in (clone(original), sklearn_clone(original)):
        assert type(copy) is TargetGroupClassifier
        assert copy.get_params(deep=False).keys() == original.get_params(deep=False).keys()
        assert copy.calibrator is not calibrator and copy.calibrator.C == 2.0
        assert not hasattr(copy, "threshold_")
    weights = {"network": 0.2, "profile": 0.8}
    recommender = PartnerRecommender(weights=weights)
    assert clone(recommender).weights == weights and clone(recommender).weights is not weights
    outside = LogisticRegression(C=3.0)  # someone else's estimator: scikit-learn clones it
    assert clone(outside).C == 3.0 and clone(outside) is not outside


def test_unfitted_raises_sklearns_error():
    with pytest.raises(NotFittedError, match="EmbeddingClassifier instance is not fitted"):
        check_is_fitted(EmbeddingClassifier())
    with pytest.raises(NotFittedError):
        check_is_fitted(TargetGroupClassifier(), "threshold_")
    with pytest.raises(NotFittedError):
        PartnerRecommender().suggest(np.ones(384, dtype=np.float32))


def test_pipeline_grid_search_and_scores_work(blobs):
    X, y = blobs
    head = EmbeddingClassifier(embedder=None)
    tags = get_tags(head)
    assert tags.estimator_type == "classifier" and tags.target_tags.required
    pipeline = make_pipeline(Normalizer(), head)
    assert pipeline.fit(X, y).score(X, y) == 1.0
    search = GridSearchCV(head, {"C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["C"] in (0.01, 1.0) and search.best_score_ > 0.9
    scores = cross_val_score(EmbeddingClassifier(embedder=None), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    multi = [["a"] if label == "SO1" else ["a", "b"] if label == "SO2" else ["b"] for label in y]
    fitted = EmbeddingClassifier(embedder=None, multilabel=True).fit(X, multi)
    assert fitted.score(X, multi) == 1.0
