"""The bundled corpus validates, and broken user files fail with file/row/column errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from amif_match.corpus import (
    COUNTRIES,
    MEMBER_STATES,
    OBJECTIVE_BASES,
    OBJECTIVES,
    ORG_TYPES,
    Corpus,
)
from amif_match.corpus.schemas import DESCRIPTION_LANGUAGES
from amif_match.errors import CorpusError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.default()


def test_bundled_corpus_sizes(corpus):
    # Exact: a change to the bundled files must update these numbers and corpus/README.md.
    assert len(corpus.projects) == 569
    assert len(corpus.organisations) == 902
    assert len(corpus.activities) == 68
    assert len(corpus.target_groups) == 35
    assert list(corpus.objectives["code"]) == list(OBJECTIVES)
    assert set(corpus.activities["layer"]) == {
        "activity_type",
        "intervention_field",
        "national_action",
    }
    assert len(corpus.out_of_scope) >= 40


def test_every_project_reference_resolves(corpus):
    org_ids = set(corpus.organisations["id"])
    tg = set(corpus.target_groups["code"])
    activities = set(corpus.activities["code"])
    for row in corpus.projects.itertuples():
        assert row.lead == "" or row.lead in org_ids, (row.id, row.lead)
        assert set(row.partners) <= org_ids, (row.id, set(row.partners) - org_ids)
        assert row.lead not in row.partners, row.id
        assert set(row.target_groups) <= tg
        assert set(row.activities) <= activities
        assert row.objective in OBJECTIVES
    # Leads are known for all but a few rows whose sources name none (the notes say so).
    assert (corpus.projects["lead"] != "").sum() >= 520


def test_multi_country_coverage(corpus):
    """What issue 11 asked of the gathering: Member States, Union actions, return projects."""
    projects = corpus.projects
    countries = set(projects["country"])
    assert len(projects) >= 464
    assert len(countries) >= 11
    # At least ten Member States besides Finland, and the Union actions.
    assert len(countries & set(MEMBER_STATES) - {"FI"}) >= 10
    assert (projects["country"] == "EU").sum() >= 40
    assert (projects["country"] == "FI").sum() == 65
    counts = projects["objective"].value_counts()
    assert counts["SO1"] >= 120 and counts["SO2"] >= 120
    assert counts["SO3"] >= 75
    # SO4 is short of the 26 the issue asked for (corpus/README.md says why); it must not shrink.
    assert counts["SO4"] >= 22
    assert set(projects["period"]) <= {"2014-2020", "2021-2027", ""}
    assert {"2014-2020", "2021-2027"} <= set(projects["period"])


def test_every_project_has_country_basis_language_and_sources(corpus):
    for row in corpus.projects.itertuples():
        assert row.country in COUNTRIES or row.country == "EU", row.id
        assert row.id.startswith(f"{row.country}-"), row.id  # ids are country-prefixed
        assert row.objective_basis in OBJECTIVE_BASES, row.id
        assert row.language in DESCRIPTION_LANGUAGES, row.id
        # Finland's rows keep description_fi; every other row has its own-language text.
        text = row.description_fi if row.country == "FI" else row.description
        assert text and row.summary_en, row.id
        assert row.source_url, row.id
        for url in row.source_url:
            parsed = urlparse(url)
            assert parsed.scheme in ("http", "https") and "." in parsed.netloc, (row.id, url)
    # Most sources are https; 34 rows cite only http pages (old national sites), as gathered.
    https = [any(u.startswith("https://") for u in urls) for urls in corpus.projects.source_url]
    assert sum(https) >= 530
    # "implied" is the same judgement as the older objective_inferred flag.
    implied = corpus.projects["objective_basis"] == "implied"
    assert (implied == corpus.projects["objective_inferred"]).all()


def test_organisation_countries(corpus):
    orgs = corpus.organisations
    filled = orgs["country"] != ""
    assert set(orgs.loc[filled, "country"]) <= COUNTRIES
    assert filled.sum() >= len(orgs) - 1  # only int-pathways-international has no seat given
    assert set(orgs.loc[orgs["country"] == "FI", "id"]) >= {"migri", "thl", "tampere-city"}
    # A national project's lead sits in that country, or is an international organisation.
    by_id = orgs.set_index("id")
    for row in corpus.projects.itertuples():
        if row.lead and row.country != "EU":
            lead = by_id.loc[row.lead]
            assert lead["country"] == row.country or lead["type"] == "international_organisation", (
                row.id,
                row.lead,
                lead["country"],
            )
    # Union actions are transnational: most consortia span several countries.
    spans = [
        len({by_id.loc[o, "country"] for o in [row.lead, *row.partners] if o})
        for row in corpus.projects[corpus.projects["country"] == "EU"].itertuples()
    ]
    assert sum(n >= 2 for n in spans) >= 30


def test_country_filter(corpus):
    finland = Corpus.default(countries=["FI"])
    assert len(finland.projects) == 65
    assert set(finland.projects["country"]) == {"FI"}
    assert finland.countries == ["FI"]
    # The registry and the catalogue stay whole: other countries' organisations can be named.
    assert len(finland.organisations) == len(corpus.organisations)
    assert len(finland.activities) == len(corpus.activities)
    assert finland.resolve_organisation("se-migrationsverket") == "se-migrationsverket"

    nordic = corpus.filter(countries=["fi", " se", "EU"])  # case and spaces are forgiven
    assert len(nordic.projects) == 65 + 37 + 45
    assert corpus.filter(countries="SE").countries == ["SE"]
    assert len(Corpus.default(countries="DK").projects) == 0  # valid code, no projects

    with pytest.raises(ValueError, match="XX"):
        corpus.filter(countries=["FI", "XX"])
    with pytest.raises(ValueError, match=r"(?i)unknown country code.*finland"):
        corpus.filter(countries=["Finland"])
    with pytest.raises(TypeError):
        corpus.filter(countries=[1, 2])
    with pytest.raises(TypeError):
        corpus.filter(countries=[])
    with pytest.raises(TypeError):
        corpus.filter(countries=None)


def test_countries_property(corpus):
    countries = corpus.countries
    assert len(countries) == 27 == corpus.projects["country"].nunique()
    assert countries[:2] == ["IT", "FI"]  # most projects first
    counts = corpus.projects["country"].value_counts()
    assert [counts[c] for c in countries] == sorted(counts, reverse=True)
    assert "EU" in countries


def test_catalogue_items_have_finnish_and_english_text(corpus):
    for table, fields in (
        ("objectives", ("name", "description")),
        ("activities", ("name", "description")),
        ("target_groups", ("term", "definition")),
    ):
        frame = getattr(corpus, table)
        for field in fields:
            for lang in ("fi", "en", "sv"):
                assert (frame[f"{field}_{lang}"].str.len() > 0).all(), (table, field, lang)
    # Intervention-field labels could not be checked against the annex: the data says so.
    fields = corpus.activities[corpus.activities["layer"] == "intervention_field"]
    assert len(fields) == 31 and fields["to_check"].all()


def test_organisation_registry(corpus):
    assert set(corpus.organisations["type"]) <= set(ORG_TYPES)
    assert corpus.resolve_organisation("Migri") == corpus.resolve_organisation(
        "Maahanmuuttovirasto"
    )
    assert corpus.resolve_organisation("migri") is not None
    assert corpus.resolve_organisation("THL") is not None
    assert corpus.resolve_organisation("No Such Organisation") is None


def _with_objective_names(corpus, code, **names):
    """``corpus`` with some of objective ``code``'s localised names replaced (e.g. emptied)."""
    objectives = corpus.objectives.copy()
    for column, value in names.items():
        objectives.loc[objectives["code"] == code, column] = value
    return Corpus(
        objectives=objectives,
        activities=corpus.activities,
        target_groups=corpus.target_groups,
        organisations=corpus.organisations,
        projects=corpus.projects,
        out_of_scope=corpus.out_of_scope,
    )


