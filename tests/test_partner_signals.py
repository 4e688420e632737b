"""Partner signals, their combination and the query, on hand-made tables and vectors (no model)."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from amif_match.partners import (
    Complement,
    CoParticipation,
    PartnerQuery,
    PartnerRecommender,
    Popularity,
    ProfileSimilarity,
    Registry,
    ResolvedQuery,
    TextRelevance,
    cover_member_states,
)
from amif_match.partners.signals import FitData, calibrate

# Four projects, five organisations. Shared projects: A-B 2 (P0, P2), A-C 1 (P2), B-C 2 (P1,
# P2); D has no project, E one project alone. Projects: A 2, B 3, C 2, D 0, E 1.
ORGS = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d", "e"],
        "name": ["Alpha City", "Beta ry", "Gamma ry", "Delta Oy", "Epsilon College"],
        "aliases": [["ACity"], [], [], [], []],
        "type": ["municipality", "ngo", "ngo", "company", "education"],
        "city": ["Espoo", "Helsinki", "Tampere", "", "Vantaa"],
        "region": ["Uusimaa", "Uusimaa", "Pirkanmaa", "nationwide", "Uusimaa"],
    }
)
PROJECTS = pd.DataFrame(
    {
        "id": ["P0", "P1", "P2", "P3"],
        "name": ["Zero", "One", "Two", "Three"],
        "lead": ["a", "b", "c", "e"],
        "partners": [["b"], ["c"], ["a", "b"], []],
    }
)
EYE = np.eye(4, dtype=np.float32)  # project j's vector is the unit vector e_j


@pytest.fixture
def registry() -> Registry:
    return Registry.from_tables(PROJECTS, ORGS)


@pytest.fixture
def data(registry) -> FitData:
    return FitData(registry, EYE)


def unit(*parts: float) -> np.ndarray:
    v = np.array(parts, dtype=np.float32)
    return v / np.linalg.norm(v)


def resolved(registry: Registry, **options) -> ResolvedQuery:
    return PartnerQuery(**options).resolve(registry)


# --------------------------------------------------------------------------- registry


def test_registry_tables(registry):
    assert registry.membership.tolist() == [
        [2, 0, 1, 0],
        [1, 2, 1, 0],
        [0, 1, 2, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 2],
    ]
    assert registry.coparticipation[:3, :3].tolist() == [[0, 2, 1], [2, 0, 2], [1, 2, 0]]
    assert registry.n_projects.tolist() == [2, 3, 2, 0, 1]
    assert registry.degree.tolist() == [2, 2, 2, 0, 0]
    assert registry.resolve("acity") == "a"
    assert registry.resolve("  beta RY ") == "b"
    assert registry.resolve("Nobody") is None


# --------------------------------------------------------------------------- signals


def test_calibrate_puts_the_best_at_one_and_the_median_at_zero():
    assert calibrate(np.array([0.2, 0.4, 0.6, 0.8], dtype=np.float32)).tolist() == pytest.approx(
        [0.0, 0.0, 1 / 3, 1.0]
    )
    assert calibrate(np.full(3, 0.5, dtype=np.float32)).tolist() == [0.0, 0.0, 0.0]


def test_text_relevance_best_project_plus_decaying_bonus(registry, data):
    # The query is as close to P0 as to P2 and orthogonal to P1 and P3: rel = [1, 0, 1, 0].
    query = unit(1, 0, 1, 0)
    signal = TextRelevance(bonus=0.5, decay=0.5).fit(data)
    scores = signal.score(query, resolved(registry))
    # a: P0, P2 -> 1 + 0.5; b: P0, P2, P1 -> 1 + 0.5 * 1 + 0.25 * 0; c: P2, P1 -> 1 + 0.
    assert scores.tolist() == pytest.approx([1.5, 1.5, 1.0, 0.0, 0.0])
    no_bonus = TextRelevance(bonus=0.0).fit(data).score(query, resolved(registry))
    assert no_bonus.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.0, 0.0])


def test_text_relevance_rejects_a_decay_above_one(data):
    with pytest.raises(ValueError, match="decay must be between 0 and 1"):
        TextRelevance(decay=1.5).fit(data)


def test_coparticipation_adamic_adar_and_repeat(registry, data):
    aa = 1 / math.log(2)  # every common neighbour here has degree 2
    seeded = resolved(registry, applicant="a")
    only_aa = CoParticipation(repeat=0.0).fit(data).score(unit(1, 0, 0, 0), seeded)
    assert only_aa.tolist() == pytest.approx([2 * aa, aa, aa, 0.0, 0.0])
    with_repeat = CoParticipation(repeat=2.0).fit(data).score(unit(1, 0, 0, 0), seeded)
    # b shared two projects with a, c one.
    assert with_repeat.tolist() == pytest.approx([2 * aa, aa + 4, aa + 2, 0.0, 0.0])
    no_seed = CoParticipation().fit(data).score(unit(1, 0, 0, 0), resolved(registry))
    assert not no_seed.any()


def test_profile_similarity(registry):
    profiles = np.eye(5, 4, dtype=np.float32)  # organisation i's profile is e_i (d and e: 0)
    fitted = ProfileSimilarity().fit(FitData(registry, EYE, profiles))
    assert fitted.score(unit(0, 1, 0, 0), resolved(registry)).tolist() == [0, 1, 0, 0, 0]
    without = ProfileSimilarity().fit(FitData(registry, EYE))
    assert not without.score(unit(0, 1, 0, 0), resolved(registry)).any()


def test_popularity(registry, data):
    scores = Popularity().fit(data).score(unit(1, 0, 0, 0), resolved(registry))
    expected = [math.log(1 + n) / math.log(4) for n in (2, 3, 2, 0, 1)]
    assert scores.tolist() == pytest.approx(expected)


def test_complement_marks_types_the_consortium_lacks(registry, data):
    signal = Complement().fit(data)
    query = resolved(registry, applicant="a", consortium=["b"], complement=True)
    assert signal.score(unit(1, 0, 0, 0), query).tolist() == [0, 0, 0, 1, 1]
    # applicant_type stands in for an applicant the registry does not know.
    typed = resolved(registry, applicant="Newcomer ry", applicant_type="company")
    assert signal.score(unit(1, 0, 0, 0), typed).tolist() == [1, 1, 1, 0, 1]
    assert not signal.score(unit(1, 0, 0, 0), resolved(registry)).any()
    assert signal.applies(query) and not signal.applies(typed)


# --------------------------------------------------------------------------- combiner


def test_weights_combine_rescaled_signals(registry, data):
    query = unit(1, 0, 1, 0)
    rec = PartnerRecommender(
        [("text", TextRelevance()), ("popularity", Popularity())],
        {"text": 2.0, "popularity": 0.5},
    ).fit_registry(registry, EYE)
    q = resolved(registry)
    text = TextRelevance().fit(data).score(query, q)
    pop = Popularity().fit(data).score(query, q)
    scores = rec.scores(query, q)
    # Text is rescaled to a maximum of 1 over the candidates; popularity is already 0-1.
    assert scores.parts["text"].tolist() == pytest.approx((text / text.max()).tolist())
    assert scores.score.tolist() == pytest.approx((2.0 * text / text.max() + 0.5 * pop).tolist())


def test_rescaling_ignores_the_seeds(registry):
    rec = PartnerRecommender([("text", TextRelevance(bonus=0.5))]).fit_registry(registry, EYE)
    # a (1.5) is the seed; b (1.5) and c (1.0) are candidates.
    parts = rec.scores(unit(1, 0, 1, 0), resolved(registry, applicant="a")).parts["text"]
    assert parts[1] == pytest.approx(1.0) and parts[2] == pytest.approx(1 / 1.5)


@pytest.mark.parametrize(
    ("name", "signal"),
    [("text", TextRelevance()), ("network", CoParticipation()), ("popularity", Popularity())],
)
def test_one_signal_recommender_ranks_by_that_signal(registry, data, name, signal):
    query_vector = unit(0.2, 1, 0.5, 0)
    rec = PartnerRecommender([(name, clone(signal))]).fit_registry(registry, EYE)
    frame = rec.suggest(query_vector, k=5, applicant="a")
    raw = clone(signal).fit(data).score(query_vector, resolved(registry, applicant="a"))
    expected = sorted(
        (i for i in range(1, 5) if raw[i] > 0),  # a is the seed; zero scores are not suggested
        key=lambda i: (-raw[i], -registry.n_projects[i], registry.org_ids[i]),
    )
    assert len(expected) >= 2
    assert frame["id"].tolist() == [registry.org_ids[i] for i in expected]
    assert frame[f"{name}_score"].max() == pytest.approx(1.0 if signal.rescale else raw.max())


def test_complement_boost_only_in_complement_mode_and_above_zero(registry):
    rec = PartnerRecommender(
        [("text", TextRelevance()), ("complement", Complement())], {"complement": 0.3}
    ).fit_registry(registry, EYE)
    query = unit(1, 0, 0, 0)  # only P0 is relevant: a and b score, c, d, e do not
    off = rec.scores(query, resolved(registry, applicant_type="ngo"))
    on = rec.scores(query, resolved(registry, applicant_type="ngo", complement=True))
    assert off.parts["complement"].tolist() == [1, 0, 0, 1, 1]
    assert (on.score - off.score).tolist() == pytest.approx([0.3, 0, 0, 0, 0])


def test_suggest_filters_and_explains(registry):
    rec = PartnerRecommender(
        [("text", TextRelevance()), ("network", CoParticipation())]
    ).fit_registry(registry, EYE)
    frame = rec.suggest(unit(2, 1, 1, 3), k=5, applicant="ACity", region="uusimaa")
    assert frame["id"].tolist() == ["b", "e"]
    assert frame.attrs["applicant"] == "a"
    first = frame.iloc[0]
    assert first["worked_with"] == ["a"] and first["shared_partners"] == ["c"]
    assert "has worked with Alpha City" in first["explanation"]
    assert [e["project_id"] for e in first["evidence"]] == ["P0", "P1", "P2"]


def test_weights_are_checked_at_fit(registry):
    with pytest.raises(ValueError, match="network_weight must be a finite number"):
        PartnerRecommender(weights={"network": -1.0}).fit_registry(registry, EYE)
    with pytest.raises(ValueError, match="weights name no signal"):
        PartnerRecommender([("text", TextRelevance())], {"txt": 1.0}).fit_registry(registry, EYE)
    with pytest.raises(ValueError, match="one row per item"):
        PartnerRecommender().fit_registry(registry, EYE[:3])


def test_estimator_contract(registry):
    rec = PartnerRecommender.from_params(network_weight=0.2, bonus=0.3)
    params = rec.get_params()
    assert set(params) == {"signals", "weights", "max_evidence"}
    assert params["weights"]["network"] == 0.2
    assert dict(params["signals"])["text"].bonus == 0.3
    copy = clone(rec)
    assert copy.weights == rec.weights and copy.signals is not rec.signals
    assert rec.set_params(max_evidence=2) is rec and rec.max_evidence == 2
    with pytest.raises(ValueError, match="Invalid parameter"):
        rec.set_params(weight=1)
    with pytest.raises(ValueError, match="unknown parameter 'weight'"):
        PartnerRecommender.from_params(weight=1)
    assert "max_evidence=2" in repr(rec)
    assert not hasattr(rec, "registry_")  # __init__ learns nothing
    assert rec.fit_registry(registry, EYE) is rec and rec.registry_ is registry


def test_not_fitted_errors():
    with pytest.raises(NotFittedError):
        PartnerRecommender().suggest(unit(1, 0, 0, 0))
    with pytest.raises(NotFittedError):
        PartnerRecommender().resolve("a")
    with pytest.raises(NotFittedError):
        TextRelevance().project_relevance(unit(1, 0, 0, 0))


# --------------------------------------------------------------------------- query


def test_partner_query_is_frozen_and_normalises_lists():
    query = PartnerQuery(k=3, consortium="b", org_types=["ngo"], region=None)
    assert query.consortium == ("b",) and query.org_types == ("ngo",) and query.region == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.k = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be at least 1"),
        ({"k": 2.5}, TypeError, "k must be an int"),
        ({"k": True}, TypeError, "k must be an int"),
        ({"complement": "yes"}, TypeError, "complement must be True or False"),
        ({"newcomers": 1}, TypeError, "newcomers must be True or False"),
        ({"applicant": 42}, TypeError, "applicant must be a str"),
        ({"applicant": "  "}, ValueError, "applicant is empty"),
        ({"org_types": "ngos"}, ValueError, "did you mean 'ngo'"),
        ({"org_types": 5}, TypeError, "org_types must be a str or a list"),
        ({"consortium": ["b", 3]}, TypeError, "consortium must contain only str"),
        ({"applicant_type": "city"}, ValueError, "unknown applicant_type"),
    ],
)
def test_partner_query_rejects_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        PartnerQuery(**options)


def test_partner_query_resolves_against_the_registry(registry):
    query = resolved(
        registry,
        applicant="Somebody New",
        consortium=["Beta ry", "gamma ry", "b", "Nobody", ""],
        region=["uusimaa"],
        exclude="ACity",
    )
    assert query.applicant_id is None
    assert query.seeds == ("b", "c") and query.members == ("b", "c")
    assert query.unresolved == ("Somebody New", "Nobody")
    assert query.regions == {"Uusimaa"} and query.excluded == {"a"}
    assert query.present_types == {"ngo"}
    with pytest.raises(ValueError, match="did you mean 'Uusimaa'"):
        resolved(registry, region="Uusimma")
    with pytest.raises(ValueError, match="cannot exclude unknown organisation"):
        resolved(registry, exclude="Zeta")


# --------------------------------------------------------------------------- Matcher


class CountingEmbedder:
    """Deterministic 8-dimensional vectors from a text hash; counts the texts it embeds."""

    name = "counting-test-embedder"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, *, show_progress_bar=None) -> np.ndarray:
        self.calls += 1
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            rows.append(np.random.default_rng(seed).normal(size=8))
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_matcher_owns_the_recommender_and_its_cache(tmp_path, monkeypatch):
    from amif_match.matcher import Matcher

    monkeypatch.setenv("AMIF_MATCH_CACHE", str(tmp_path / "default"))
    embedder = CountingEmbedder()
    matcher = Matcher(embedder=embedder, cache_dir=tmp_path / "mine")
    rec = matcher.partners_
    assert matcher.partners_ is rec
    assert rec.project_vectors_.shape[0] == len(matcher.corpus_.projects)
    assert (tmp_path / "mine" / "embeddings.sqlite").exists()
    assert not (tmp_path / "default").exists()
    # Options are checked before the proposal is embedded.
    calls = embedder.calls
    text = "Kotoutumiskoulutusta ja asumisneuvontaa pakolaistaustaisille nuorille Tampereella."
    with pytest.raises(ValueError, match="did you mean 'Uusimaa'"):
        matcher.suggest_partners(text, region="Uusimma")
    with pytest.raises(ValueError, match="cannot exclude unknown organisation"):
        matcher.suggest_partners(text, exclude=["Nobody at all"])
    assert embedder.calls == calls
    frame = matcher.suggest_partners(text, k=3)
    assert embedder.calls == calls + 1 and len(frame) == 3


# --------------------------------------------------------------------------- countries

# The same five organisations with countries: a and b Finnish, c and e Swedish, d German.
ORGS_C = ORGS.assign(country=["FI", "FI", "SE", "DE", "SE"])


@pytest.fixture
def countries_rec() -> PartnerRecommender:
    registry = Registry.from_tables(PROJECTS, ORGS_C)
    vectors = np.vstack([EYE, np.full((1, 4), 0.5, dtype=np.float32)])  # d: no project
    return PartnerRecommender().fit_registry(registry, EYE, vectors[[0, 1, 2, 4, 3]])


def test_registry_reads_countries_and_tolerates_their_absence(registry):
    with_countries = Registry.from_tables(PROJECTS, ORGS_C)
    assert with_countries.org_countries == ["FI", "FI", "SE", "DE", "SE"]
    assert with_countries.country("d") == "DE"
    assert registry.org_countries == [""] * 5


def test_partners_default_to_the_applicants_country(countries_rec):
    query = unit(1, 1, 1, 1)
    everyone = countries_rec.suggest(query, k=5)
    assert set(everyone["country"]) == {"FI", "SE", "DE"}  # no country known: all countries
    assert everyone.attrs["countries"] == [] and everyone.attrs["country"] is None
    national = countries_rec.suggest(query, k=5, applicant="a")  # a is Finnish
    assert national["id"].tolist() == ["b"]
    assert national.attrs["country"] == "FI" and national.attrs["countries"] == ["FI"]
    # countries= replaces the default scope; lower case is fine.
    assert set(countries_rec.suggest(query, k=5, applicant="a", countries=["se", "DE"])["id"]) == {
        "c",
        "d",
        "e",
    }
    # country= names the applicant's country when the registry does not know the applicant.
    swedish = countries_rec.suggest(query, k=5, applicant="Ny Förening", country="se")
    assert set(swedish["country"]) == {"SE"} and swedish.attrs["country"] == "SE"
    # ... and wins over the registry's country (an organisation applying in another country).
    assert set(countries_rec.suggest(query, k=5, applicant="a", country="DE")["id"]) == {"d"}


def test_organisations_without_a_country_stay_in_the_default_scope_only():
    registry = Registry.from_tables(PROJECTS, ORGS.assign(country=["FI", "FI", "SE", "", "SE"]))
    vectors = np.vstack([EYE, np.full((1, 4), 0.5, dtype=np.float32)])  # d: no project
    rec = PartnerRecommender().fit_registry(registry, EYE, vectors[[0, 1, 2, 4, 3]])
    query = unit(1, 1, 1, 1)
    assert set(rec.suggest(query, k=5, applicant="a")["id"]) == {"b", "d"}
    assert set(rec.suggest(query, k=5, applicant="a", countries="FI")["id"]) == {"b"}


def test_cover_member_states_takes_the_best_of_each_new_state_then_fills_by_score():
    countries = ["FI", "FI", "FI", "SE", "CH", "DE", "SE"]
    order = list(range(7))  # already best first
    assert cover_member_states(order, countries, {"FI"}, 3, 4) == [0, 1, 3, 5]
    assert cover_member_states(order, countries, set(), 2, 3) == [0, 1, 3]
    # CH is not a Member State; n already covered: plain top k.
    assert cover_member_states(order, countries, {"FI", "SE"}, 2, 3) == [0, 1, 2]
    assert cover_member_states(order, countries, {"FI"}, 3, 1) == [3]  # k too small
    assert cover_member_states(order, ["FI"] * 7, set(), 3, 3) == [0, 1, 2]  # too few states


def test_transnational_mode_spans_member_states_and_says_so(countries_rec):
    query = unit(1, 1, 1, 1)
    frame = countries_rec.suggest(query, k=2, applicant="a", transnational=3)
    states = {"FI"} | set(frame["country"])
    assert len(states) >= 3 and frame.attrs["member_states"] == sorted(states)
    assert frame["score"].is_monotonic_decreasing  # the picks stay in score order
    adds = [text for text in frame["explanation"] if "into the consortium" in text]
    assert len(adds) == 2 and any("Germany (DE)" in text for text in adds)
    plain = countries_rec.suggest(query, k=2, applicant="a", countries=["FI", "SE", "DE"])
    assert plain.attrs.get("member_states") is None
    assert not any("into the consortium" in text for text in plain["explanation"])
    with pytest.raises(ValueError, match="needs 3 Member States"):
        countries_rec.suggest(query, applicant="a", countries=["SE"], transnational=3)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"countries": ["XX"]}, ValueError, "unknown country code 'XX'"),
        ({"countries": "EL"}, ValueError, "did you mean 'GR'"),
        ({"countries": ["EU"]}, ValueError, "transnational=N"),
        ({"countries": [1]}, TypeError, "countries must contain only str"),
        ({"country": "Sweden"}, ValueError, "unknown country 'Sweden' .did you mean 'SE'"),
        ({"country": 46}, TypeError, "country must be a str"),
        ({"transnational": 1}, ValueError, "transnational must be between 2 and 27"),
        ({"transnational": 28}, ValueError, "transnational must be between 2 and 27"),
        ({"transnational": True}, TypeError, "transnational must be an int"),
    ],
)
def test_partner_query_rejects_bad_countries(options, error, match):
    with pytest.raises(error, match=match):
        PartnerQuery(**options)
