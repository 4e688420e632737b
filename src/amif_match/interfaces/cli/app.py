"""The ``amif-match`` command line.

Subcommands: ``classify``, ``partners``, ``activities``, ``catalogue``, ``demo``, ``evaluate``,
``train`` and ``serve``; ``amif-match COMMAND --help`` shows each one's options and examples.

Conventions scripts can rely on:

* results go to stdout, everything else (progress bars, warnings, errors) to stderr;
* ``--json`` on every command prints machine-readable JSON instead of a table;
* an error is one line ``amif-match: error: ...`` on stderr;
* exit codes: 0 success, 1 runtime failure (model, missing optional dependency, I/O while
  writing), 2 bad usage or bad input (unknown option, empty or unreadable text, missing file or
  column), 130 interrupted.
"""

from __future__ import annotations

import argparse
import codecs
import difflib
import io
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from amif_match.classification import Classification
    from amif_match.matcher import Matcher

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "RESULT_COLUMNS", "SAMPLE_PROPOSAL", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Files read as one proposal each (a folder argument picks these up).
TEXT_SUFFIXES = (".txt", ".text", ".md", ".html", ".htm")
#: Spreadsheet-like files: one proposal per row, in the ``--column`` column.
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm")
OUTPUT_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".xlsx")
#: Texts classified per model call in a batch (the progress bar advances per chunk).
CHUNK = 16

#: Columns a batch adds to its input (CSV/XLSX output); lists are ``;``-joined codes.
RESULT_COLUMNS = [
    "amif_objective",
    "amif_objectives",
    "amif_probability",
    "amif_SO1",
    "amif_SO2",
    "amif_SO3",
    "amif_SO4",
    "amif_target_groups",
    "amif_activities",
    "amif_similar_projects",
    "amif_in_scope",
    "amif_scope_score",
    "amif_scope_reason",
    "amif_language",
]

#: The proposal ``amif-match demo`` classifies (fictional, written like a real application).
SAMPLE_PROPOSAL = (
    "Hankkeen tavoitteena on tukea Pirkanmaalle muuttaneiden maahanmuuttajanaisten kotoutumista "
    "ja pääsyä koulutukseen ja työelämään. Moni kotona pieniä lapsia hoitava äiti jää "
    "kotoutumiskoulutuksen ja työvoimapalvelujen ulkopuolelle, eikä hänellä ole riittävää suomen "
    "kielen taitoa asioida viranomaisten kanssa. Hankkeessa järjestetään suomen kielen ja "
    "yhteiskuntatiedon ryhmiä, joiden aikana lapsille on tarjolla lastenhoito, sekä "
    "henkilökohtaista ohjausta, työpaikkavierailuja ja vertaisryhmiä. Toimintaa toteutetaan "
    "yhdessä kunnan kotoutumispalvelujen, oppilaitosten ja maahanmuuttajajärjestöjen kanssa. "
    "Lisäksi koulutetaan kuntien ja järjestöjen työntekijöitä tunnistamaan naisten kotoutumisen "
    "esteitä ja kehitetään monialaisen yhteistyön malli, joka vakiinnutetaan osaksi kunnan "
    "kotoutumisohjelmaa. Hanke toteutetaan vuosina 2025–2027 Tampereella ja Nokialla."
)

_EXIT_CODES = """\
exit codes:
  0  success
  1  runtime failure (model, missing optional dependency, writing output)
  2  bad usage or bad input (unknown option, empty text, missing file or column)
"""

_MAIN_EPILOG = (
    """\
Esimerkkejä (fi):
  amif-match classify "Kotoutumiskoulutusta maahanmuuttajanaisille"
  amif-match classify hakemukset.xlsx --column kuvaus -o tulokset.xlsx
  echo "Paluuneuvontaa turvapaikanhakijoille" | amif-match classify - --json
  amif-match partners hakemus.txt --applicant "Tampereen kaupunki"
  amif-match catalogue activities --language fi

Examples (en):
  amif-match demo
  amif-match classify "Language training for immigrant women" --json
  amif-match classify applications.csv --column text --id-column id -o results.csv
  amif-match serve --port 8000

"""
    + _EXIT_CODES
)

_CLASSIFY_EPILOG = (
    """\
INPUT is a text, "-" for stdin, a .txt/.md/.html file, a folder of such files, or one
.csv/.tsv/.xlsx file with one proposal per row (--column). Several INPUTs make a batch.

Output: one text gives a readable summary (--json: the classification as JSON). A batch gives
a table; a CSV/XLSX input is written back as CSV with every input column, in input order,
plus the amif_* result columns (on a terminal it is shown as a table instead; -o FILE or
--format decide explicitly). Batches show a progress bar on stderr when it is a terminal
(--progress forces it).

Applicants' texts are untrusted: in CSV/TSV output a text cell that starts with = + - @ tab
or CR gets a ' in front so that a spreadsheet shows it instead of running it as a formula
(plain numbers such as -42 are kept); XLSX cells are always written as text, never formulas.
--raw-cells keeps the cells as they are. -o writes a temporary file next to FILE and renames
it over FILE only when complete; a CSV input's UTF-8 byte-order mark is kept on CSV output.
Every CSV row must have as many fields as the header (an error names the line), and header
names must be unique.

Esimerkkejä (fi):
  amif-match classify "Kotoutumiskoulutusta maahanmuuttajanaisille"
  echo "Vapaaehtoisen paluun neuvontaa" | amif-match classify -
  amif-match classify hakemukset.csv --column kuvaus --id-column dnro -o tulokset.csv
  amif-match classify hakemukset.xlsx --sheet Hakemukset --column kuvaus -o tulokset.xlsx
  amif-match classify hakemukset/ --json > tulokset.json

Examples (en):
  amif-match classify "Language training for immigrant women" --json
  amif-match classify proposal.html --k 5
  cat titles.txt | amif-match classify - --lines --format csv

"""
    + _EXIT_CODES
)