def test_text_lookup_falls_back_to_english(corpus):
    row = corpus.objectives.set_index("code").loc["SO3"]
    assert corpus.text("objectives", "SO3", "name", "sv") == row["name_sv"]
    # No Swedish name: English, then Finnish, then the code itself.
    no_sv = _with_objective_names(corpus, "SO3", name_sv="")
    assert no_sv.text("objectives", "SO3", "name", "sv") == row["name_en"] != row["name_sv"]
    no_sv_en = _with_objective_names(corpus, "SO3", name_sv="", name_en="")
    assert no_sv_en.text("objectives", "SO3", "name", "sv") == row["name_fi"]
    none = _with_objective_names(corpus, "SO3", name_sv="", name_en="", name_fi="")
    assert none.text("objectives", "SO3", "name", "sv") == "SO3"
    with pytest.raises(KeyError):
        corpus.text("objectives", "SO9", "name")


def _copy_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", folder)
    return folder


def _edit(path: Path, row: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "message"),
    [
        ("projects.csv", 3, "objective", "SO5", "unknown value 'SO5'"),
        ("projects.csv", 5, "partners", "migri;no-such-org", "unknown organisation 'no-such-org'"),
        ("projects.csv", 7, "name", "", "required value is missing"),
        ("projects.csv", 2, "inferred", "maybe", "not a boolean"),
        ("projects.csv", 4, "eu_funding_eur", "12 k€", "not a number"),
        ("projects.csv", 6, "target_groups", "aliens", "unknown target-group code 'aliens'"),
        ("organisations.csv", 9, "type", "ngo-ish", "did you mean 'ngo'"),
        ("activities.csv", 2, "objectives", "SO1;SO7", "unknown value 'SO7'"),
    ],
)
def test_broken_rows_name_file_row_and_column(tmp_path, file, row, column, value, message):
    folder = _copy_corpus(tmp_path)
    _edit(folder / file, row, column, value)
    with pytest.raises(CorpusError, match=message) as info:
        Corpus.from_dir(folder)
    err = info.value
    assert err.file.endswith(file) and err.row == row and err.column == column
    assert f"row {row}" in str(err) and file in str(err)


