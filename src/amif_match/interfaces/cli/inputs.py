"""Reading proposals: texts, stdin, files, folders, CSV/TSV/XLSX tables; checked early.

Documents (.docx, .pdf, .odt, .txt, .md, .html) are read by :mod:`amif_match.text.documents`;
its errors, which name the file, become usage errors here.
"""

from __future__ import annotations

import argparse
import codecs
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amif_match.errors import DocumentError
from amif_match.interfaces.cli.common import UsageError
from amif_match.text.documents import (
    DOCUMENT_SUFFIXES,
    UNSUPPORTED_SUFFIXES,
    decode_text,
    read_document,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: Files read as one proposal each (a folder argument picks these up): documents and text.
TEXT_SUFFIXES = DOCUMENT_SUFFIXES


#: Spreadsheet-like files: one proposal per row, in the ``--column`` column.
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm")


@dataclass
class Inputs:
    """What ``classify`` was given: texts with ids, plus the table for a CSV/XLSX input."""

    ids: list[Any]
    texts: list[str]
    single: bool = False
    frame: pd.DataFrame | None = None
    source: str = ""
    sep: str = ","
    bom: bool = False  # the CSV input began with a UTF-8 byte-order mark: keep it on output
    skipped: dict[int, str] = field(default_factory=dict)  # position -> error (--skip-invalid)


def read_text_file(path: Path, encoding: str) -> str:
    """The text of one input file: a document by its type (.docx, .pdf, .txt, ...; see
    :func:`~amif_match.text.documents.read_document`), any other file as text."""
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES and suffix not in UNSUPPORTED_SUFFIXES:
        return decode_file(path, encoding)[0]
    check_encoding(encoding)
    try:
        return read_document(path, encoding=encoding)
    except DocumentError as exc:
        raise usage_error(exc) from None


def usage_error(exc: DocumentError) -> UsageError:
    """A document's error for the command line; an undecodable text names ``--encoding``."""
    hint = " or pass --encoding" if isinstance(exc.__cause__, UnicodeDecodeError) else ""
    return UsageError(f"{exc}{hint}")


def check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown --encoding {encoding!r}") from None


def decode_file(path: Path, encoding: str) -> tuple[str, bool]:
    """The text of ``path`` (universal newlines, no BOM) and whether it began with a UTF-8 BOM."""
    check_encoding(encoding)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return decode_text(data, str(path), encoding), data.startswith(codecs.BOM_UTF8)
    except DocumentError as exc:
        raise usage_error(exc) from None


def read_stdin(encoding: str) -> str:
    """Standard input, decoded with ``encoding``."""
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


def is_path(arg: str) -> Path | None:
    """The path ``arg`` names if it exists; raises for a missing file that looks like one."""
    if "\n" in arg or len(arg) > 4096:
        return None
    path = Path(arg).expanduser()
    try:
        if path.exists():
            return path
    except OSError:
        return None
    known = (*TEXT_SUFFIXES, *TABLE_SUFFIXES, *UNSUPPORTED_SUFFIXES)
    if " " not in arg.strip() and path.suffix.lower() in known:
        raise UsageError(f"no such file: {arg}")
    return None


def sniff_separator(text: str, suffix: str) -> str:
    """The CSV separator: tab for .tsv, else the most frequent of , ; tab in the header."""
    if suffix == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def separator_option(value: str | None) -> str | None:
    """``--sep``: one character; ``\\t`` and ``tab`` mean a tab (shells do not expand ``\\t``)."""
    if value is None:
        return None
    value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
    if len(value) != 1:
        raise UsageError(f"--sep must be one character (or \\t for tab), got {value!r}")
    return value


def read_table(path: Path, args: argparse.Namespace) -> tuple[pd.DataFrame, str, bool]:
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
        text, bom = decode_file(path, args.encoding)
        sep = separator_option(args.sep) or sniff_separator(text, suffix)
        # Strict: a row with a field too many or too few is an error naming its line, never a
        # silent shift of columns. Blank lines are rows (an empty cell in a one-column file);
        # only trailing ones go.
        frame = read_delimited(text, sep, path.name)
    blank = (frame.fillna("").astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1)
    end = len(frame)
    while end and blank.iloc[end - 1]:
        end -= 1
    return frame.iloc[:end].reset_index(drop=True), sep, bom


def require_column(frame: pd.DataFrame, column: str, source: str, option: str) -> None:
    """Raise a :class:`UsageError` naming close matches when ``column`` is missing."""
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


def gather_inputs(args: argparse.Namespace) -> Inputs:
    """Every proposal the ``classify`` arguments name, with ids, in order."""
    raw = list(args.inputs)
    if not raw:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError('give a text, a file, a folder, or "-" to read standard input')
        raw = ["-"]
    paths = [(arg, None if arg == "-" else is_path(arg)) for arg in raw]
    tables = [p for _, p in paths if p is not None and p.suffix.lower() in TABLE_SUFFIXES]
    if tables:
        if len(raw) > 1:
            raise UsageError("a .csv/.tsv/.xlsx input must be the only INPUT")
        if args.lines:
            raise UsageError("--lines does not apply to a .csv/.tsv/.xlsx input")
        path = tables[0]
        frame, sep, bom = read_table(path, args)
        require_column(frame, args.column, path.name, "--column")
        if args.id_column is not None:
            require_column(frame, args.id_column, path.name, "--id-column")
        if frame.empty:
            raise UsageError(f"{path.name} has no data rows")
        ids = (
            list(frame[args.id_column])
            if args.id_column is not None
            else list(range(1, len(frame) + 1))
        )
        return Inputs(
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
            return read_text_file(file, args.encoding), None
        except UsageError as exc:
            if not batch:
                raise
            if not args.skip_invalid:
                raise UsageError(f"{exc} (use --skip-invalid to keep going)") from None
            return "", str(exc)

    for position, (arg, path) in enumerate(paths, 1):
        items: list[tuple[str, str, str | None]]  # (id, text, why it cannot be read)
        if arg == "-":
            items = [("-", read_stdin(args.encoding), None)]
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
    return Inputs(ids=ids, texts=texts, single=single, source="input", skipped=skipped)


def validate_inputs(inputs: Inputs, args: argparse.Namespace) -> None:
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


def single_text(args: argparse.Namespace) -> str:
    """The one proposal a ``partners``/``activities`` command works on."""
    arg = args.input
    if arg is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError('give a text, a file, or "-" to read standard input')
        arg = "-"
    if arg == "-":
        return read_stdin(args.encoding)
    path = is_path(arg)
    if path is None:
        return arg
    if path.is_dir() or path.suffix.lower() in TABLE_SUFFIXES:
        raise UsageError(
            f"{arg}: give one proposal (a text or a document); use classify for batches"
        )
    return read_text_file(path, args.encoding)
