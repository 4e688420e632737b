"""The bundled corpus validates, and broken user files fail with file/row/column errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from amif_match.corpus import OBJECTIVES, ORG_TYPES, Corpus
from amif_match.errors import CorpusError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.default()


def test_bundled_corpus_sizes(corpus):
    assert len(corpus.projects) == 64
    assert 100 <= len(corpus.organisations) <= 130
    assert len(corpus.activities) >= 40
    assert 25 <= len(corpus.target_groups) <= 36
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
    for row in corpus.projects.itertuples():
        assert row.lead == "" or row.lead in org_ids
        assert set(row.partners) <= org_ids
        assert set(row.target_groups) <= tg
        assert row.objective in OBJECTIVES
        assert row.source_url, f"{row.id} lost its source URL"
        assert all(u.startswith("http") for u in row.source_url)
        assert row.description_fi and row.summary_en


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
    assert len(corpus.projects) == 64  # the original is unchanged

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
    code = (
        "import amif_match, sys; from amif_match.corpus import Corpus; c = Corpus.default(); "
        "assert 'site' in amif_match.__file__, amif_match.__file__; "
        "print(len(c.projects), len(c.organisations), len(c.activities), len(c.target_groups))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.stdout.split()[:2] == ["64", str(len(Corpus.default().organisations))]