def test_duplicate_id_and_missing_column(tmp_path):
    folder = _copy_corpus(tmp_path)
    _edit(folder / "organisations.csv", 4, "id", "migri")
    with pytest.raises(CorpusError, match="duplicate id 'migri'") as info:
        Corpus.from_dir(folder)
    assert info.value.row == 4

    folder2 = _copy_corpus(tmp_path / "b")
    frame = pd.read_csv(folder2 / "projects.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=["objective"]).to_csv(folder2 / "projects.csv", index=False)
    with pytest.raises(CorpusError, match="missing required column"):
        Corpus.from_dir(folder2)


def test_unreadable_files(tmp_path):
    folder = _copy_corpus(tmp_path)
    (folder / "projects.csv").write_bytes("id,name\n1,\xe4\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        Corpus.from_dir(folder)
    (folder / "projects.csv").unlink()
    with pytest.raises(CorpusError, match="file not found"):
        Corpus.from_dir(folder)


def test_out_of_scope_real_projects_are_sourced(corpus):
    oos = corpus.out_of_scope
    assert list(oos.columns[:9]) == [
        "id",
        "language",
        "text",
        "resembles",
        "note",
        "name",
        "country",
        "migration_related",
        "source_url",
    ]
    invented = oos[oos["name"] == ""]
    real = oos[oos["name"] != ""]
    # OOS-001...072 are invented; the real projects of other funds follow, each with sources.
    assert list(invented["id"]) == [f"OOS-{n:03d}" for n in range(1, 73)]
    assert (invented["country"] == "").all() and (invented["source_url"].map(len) == 0).all()
    assert len(real) >= 80
    assert (real["country"] != "").all() and (real["source_url"].map(len) > 0).all()
    for urls in real["source_url"]:
        assert all(
            urlparse(url).scheme in ("http", "https") and urlparse(url).netloc for url in urls
        )
    assert set(oos["language"]) <= set(DESCRIPTION_LANGUAGES)
    assert len(set(real["language"])) >= 8 and len(set(real["country"])) >= 8
    assert "FI" in set(real["country"])
    assert oos["migration_related"].map(type).eq(bool).all()
    # The invented border and visa rows are migration-related; the other invented rows are not.
    assert (invented["migration_related"] == (invented["resembles"] == "BMVI")).all()
    # Migration-related rows are the hard negatives, and their notes say so.
    assert real["note"][real["migration_related"]].str.startswith("hard negative:").all()
    assert 0.3 < real["migration_related"].mean() < 0.8


def _oos_row(**cells: str) -> str:
    row = {
        "id": "OOS-900",
        "language": "el",
        "text": "Η αστυνομία εκπαιδεύει ερευνητές στην ανάλυση ψηφιακών πειστηρίων.",
        "resembles": "ISF",
        "note": "police training (ISF)",
        "name": "Ψηφιακά πειστήρια",
        "country": "GR",
        "migration_related": "false",
        "source_url": "https://example.org/project",
    }
    row.update(cells)
    return ",".join(f'"{value}"' for value in row.values())


def _oos_file(tmp_path: Path, row: str) -> Path:
    folder = _copy_corpus(tmp_path)
    path = folder / "out_of_scope.csv"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(row + "\n")
    return folder


def test_out_of_scope_accepts_any_eu_language_and_real_project_rows(tmp_path, corpus):
    folder = _oos_file(tmp_path, _oos_row())
    oos = Corpus.from_dir(folder).out_of_scope
    row = oos.set_index("id").loc["OOS-900"]
    assert row["language"] == "el" and row["country"] == "GR"
    assert not row["migration_related"] and row["source_url"] == ["https://example.org/project"]
    assert len(oos) == len(corpus.out_of_scope) + 1


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"source_url": ""}, "source_url", "needs its sources"),
        (
            {"migration_related": ""},
            "migration_related",
            "must say whether it is migration-related",
        ),
        ({"migration_related": "maybe"}, "migration_related", "not a boolean"),
        ({"language": "xx"}, "language", "unknown value 'xx'"),
        ({"country": "Greece"}, "country", "'Greece' is not an ISO 3166-1 alpha-2 country code"),
    ],
)
def test_out_of_scope_rows_name_file_row_and_column(tmp_path, corpus, cells, column, message):
    folder = _oos_file(tmp_path, _oos_row(**cells))
    with pytest.raises(CorpusError, match=message) as info:
        Corpus.from_dir(folder)
    err = info.value
    row = len(corpus.out_of_scope) + 1
    assert err.file.endswith("out_of_scope.csv") and (err.row, err.column) == (row, column)
    assert f"row {row}" in str(err) and "out_of_scope.csv" in str(err)