class UsageError(Exception):
    """Bad command-line usage or an unusable input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (with a pointer to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"amif-match: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- small helpers


def _out() -> TextIO:
    return sys.stdout


def _print(*parts: object) -> None:
    print(*parts, file=_out())


def _dump_json(value: Any, *, indent: int | None = 2) -> str:
    return json.dumps(
        value, ensure_ascii=False, indent=indent, allow_nan=False, default=_json_default
    )


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | tuple | np.ndarray):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _clean_json(value: Any) -> Any:
    """pandas records -> plain JSON values (NaN/NA -> None, numpy scalars -> Python)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_clean_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _cut(value: object, width: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _table(rows: list[list[object]], header: list[str], *, flexible: int = -1) -> str:
    """A plain-text table fitted to the terminal; column ``flexible`` is cut to fit."""
    cells = [[" ".join(str(c).split()) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    total = shutil.get_terminal_size((120, 24)).columns
    flex = flexible % len(header)
    room = total - (sum(widths) - widths[flex]) - 2 * (len(header) - 1)
    widths[flex] = max(min(widths[flex], room), min(len(header[flex]) + 4, widths[flex]), 12)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(_cut(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def _bar(p: float, width: int = 20) -> str:
    full = round(max(0.0, min(1.0, p)) * width)
    return "█" * full + "·" * (width - full)


def _matcher() -> Matcher:
    from amif_match.matcher import Matcher

    return Matcher.default()


# --------------------------------------------------------------------------- reading inputs


@dataclass
class _Inputs:
    """What ``classify`` was given: texts with ids, plus the table for a CSV/XLSX input."""

    ids: list[Any]
    texts: list[str]
    single: bool = False
    frame: pd.DataFrame | None = None
    source: str = ""
    sep: str = ","
    bom: bool = False  # the CSV input began with a UTF-8 byte-order mark: keep it on output
    skipped: dict[int, str] = field(default_factory=dict)  # position -> error (--skip-invalid)


def _read_text_file(path: Path, encoding: str) -> str:
    return _decode_file(path, encoding)[0]


def _decode_file(path: Path, encoding: str) -> tuple[str, bool]:
    """The text of ``path`` (universal newlines, no BOM) and whether it began with a UTF-8 BOM."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        # Decoding through TextIOWrapper gives the same universal newlines as read_text().
        text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding).read()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{path} is not {encoding} text (byte 0x{data[exc.start]:02x} on line {line}); "
            "convert it first (e.g. iconv -f latin1 -t utf-8) or pass --encoding"
        ) from None
    except LookupError:
        raise UsageError(f"unknown --encoding {encoding!r}") from None
    # With --encoding utf-8 the mark survives decoding and would glue onto the first header.
    return (text[1:] if text.startswith("\ufeff") else text), bom


def _read_stdin(encoding: str) -> str:
    stream = sys.stdin
    if stream is None:
        raise UsageError("no standard input to read from")
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # e.g. io.StringIO in tests
        return stream.read()
    try:
        return buffer.read().decode(encoding)
    except UnicodeDecodeError:
        raise UsageError(f"standard input is not {encoding} text; pass --encoding") from None


def _is_path(arg: str) -> Path | None:
    """The path ``arg`` names if it exists; raises for a missing file that looks like one."""
    if "\n" in arg or len(arg) > 4096:
        return None
    path = Path(arg).expanduser()
    try:
        if path.exists():
            return path
    except OSError:
        return None
    if " " not in arg.strip() and path.suffix.lower() in TEXT_SUFFIXES + TABLE_SUFFIXES:
        raise UsageError(f"no such file: {arg}")
    return None


def _sniff_separator(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _separator_option(value: str | None) -> str | None:
    """``--sep``: one character; ``\\t`` and ``tab`` mean a tab (shells do not expand ``\\t``)."""
    if value is None:
        return None
    value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
    if len(value) != 1:
        raise UsageError(f"--sep must be one character (or \\t for tab), got {value!r}")
    return value


def _read_table(path: Path, args: argparse.Namespace) -> tuple[pd.DataFrame, str, bool]:
    """The table in ``path`` as strings, its CSV separator and whether it had a UTF-8 BOM."""
    import pandas as pd

    from amif_match.interfaces.cli.tables import header_names, read_delimited

    suffix = path.suffix.lower()
    bom = False
    if suffix in (".xlsx", ".xlsm"):
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            from amif_match.errors import MissingDependencyError

            raise MissingDependencyError(
                "reading .xlsx files needs openpyxl: pip install openpyxl "
                "(or pip install 'amif-match[xlsx]'), or save the sheet as CSV"
            ) from None
        sheet: str | int = args.sheet if args.sheet is not None else 0
        if isinstance(sheet, str) and sheet.isdigit():
            sheet = int(sheet)
        try:
            # header=None: pandas would rename a duplicate header "text" to "text.1" silently.
            grid = pd.read_excel(
                path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False
            )
        except (ValueError, KeyError, IndexError) as exc:
            raise UsageError(f"cannot read sheet {sheet!r} of {path}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        except Exception as exc:  # openpyxl raises its own errors for broken files
            raise UsageError(f"{path} is not a readable .xlsx file: {exc}") from None
        if grid.empty:
            raise UsageError(f"sheet {sheet!r} of {path} is empty")
        names = header_names([str(c) for c in grid.iloc[0]], path.name)
        frame = grid.iloc[1:].set_axis(names, axis=1).reset_index(drop=True)
        sep = ","
    else:
        if args.sheet is not None:
            raise UsageError("--sheet only applies to .xlsx files")
        text, bom = _decode_file(path, args.encoding)
        sep = _separator_option(args.sep) or _sniff_separator(text, suffix)
        # Strict: a row with a field too many or too few is an error naming its line, never a
        # silent shift of columns. Blank lines are rows (an empty cell in a one-column file);
        # only trailing ones go.
        frame = read_delimited(text, sep, path.name)
    blank = (frame.fillna("").astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1)
    end = len(frame)
    while end and blank.iloc[end - 1]:
        end -= 1
    return frame.iloc[:end].reset_index(drop=True), sep, bom


def _require_column(frame: pd.DataFrame, column: str, source: str, option: str) -> None:
    if column in frame.columns:
        return
    columns = list(frame.columns)
    close = difflib.get_close_matches(column, columns, n=1) or [
        c for c in columns if c.casefold() == column.casefold()
    ]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
    raise UsageError(
        f"column {column!r} not found in {source}{hint}; its columns are {shown}; "
        f"choose one with {option}"
    )


def _gather_inputs(args: argparse.Namespace) -> _Inputs:
    raw = list(args.inputs)
    if not raw:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError('give a text, a file, a folder, or "-" to read standard input')
        raw = ["-"]
    paths = [(arg, None if arg == "-" else _is_path(arg)) for arg in raw]
    tables = [p for _, p in paths if p is not None and p.suffix.lower() in TABLE_SUFFIXES]
    if tables:
        if len(raw) > 1:
            raise UsageError("a .csv/.tsv/.xlsx input must be the only INPUT")
        if args.lines:
            raise UsageError("--lines does not apply to a .csv/.tsv/.xlsx input")
        path = tables[0]
        frame, sep, bom = _read_table(path, args)
        _require_column(frame, args.column, path.name, "--column")
        if args.id_column is not None:
            _require_column(frame, args.id_column, path.name, "--id-column")
        if frame.empty:
            raise UsageError(f"{path.name} has no data rows")
        ids = (
            list(frame[args.id_column])
            if args.id_column is not None
            else list(range(1, len(frame) + 1))
        )
        return _Inputs(
            ids=ids,
            texts=list(frame[args.column]),
            frame=frame,
            source=path.name,
            sep=sep,
            bom=bom,
        )
    if args.id_column is not None or args.sheet is not None:
        raise UsageError("--id-column and --sheet only apply to a .csv/.tsv/.xlsx input")
    ids: list[Any] = []
    texts: list[str] = []
    skipped: dict[int, str] = {}
    if sum(arg == "-" for arg in raw) > 1:
        raise UsageError('"-" (standard input) can be given only once')
    batch = len(raw) > 1 or any(p is not None and p.is_dir() for _, p in paths)

    def read(file: Path) -> tuple[str, str | None]:
        """(text, None), or ("", why) for an unreadable file that --skip-invalid passes over."""
        try:
            return _read_text_file(file, args.encoding), None
        except UsageError as exc:
            if not batch:
                raise
            if not args.skip_invalid:
                raise UsageError(f"{exc} (use --skip-invalid to keep going)") from None
            return "", str(exc)

    for position, (arg, path) in enumerate(paths, 1):
        items: list[tuple[str, str, str | None]]  # (id, text, why it cannot be read)
        if arg == "-":
            items = [("-", _read_stdin(args.encoding), None)]
        elif path is not None and path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
            )
            if not files:
                raise UsageError(f"folder {arg} has no {'/'.join(TEXT_SUFFIXES)} files to classify")
            items = [(str(p), *read(p)) for p in files]
        elif path is not None:
            items = [(arg, *read(path))]
        else:
            items = [(str(position), arg, None)]
        for ident, text, unreadable in items:
            if unreadable is not None:
                skipped[len(texts)] = unreadable
                ids.append(ident)
                texts.append(text)
            elif args.lines:
                lines = [line.strip() for line in text.splitlines()]
                numbered = [(n, line) for n, line in enumerate(lines, 1) if line]
                if not numbered:
                    raise UsageError(f"{'standard input' if ident == '-' else ident} has no lines")
                for n, line in numbered:
                    ids.append(n if len(raw) == 1 else f"{ident}:{n}")
                    texts.append(line)
            else:
                ids.append(ident)
                texts.append(text)
    single = (
        len(texts) == 1
        and not args.lines
        and not any(p is not None and p.is_dir() for _, p in paths)
    )
    return _Inputs(ids=ids, texts=texts, single=single, source="input", skipped=skipped)


def _validate_inputs(inputs: _Inputs, args: argparse.Namespace) -> None:
    """Check every text before any model work; name the row of a bad one."""
    from amif_match.text import normalise

    for i, text in enumerate(inputs.texts):
        if i in inputs.skipped:  # an unreadable file, already explained
            continue
        try:
            normalise(text, language=args.language)
        except (TypeError, ValueError) as exc:
            if inputs.frame is not None:
                where = f"{inputs.source} row {i + 1}, column {args.column!r}"
            else:
                where = "input" if inputs.single else f"input {inputs.ids[i]}"
            message = f"{where}: {exc}"
            if getattr(args, "skip_invalid", False) and not inputs.single:
                inputs.skipped[i] = str(exc)
                continue
            hint = "" if inputs.single else " (use --skip-invalid to keep going)"
            raise UsageError(message + hint) from None
    if len(inputs.skipped) == len(inputs.texts):
        first = next(iter(inputs.skipped.values()), "")
        if len(inputs.texts) == 1:
            raise UsageError(first)
        raise UsageError(f"no valid text to classify ({len(inputs.texts)} invalid; first: {first})")


def _single_text(args: argparse.Namespace) -> str:
    """The one proposal a ``partners``/``activities`` command works on."""
    arg = args.input
    if arg is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError('give a text, a file, or "-" to read standard input')
        arg = "-"
    if arg == "-":
        return _read_stdin(args.encoding)
    path = _is_path(arg)
    if path is None:
        return arg
    if path.is_dir() or path.suffix.lower() in TABLE_SUFFIXES:
        raise UsageError(
            f"{arg}: give one proposal (a text or a text file); use classify for batches"
        )
    return _read_text_file(path, args.encoding)


# --------------------------------------------------------------------------- classify


def _classify_options(args: argparse.Namespace, k: int) -> dict[str, Any]:
    return {
        "k": k,
        "threshold": args.threshold,
        "min_labels": args.min_labels,
        "language": args.language,
    }


def _progress_wanted(flag: bool | None, n: int) -> bool:
    if flag is not None:
        return flag
    return n > 1 and sys.stderr is not None and sys.stderr.isatty()


def _classify_all(
    matcher: Matcher, texts: list[str], options: dict[str, Any], progress: bool
) -> list[Classification]:
    from tqdm import tqdm

    results: list[Classification] = []
    with tqdm(
        total=len(texts),
        unit="text",
        desc="classifying",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
        mininterval=0.2,
    ) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            results.extend(matcher.classify_batch(chunk, show_progress_bar=False, **options))
            bar.update(len(chunk))
    return results


def result_row(result: Classification) -> dict[str, Any]:
    """The ``amif_*`` columns of one classification (see :data:`RESULT_COLUMNS`)."""
    probs = {o["code"]: o["probability"] for o in result.objectives}
    return {
        "amif_objective": result.objective,
        "amif_objectives": ";".join(o["code"] for o in result.objectives if o["selected"]),
        "amif_probability": probs[result.objective],
        **{f"amif_{code}": probs.get(code) for code in ("SO1", "SO2", "SO3", "SO4")},
        "amif_target_groups": ";".join(t["code"] for t in result.target_groups if t["selected"]),
        "amif_activities": ";".join(a["code"] for a in result.activities[:3]),
        "amif_similar_projects": ";".join(p["id"] for p in result.similar_projects[:3]),
        "amif_in_scope": result.in_scope,
        "amif_scope_score": result.scope_score,
        "amif_scope_reason": result.scope_reason or "",
        "amif_language": result.language,
    }


def _result_frame(inputs: _Inputs, results: dict[int, Classification]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for i in range(len(inputs.texts)):
        row = result_row(results[i]) if i in results else dict.fromkeys(RESULT_COLUMNS)
        if inputs.skipped:
            row["amif_error"] = inputs.skipped.get(i, "")
        rows.append(row)
    columns = RESULT_COLUMNS + (["amif_error"] if inputs.skipped else [])
    added = pd.DataFrame(rows, columns=columns)
    if inputs.frame is None:
        return pd.concat([pd.DataFrame({"id": inputs.ids}), added], axis=1)
    base = inputs.frame.drop(
        columns=[c for c in inputs.frame.columns if c in [*RESULT_COLUMNS, "amif_error"]]
    ).reset_index(drop=True)
    return pd.concat([base, added], axis=1)


def _result_records(inputs: _Inputs, results: dict[int, Classification]) -> list[dict[str, Any]]:
    records = []
    for i, ident in enumerate(inputs.ids):
        ident = _clean_json(ident)
        if i in results:
            records.append({"id": ident, **results[i].to_dict()})
        else:
            records.append({"id": ident, "error": inputs.skipped[i]})
    return records


def _output_format(args: argparse.Namespace, inputs: _Inputs | None) -> str:
    """``summary``, ``table``, ``csv``, ``json`` or ``jsonl`` for stdout, or the -o format."""
    fmt = "json" if args.json else args.format
    if args.output is not None:
        suffix = Path(args.output).suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise UsageError(
                f"cannot tell the output format of {args.output}: "
                f"use a name ending in {', '.join(OUTPUT_SUFFIXES)}"
            )
        by_suffix = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl"}
        file_fmt = by_suffix.get(suffix, "xlsx")
        if fmt not in ("auto", file_fmt):
            raise UsageError(
                f"--{'json' if args.json else 'format ' + fmt} conflicts with -o {args.output}"
            )
        return file_fmt
    if fmt != "auto":
        return fmt
    if inputs is not None and inputs.single:
        return "summary"
    if inputs is not None and inputs.frame is not None and not _out().isatty():
        return "csv"
    return "table"


def _write_output(
    args: argparse.Namespace, write: Callable[[TextIO], None], *, bom: bool = False
) -> None:
    """Run ``write`` on stdout, or on ``-o FILE`` atomically (the old file survives a failure).

    ``bom`` starts the output with a UTF-8 byte-order mark (kept from a CSV input that had one:
    Excel reads BOM-less UTF-8 CSV as the local code page and shows ä/ö as mojibake).
    """
    from amif_match.interfaces.cli.tables import atomic_output

    if args.output is None:
        stream = _out()
        if bom and not stream.isatty():
            stream.write("\ufeff")
        write(stream)
        return
    path = Path(args.output)
    try:
        with atomic_output(path, encoding="utf-8-sig" if bom else "utf-8") as handle:
            write(handle)
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check_output(args: argparse.Namespace, fmt: str, inputs: _Inputs) -> None:
    """Fail before any model work if ``-o`` cannot be written or cannot hold the table."""
    if args.output is None:
        return
    from amif_match.interfaces.cli.tables import check_output_path, check_xlsx_cells

    check_output_path(args.output)
    if fmt == "xlsx" and inputs.frame is not None:
        check_xlsx_cells(inputs.frame, inputs.source)


def _cmd_classify(args: argparse.Namespace) -> int:
    inputs = _gather_inputs(args)
    fmt = _output_format(args, inputs)
    _check_output(args, fmt, inputs)
    _validate_inputs(inputs, args)
    matcher = _matcher()
    k = args.k if args.k is not None else (5 if fmt in ("summary", "table") else 10)
    options = _classify_options(args, k)
    positions = [i for i in range(len(inputs.texts)) if i not in inputs.skipped]
    matcher.fit()
    progress = _progress_wanted(args.progress, len(positions))
    if progress:  # load the model now so that the bar measures classification only
        matcher.embedder_.encode(["lämmittely"], show_progress_bar=False)
    classified = _classify_all(matcher, [inputs.texts[i] for i in positions], options, progress)
    results = dict(zip(positions, classified, strict=True))

    if inputs.single:
        result = results[0]
        if fmt == "summary":
            _print_classification(result, k=k)
            return EXIT_OK
        if fmt in ("json", "jsonl"):
            indent = 2 if fmt == "json" else None
            _write_output(
                args, lambda f: f.write(_dump_json(result.to_dict(), indent=indent) + "\n")
            )
            return EXIT_OK
    if fmt == "json":
        records = _result_records(inputs, results)
        _write_output(args, lambda f: f.write(_dump_json(records) + "\n"))
    elif fmt == "jsonl":
        records = _result_records(inputs, results)
        _write_output(
            args, lambda f: f.writelines(_dump_json(r, indent=None) + "\n" for r in records)
        )
    elif fmt == "csv":
        from amif_match.interfaces.cli.tables import neutralise_frame

        frame = _result_frame(inputs, results)
        if not args.raw_cells:  # applicants' texts must not become live spreadsheet formulas
            frame = neutralise_frame(frame)
        sep = "\t" if str(args.output or "").lower().endswith(".tsv") else inputs.sep
        _write_output(args, lambda f: frame.to_csv(f, index=False, sep=sep), bom=inputs.bom)
    elif fmt == "xlsx":
        _write_xlsx(_result_frame(inputs, results), Path(args.output), raw=args.raw_cells)
    else:  # table (or summary of a batch)
        _print_batch_table(inputs, results)
    if inputs.skipped:
        print(
            f"amif-match: warning: {len(inputs.skipped)} of {len(inputs.texts)} inputs were "
            "invalid and left unclassified (see amif_error)",
            file=sys.stderr,
        )
    return EXIT_OK


def _write_xlsx(frame: pd.DataFrame, path: Path, *, raw: bool = False) -> None:
    """``frame`` as an .xlsx file, atomically; text cells are text, never formulas."""
    from amif_match.interfaces.cli.tables import atomic_output, write_xlsx

    try:
        import openpyxl  # noqa: F401
    except ImportError:
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            "writing .xlsx files needs openpyxl: pip install openpyxl "
            "(or pip install 'amif-match[xlsx]'), or write .csv instead"
        ) from None
    try:
        with atomic_output(path, binary=True) as handle:
            write_xlsx(frame, handle, quote_prefix=not raw)
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None


def _print_batch_table(inputs: _Inputs, results: dict[int, Classification]) -> None:
    rows = []
    for i, ident in enumerate(inputs.ids):
        if i not in results:
            rows.append([ident, "-", "", "", "", f"invalid: {inputs.skipped[i]}"])
            continue
        r = results[i]
        p = next(o["probability"] for o in r.objectives if o["code"] == r.objective)
        rows.append(
            [
                ident,
                r.objective,
                f"{p:.2f}",
                "yes" if r.in_scope else "NO",
                ", ".join(t["code"] for t in r.target_groups if t["selected"]),
                ", ".join(a["code"] for a in r.activities[:3]),
            ]
        )
    header = ["id", "objective", "p", "in scope", "target groups", "top activities"]
    _print(_table(rows, header, flexible=4))


def _print_classification(result: Classification, *, k: int = 5, evidence: int = 3) -> None:
    """A readable summary of one classification."""
    best = result.objectives[0]
    scope = (
        f"in AMIF scope (score {result.scope_score:.2f})"
        if result.in_scope
        else f"NOT in AMIF scope (score {result.scope_score:.2f})"
    )
    if result.scope_reason:
        scope = f"not assessed: {result.scope_reason}"
    if not result.in_scope and result.resembles:
        scope += f"; resembles {result.resembles['fund']} ({result.resembles['probability']:.2f})"
    _print(f"Objective: {result.objective} – {best['name']} (p = {best['probability']:.2f})")
    _print(f"Scope:     {scope}; language {result.language}")
    _print("\nObjectives")
    for o in result.objectives:
        mark = "✔" if o["selected"] else " "
        _print(
            f"  {mark} {o['code']}  {o['probability']:.3f}  {_bar(o['probability'])}  {o['name']}"
        )
    chosen = [t for t in result.target_groups if t["selected"]]
    _print("\nTarget groups (selected)")
    for t in chosen or result.target_groups[:1]:
        _print(f"  {t['code']:<18} {t['probability']:.2f}  {t['name']}")
    _print("\nTop activities")
    rows = [
        [n, a["code"], a["objective"], f"{a['score']:.3f}", a["name"]]
        for n, a in enumerate(result.activities[:k], 1)
    ]
    _print(_indent(_table(rows, ["#", "code", "objective", "score", "name"])))
    _print("\nEvidence")
    width = shutil.get_terminal_size((120, 24)).columns - 16
    for e in result.evidence[:evidence]:
        _print(f"  [{e['supports']} {e['score']:.2f}] {_cut(e['text'], max(width, 40))}")
    _print("\nSimilar past projects")
    rows = [[p["id"], f"{p['score']:.3f}", p["name"]] for p in result.similar_projects[:k]]
    _print(_indent(_table(rows, ["id", "score", "name"])))


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# --------------------------------------------------------------------------- partners


def _partner_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.applicant:
        options["applicant"] = args.applicant
    if args.consortium:
        options["consortium"] = _split_multi(args.consortium)
    if args.org_type:
        options["org_types"] = _split_multi(args.org_type)
    if args.region:
        options["region"] = _split_multi(args.region)
    if args.exclude:
        options["exclude"] = _split_multi(args.exclude)
    if args.complement:
        options["complement"] = True
    return options


def _split_multi(values: list[str]) -> list[str]:
    """Repeated options; ``;`` also separates values (names may contain commas)."""
    return [part.strip() for value in values for part in value.split(";") if part.strip()]


def _partners_frame(text: str, k: int, options: dict[str, Any]) -> pd.DataFrame:
    try:
        import amif_match.partners  # noqa: F401
    except ImportError as exc:
        raise _PartnersUnavailable(str(exc)) from exc
    return _matcher().suggest_partners(text, k, **options)


class _PartnersUnavailable(RuntimeError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"partner suggestions are not available in this installation ({reason})")


def _print_partners(frame: pd.DataFrame) -> None:
    if frame.empty:
        _print("No organisation with past AMIF projects matches these filters.")
        return
    width = shutil.get_terminal_size((120, 24)).columns
    for row in frame.to_dict("records"):
        where = f", {row['city']}" if row.get("city") else ""
        _print(f"{row['rank']:>2}. {row['name']} ({row['type']}{where})  score {row['score']:.2f}")
        explanation = str(row.get("explanation") or "")
        for line in _wrap(explanation, width - 6):
            _print(f"    {line}")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=max(width, 40)) or [""]


def _cmd_partners(args: argparse.Namespace) -> int:
    text = _single_text(args)
    options = _partner_options(args)
    frame = _partners_frame(text, args.k, options)
    if args.json:
        from amif_match.partners import to_records

        _print(_dump_json(to_records(frame)))
    else:
        _print_partners(frame)
    return EXIT_OK


# --------------------------------------------------------------------------- activities


def _cmd_activities(args: argparse.Namespace) -> int:
    text = _single_text(args)
    frame = _matcher().match_activities(text, args.k, layer=args.layer, language=args.language)
    if args.json:
        _print(_dump_json(_clean_json(frame.to_dict("records"))))
        return EXIT_OK
    rows = [
        [r["rank"], r["code"], r["layer"], r["objective"], f"{r['score']:.3f}", r["name"]]
        for r in frame.to_dict("records")
    ]
    _print(_table(rows, ["#", "code", "layer", "objective", "score", "name"]))
    return EXIT_OK


# --------------------------------------------------------------------------- catalogue

_CATALOGUE_TABLES = ("objectives", "activities", "target-groups")


def _catalogue_frames(matcher: Matcher, table: str | None, layer: str | None) -> dict[str, Any]:
    frames = {}
    if table in (None, "objectives"):
        frames["objectives"] = matcher.get_objectives()
    if table in (None, "activities"):
        frames["activities"] = matcher.get_activities(layer)
    if table in (None, "target-groups"):
        frames["target_groups"] = matcher.get_target_groups()
    return frames


def _cmd_catalogue(args: argparse.Namespace) -> int:
    from amif_match.matcher import LAYERS

    if args.layer is not None and args.table not in (None, "activities"):
        raise UsageError("--layer only applies to the activities table")
    if args.layer is not None and args.layer not in LAYERS:
        raise UsageError(f"--layer must be one of {', '.join(LAYERS)}")
    frames = _catalogue_frames(_matcher(), args.table, args.layer)
    if args.json:
        data = {name: _clean_json(frame.to_dict("records")) for name, frame in frames.items()}
        _print(_dump_json(data if args.table is None else next(iter(data.values()))))
        return EXIT_OK
    lang = args.language or "en"

    def name(row: dict[str, Any], stem: str) -> str:
        value = row.get(f"{stem}_{lang}")
        return value if isinstance(value, str) and value else str(row.get(f"{stem}_en") or "")

    blocks = []
    for table, frame in frames.items():
        records = frame.to_dict("records")
        if table == "objectives":
            rows = [[r["code"], name(r, "name")] for r in records]
            text = _table(rows, ["code", "name"])
        elif table == "activities":
            rows = [
                [r["code"], r["layer"], ";".join(r["objectives"]), name(r, "name")] for r in records
            ]
            text = _table(rows, ["code", "layer", "objectives", "name"])
        else:
            rows = [[r["code"], r["kind"], name(r, "term")] for r in records]
            text = _table(rows, ["code", "kind", "term"])
        title = table.replace("_", " ").capitalize()
        blocks.append(f"{title} ({len(records)})\n{text}" if args.table is None else text)
    _print("\n\n".join(blocks))
    return EXIT_OK


# --------------------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    text = SAMPLE_PROPOSAL
    matcher = _matcher()
    result = matcher.classify(text, k=10)
    partners = None
    unavailable = None
    try:
        partners = _partners_frame(text, 5, {})
    except _PartnersUnavailable as exc:
        unavailable = str(exc)
    if args.json:
        records = None
        if partners is not None:
            from amif_match.partners import to_records

            records = to_records(partners)
        payload = {"text": text, "classification": result.to_dict(), "partners": records}
        if unavailable:
            payload["partners_unavailable"] = unavailable
        _print(_dump_json(payload))
        return EXIT_OK
    width = shutil.get_terminal_size((120, 24)).columns
    _print("Sample proposal (fi):")
    for line in _wrap(text, width - 4):
        _print(f"  {line}")
    _print("")
    _print_classification(result, k=5, evidence=3)
    _print("\nSuggested partners")
    if partners is None:
        _print(f"  ({unavailable}; showing the classification only)")
    else:
        _print_partners(partners)
    return EXIT_OK


# --------------------------------------------------------------------------- evaluate / train


def _cmd_evaluate(args: argparse.Namespace) -> int:
    try:
        from amif_match.evaluate import main as evaluate_main
    except ImportError as exc:
        raise RuntimeError(f"evaluation is not available in this installation ({exc})") from exc
    return int(evaluate_main(list(args.rest)) or 0)


def _cmd_train(args: argparse.Namespace) -> int:
    from amif_match.classification import model_folder
    from amif_match.matcher import Matcher

    folder = Path(args.out) if args.out else model_folder()
    start = time.perf_counter()
    matcher = Matcher()
    try:
        matcher.train(save_to=folder)
    except OSError as exc:
        raise OSError(f"cannot save the model to {folder}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - start
    training = dict(getattr(matcher.classifier_, "training_", {}) or {})
    if args.json:
        _print(
            _dump_json(
                {"saved_to": str(folder), "seconds": round(seconds, 1), "training": training}
            )
        )
    else:
        what = ", ".join(f"{k} {v}" for k, v in training.items() if not isinstance(v, list))
        _print(f"Trained the classification heads in {seconds:.0f} s ({what}).")
        _print(f"Saved to {folder}")
    return EXIT_OK


# --------------------------------------------------------------------------- serve


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (fail here, with the install hint, when it is missing)

        from amif_match.interfaces.server import serve
    except ImportError as exc:
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            f"amif-match serve needs FastAPI and uvicorn ({exc}): pip install 'amif-match[serve]'"
        ) from None
    _check_port(args.host, args.port)  # fail now, not after loading the model
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"amif-match: warning: serving on {args.host} makes the service reachable from "
            "other machines; it has no authentication",
            file=sys.stderr,
        )
    try:
        # Also sets connection, keep-alive and header limits (amif_match.interfaces.server).
        serve(
            args.host,
            args.port,
            log_level=args.log_level,
            request_timeout=args.request_timeout,
            docs=args.docs or None,
        )
    except SystemExit as exc:  # uvicorn exits on a taken port or a failed start-up
        return EXIT_FAILURE if exc.code else EXIT_OK
    return EXIT_OK


def _check_port(host: str, port: int) -> None:
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            raise RuntimeError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port"
            ) from None


# --------------------------------------------------------------------------- the parser


def _parser() -> argparse.ArgumentParser:
    from amif_match._version import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    parser = _Parser(
        prog="amif-match",
        description=(
            "Classify proposals for the EU Asylum, Migration and Integration Fund (AMIF) in "
            "Finland and suggest partner organisations. Works offline; Finnish, Swedish and "
            "English texts."
        ),
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"amif-match {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def text_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--encoding",
            default="utf-8-sig",
            help="encoding of input files (default utf-8-sig: UTF-8 with or without a BOM)",
        )

    def language_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--language",
            choices=("fi", "sv", "en"),
            help="language of the text (default: detected)",
        )

    # classify
    p = sub.add_parser(
        "classify",
        help="classify proposals: objective, activities, target groups, evidence",
        description="Classify one proposal or a batch (folder, CSV/XLSX, lines of text).",
        epilog=_CLASSIFY_EPILOG,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help='text, "-", file or folder')
    p.add_argument(
        "-k", "--k", type=_positive_int, help="list lengths (default 5 shown, 10 in JSON)"
    )
    p.add_argument(
        "--threshold", type=_probability, help="selection threshold 0..1 (default: tuned)"
    )
    p.add_argument(
        "--min-labels",
        type=_non_negative_int,
        default=1,
        help="at least this many labels selected (default 1)",
    )
    language_option(p)
    p.add_argument(
        "--column", default="text", help="text column of a CSV/XLSX input (default text)"
    )
    p.add_argument("--id-column", help="id column of a CSV/XLSX input (default: row number)")
    p.add_argument("--sheet", help="XLSX sheet name or index (default: the first)")
    p.add_argument(
        "--sep", help="CSV separator, one character or \\t (default: guessed from the header)"
    )
    p.add_argument("--lines", action="store_true", help="each non-empty line is one proposal")
    p.add_argument("-o", "--output", help="write results to FILE (.csv .tsv .json .jsonl .xlsx)")
    p.add_argument(
        "--format",
        choices=("auto", "summary", "table", "csv", "json", "jsonl"),
        default="auto",
        help="stdout format (default: summary for one text, table or CSV for batches)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="in a batch, leave invalid rows and unreadable files unclassified instead of failing",
    )
    p.add_argument(
        "--raw-cells",
        action="store_true",
        help="CSV/XLSX output: keep text cells that start with = + - @ tab or CR as they are "
        "(default: CSV gets a ' in front, XLSX marks them; for programs, not spreadsheets)",
    )
    text_options(p)
    p.set_defaults(func=_cmd_classify)

    # partners
    p = sub.add_parser(
        "partners",
        help="suggest partner organisations for a proposal",
        description="Organisations with the most relevant past AMIF work, best first, explained.",
        epilog="""\
Esimerkkejä (fi):
  amif-match partners "Pakolaistaustaisten nuorten asumisvalmennusta" --k 5
  amif-match partners hakemus.txt --applicant "Helsingin kaupunki" --complement
Examples (en):
  amif-match partners proposal.txt --org-type ngo --region Uusimaa --region nationwide --json

"""
        + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("input", nargs="?", metavar="INPUT", help='text, "-" or a text file')
    p.add_argument("-k", "--k", type=_positive_int, default=10, help="how many (default 10)")
    p.add_argument("--applicant", help="the applicant (id, name or alias); never suggested")
    p.add_argument(
        "--consortium", action="append", help="a partner already in the consortium (repeat)"
    )
    p.add_argument("--org-type", action="append", help="keep only this organisation type (repeat)")
    p.add_argument(
        "--region",
        action="append",
        help="keep only this region (repeat; 'nationwide' for national bodies)",
    )
    p.add_argument("--exclude", action="append", help="never suggest this organisation (repeat)")
    p.add_argument("--complement", action="store_true", help="favour types the consortium lacks")
    text_options(p)
    p.set_defaults(func=_cmd_partners)

    # activities
    p = sub.add_parser(
        "activities",
        help="the catalogue activities closest to a proposal",
        description="The catalogue activities closest to a proposal, best first.",
        epilog="""\
Esimerkkejä (fi):
  amif-match activities "Vastaanottokeskusten henkilöstön koulutusta" --layer national_action
Examples (en):
  amif-match activities proposal.txt --k 5 --json

"""
        + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("input", nargs="?", metavar="INPUT", help='text, "-" or a text file')
    p.add_argument("-k", "--k", type=_positive_int, default=10, help="how many (default 10)")
    p.add_argument(
        "--layer",
        choices=("activity_type", "intervention_field", "national_action"),
        help="only this catalogue layer",
    )
    language_option(p)
    text_options(p)
    p.set_defaults(func=_cmd_activities)

    # catalogue
    p = sub.add_parser(
        "catalogue",
        help="list the objectives, activities and target groups",
        description="List the programme catalogue (no model needed).",
        epilog="""\
Esimerkkejä (fi):
  amif-match catalogue objectives --language fi
  amif-match catalogue activities --layer national_action --language fi
Examples (en):
  amif-match catalogue target-groups --json

"""
        + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("table", nargs="?", choices=_CATALOGUE_TABLES, help="one table (default: all)")
    p.add_argument("--layer", help="activities of one layer only")
    p.add_argument(
        "--language", choices=("fi", "sv", "en"), help="names in this language (default en)"
    )
    p.set_defaults(func=_cmd_catalogue)

    # demo
    p = sub.add_parser(
        "demo",
        help="classify a sample Finnish proposal and suggest partners",
        description="The main job on a built-in sample proposal: classification, then partners.",
        epilog="Examples:\n  amif-match demo\n  amif-match demo --json\n\n" + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.set_defaults(func=_cmd_demo)

    # evaluate
    p = sub.add_parser(
        "evaluate",
        help="cross-validate the classifier and write models/MODEL_CARD.md",
        description="Run the evaluation (options are those of python -m amif_match.evaluate).",
        add_help=False,
        formatter_class=formatter,
    )
    p.set_defaults(func=_cmd_evaluate, rest=[])

    # train
    p = sub.add_parser(
        "train",
        help="retrain the classification heads on the corpus",
        description="Retrain the classification heads and save them.",
        epilog="Examples:\n  amif-match train\n  amif-match train --out /tmp/heads\n\n"
        + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("--out", metavar="DIR", help="folder to save to (default: the bundled models/)")
    p.set_defaults(func=_cmd_train)

    # serve
    p = sub.add_parser(
        "serve",
        help="run the HTTP service (needs the [serve] extra)",
        description=(
            "Run the HTTP service: POST /classify, /classify/batch, /partners, /activities; "
            "GET /catalogue, /health; OpenAPI at /openapi.json (/docs with --docs). The model "
            "loads once at start-up."
        ),
        epilog="""\
Examples:
  amif-match serve --port 8000
  curl -s localhost:8000/classify -H 'content-type: application/json' \\
       -d '{"text": "Kotoutumiskoulutusta maahanmuuttajanaisille"}'

"""
        + _EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn log level (default info)",
    )
    p.add_argument(
        "--request-timeout",
        type=_positive_int,
        metavar="SECONDS",
        help="time budget per request: 504 when the model work runs over, 503 when no worker "
        "was free in time (default 60, or $AMIF_MATCH_REQUEST_TIMEOUT)",
    )
    p.add_argument(
        "--docs",
        action="store_true",
        help="serve the /docs and /redoc pages (they load scripts and fonts from public CDNs; "
        "off by default, or $AMIF_MATCH_DOCS=1)",
    )
    p.set_defaults(func=_cmd_serve)
    return parser


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}")
    return number


def _probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {value!r}"
        ) from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value!r}")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}")
    return number


# --------------------------------------------------------------------------- main


@contextmanager
def _cli_environment() -> Iterator[None]:
    """Offline model loading, no library progress bars, warnings as one stderr line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        print(f"amif-match: warning: {' '.join(str(message).split())}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _error(message: object) -> None:
    text = " ".join(str(message).split()) or "unknown error"
    print(f"amif-match: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises ``SystemExit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with _cli_environment():
        parser = _parser()
        try:
            args, rest = parser.parse_known_args(argv)
            if args.command == "evaluate":
                args.rest = rest
            elif rest:
                _error(
                    f"unrecognized arguments: {' '.join(rest)} "
                    f"(see amif-match {args.command} --help)"
                )
                return EXIT_USAGE
            args.json = getattr(args, "json", False)
        except SystemExit as exc:  # --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        try:
            return int(args.func(args))
        except UsageError as exc:
            _error(exc)
            return EXIT_USAGE
        except _PartnersUnavailable as exc:
            _error(exc)
            return EXIT_FAILURE
        except ImportError as exc:  # includes MissingDependencyError
            _error(exc)
            return EXIT_FAILURE
        except (ValueError, TypeError) as exc:
            # InputError and CorpusError are ValueErrors: the user's text, options or files.
            _error(exc)
            return EXIT_USAGE
        except BrokenPipeError:
            # `amif-match ... | head`: the reader went away; not an error.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, AttributeError, ValueError):
                pass
            return EXIT_OK
        except KeyboardInterrupt:
            print("amif-match: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # e.g. uvicorn when the port is taken
            return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
        except Exception as exc:  # runtime failure: one line, not a traceback
            ours = isinstance(exc, RuntimeError | OSError) and str(exc)
            _error(exc if ours else f"{exc} ({type(exc).__name__})" if str(exc) else repr(exc))
            if os.environ.get("AMIF_MATCH_DEBUG"):
                raise
            return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
