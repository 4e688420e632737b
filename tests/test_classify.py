"""classify(): schema, each objective, scope, bad and long input, batches, retraining."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import amif_match
from amif_match import Classification, Matcher
from amif_match.classification.heads import EmbeddingClassifier, load_heads, save_heads
from amif_match.corpus import Corpus
from amif_match.errors import InputError
from amif_match.evaluate.countries import loco_scores

PROPOSALS = {
    "SO1": (
        "Maahanmuuttovirasto kehittää turvapaikkapuhuttelujen laatua ja tulkkausta sekä "
        "vastaanottokeskusten valmiutta tunnistaa haavoittuvassa asemassa olevat "
        "turvapaikanhakijat, kuten ihmiskaupan uhrit ja ilman huoltajaa tulleet alaikäiset."
    ),
    "SO2": (
        "Hankkeessa järjestetään kotoutumisen alkuvaiheen ohjausta, suomen kielen opetusta ja "
        "yhteiskuntaorientaatiota kolmansista maista muuttaneille perheille yhteistyössä kunnan, "
        "oppilaitoksen ja järjestöjen kanssa."
    ),
    "SO3": (
        "Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen "
        "saaneille ja tuetaan paluuta lähtömaahan sekä uudelleenkotoutumista yhteistyössä IOM:n "
        "kanssa."
    ),
    "SO4": (
        "Suomi vastaanottaa sisäisillä siirroilla turvapaikanhakijoita Välimeren "
        "jäsenvaltioista, jotka ovat joutuneet suuren muuttopaineen kohteeksi. Hankkeessa "
        "valmistellaan siirrettävien henkilöiden vastaanotto ja turvapaikkamenettely."
    ),
}

# Documented negative examples (see models/MODEL_CARD.md): written for the tests, not part of
# the training file corpus/out_of_scope.csv.
NOT_AMIF = {
    "BMVI": "Hankitaan itärajan rajavalvontaan lämpökameroita, valvontatutkia ja droneja sekä "
    "kehitetään rajanylityspaikkojen teknistä valvontaa.",
    "ISF": "Poliisin kyberrikostutkijoille järjestetään koulutusohjelma digitaalisen "
    "todistusaineiston käsittelystä ja verkkorikollisuuden torjunnasta.",
    "ERDF": "Pk-yritysten energiatehokkuutta parannetaan energiakatselmuksilla ja investoinneilla "
    "lämpöpumppuihin ja aurinkopaneeleihin.",
    "EAFRD": "Metsäautoteiden perusparannus Pohjois-Karjalan yksityismetsissä puunkorjuun ja "
    "kelirikkoajan liikennöinnin turvaamiseksi.",
}

DONE_WHEN = (
    "Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen saaneille."
)


def test_module_level_classify_schema(matcher):
    result = amif_match.classify(DONE_WHEN)
    json.dumps(result)  # JSON-serialisable as is
    assert result["objective"] == "SO3"
    assert set(result) >= {
        "objective",
        "objectives",
        "activities",
        "target_groups",
        "evidence",
        "similar_projects",
        "in_scope",
        "scope_score",
        "language",
        "model",
    }
    objectives = result["objectives"]
    assert objectives[0]["code"] == "SO3" and len(objectives) == 4
    probs = [o["probability"] for o in objectives]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-3
    assert all(set(o) == {"code", "name", "probability", "selected"} for o in objectives)
    assert objectives[0]["selected"]
    assert objectives[0]["name"] == matcher.corpus_.text("objectives", "SO3", "name", "fi")
    acts = result["activities"]
    assert len(acts) == 10 and all(
        set(a) == {"code", "layer", "objective", "name", "score"} for a in acts
    )
    assert any(a["objective"] == "SO3" for a in acts[:3])
    assert result["target_groups"] and any(t["selected"] for t in result["target_groups"])
    selected_tg = {t["code"] for t in result["target_groups"] if t["selected"]}
    assert selected_tg & {"returnees", "negative_decision"}
    assert result["evidence"][0]["supports"] == "SO3"
    assert result["evidence"][0]["text"] in DONE_WHEN
    assert len(result["similar_projects"]) == 10
    assert result["in_scope"] is True and 0.5 <= result["scope_score"] <= 1
    assert result["language"] == "fi"
    assert result["model"] == {"embedder": "me5-small", "version": amif_match.__version__}


@pytest.mark.parametrize("objective", list(PROPOSALS))
def test_each_objective_from_a_realistic_finnish_proposal(matcher, objective):
    result = matcher.classify(PROPOSALS[objective])
    assert result.objective == objective, result.objectives
    assert result.in_scope


def test_similar_projects_are_real_and_relevant(matcher):
    result = matcher.classify(PROPOSALS["SO3"])
    ids = set(matcher.corpus_.projects["id"])
    assert all(p["id"] in ids for p in result.similar_projects)
    top = matcher.corpus_.projects.set_index("id").loc[result.similar_projects[0]["id"]]
    assert top["objective"] == "SO3"


@pytest.mark.parametrize("fund", list(NOT_AMIF))
def test_scope_rejects_other_funds(matcher, fund):
    result = matcher.classify(NOT_AMIF[fund])
    assert result.in_scope is False, result.scope_score
    assert result.scope_score < 0.5
    assert result.resembles is not None and result.resembles["fund"] == fund


def test_names_follow_the_input_language(matcher):
    sv = matcher.classify(
        "Projektet erbjuder språkundervisning och vägledning för invandrarkvinnor i Vasa."
    )
    assert sv.language == "sv" and sv.objective == "SO2"
    assert sv.objectives[0]["name"] == matcher.corpus_.text("objectives", "SO2", "name", "sv")
    en = matcher.classify(
        "Return counselling and reintegration support for rejected asylum seekers."
    )
    assert en.language == "en" and en.objective == "SO3"
    assert en.objectives[0]["name"] == matcher.corpus_.text("objectives", "SO3", "name", "en")
    forced = matcher.classify(PROPOSALS["SO2"], language="en")
    assert forced.language == "en"


def test_mixed_language_and_html_input(matcher):
    mixed = (
        "<h1>Paluuneuvonta</h1><p>Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa.</p>"
        "<p>The project also supports reintegration in the country of origin.</p>"
    )
    result = matcher.classify(mixed)
    assert result.objective == "SO3"
    assert all("<" not in e["text"] for e in result.evidence)
    assert result.text.startswith("Paluuneuvonta")


def test_options_threshold_and_min_labels(matcher):
    strict = matcher.classify(PROPOSALS["SO2"], threshold=1.0, min_labels=0)
    assert not any(t["selected"] for t in strict.target_groups)
    assert sum(o["selected"] for o in strict.objectives) == 1  # the best objective always
    default = matcher.classify(PROPOSALS["SO2"], threshold=1.0)
    assert sum(t["selected"] for t in default.target_groups) == 1  # never empty unless asked
    loose = matcher.classify(PROPOSALS["SO2"], threshold=0.0, k=3)
    assert all(o["selected"] for o in loose.objectives)
    assert len(loose.activities) == 3 and len(loose.similar_projects) == 3


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        ("", {}, InputError, "empty"),
        ("   ", {}, InputError, "empty"),
        (None, {}, TypeError, "NoneType"),
        (123, {}, TypeError, "int"),
        ("<div></div>", {}, InputError, "no words"),
        ("Kotoutuminen", {"language": "xx"}, InputError, "language must be one of"),
        ("Kotoutuminen", {"k": 0}, ValueError, "k must be a positive integer"),
        ("Kotoutuminen", {"threshold": 1.5}, ValueError, "threshold must be"),
        ("Kotoutuminen", {"min_labels": -1}, ValueError, "min_labels"),
        ("x" * 200_001, {}, InputError, "limit is 200,000"),
    ],
)
def test_bad_input_gives_clear_errors(matcher, value, kwargs, error, message):
    with pytest.raises(error, match=message):
        matcher.classify(value, **kwargs)


def test_batch_errors_name_the_position(matcher):
    with pytest.raises(InputError, match="position 2"):
        amif_match.classify(["Kotoutuminen", "Paluu", "  "])
    with pytest.raises(TypeError, match="position 1"):
        amif_match.classify(["Kotoutuminen", 5])
    with pytest.raises(ValueError, match="at least one"):
        amif_match.classify([])


def test_batch_keeps_order_and_matches_single_calls(matcher):
    texts = [PROPOSALS["SO3"], NOT_AMIF["ERDF"], PROPOSALS["SO2"], PROPOSALS["SO1"]]
    batch = amif_match.classify(texts)
    assert [r["objective"] for r in batch[:1] + batch[2:]] == ["SO3", "SO2", "SO1"]
    assert batch[1]["in_scope"] is False
    single = amif_match.classify(texts[2])
    assert single["objectives"][0]["probability"] == pytest.approx(
        batch[2]["objectives"][0]["probability"], abs=1e-3
    )
    series = pd.Series(texts, index=["a", "b", "c", "d"])
    frame = matcher.classify_many(series)
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert frame["objective"].iloc[0] == "SO3" and not frame.loc["b", "in_scope"]
    assert {"SO1", "SO2", "SO3", "SO4", "target_groups", "activities", "scope_score"} <= set(frame)
    assert isinstance(amif_match.classify(series), list)


def test_long_input_is_handled(matcher):
    paragraph = (
        "Hankkeessa tarjotaan vapaaehtoisen paluun neuvontaa kielteisen päätöksen saaneille. "
        "Neuvonta tehdään yhteistyössä vastaanottokeskusten kanssa. "
    )
    text = paragraph * (100_000 // len(paragraph) + 1)
    assert len(text) >= 100_000
    result = matcher.classify(text)
    assert result.objective == "SO3"
    assert 0 < len(result.evidence) <= 10


def test_match_activities_frame(matcher):
    frame = matcher.match_activities(PROPOSALS["SO3"], k=5)
    assert list(frame.columns) == ["rank", "code", "layer", "objective", "name", "score"]
    assert len(frame) == 5 and frame["score"].is_monotonic_decreasing
    assert (frame["objective"] == "SO3").sum() >= 3
    fields = matcher.match_activities(PROPOSALS["SO3"], k=3, layer="intervention_field")
    assert set(fields["layer"]) == {"intervention_field"}
    assert fields["code"].iloc[0].startswith("IF-SO3")
    with pytest.raises(ValueError, match="layer must be one of"):
        matcher.match_activities("Paluu", layer="nope")


def test_result_object_renders(matcher):
    result = matcher.classify(PROPOSALS["SO1"])
    assert isinstance(result, Classification)
    frame = result.to_frame()
    assert set(frame["kind"]) == {
        "objective",
        "activity",
        "target_group",
        "similar_project",
        "evidence",
    }
    html = result._repr_html_()
    assert "<table>" in html and "SO1" in html and "Evidence" in html
    assert json.loads(json.dumps(result.to_dict()))["objective"] == "SO1"


def test_get_frames(matcher):
    assert len(matcher.get_objectives()) == 4
    assert set(matcher.get_activities("national_action")["layer"]) == {"national_action"}
    assert "municipalities" in set(matcher.get_target_groups()["code"])


def test_estimator_api_and_safe_persistence(matcher, tmp_path):
    from sklearn.base import clone

    texts = [
        PROPOSALS["SO1"],
        PROPOSALS["SO2"],
        PROPOSALS["SO3"],
        "Kotoutumiskoulutusta naisille",
        "Paluuneuvontaa",
        "Turvapaikkapuhuttelut",
    ]
    labels = ["SO1", "SO2", "SO3", "SO2", "SO3", "SO1"]
    head = EmbeddingClassifier(matcher.embedder_, C=4.0)
    assert clone(head).get_params()["C"] == 4.0
    fitted = head.fit(texts, labels)
    assert fitted is head and list(head.classes_) == ["SO1", "SO2", "SO3"]
    assert head.predict(["Vapaaehtoisen paluun tukeminen"])[0] == "SO3"
    proba = head.predict_proba(["Vapaaehtoisen paluun tukeminen"])
    assert proba.shape == (1, 3) and abs(proba.sum() - 1) < 1e-6
    save_heads(tmp_path, {"objective": head}, {"note": "test"})
    loaded, meta = load_heads(tmp_path, embedder=matcher.embedder_)
    assert meta["note"] == "test"
    np.testing.assert_allclose(
        loaded["objective"].predict_proba(["Paluuneuvontaa"]),
        head.predict_proba(["Paluuneuvontaa"]),
    )
    vectorless, _ = load_heads(tmp_path)
    with pytest.raises(ValueError, match="has no embedder"):
        load_heads(tmp_path, embedder=None)[0]["objective"].predict(["Paluuneuvontaa"])
    assert vectorless["objective"].predict(matcher.embedder_.encode(["Paluuneuvontaa"])).shape == (
        1,
    )
    # The stored arrays load without pickle support, so a model file cannot run code.
    with np.load(tmp_path / "heads.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_retrain_on_user_data(matcher, tmp_path):
    projects = tmp_path / "mine.csv"
    projects.write_text(
        "id,name,lead,objective,target_groups,description_fi\n"
        + "".join(
            f"MY-{i:03d},Paluuhanke {i},Migri,SO3,returnees,"
            f"Vapaaehtoisen paluun neuvontaa ja uudelleenkotoutumisen tukea {i}.\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    corpus = Corpus.default().add(projects=projects)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        custom = Matcher(corpus=corpus, embedder=matcher.embedder_)
        result = custom.classify("Vapaaehtoisen paluun neuvontaa ja uudelleenkotoutumisen tukea.")
    assert any("training classification heads" in str(w.message) for w in caught)
    assert result.objective == "SO3"
    # The three added projects are trained on, next to every bundled one.
    assert custom.classifier_.training_["projects"] == len(Corpus.default().projects) + 3
    assert any(p["id"].startswith("MY-") for p in result.similar_projects[:5])
    out = tmp_path / "models"
    custom.train(save_to=out)
    reloaded = Matcher(corpus=corpus, embedder=matcher.embedder_, model_dir=out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # heads match the corpus: no retraining warning
        assert reloaded.classify(PROPOSALS["SO3"]).objective == "SO3"


def test_evaluation_harness_and_model_card(matcher, tmp_path):
    from amif_match.evaluate import (
        evaluate_classification,
        evaluate_countries,
        evaluate_scope,
        write_model_card,
    )
    from amif_match.evaluate.cli import evaluation_json

    tables = evaluate_classification(n_splits=2)
    summary = tables["summary"]
    assert set(summary["method"]) == {"zero-shot", "supervised", "combined", "tfidf+logreg"}
    assert set(summary["language"]) == {"fi", "en"}
    assert len(tables["folds"]) == 2 * 4 * 2
    combined = summary[summary["method"] == "combined"].set_index("language")
    assert (combined["accuracy"] > 0.6).all()  # far above the 0.40 of always answering SO1
    assert {"macro_f1", "SO4_f1", "tg_micro_f1", "activities_hit@3", "ece"} <= set(summary)
    # The trained activity ranking beats catalogue similarity alone, in both measures (the
    # whole catalogue can now score above the fields alone: the labels include activity types).
    zero_shot = summary[summary["method"] == "zero-shot"].set_index("language")
    for measure in ("activities_hit@3", "intervention_field_hit@3"):
        assert (combined[measure] > zero_shot[measure]).all(), measure
    assert (combined["intervention_field_hit@3"] >= 0.7).all()
    scope = evaluate_scope(n_splits=2)
    assert scope.iloc[-1]["fold"] == "mean" and scope.iloc[-1]["accuracy"] > 0.8
    card = tmp_path / "CARD.md"
    card.write_text(
        "# Card\n\n<!-- results:start -->\nSTALE-TABLE\n<!-- results:end -->\n\nLimits.\n"
    )
    results = {
        "classification": tables,
        "scope": scope,
        "countries": evaluate_countries(
            Corpus.default(countries=["FI", "SE"]), matcher.embedder_, countries=["SE"]
        ),
        "embedder": "me5-small",
        "version": "x",
        "n_projects": 64,
        "n_countries": 2,
        "objective_counts": {"SO1": 40, "SO2": 40, "SO3": 20, "SO4": 1},
        "n_splits": 2,
        "seconds": 1.0,
    }
    write_model_card(results, card, command="python -m amif_match.evaluate --splits 2")
    text = card.read_text()
    assert "### Leave-one-country-out" in text and "| SE | " in text
    assert "objectives: SO1 40, SO2 40, SO3 20, SO4 1" in text
    plain = evaluation_json(results | {"classification_fi_only": tables})
    assert [row["country"] for row in plain["leave_one_country_out"]] == ["SE"]
    assert {"projects", "accuracy", "macro_f1", "accuracy_en"} <= set(
        plain["leave_one_country_out"][0]
    )
    assert json.loads(json.dumps(plain))["finnish_cv"]["n_splits"] == 2
    assert (
        "STALE-TABLE" not in text
        and text.startswith("# Card")
        and text.rstrip().endswith("Limits.")
    )
    assert "| combined | fi |" in text and "--splits 2" in text


def test_leave_one_country_out_holds_the_country_out(matcher):
    from amif_match.evaluate import evaluate_countries

    corpus = Corpus.default(countries=["FI", "SE"])
    tables = evaluate_countries(corpus, matcher.embedder_, countries=["SE"])
    predictions = tables["predictions"]
    sweden = corpus.projects[corpus.projects["country"] == "SE"]
    # Every Swedish project is scored once per text, and nothing else is.
    assert set(predictions["country"]) == {"SE"}
    assert sorted(predictions["id"]) == sorted(list(sweden["id"]) * 2)
    assert set(predictions["text"]) == {"description", "summary_en"}
    by_country = tables["by_country"].set_index("text")
    assert (by_country["projects"] == len(sweden)).all()
    # Trained on the Finnish projects alone, Swedish texts are still classified well above
    # always answering the commonest Swedish objective.
    majority = sweden["objective"].value_counts(normalize=True).max()
    assert by_country.loc["summary_en", "accuracy"] > majority
    own = predictions[predictions["text"] == "description"]
    assert set(own["language"]) == set(sweden["language"])
    assert tables["by_text"]["projects"].tolist() == [len(sweden)] * 2
    # The ablation scores every candidate on the same held-out projects; probabilities are
    # kept per prediction for the reliability plot.
    from amif_match.evaluate.countries import CANDIDATES
    from amif_match.evaluate.plots import reliability_figure

    ablation = tables["ablation"]
    assert sorted(ablation["candidate"].unique()) == sorted(CANDIDATES)
    assert (ablation.groupby("candidate").size() == 2).all()
    assert ablation["ece"].between(0, 1).all()
    proba = predictions[["p_SO1", "p_SO2", "p_SO3", "p_SO4"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    figure = reliability_figure(predictions)
    assert len(figure.axes[0].get_lines()) == 3  # the diagonal and one line per text
    with pytest.raises(ValueError, match="no projects"):
        evaluate_countries(corpus, matcher.embedder_, countries=["PT"])


def test_loco_macro_f1_counts_only_objectives_present():
    perfect = loco_scores(["SO1", "SO2", "SO2"], ["SO1", "SO2", "SO2"])
    assert perfect["accuracy"] == 1.0 and perfect["macro_f1"] == 1.0
    assert np.isnan(perfect["SO3_f1"]) and np.isnan(perfect["SO4_f1"])
    # A wrongly predicted objective absent from the labels counts as 0 in the average.
    wrong = loco_scores(["SO1", "SO1"], ["SO1", "SO3"])
    assert wrong["SO3_f1"] == 0.0 and wrong["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)