def test_invented_out_of_scope_row_needs_no_source(tmp_path, corpus):
    folder = _oos_file(tmp_path, _oos_row(name="", country="", migration_related="", source_url=""))
    row = Corpus.from_dir(folder).out_of_scope.set_index("id").loc["OOS-900"]
    assert row["name"] == "" and not row["migration_related"] and row["source_url"] == []


def test_user_csv_extends_the_corpus(tmp_path, corpus):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "id,name,aliases,type,city\n"
        "my-assoc,Esimerkkiyhdistys ry,Esimerkki;Example Association,ngo,Joensuu\n",
        encoding="utf-8",
    )
    projects = tmp_path / "projects.csv"
    projects.write_text(
        "id,name,lead,partners,objective,target_groups,description_fi,extra_note\n"
        'MY-001,Kotoutumisen kylä,Esimerkki,"Migri;THL",SO2,tcn;women,'
        "Hanke tukee maahanmuuttajanaisten kotoutumista Joensuussa.,oma huomautus\n",
        encoding="utf-8",
    )
    extended = corpus.add(projects=projects, organisations=orgs)
    assert len(extended.projects) == len(corpus.projects) + 1
    assert len(extended.organisations) == len(corpus.organisations) + 1
    row = extended.projects.set_index("id").loc["MY-001"]
    assert row["lead"] == "my-assoc"  # alias resolved to the id
    assert row["partners"] == [
        corpus.resolve_organisation("Migri"),
        corpus.resolve_organisation("THL"),
    ]
    assert row["extra_note"] == "oma huomautus"  # unknown columns are kept
    assert extended.fingerprint != corpus.fingerprint
    assert len(corpus.projects) == 569  # the original is unchanged

    with pytest.raises(CorpusError, match="already exists") as info:
        extended.add(projects=projects)
    assert info.value.row == 1 and info.value.column == "id"

    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,lead,objective,summary_en\nMY-002,X,Unknown Org Oy,SO1,Text.\n")
    with pytest.raises(CorpusError, match="unknown organisation 'Unknown Org Oy'") as info:
        corpus.add(projects=bad)
    assert info.value.file == str(bad) and info.value.row == 1 and info.value.column == "lead"

    textless = tmp_path / "textless.csv"
    textless.write_text("id,name,objective\nMY-003,Nimi,SO2\n")
    with pytest.raises(CorpusError, match="needs a text"):
        corpus.add(projects=textless)


