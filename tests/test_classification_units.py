"""Unit tests of the classification estimators on hand-made vectors (no embedding model).

A tiny catalogue in 8 dimensions: objective ``SOk`` and its one activity point along axis
``k``; the target groups "children" and "women" along axes 4 and 5. Projects are noisy copies
of their objective's axis plus their groups' axes, so every problem here is separable.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from amif_match.classification import (
    ActivityRanker,
    ObjectiveClassifier,
    ProposalClassifier,
    ScopeClassifier,
    Signals,
    TargetGroupCalibrator,
    TargetGroupClassifier,
)
from amif_match.classification.answers import evidence_rows, label_rows, selected_objectives
from amif_match.classification.calibration import blend, softmax, tune_threshold
from amif_match.classification.target_groups import FEATURES
from amif_match.corpus import OBJECTIVES
from amif_match.index import CatalogueIndex

DIM = 8
GROUPS = ("children", "women")
TERMS = {"children": ("lapset", "barn", "children"), "women": ("naiset", "kvinnor", "women")}


def _axis(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    return v


def _per_language(rows: np.ndarray) -> np.ndarray:
    """``(n, 3, d)``: the same vector for fi, sv and en."""
    return np.repeat(rows[:, None, :], 3, axis=1)


@pytest.fixture(scope="module")
def catalogue() -> CatalogueIndex:
    objectives = pd.DataFrame({"code": list(OBJECTIVES)})
    activities = pd.DataFrame(
        {
            "code": [f"A-{code}" for code in OBJECTIVES],
            "layer": ["activity_type", "intervention_field"] * 2,
            "objectives": [[code] for code in OBJECTIVES],
        }
    )
    groups = pd.DataFrame(
        {
            "code": list(GROUPS),
            **{
                f"term_{lang}": [TERMS[g][i] for g in GROUPS]
                for i, lang in enumerate(("fi", "sv", "en"))
            },
        }
    )
    obj = np.stack([_axis(i) for i in range(4)])
    tg = np.stack([_axis(4), _axis(5)])
    return CatalogueIndex(
        objectives=objectives,
        activities=activities,
        target_groups=groups,
        objective_vectors=obj,
        activity_vectors=obj.copy(),
        target_group_vectors=tg,
        language_vectors={
            "objectives": _per_language(obj),
            "activities": _per_language(obj),
            "target_groups": _per_language(tg),
        },
    )


def _projects(n: int, seed: int) -> tuple[np.ndarray, list[str], list[list[str]], list[str]]:
    """``n`` unit vectors with their objective, target groups and a text naming the groups."""
    rng = np.random.default_rng(seed)
    objectives = [OBJECTIVES[i % 4] for i in range(n)]
    groups = [[GROUPS[i % 2]] if i % 3 else list(GROUPS) for i in range(n)]
    rows = []
    for code, labels in zip(objectives, groups, strict=True):
        v = 2.0 * _axis(OBJECTIVES.index(code)) + rng.normal(0, 0.15, DIM).astype(np.float32)
        for g in labels:
            v += _axis(4 + GROUPS.index(g))
        rows.append(v / np.linalg.norm(v))
    texts = [" and ".join(labels) + " in a project" for labels in groups]
    return np.stack(rows).astype(np.float32), objectives, groups, texts


def _signals(vectors: np.ndarray, texts: list[str]) -> Signals:
    return Signals(vectors, [v[None, :] for v in vectors], texts)


@pytest.fixture(scope="module")
def training():
    vectors, objectives, groups, texts = _projects(40, seed=0)
    return {"fi": vectors}, objectives, groups, texts


# ------------------------------------------------------------------------ shared maths


def test_softmax_blend_and_threshold_search():
    p = softmax(np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    p_sup, p_zs = np.array([[0.7, 0.3]]), np.array([[0.2, 0.8]])
    np.testing.assert_allclose(blend(p_sup, p_zs, 1.0), p_sup, atol=1e-9)
    np.testing.assert_allclose(blend(p_sup, p_zs, 0.0), p_zs, atol=1e-9)
    proba = np.array([[0.9, 0.4, 0.2]])
    truth = np.array([[1.0, 1.0, 0.0]])
    assert tune_threshold(proba, truth, grid=[0.1, 0.3, 0.5]) == 0.3  # keeps both, drops 0.2
    assert tune_threshold(proba, truth, grid=[0.5, 0.95]) == 0.5


# ------------------------------------------------------------------------ objective


def test_objective_classifier_learns_and_respects_its_grids(catalogue, training):
    X, objectives, _, _ = training
    model = ObjectiveClassifier(n_splits=3, blend_weights=(0.5,), thresholds=(0.6, 0.8))
    assert model.fit(X, objectives, catalogue=catalogue) is model
    assert model.blend_weight_ == 0.5
    assert model.threshold_ in (0.6, 0.8)
    assert model.temperature_ in model.temperatures
    test, truth, _, _ = _projects(12, seed=1)
    assert list(model.predict(test, catalogue)) == truth
    for mode in ("combined", "supervised", "zero-shot"):
        proba = model.predict_proba(test, catalogue, mode=mode)
        assert proba.shape == (12, 4)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="mode must be"):
        model.predict_proba(test, catalogue, mode="both")


def test_objective_classifier_without_catalogue_trains_on_projects_only(catalogue, training):
    X, objectives, _, _ = training
    # Two objectives only: the catalogue would add the other two as classes.
    rows = [i for i, code in enumerate(objectives) if code in ("SO1", "SO2")]
    Xs = {"fi": X["fi"][rows]}
    ys = [objectives[i] for i in rows]
    alone = ObjectiveClassifier(use_catalogue=False, n_splits=3).fit(Xs, ys, catalogue=catalogue)
    both = ObjectiveClassifier(n_splits=3).fit(Xs, ys, catalogue=catalogue)
    assert list(alone.head_.classes_) == ["SO1", "SO2"]
    assert list(both.head_.classes_) == list(OBJECTIVES)


# ------------------------------------------------------------------------ target groups


def test_calibrator_keeps_features_by_name():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(60, 3))
    truth = signal > 0
    features = {"useful": signal, "noise": rng.normal(size=(60, 3))}
    calibrator = TargetGroupCalibrator(C=10.0)
    assert calibrator.fit(features, truth) is calibrator
    coefficients = calibrator.coefficients()
    assert list(coefficients) == ["useful", "noise"]
    assert coefficients["useful"] > 5 * abs(coefficients["noise"])
    proba = calibrator.predict_proba(features)
    assert proba.shape == (60, 3) and ((proba > 0) & (proba < 1)).all()
    assert ((proba >= 0.5) == truth).mean() > 0.95
    # The order of the mapping does not matter, the names do.
    reordered = {"noise": features["noise"], "useful": features["useful"]}
    np.testing.assert_array_equal(calibrator.predict_proba(reordered), proba)
    with pytest.raises(ValueError, match="missing calibrator features: useful"):
        calibrator.predict_proba({"noise": features["noise"]})


def test_target_group_classifier_learns_groups(catalogue, training):
    X, _, groups, texts = training
    signals = {"fi": _signals(X["fi"], texts)}
    model = TargetGroupClassifier(n_splits=3, thresholds=(0.3, 0.5, 0.7))
    assert model.fit(signals, groups, catalogue=catalogue) is model
    assert model.threshold_ in (0.3, 0.5, 0.7)
    assert list(model.calibrator_.feature_names_in_) == list(FEATURES)
    test, _, truth, test_texts = _projects(12, seed=2)
    proba = model.predict_proba(_signals(test, test_texts), catalogue)
    assert proba.shape == (12, len(GROUPS))
    predicted = model.predict(_signals(test, test_texts), catalogue)
    assert [sorted(p) for p in predicted] == [sorted(t) for t in truth]
    logits = model.supervised_logits(test, ["women", "unknown"])
    assert (logits[:, 1] == model.unseen_logit).all()


# ------------------------------------------------------------------------ scope


def test_scope_classifier_threshold_and_funds():
    rng = np.random.default_rng(0)
    amif = rng.normal(0, 0.2, (20, DIM)) + _axis(0)
    other = rng.normal(0, 0.2, (20, DIM)) + np.where(np.arange(20)[:, None] % 2, _axis(6), _axis(7))
    funds = ["ISF" if i % 2 else "BMVI" for i in range(20)]
    X = np.concatenate([amif, other]).astype(np.float32)
    y = np.arange(40) < 20
    model = ScopeClassifier(threshold=0.5)
    assert model.fit(X, y, funds=funds) is model
    np.testing.assert_array_equal(model.predict(X), y)
    assert [fund for fund, _ in model.fund_guess(X[20:])] == funds
    # A higher threshold keeps only the texts at or above it.
    proba = model.scope_proba(X)
    cut = float(np.sort(proba)[30])
    strict = ScopeClassifier(threshold=cut).fit(X, y, funds=funds)
    np.testing.assert_array_equal(strict.predict(X), proba >= cut)
    assert strict.predict(X).sum() == 10
    # No out-of-scope examples: everything is in scope, there is no fund to guess.
    alone = ScopeClassifier().fit(amif.astype(np.float32), np.ones(20, dtype=bool))
    assert alone.head_ is None and alone.predict(X).all()
    assert alone.fund_guess(X[:2]) == [("", 0.0), ("", 0.0)]
    # One fund only: no fund head either.
    one = ScopeClassifier().fit(X, y, funds=["ISF"] * 20)
    assert one.head_ is not None and one.fund_head_ is None


# ------------------------------------------------------------------------ activities


def test_activity_ranker_mixes_document_and_best_sentence(catalogue):
    ranker = ActivityRanker(document_weight=0.25).fit(catalogue)
    doc = _axis(0)[None, :]
    sentences = [np.stack([_axis(1), _axis(2)])]
    scores = ranker.score(doc, sentences, catalogue)
    np.testing.assert_allclose(scores[0], [0.25, 0.75, 0.75, 0.0])
    objective_proba = np.array([0.1, 0.2, 0.6, 0.1])
    top = ranker.top(scores[0], objective_proba, 2, names={"A-SO2": "Second"})
    assert [a["code"] for a in top] == ["A-SO2", "A-SO3"]
    assert top[0] == {
        "code": "A-SO2",
        "layer": "intervention_field",
        "objective": "SO2",
        "name": "Second",
        "score": 0.75,
    }
    assert top[1]["name"] == "A-SO3"  # no display name given: the code
    layer = ranker.top(scores[0], objective_proba, 5, layer="activity_type")
    assert [a["code"] for a in layer] == ["A-SO3", "A-SO1"]


# ------------------------------------------------------------------------ the estimator contract


ESTIMATORS = [
    ObjectiveClassifier(C=2.0, blend_weights=(0.5, 0.0), thresholds=(0.4,)),
    TargetGroupClassifier(C=3.0, calibrator=TargetGroupCalibrator(C=0.5), unseen_logit=-4.0),
    TargetGroupCalibrator(C=0.5, max_iter=10),
    ScopeClassifier(C=2.0, fund_C=1.0, threshold=0.7),
    ActivityRanker(document_weight=0.3),
    ProposalClassifier(scope=ScopeClassifier(threshold=0.6)),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_params_round_trip_through_clone_and_set_params(estimator):
    params = estimator.get_params(deep=False)
    copy = clone(estimator)
    assert copy is not estimator
    assert repr(copy) == repr(estimator)
    assert copy.get_params(deep=False).keys() == params.keys()
    fresh = type(estimator)().set_params(**params)
    assert repr(fresh) == repr(estimator)


def test_prediction_before_fit_raises_not_fitted(catalogue):
    vectors = np.ones((1, DIM), dtype=np.float32)
    signals = _signals(vectors, ["text"])
    calls = [
        lambda: ObjectiveClassifier().predict_proba(vectors, catalogue),
        lambda: TargetGroupClassifier().predict_proba(signals, catalogue),
        lambda: TargetGroupCalibrator().predict_proba({"a": vectors}),
        lambda: ScopeClassifier().scope_proba(vectors),
        lambda: ScopeClassifier().fund_guess(vectors),
        lambda: ActivityRanker().top(vectors[0], np.ones(4) / 4, 3),
        lambda: ProposalClassifier().objective_proba(vectors, catalogue),
        lambda: ProposalClassifier().save("unused", {}),
    ]
    for call in calls:
        with pytest.raises(NotFittedError):
            call()


# ------------------------------------------------------------------------ the composed model


def test_proposal_classifier_fits_saves_and_loads(catalogue, training, tmp_path):
    X, objectives, groups, texts = training
    negatives = np.stack([_axis(6) + 0.1 * _axis(i % 4) for i in range(8)]).astype(np.float32)
    model = ProposalClassifier(
        objective=ObjectiveClassifier(n_splits=3), target_groups=TargetGroupClassifier(n_splits=3)
    )
    fitted = model.fit(
        catalogue,
        X,
        {"fi": [v[None, :] for v in X["fi"]]},
        {"fi": texts},
        objectives,
        groups,
        scope_negatives=negatives,
        scope_funds=["ISF", "BMVI"] * 4,
    )
    assert fitted is model
    assert model.training_ == {
        "projects": 40,
        "languages": ["fi"],
        "catalogue_items": 8,
        "scope_negatives": 8,
    }
    # The names of the former single model read the fitted parts.
    assert model.tg_threshold_ == model.target_groups_.threshold_
    assert model.objective_head_ is model.objective_.head_
    test, _, _, test_texts = _projects(6, seed=3)
    signals = _signals(test, test_texts)

    def answers(m: ProposalClassifier) -> list[np.ndarray]:
        return [
            m.objective_proba(test, catalogue),
            m.target_group_proba(signals, catalogue),
            m.scope_proba(np.concatenate([test, negatives])),
        ]

    expected = answers(model)
    model.save(tmp_path, {"note": "units"})
    loaded, meta = ProposalClassifier.load(tmp_path)
    assert meta["note"] == "units"
    for part in ("objective_", "target_groups_", "scope_"):  # the same parameters
        assert repr(getattr(loaded, part)) == repr(getattr(model, part))
    for got, want in zip(answers(loaded), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert loaded.fund_guess(negatives) == model.fund_guess(negatives)
    # A file of format 1 (no estimators, calibrator without names) gives the same answers.
    doc = json.loads((tmp_path / "heads.json").read_text(encoding="utf-8"))
    del doc["params"]["estimators"], doc["params"]["tg_calibrator_features"]
    (tmp_path / "heads.json").write_text(json.dumps(doc), encoding="utf-8")
    old, _ = ProposalClassifier.load(tmp_path)
    assert list(old.target_groups_.calibrator_.feature_names_in_) == list(FEATURES)
    for got, want in zip(answers(old), expected, strict=True):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------ answers


def test_label_rows_respect_threshold_min_labels_and_k():
    proba = np.array([0.2, 0.9, 0.05, 0.6])
    codes = ["a", "b", "c", "d"]
    names = {c: c.upper() for c in codes}
    rows = label_rows(proba, codes, names, threshold=0.5, min_labels=1)
    assert [r["code"] for r in rows] == ["b", "d", "a", "c"]
    assert [r["selected"] for r in rows] == [True, True, False, False]
    assert rows[0] == {"code": "b", "name": "B", "probability": 0.9, "selected": True}
    # Above every probability: only the min_labels best, or none at all.
    assert [
        r["selected"] for r in label_rows(proba, codes, names, threshold=1.0, min_labels=2)
    ] == [
        True,
        True,
        False,
        False,
    ]
    assert not any(
        r["selected"] for r in label_rows(proba, codes, names, threshold=1.0, min_labels=0)
    )
    # k shows the selected ones and then the next best, never fewer than the selected ones.
    assert len(label_rows(proba, codes, names, threshold=0.5, min_labels=1, k=3)) == 3
    assert len(label_rows(proba, codes, names, threshold=0.1, min_labels=1, k=1)) == 3
    assert selected_objectives(
        [{"code": "SO3", "selected": True}, {"code": "SO1", "selected": True}]
    ) == ["SO1", "SO3"]


def test_evidence_rows_rank_by_selected_objective_and_drop_repeats():
    units = ["Return counselling.", "Language courses.", "RETURN COUNSELLING.", "Other."]
    proba = np.array(
        [
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.8, 0.05, 0.05],
            [0.1, 0.1, 0.6, 0.2],
            [0.4, 0.3, 0.2, 0.1],
        ]
    )
    rows = evidence_rows(units, proba, ["SO3"], k=10)
    assert [r["text"] for r in rows] == ["Return counselling.", "Other.", "Language courses."]
    assert rows[0] == {"text": "Return counselling.", "supports": "SO3", "score": 0.7}
    both = evidence_rows(units, proba, ["SO2", "SO3"], k=2)
    assert [(r["text"], r["supports"]) for r in both] == [
        ("Language courses.", "SO2"),
        ("Return counselling.", "SO3"),
    ]


def test_scope_language_weights_make_the_language_uninformative():
    from amif_match.classification.scope import language_weights

    # 6 Italian and 2 Finnish AMIF rows, 2 Finnish counter-examples.
    in_scope = np.array([True] * 8 + [False] * 2)
    langs = ["it"] * 6 + ["fi"] * 2 + ["fi"] * 2
    w = language_weights(in_scope, langs)
    fi_pos = w[6:8].sum()
    fi_neg = w[8:].sum()
    assert fi_pos == pytest.approx(fi_neg)  # Finnish: both kinds weigh the same
    assert w[:6].sum() == pytest.approx(fi_pos)  # languages without negatives share one cell
    assert np.allclose(w[:6], w[0]) and w.sum() == pytest.approx(len(w))
    with pytest.raises(ValueError, match="languages"):
        language_weights(in_scope, langs[:-1])


def test_scope_head_does_not_learn_the_language():
    from amif_match.classification import ScopeClassifier

    rng = np.random.default_rng(0)
    topic = np.array([1.0, 0, 0, 0])  # AMIF texts share a topic direction
    lang_fi = np.array([0, 1.0, 0, 0])  # Finnish texts share a language direction
    amif_it = topic + 0.1 * rng.normal(size=(40, 4))
    amif_fi = topic + lang_fi + 0.1 * rng.normal(size=(4, 4))
    other_fi = lang_fi + 0.1 * rng.normal(size=(40, 4))
    X = np.vstack([amif_it, amif_fi, other_fi])
    y = [True] * 44 + [False] * 40
    langs = ["it"] * 40 + ["fi"] * 44
    query = (topic + lang_fi)[None, :]  # a Finnish AMIF text
    balanced = ScopeClassifier(C=1.0).fit(X, y, languages=langs)
    assert balanced.predict(query)[0]
    assert (
        balanced.scope_proba(query)[0]
        > ScopeClassifier(C=1.0, balance_languages=False)
        .fit(X, y, languages=langs)
        .scope_proba(query)[0]
    )
