"""Partner suggestions on the real default model and the bundled corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from amif_match.corpus import MEMBER_STATES, ORG_TYPES, Corpus
from amif_match.embedding import embed_documents
from amif_match.errors import InputError
from amif_match.evaluate.partners import evaluate_partners, gini, mask_organisation_names
from amif_match.index import cached
from amif_match.matcher import Matcher
from amif_match.partners import (
    COLUMNS,
    PartnerRecommender,
    fit_recommender,
    organisation_texts,
    suggest_partners_for_text,
    to_records,
)

DONE_WHEN = (
    "Kehitetään pakolaistaustaisten nuorten asumisvalmennusta kunnan ja järjestöjen yhteistyönä"
)
RETURN = (
    "Hankkeessa kehitetään vapaaehtoisen paluun neuvontaa ja paluun jälkeistä tukea "
    "kielteisen turvapaikkapäätöksen saaneille yhdessä vastaanottokeskusten kanssa."
)
RETURN_EN = (
    "Assisted voluntary return and reintegration: counselling for rejected asylum seekers "
    "and reintegration support in their countries of origin, with partners abroad."
)
MENTAL_HEALTH = (
    "Pakolaisten mielenterveyden tukeminen: koulutetaan sosiaali- ja terveysalan ammattilaisia "
    "tunnistamaan traumaoireita ja kehitetään matalan kynnyksen psykososiaalista tukea."
)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.default()


@pytest.fixture(scope="module")
def rec(corpus, embedder) -> PartnerRecommender:
    return fit_recommender(corpus, cached(embedder))


@pytest.fixture(scope="module")
def embed(embedder):
    cache: dict[str, np.ndarray] = {}

    def _embed(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = embed_documents(embedder, [text])[0][0]
        return cache[text]

    return _embed


def _participants(corpus: Corpus) -> dict[str, set[str]]:
    """Project id -> {(org, role)} from the corpus itself, to check evidence against."""
    out: dict[str, set[str]] = {}
    for row in corpus.projects.to_dict("records"):
        roles = {(row["lead"], "lead")} if row["lead"] else set()
        roles |= {(p, "partner") for p in row["partners"] if p != row["lead"]}
        out[row["id"]] = roles
    return out


# --------------------------------------------------------------------------- done when


def test_done_when_query_returns_five_explained_suggestions(corpus, embedder):
    frame = suggest_partners_for_text(DONE_WHEN, k=5, corpus=corpus, embedder=embedder)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 5
    assert frame["rank"].tolist() == [1, 2, 3, 4, 5]
    assert frame["score"].is_monotonic_decreasing
    assert all(len(ev) > 0 for ev in frame["evidence"])
    assert all(isinstance(x, str) and len(x) > 40 for x in frame["explanation"])
    # Housing/youth/refugee work: a refugee NGO with matching projects comes out on top.
    assert frame.loc[0, "type"] in {"ngo", "foundation", "municipality"}
    assert frame.loc[0, "text_score"] > 0.5


def test_explanations_reference_real_corpus_projects(rec, embed, corpus):
    projects = corpus.projects.set_index("id")
    roles = _participants(corpus)
    frame = rec.suggest(embed(MENTAL_HEALTH), k=10)
    assert len(frame) == 10
    for row in frame.to_dict("records"):
        assert row["n_projects"] >= len(row["evidence"]) >= 1
        sims = [e["similarity"] for e in row["evidence"]]
        assert sims == sorted(sims, reverse=True)
        for e in row["evidence"]:
            assert e["project_id"] in projects.index
            assert e["project_name"] == projects.loc[e["project_id"], "name"]
            assert (row["id"], e["role"]) in roles[e["project_id"]]
            assert 1 <= e["project_rank"] <= len(projects)
        first = row["evidence"][0]
        assert first["project_id"] in row["explanation"]
        assert row["name"] in row["explanation"]
    # The mental-health query finds THL's PALOMA projects.
    assert "thl" in frame["id"].head(3).tolist()
    thl = frame[frame["id"] == "thl"].iloc[0]
    assert "PALOMA" in " ".join(e["project_name"] for e in thl["evidence"]) or any(
        e["project_id"] in {"FI-AMIF-029", "FI-AMIF-048", "FI-AMIF-049"} for e in thl["evidence"]
    )


# --------------------------------------------------------------------------- applicant


@pytest.mark.parametrize("applicant", ["migri", "Finnish Immigration Service", "MIGRI"])
def test_applicant_is_never_suggested(rec, embed, applicant):
    query = embed(RETURN)
    assert "migri" in rec.suggest(query, k=10)["id"].tolist()  # relevant without applicant
    frame = rec.suggest(query, k=len(rec.registry_.org_ids), applicant=applicant)
    assert "migri" not in frame["id"].tolist()
    assert frame.attrs["applicant"] == "migri"
    # Migri's history makes the network signal non-zero for organisations close to it.
    assert (frame["network_score"] > 0).any()
    worked = frame[frame["worked_with"].map(bool)]
    assert not worked.empty and all(w == ["migri"] for w in worked["worked_with"])


def test_consortium_members_are_never_suggested(rec, embed):
    query = embed(RETURN)
    top = rec.suggest(query, k=3)["id"].tolist()
    frame = rec.suggest(
        query, k=len(rec.registry_.org_ids), consortium=[*top[:2], "Unknown Partner ry"]
    )
    assert not set(top[:2]) & set(frame["id"])
    assert frame.attrs["consortium"] == top[:2]
    assert frame.attrs["unresolved"] == ["Unknown Partner ry"]


def test_unknown_applicant_gets_text_based_suggestions(rec, embed):
    query = embed(DONE_WHEN)
    plain = rec.suggest(query, k=10)
    frame = rec.suggest(query, k=10, applicant="Kuvitteellinen Kotoutumisyhdistys ry")
    assert len(frame) == 10
    assert frame.attrs["applicant"] is None
    assert frame.attrs["unresolved"] == ["Kuvitteellinen Kotoutumisyhdistys ry"]
    assert (frame["network_score"] == 0).all()
    assert not any(frame["worked_with"].map(bool)) and not any(frame["shared_partners"].map(bool))
    assert frame["id"].tolist() == plain["id"].tolist()
    assert all(len(ev) > 0 for ev in frame["evidence"])


def test_known_applicant_changes_ranking_through_network(rec, embed, corpus):
    query = embed(DONE_WHEN)
    plain = rec.suggest(query, k=10)
    frame = rec.suggest(query, k=10, applicant="Helsingin kaupunki")
    assert frame["id"].tolist() != plain["id"].tolist()
    linked = frame[frame["network_score"] > 0]
    assert not linked.empty
    before = dict(zip(plain["id"], plain["rank"], strict=True))
    # Organisations close to Helsinki in the graph move up (or into the top 10).
    assert any(before.get(o, 99) > r for o, r in zip(linked["id"], linked["rank"], strict=True))
    neighbours = {
        o
        for row in corpus.projects.to_dict("records")
        if "helsinki-city" in [row["lead"], *row["partners"]]
        for o in [row["lead"], *row["partners"]]
    }
    for row in frame.to_dict("records"):
        assert set(row["worked_with"]) <= {"helsinki-city"}
        if row["worked_with"]:
            assert row["id"] in neighbours
        assert set(row["shared_partners"]) <= neighbours


# --------------------------------------------------------------------------- filters


def test_org_types_filter(rec, embed):
    query = embed(DONE_WHEN)
    frame = rec.suggest(query, k=10, org_types=["municipality", "education"])
    assert len(frame) > 0
    assert set(frame["type"]) <= {"municipality", "education"}
    single = rec.suggest(query, k=5, org_types="education")
    assert len(single) == 5 and set(single["type"]) == {"education"}


def test_region_filter(rec, embed):
    query = embed(DONE_WHEN)
    frame = rec.suggest(query, k=10, region="uusimaa")  # case-insensitive
    assert len(frame) > 0
    assert all("Uusimaa" in r.split(";") for r in frame["region"])
    both = rec.suggest(query, k=20, region=["Uusimaa", "nationwide"])
    regions = {r for value in both["region"] for r in value.split(";")}
    assert "nationwide" in regions and "Uusimaa" in regions
    assert all({"Uusimaa", "nationwide"} & set(r.split(";")) for r in both["region"])


def test_exclude_by_id_name_and_alias(rec, embed):
    query = embed(MENTAL_HEALTH)
    top = rec.suggest(query, k=3)["id"].tolist()
    assert "thl" in top
    for name in ["thl", "THL", "Terveyden ja hyvinvoinnin laitos"]:
        assert "thl" not in rec.suggest(query, k=20, exclude=[name])["id"].tolist()


def test_complement_mode_prefers_missing_types(rec, embed):
    query = embed(DONE_WHEN)
    consortium = ["pakolaisapu", "Helsingin kaupunki"]  # an NGO and a municipality
    plain = rec.suggest(query, k=10, consortium=consortium)
    comp = rec.suggest(query, k=10, consortium=consortium, complement=True)
    present = {"ngo", "municipality"}
    assert set(comp.attrs["present_types"]) == present
    assert (comp["complement_score"] == comp["type"].map(lambda t: float(t not in present))).all()
    assert comp.loc[0, "type"] not in present
    assert comp["complement_score"].mean() > plain["complement_score"].mean()
    lacking = comp[comp["complement_score"] > 0]
    assert all("lacks" in text for text in lacking["explanation"])
    # The applicant's declared type counts when the applicant is not in the registry.
    new = rec.suggest(
        query, k=5, applicant="Uusi Kunta", applicant_type="municipality", complement=True
    )
    assert "municipality" not in set(new["type"][new["complement_score"] > 0])
    assert new.attrs["present_types"] == ["municipality"]


def test_newcomer_organisations_only_by_profile(rec, embed):
    query = embed(DONE_WHEN)
    # Espoon Asunnot Oy (municipal housing company) has no project in the bundled corpus.
    assert rec.registry_.n_projects[rec.registry_.org_index["espoon-asunnot"]] == 0
    frame = rec.suggest(query, k=5, org_types="company", region="Uusimaa")
    row = frame[frame["id"] == "espoon-asunnot"].iloc[0]
    assert row["n_projects"] == 0 and row["evidence"] == []
    assert row["profile_score"] > 0 and row["text_score"] == 0
    assert "no AMIF project" in row["explanation"]
    strict = rec.suggest(query, k=5, org_types="company", region="Uusimaa", newcomers=False)
    assert "espoon-asunnot" not in strict["id"].tolist()
    assert (strict["n_projects"] > 0).all()


# --------------------------------------------------------------------------- countries


def test_swedish_applicant_gets_swedish_partners_by_default(rec, embed, corpus):
    assert corpus.organisations.set_index("id").loc["se-migrationsverket", "country"] == "SE"
    query = embed(RETURN_EN)
    frame = rec.suggest(query, k=10, applicant="se-migrationsverket")
    assert len(frame) == 10 and set(frame["country"]) == {"SE"}
    assert frame.attrs["country"] == "SE" and frame.attrs["countries"] == ["SE"]
    # Without an applicant the same query reaches other countries too.
    assert len(set(rec.suggest(query, k=10)["country"])) > 1
    german = rec.suggest(query, k=10, applicant="se-migrationsverket", countries=["DE"])
    assert len(german) == 10 and set(german["country"]) == {"DE"}
    # A Finnish applicant: Finnish partners; an unknown applicant with country= likewise.
    assert set(rec.suggest(query, k=10, applicant="migri")["country"]) == {"FI"}
    new = rec.suggest(query, k=10, applicant="Uusi yhdistys ry", country="fi")
    assert set(new["country"]) == {"FI"}


def test_transnational_consortium_spans_three_member_states(rec, embed):
    query = embed(RETURN_EN)
    frame = rec.suggest(query, k=10, applicant="se-migrationsverket", transnational=3)
    states = ({"SE"} | set(frame["country"])) & set(MEMBER_STATES)
    assert len(states) >= 3 and frame.attrs["member_states"] == sorted(states)
    assert len(set(frame["country"])) > 1  # cross-border partners only in this mode
    adds = frame[frame["explanation"].str.contains("into the consortium")]
    assert len(adds) >= 2 and set(adds["country"]) <= states - {"SE"}
    assert frame["score"].is_monotonic_decreasing
    # Three places and no applicant: three different Member States.
    three = rec.suggest(query, k=3, transnational=3)
    assert len(set(three["country"]) & set(MEMBER_STATES)) == 3
    with pytest.raises(ValueError, match="unknown country code"):
        rec.suggest(query, countries=["XX"])


# --------------------------------------------------------------------------- user corpus


def test_user_added_project_changes_suggestions(tmp_path, corpus, embedder):
    (tmp_path / "orgs.csv").write_text(
        "id,name,aliases,type,city,region\n"
        "saariston-kotoutus,Saariston Kotoutumisosuuskunta,SKO,company,Parainen,"
        "Varsinais-Suomi\n",
        encoding="utf-8",
    )
    (tmp_path / "projects.csv").write_text(
        "id,name,lead,partners,objective,description_fi\n"
        'USER-001,Kalastajaksi saaristoon,Saariston Kotoutumisosuuskunta,Turun kaupunki,SO2,"'
        "Hankkeessa koulutetaan maahanmuuttajia saaristokalastajiksi ja kalanjalostuksen "
        "ammattilaisiksi Turun saaristossa. Kalastusalan yrittäjät toimivat mentoreina, ja "
        'koulutuksessa yhdistyvät suomen kielen opetus, veneiden käsittely ja kalan käsittely."\n',
        encoding="utf-8",
    )
    extended = corpus.add(projects=tmp_path / "projects.csv", organisations=tmp_path / "orgs.csv")
    query = "Maahanmuuttajien ammatillinen koulutus kalastukseen ja kalanjalostukseen saaristossa"
    before = suggest_partners_for_text(query, k=5, corpus=corpus, embedder=embedder)
    after = suggest_partners_for_text(query, k=5, corpus=extended, embedder=embedder)
    assert "saariston-kotoutus" not in before["id"].tolist()
    assert after.loc[0, "id"] == "saariston-kotoutus"
    assert after.loc[0, "evidence"][0]["project_id"] == "USER-001"
    assert after.loc[0, "evidence"][0]["role"] == "lead"
    assert after["id"].tolist() != before["id"].tolist()
    # A Matcher fits its recommender once, on its own corpus.
    matcher = Matcher(extended, embedder)
    assert matcher.partners_ is matcher.partners_
    assert "saariston-kotoutus" in matcher.partners_.registry_.org_index
    assert matcher.suggest_partners(query, k=5)["id"].tolist() == after["id"].tolist()
    # Turku worked with the new organisation: as applicant, the link shows up.
    turku = suggest_partners_for_text(
        query, k=5, corpus=extended, embedder=embedder, applicant="turku-city"
    )
    row = turku[turku["id"] == "saariston-kotoutus"].iloc[0]
    assert row["worked_with"] == ["turku-city"]


# --------------------------------------------------------------------------- output and errors


def test_to_records_is_json_safe(rec, embed):
    frame = rec.suggest(embed(RETURN), k=5, applicant="migri", complement=True)
    records = to_records(frame)
    text = json.dumps(records, allow_nan=False)
    assert json.loads(text) == records
    first = records[0]
    assert set(first) == set(COLUMNS)
    assert type(first["score"]) is float and type(first["rank"]) is int
    assert type(first["n_projects"]) is int
    assert all(type(e["similarity"]) is float for e in first["evidence"])
    assert first["shared_partners"] == list(frame.loc[0, "shared_partners"])
    assert all(type(o) is str for r in records for o in r["shared_partners"] + r["worked_with"])
    assert any(r["shared_partners"] for r in records)  # Migri's network shows up
    with pytest.raises(TypeError):
        to_records([{"a": 1}])


def test_bad_options_give_clear_errors(rec, embed, embedder):
    query = embed(RETURN)
    with pytest.raises(ValueError, match="k must be at least 1"):
        rec.suggest(query, k=0)
    with pytest.raises(TypeError, match="k must be an int"):
        rec.suggest(query, k=2.5)
    with pytest.raises(ValueError, match="allowed: state_authority") as info:
        rec.suggest(query, org_types=["charity"])
    assert all(t in str(info.value) for t in ORG_TYPES)
    with pytest.raises(ValueError, match="did you mean 'ngo'"):
        rec.suggest(query, org_types="ngos")
    with pytest.raises(ValueError, match="did you mean 'Uusimaa'"):
        rec.suggest(query, region="Uusimma")
    with pytest.raises(ValueError, match="cannot exclude unknown organisation"):
        rec.suggest(query, exclude=["Nonexistent Org"])
    with pytest.raises(TypeError, match="applicant must be a str"):
        rec.suggest(query, applicant=42)
    with pytest.raises(TypeError, match="org_types must"):
        rec.suggest(query, org_types=5)
    with pytest.raises(ValueError, match="applicant_type"):
        rec.suggest(query, applicant_type="city")
    with pytest.raises(ValueError, match="query_vector must be one vector of length"):
        rec.suggest(query[:10])
    with pytest.raises(ValueError, match="NaN"):
        rec.suggest(np.full_like(query, np.nan))
    with pytest.raises(NotFittedError):
        PartnerRecommender().suggest(query)
    with pytest.raises(ValueError, match="Invalid parameter"):
        PartnerRecommender().set_params(weight=1)
    with pytest.raises(ValueError, match="network_weight must be a finite number"):
        PartnerRecommender.from_params(network_weight=-1).fit(
            Corpus.default(), rec.project_vectors_
        )
    with pytest.raises(ValueError, match="one row per item"):
        PartnerRecommender().fit(Corpus.default(), rec.project_vectors_[:5])
    # Text problems surface as the library's usual input errors; options fail before embedding.
    with pytest.raises(InputError):
        suggest_partners_for_text("   ", embedder=embedder)
    with pytest.raises(TypeError):
        suggest_partners_for_text(b"bytes", embedder=embedder)
    with pytest.raises(ValueError, match="k must be at least 1"):
        suggest_partners_for_text(RETURN, k=0, embedder=embedder)


def test_sklearn_style_parameters():
    model = PartnerRecommender.from_params(network_weight=0.2)
    params = model.get_params()
    assert params["weights"]["network"] == 0.2 and "profile" in params["weights"]
    assert model.set_params(max_evidence=2) is model and model.max_evidence == 2
    assert not hasattr(model, "registry_")  # __init__ learns nothing
    assert "'network': 0.2" in repr(model)


def test_organisation_profiles_do_not_name_projects(corpus):
    texts = organisation_texts(corpus)
    assert len(texts) == len(corpus.organisations)
    ids = set(corpus.projects["id"])
    acronyms = {a for a in corpus.projects["acronym"] if isinstance(a, str) and len(a) > 3}
    for text, row in zip(texts, corpus.organisations.to_dict("records"), strict=True):
        assert not any(i in text for i in ids)
        # An organisation's own name may share a word with an unrelated project's acronym
        # (the Latvian shelter "Safe House" and the Italian project "Safe"); the profile must
        # not bring in a project name from anywhere else.
        own = " ".join([row["name"], *row["aliases"]])
        named = [a for a in acronyms if f" {a} " in f" {text} " and f" {a} " not in f" {own} "]
        assert not named, (row["id"], named)


# --------------------------------------------------------------------------- evaluation


def test_mask_organisation_names_handles_inflection():
    text = (
        "Suomen Pakolaisavun koordinoima hanke tuki pakolaisia yhdessä THL:n ja "
        "Työ- ja elinkeinoministeriön kanssa."
    )
    masked = mask_organisation_names(text, ["Suomen Pakolaisapu ry", "Pakolaisapu"])
    assert "Pakolaisavun" not in masked and "pakolaisia" in masked
    assert "THL:n" not in mask_organisation_names(text, ["THL"])
    masked = mask_organisation_names(text, ["Työ- ja elinkeinoministeriö"])
    assert "ministeriön" not in masked


def test_gini():
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([]) == 0.0


def test_leave_one_partner_out_evaluation(corpus, embedder):
    result = evaluate_partners(corpus, embedder)
    metrics = result["metrics"].set_index(["segment", "method"])
    inc = metrics.loc["incumbents"]
    # The bar: the combined ranker beats popularity and Adamic-Adar for incumbents.
    for baseline in ("popularity", "adamic_adar_only"):
        assert inc.loc["combined", "Hit@10"] > inc.loc[baseline, "Hit@10"]
        assert inc.loc["combined", "MRR"] > inc.loc[baseline, "MRR"]
    assert inc.loc["combined", "MRR"] >= inc.loc["text_only", "MRR"]
    # One query per participant of every project with two or more participants.
    counts = {}
    for row in corpus.projects.to_dict("records"):
        members = {o for o in [row["lead"], *row["partners"]] if o}
        for o in members:
            counts[o] = counts.get(o, 0) + 1
    expected = sum(
        len({o for o in [r["lead"], *r["partners"]] if o})
        for r in corpus.projects.to_dict("records")
        if len({o for o in [r["lead"], *r["partners"]] if o}) >= 2
    )
    assert metrics.loc[("all", "combined"), "n_queries"] == expected
    # No leak: the query project is gone from the fitted corpus, so an organisation whose only
    # project is the query project counts as a newcomer and no method can find it by history.
    queries = result["queries"]
    combined = queries[queries["method"] == "combined"]
    for row in combined.to_dict("records"):
        assert row["segment"] == ("incumbents" if counts[row["hidden"]] > 1 else "newcomers")
    newcomers = queries[(queries["segment"] == "newcomers") & (queries["method"] == "text_only")]
    assert (newcomers["Hit@10"] == 0).all()
    diversity = result["diversity"].set_index("method")
    assert 0 < diversity.loc["combined", "coverage@10"] <= 1
    assert diversity.loc["popularity", "gini@10"] > diversity.loc["combined", "gini@10"]
    by_period = result["by_period"]
    combined_all = by_period[(by_period["segment"] == "all") & (by_period["method"] == "combined")]
    # A few gathered projects give no period; they are reported as "unknown", not dropped.
    assert {"2014-2020", "2021-2027"} <= set(combined_all["period"])
    assert set(combined_all["period"]) <= {"2014-2020", "2021-2027", "unknown"}
    assert combined_all["n_queries"].sum() == expected
    # The default country scope: a national project's queries rank only its country's
    # organisations (and the one without a known country; a hidden partner from abroad is out
    # of scope and a miss); Union actions rank every organisation.
    scoped = result["queries_in_scope"]
    assert len(scoped) == len(queries)
    national = scoped[scoped["project_kind"] == "national"]
    org_country = corpus.organisations.set_index("id")["country"].fillna("")
    for row in national[national["method"] == "combined"].to_dict("records"):
        assert {org_country[o] for o in row["top"]} <= {row["country"], ""}
        assert row["in_scope"] == (row["hidden_country"] in {row["country"], ""})
    assert (national.loc[~national["in_scope"], "Hit@10"] == 0).all()
    assert (scoped.loc[scoped["project_kind"] == "union_action", "in_scope"]).all()
    by_scope = result["by_scope"].set_index(["project_kind", "segment", "method"])
    union_ids = set(corpus.projects.loc[corpus.projects["country"] == "EU", "id"])
    n_union = combined["project_id"].isin(union_ids).sum()
    assert n_union > 100
    assert by_scope.loc[("union_action", "all", "combined"), "n_queries"] == n_union
    # Union actions: partners from a country the rest of the consortium lacks can be found.
    union = result["union_actions"].set_index(["partner", "segment", "method"]).sort_index()
    cross = union.loc[("cross_border", "incumbents")]
    assert cross.loc["combined", "MRR"] > cross.loc["popularity", "MRR"]
    assert cross.loc["combined", "Hit@10"] > cross.loc["popularity", "Hit@10"]
    assert (
        union.xs("all", level="segment")["n_queries"]
        .groupby(level="method")
        .sum()
        .eq(n_union)
        .all()
    )


def test_similar_projects_come_from_every_country_and_show_it(matcher, corpus):
    """'What was done elsewhere' is useful to all: similar projects carry their country."""
    result = matcher.classify(RETURN_EN, k=10)
    country = corpus.projects.set_index("id")["country"]
    similar = result.similar_projects
    assert len(similar) == 10
    assert all(p["country"] == country[p["id"]] for p in similar)
    assert len({p["country"] for p in similar}) > 1
    assert list(result.to_dict()["similar_projects"][0]) == ["id", "name", "country", "score"]