_USER_HEADER = "id,name,country,lead,objective,objective_basis,language,description\n"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("country", "fi", "'fi' is not an ISO 3166-1 alpha-2 country code in capitals"),
        ("country", "XX", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("country", "Sweden", "'Sweden' is not an ISO 3166-1 alpha-2 country code"),
        ("objective_basis", "guessed", "unknown value 'guessed'"),
        ("objective_basis", "explict", "did you mean 'explicit'"),
        ("language", "swedish", "unknown value 'swedish'"),
        ("language", "SV", "unknown value 'SV'"),
    ],
)
def test_user_project_codes_name_file_row_and_column(tmp_path, corpus, column, value, message):
    good = {"country": "SE", "objective_basis": "explicit", "language": "sv"}
    rows = []
    for number in (1, 2, 3):
        cells = dict(good)
        if number == 2:
            cells[column] = value
        rows.append(
            f"MY-00{number},Projekt {number},{cells['country']},se-migrationsverket,SO1,"
            f"{cells['objective_basis']},{cells['language']},Ett projekt för asylsökande.\n"
        )
    path = tmp_path / "mine.csv"
    path.write_text(_USER_HEADER + "".join(rows), encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as info:
        Corpus.default().add(projects=path)
    err = info.value
    assert (err.file, err.row, err.column) == (str(path), 2, column)
    assert "row 2" in str(err) and "mine.csv" in str(err)


def test_user_organisation_country_is_checked(tmp_path, corpus):
    path = tmp_path / "orgs.csv"
    path.write_text(
        "id,name,type,country\nmy-a,Förening A,ngo,SE\nmy-b,Verein B,ngo,Deutschland\n",
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match="'Deutschland' is not an ISO") as info:
        corpus.add(organisations=path)
    assert (info.value.file, info.value.row, info.value.column) == (str(path), 2, "country")


def test_user_project_without_country_loads(tmp_path, corpus):
    path = tmp_path / "mine.csv"
    path.write_text(
        "id,name,lead,objective,summary_en\n"
        "MY-001,Return counselling,se-migrationsverket,SO3,Counselling on voluntary return.\n",
        encoding="utf-8",
    )
    extended = corpus.add(projects=path)
    row = extended.projects.set_index("id").loc["MY-001"]
    assert row["country"] == "" and row["objective_basis"] == "" and row["language"] == ""
    # A project without a country is in no country's subset, and not among the countries.
    assert extended.countries == corpus.countries
    assert "MY-001" not in set(extended.filter(countries="SE").projects["id"])


def test_wheel_ships_the_corpus_and_models(tmp_path):
    """A non-editable install carries corpus/ and models/ inside the package."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    wheel = next(wheel_dir.glob("amif_match-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "amif_match" / "_data" / "models" / "heads.npz").is_file()
    # The command of issue 11's "done when", as JSON so the numbers can be checked one by one.
    code = (
        "import amif_match, json; from amif_match.corpus import Corpus; c = Corpus.default(); "
        "assert 'site' in amif_match.__file__, amif_match.__file__; "
        "print(json.dumps([len(c.projects), c.projects.country.nunique(), "
        "c.projects.objective.value_counts().to_dict(), len(c.organisations)]))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    projects, countries, objectives, organisations = json.loads(out.stdout)
    here = Corpus.default()
    assert projects == len(here.projects) >= 464
    assert countries == here.projects["country"].nunique() >= 11
    assert organisations == len(here.organisations)
    assert objectives == here.projects["objective"].value_counts().to_dict()
    assert objectives["SO3"] >= 75
    # The issue asks SO4 >= 26; the corpus has 22 (shortfall explained in corpus/README.md).
    assert objectives["SO4"] == 22
