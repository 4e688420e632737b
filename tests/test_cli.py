"""The ``amif-match`` command line, with the real default model.

Most tests call :func:`~amif_match.interfaces.cli.main` in this process (the model loads once
per session); two run the installed ``amif-match`` script in a fresh process, as a user would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from amif_match.interfaces.cli.app import RESULT_COLUMNS, main

INTEGRATION = "Kotoutumiskoulutusta maahanmuuttajanaisille"
RETURN = "Vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen saaneille"
RECEPTION = "Vastaanottokeskusten henkilöstön koulutus ja turvapaikkamenettelyn laadun kehittäminen"


def _script() -> list[str]:
    """The installed console script, or ``python -m amif_match`` next to this interpreter."""
    script = Path(sys.executable).with_name("amif-match")
    return [str(script)] if script.exists() else [sys.executable, "-m", "amif_match"]


def _run_script(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    return subprocess.run(
        [*_script(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("amif-match: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def loaded() -> None:
    """Load the default model once for the in-process tests."""
    from amif_match import Matcher

    Matcher.default().fit().classify(INTEGRATION, k=1)


# --------------------------------------------------------------------------- fresh process


def test_classify_text_json_in_a_fresh_process() -> None:
    proc = _run_script("classify", INTEGRATION, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["objective"] == "SO2"
    assert data["language"] == "fi"
    assert {t["code"] for t in data["target_groups"] if t["selected"]} >= {"women"}
    assert "Traceback" not in proc.stderr
    assert "Loading weights" not in proc.stderr  # library progress bars are off in the CLI


def test_classify_stdin_in_a_fresh_process() -> None:
    proc = _run_script("classify", "-", stdin=RETURN + "\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Objective: SO3")
    for section in ("Objectives", "Target groups", "Top activities", "Evidence", "Similar past"):
        assert section in proc.stdout


# --------------------------------------------------------------------------- usage


def test_help_has_finnish_and_english_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Esimerkkejä (fi)" in out and "Examples (en)" in out
    for command in ("classify", "partners", "activities", "catalogue", "evaluate", "train"):
        assert command in out
    assert "exit codes" in out
    assert main(["classify", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Esimerkkejä (fi)" in out and "--column" in out and "--id-column" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from amif_match._version import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["classify", "text", "--bogus"],
        ["classify", "text", "-k", "0"],
        ["classify", "text", "--threshold", "2"],
        ["serve", "--port", "70000"],
        ["catalogue", "objectives", "--layer", "national_action"],
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_error_line(captured.err)


def test_bad_text_exits_2(loaded: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "   "]) == 2
    assert "empty" in _one_error_line(capsys.readouterr().err)
    assert main(["classify", "<p> </p>"]) == 2
    assert "no words" in _one_error_line(capsys.readouterr().err)


def test_missing_and_unreadable_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["classify", str(tmp_path / "hakemukset.csv")]) == 2
    assert "no such file" in _one_error_line(capsys.readouterr().err)
    latin1 = tmp_path / "hakemus.txt"
    latin1.write_bytes(
        "Kotoutumiskoulutusta maahanmuuttajanaisille, pääkaupunkiseutu".encode("latin-1")
    )
    assert main(["classify", str(latin1)]) == 2
    assert "not utf-8-sig text" in _one_error_line(capsys.readouterr().err)


def test_runtime_failure_exits_1(
    loaded: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from amif_match import Matcher

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Matcher, "classify_batch", broken)
    assert main(["classify", INTEGRATION]) == 1
    assert "disk on fire" in _one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------- classify


def test_classify_summary(loaded: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", INTEGRATION]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Objective: SO2")
    assert "✔ SO2" in out and "maahanmuuttajanaiset" in out


def test_classify_text_file_and_json_output_file(
    loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposal = tmp_path / "hakemus.html"
    proposal.write_text(f"<h1>Hakemus</h1><p>{RECEPTION}.</p>", encoding="utf-8")
    out_file = tmp_path / "tulos.json"
    assert main(["classify", str(proposal), "-o", str(out_file)]) == 0
    assert capsys.readouterr().out == ""
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["objective"] == "SO1"
    assert len(data["activities"]) == 10  # the library's default k in JSON


def test_csv_round_trip_keeps_columns_and_order_with_progress(
    loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "hakemukset.csv"
    # Finnish Excel writes ';'-separated CSV; values must come back byte for byte.
    source.write_text(
        "dnro;nimi;kuvaus;summa\n"
        f"A-3;Vastaanotto;{RECEPTION};0042\n"
        f'A-1;"Kotoutuminen; naiset";{INTEGRATION};1000\n'
        f'A-2;Paluu;"{RETURN}, ""neuvonta""";\n',
        encoding="utf-8",
    )
    out_file = tmp_path / "tulokset.csv"
    argv = ["classify", str(source), "--column", "kuvaus", "--id-column", "dnro"]
    assert main([*argv, "--progress", "-o", str(out_file)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "3/3" in captured.err  # the progress bar reached the end
    original = pd.read_csv(source, sep=";", dtype=str, keep_default_na=False)
    result = pd.read_csv(out_file, sep=";", dtype=str, keep_default_na=False)
    assert list(result.columns) == [*original.columns, *RESULT_COLUMNS]
    pd.testing.assert_frame_equal(result[original.columns], original)
    assert list(result["amif_objective"]) == ["SO1", "SO2", "SO3"]
    assert all(result["amif_language"] == "fi")
    probs = result[["amif_SO1", "amif_SO2", "amif_SO3", "amif_SO4"]].astype(float)
    assert ((probs.sum(axis=1) - 1).abs() < 0.01).all()

    # Running again on the output replaces the result columns instead of adding more.
    again = tmp_path / "again.csv"
    assert main(["classify", str(out_file), "--column", "kuvaus", "-o", str(again)]) == 0
    assert list(pd.read_csv(again, sep=";", dtype=str).columns) == list(result.columns)


def test_csv_to_stdout_json_and_jsonl(
    loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "apps.csv"
    pd.DataFrame({"text": [INTEGRATION, RETURN], "id": ["x", "y"]}).to_csv(source, index=False)
    assert main(["classify", str(source), "--format", "csv", "--no-progress"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(__import__("io").StringIO(captured.out), dtype=str)
    assert list(frame["id"]) == ["x", "y"] and list(frame["amif_objective"]) == ["SO2", "SO3"]
    assert captured.err == ""  # no progress bar unless asked for (stderr is not a terminal)

    assert main(["classify", str(source), "--id-column", "id", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in records] == ["x", "y"]
    assert [r["objective"] for r in records] == ["SO2", "SO3"]

    assert main(["classify", str(source), "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2]


def test_xlsx_round_trip(loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl  # noqa: F401  (a test dependency: fail loudly if missing)

    source = tmp_path / "hakemukset.xlsx"
    frame = pd.DataFrame({"nro": ["1", "2"], "kuvaus": [RETURN, INTEGRATION], "x": ["007", ""]})
    with pd.ExcelWriter(source) as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Ohje", index=False)
        frame.to_excel(writer, sheet_name="Hakemukset", index=False)
    out_file = tmp_path / "tulokset.xlsx"
    argv = ["classify", str(source), "--sheet", "Hakemukset", "--column", "kuvaus"]
    assert main([*argv, "-o", str(out_file)]) == 0
    result = pd.read_excel(out_file, dtype=str, keep_default_na=False)
    assert list(result.columns) == ["nro", "kuvaus", "x", *RESULT_COLUMNS]
    assert list(result["x"]) == ["007", ""]
    assert list(result["amif_objective"]) == ["SO3", "SO2"]
    capsys.readouterr()
    assert main(["classify", str(source), "--sheet", "Puuttuu", "--column", "kuvaus"]) == 2
    assert "Puuttuu" in _one_error_line(capsys.readouterr().err)


def test_xlsx_without_openpyxl_gives_an_actionable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "hakemukset.xlsx"
    source.write_bytes(b"PK\x03\x04")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    assert main(["classify", str(source)]) == 1
    assert "pip install openpyxl" in _one_error_line(capsys.readouterr().err)


def test_missing_column_names_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "apps.csv"
    source.write_text("id,kuvaus\n1,Kotoutumiskoulutusta\n", encoding="utf-8")
    assert main(["classify", str(source)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "'text' not found" in line and "kuvaus" in line and "--column" in line
    assert main(["classify", str(source), "--column", "kuvaus", "--id-column", "nro"]) == 2
    assert "--id-column" in _one_error_line(capsys.readouterr().err)


def test_invalid_row_fails_with_its_number_or_is_skipped(
    loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "apps.csv"
    pd.DataFrame({"text": [INTEGRATION, " ", RETURN]}).to_csv(source, index=False)
    assert main(["classify", str(source), "--format", "csv"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "row 2" in line and "empty" in line and "--skip-invalid" in line

    assert main(["classify", str(source), "--format", "csv", "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(__import__("io").StringIO(captured.out), dtype=str, keep_default_na=False)
    assert list(frame["amif_objective"]) == ["SO2", "", "SO3"]
    assert frame["amif_error"][1].startswith("text is empty")
    assert "1 of 3 inputs were invalid" in captured.err


def test_folder_and_lines_inputs(
    loaded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "hakemukset"
    folder.mkdir()
    (folder / "b.txt").write_text(RETURN, encoding="utf-8")
    (folder / "a.md").write_text(INTEGRATION, encoding="utf-8")
    (folder / "liite.png").write_bytes(b"\x89PNG")  # not a document: ignored
    assert main(["classify", str(folder), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [Path(r["id"]).name for r in records] == ["a.md", "b.txt"]
    assert [r["objective"] for r in records] == ["SO2", "SO3"]

    assert main(["classify", str(folder)]) == 0
    table = capsys.readouterr().out
    assert "objective" in table.splitlines()[0] and "SO3" in table

    lines = tmp_path / "otsikot.txt"
    lines.write_text(f"{INTEGRATION}\n\n{RETURN}\n", encoding="utf-8")
    assert main(["classify", str(lines), "--lines", "--format", "jsonl"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["objective"]) for r in records] == [(1, "SO2"), (3, "SO3")]


# --------------------------------------------------------------------------- other commands


def test_partners(loaded: None, capsys: pytest.CaptureFixture[str]) -> None:
    import amif_match.partners  # noqa: F401

    assert main(["partners", INTEGRATION, "-k", "3", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3 and [r["rank"] for r in records] == [1, 2, 3]
    assert all(r["explanation"] for r in records)
    assert main(["partners", INTEGRATION, "-k", "2", "--org-type", "ngo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" 1. ") and "(ngo" in out
    assert main(["partners", INTEGRATION, "--org-type", "spaceship"]) == 2
    assert "spaceship" in _one_error_line(capsys.readouterr().err)


def test_activities(loaded: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activities", RETURN, "-k", "3", "--layer", "national_action", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert {r["layer"] for r in rows} == {"national_action"}
    assert main(["activities", RETURN, "-k", "2"]) == 0
    assert "score" in capsys.readouterr().out.splitlines()[0]


def test_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue"]) == 0
    out = capsys.readouterr().out
    assert "Objectives (4)" in out and "Activities (" in out and "Target groups (" in out
    assert main(["catalogue", "objectives", "--language", "fi"]) == 0
    assert "kotoutuminen" in capsys.readouterr().out
    assert main(["catalogue", "activities", "--layer", "national_action", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["layer"] for r in rows} == {"national_action"}
    assert main(["catalogue", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"objectives", "activities", "target_groups"}
    assert len(data["objectives"]) == 4


def test_demo(loaded: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Sample proposal (fi)" in out and "Objective: SO2" in out
    assert out.count("[SO") >= 3  # three evidence sentences
    assert "Similar past projects" in out and "Suggested partners" in out
    assert " 5. " in out and " 6. " not in out  # five partners, ranked
    assert out.rstrip().splitlines()[-1].startswith("Open the page: amif-match serve")


def test_demo_json_lists_five_partners_with_every_field(
    loaded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from amif_match.options import RESULTS

    assert main(["demo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["classification"]["objective"] == "SO2"
    assert [p["rank"] for p in data["partners"]] == [1, 2, 3, 4, 5]
    assert all(list(p) == [f.name for f in RESULTS["Partner"]] for p in data["partners"])


def test_evaluate_delegates(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("amif_match.evaluate")
    fake.main = lambda argv=None: seen.append(list(argv or [])) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "amif_match.evaluate", fake)
    assert main(["evaluate", "--folds", "3", "--help"]) == 0
    assert seen == [["--folds", "3", "--help"]]


def test_train_writes_to_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wiring only (real training takes ~40 s and belongs to the model's own tests)."""
    from amif_match import Matcher

    calls: list[object] = []

    def fake_train(self: Matcher, save_to: object = None, feedback: object = None) -> Matcher:
        calls.append(save_to)
        self.__dict__["classifier_"] = types.SimpleNamespace(training_={"projects": 64})
        return self

    monkeypatch.setattr(Matcher, "train", fake_train)
    assert main(["train", "--out", str(tmp_path), "--json"]) == 0
    assert calls == [tmp_path]
    data = json.loads(capsys.readouterr().out)
    assert data["saved_to"] == str(tmp_path) and data["training"] == {"projects": 64}


def test_serve_without_the_extra_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve"]) == 1
    assert "amif-match[serve]" in _one_error_line(capsys.readouterr().err)


def test_serve_on_a_taken_port_fails_fast(capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn  # noqa: F401

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert "already in use" in _one_error_line(capsys.readouterr().err)


def test_broken_pipe_is_quiet() -> None:
    proc = subprocess.run(
        f"{' '.join(_script())} catalogue activities | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert len(proc.stdout.splitlines()) == 2
    assert "Traceback" not in proc.stderr and "Broken pipe" not in proc.stderr
