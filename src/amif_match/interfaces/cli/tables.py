"""Reading and writing the spreadsheets of ``amif-match classify``, safely.

Applicants' texts are untrusted, and the tables they travel in are opened in spreadsheet
programs. This module does the three things that makes necessary:

* :func:`read_delimited` parses CSV/TSV text strictly: every row must have the header's number
  of fields (trailing separators are tolerated), header names must be unique, and an error
  names the file, the line and the data row, so a stray separator can never shift columns;
* :func:`neutralise_frame` and :func:`write_xlsx` keep cells that start like a formula
  (``=`` ``+`` ``-`` ``@`` tab, CR) from being run by a spreadsheet (OWASP "CSV injection");
* :func:`atomic_output` writes a file through a temporary file in the same folder that replaces
  the target only when it is complete, and :func:`check_output_path` says before any work is
  done that the target cannot be written.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from amif_match.errors import AmifMatchError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "OutputPathError",
    "TableError",
    "atomic_output",
    "check_output_path",
    "check_xlsx_cells",
    "header_names",
    "is_formula_like",
    "neutralise_cell",
    "neutralise_frame",
    "read_delimited",
    "write_xlsx",
]

#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# A plain number such as "-42", "+358", "-1,5" or "-2.5e3" is read as a number, never as a
# formula, so it keeps its sign: escaping it would turn numbers into text for no gain.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")

# Control characters that the XLSX format cannot hold (as openpyxl's ILLEGAL_CHARACTERS_RE).
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class TableError(InputError):
    """A CSV/TSV/XLSX table cannot be read or written as it is; says where (file, line, row)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.row = row
        super().__init__(message)


class OutputPathError(AmifMatchError, ValueError):
    """The output file cannot be written (missing or read-only folder, a folder given, ...)."""


# --------------------------------------------------------------------------- reading


def header_names(header: Sequence[str], source: str) -> list[str]:
    """Column names from a header row: unique, and ``Unnamed: i`` for a blank one (as pandas).

    Raises :class:`TableError` for a header without names or with a name used twice; pandas
    would rename the second one ``text.1`` and a ``--column text`` would silently read only the
    first of the two columns.
    """
    if not any(str(name).strip() for name in header):
        raise TableError(f"{source}: the first row (the header) has no column names", file=source)
    seen: dict[str, int] = {}
    for position, name in enumerate(header, 1):
        if name == "":
            continue
        if name in seen:
            raise TableError(
                f"{source}: the header names two columns {name!r} (columns {seen[name]} and "
                f"{position}); rename one so that every column has its own name",
                file=source,
            )
        seen[name] = position
    return [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]


def read_delimited(text: str, sep: str, source: str) -> pd.DataFrame:
    """Parse CSV/TSV ``text`` (first row: header) into a frame of strings, strictly.

    Quoting follows RFC 4180 (``"`` quotes a value, ``""`` is a quote inside one). Every data
    row must have as many fields as the header: extra *empty* fields (a trailing separator) are
    dropped, anything else raises :class:`TableError` with the file, the line and the data row.
    A blank line is a row of empty cells. Never uses a column as the index.
    """
    import pandas as pd

    # csv's default field limit (128 KiB) is below the longest text classify accepts; no field
    # can be longer than the whole file, so that is a safe bound.
    if len(text) >= csv.field_size_limit():
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(
        io.StringIO(text), delimiter=sep, quotechar='"', doublequote=True, strict=True
    )
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in reader:
            records.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TableError(
            f"{source} line {start}: {exc}; a value in double quotes must end with a quote "
            "followed by the separator or the end of the line, and a quote inside it is "
            'written twice ("")',
            file=source,
            line=start,
            row=len(records) or None,
        ) from None
    if not records:
        raise TableError(f"{source} is empty", file=source)
    header = records[0][1]
    names = header_names(header, source)
    width = len(header)
    named = width
    while named and header[named - 1] == "":  # trailing separators after the last name
        named -= 1
    shown_sep = "tab" if sep == "\t" else repr(sep)
    rows: list[list[str]] = []
    for row, (line, fields) in enumerate(records[1:], 1):
        where = f"{source} line {line} (row {row})"
        if not fields:
            rows.append([""] * width)
            continue
        if len(fields) > width and any(value.strip() for value in fields[width:]):
            raise TableError(
                f"{where} has {len(fields)} fields but the header has {width}; a value that "
                f"contains the separator {shown_sep} must be in double quotes",
                file=source,
                line=line,
                row=row,
            )
        if len(fields) < named:
            raise TableError(
                f"{where} has {len(fields)} field{'s' if len(fields) != 1 else ''} but the "
                f"header has {named}; a value with a line break must be in double quotes, or a "
                f"separator ({shown_sep}) is missing",
                file=source,
                line=line,
                row=row,
            )
        rows.append((fields + [""] * width)[:width])
    return pd.DataFrame(rows, columns=names, dtype=str)


# --------------------------------------------------------------------------- neutralising


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet could run ``value`` as a formula (a text starting with a trigger)."""
    return (
        isinstance(value, str)
        and value[:1] in FORMULA_TRIGGERS
        and _PLAIN_NUMBER.fullmatch(value) is None
    )


def neutralise_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front if it is a formula-like text; anything else unchanged."""
    return "'" + value if is_formula_like(value) else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` safe to open as CSV in a spreadsheet: formula-like text cells and
    header names get a leading ``'`` (OWASP); numbers, booleans and plain-number texts such as
    ``-42`` are kept as they are."""
    safe = frame.map(neutralise_cell)
    safe.columns = [neutralise_cell(str(name)) for name in frame.columns]
    return safe


# --------------------------------------------------------------------------- XLSX


def _xlsx_value(value: Any) -> Any:
    """A value openpyxl stores as is: ``None`` for missing, Python scalars for numpy ones."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def check_xlsx_cells(frame: pd.DataFrame, source: str = "the table") -> None:
    """Raise :class:`TableError` naming the first cell that an .xlsx file cannot hold.

    XLSX has no way to store most ASCII control characters; checking before classifying saves
    a batch from failing at the very end.
    """
    for position, name in enumerate(frame.columns, 1):
        if isinstance(name, str) and _XLSX_ILLEGAL.search(name):
            raise TableError(f"{source}: column {position} has a name .xlsx cannot hold")
        column = frame.iloc[:, position - 1]
        for row, value in enumerate(column, 1):
            if isinstance(value, str) and (bad := _XLSX_ILLEGAL.search(value)):
                raise TableError(
                    f"{source} row {row}, column {name!r}: control character "
                    f"U+{ord(bad.group()):04X} cannot be stored in an .xlsx file; "
                    "write .csv or .json instead",
                    file=source,
                    row=row,
                )


def write_xlsx(frame: pd.DataFrame, handle: IO[bytes], *, quote_prefix: bool = True) -> None:
    """Write ``frame`` (header + rows, no index) as one sheet ``Sheet1`` to ``handle``.

    Every text cell is a text cell, never a formula (openpyxl, and pandas' ``to_excel``, store a
    text starting with ``=`` as a live formula). With ``quote_prefix``, formula-like texts also
    get Excel's quote-prefix flag, so that editing such a cell keeps it text; the value itself
    is unchanged.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    check_xlsx_cells(frame)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    bold = Font(bold=True)

    def cell(value: Any, *, header: bool = False) -> WriteOnlyCell:
        value = _xlsx_value(value)
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.data_type = "s"  # openpyxl made "=..." a formula ("f"); text is text
            if quote_prefix and is_formula_like(value):
                made.quotePrefix = True
        if header:
            made.font = bold
        return made

    sheet.append([cell(str(name), header=True) for name in frame.columns])
    for values in frame.itertuples(index=False, name=None):
        sheet.append([cell(value) for value in values])
    book.save(handle)


# --------------------------------------------------------------------------- atomic files


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty, hidden file next to the target, with the permissions of a new file.

    ``tempfile.mkstemp`` would create it 0600, and the renamed result would then be unreadable
    to the group and others where a plain ``open(..., "w")`` respects the umask.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows opening a folder."""
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputPathError` unless ``path`` can be written by :func:`atomic_output`.

    Creates and removes a temporary file in the target's folder: the only test that holds for
    read-only mounts, ACLs and full quotas alike.
    """
    given = Path(path)
    target = Path(os.path.realpath(given))
    shown_folder = str(given.parent) if str(given.parent) else "."
    if target.is_dir():
        raise OutputPathError(f"cannot write {given}: it is a folder; give a file name")
    if target.parent.exists() and not target.parent.is_dir():
        raise OutputPathError(f"cannot write {given}: {shown_folder} is a file, not a folder")
    if not target.parent.is_dir():
        raise OutputPathError(
            f"cannot write {given}: folder {shown_folder} does not exist; create it first"
        )
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"cannot write {given}: the file is read-only")
    try:
        fd, probe = _create_temp(target.parent, target.name)
    except OSError as exc:
        raise OutputPathError(
            f"cannot write {given}: folder {shown_folder} is not writable ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    with suppress(OSError):
        os.unlink(probe)


@contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, binary: bool = False, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` in one rename.

    If the body raises (disk full, interrupted, a bug), the temporary file is removed and an
    existing ``path`` is left exactly as it was. A replaced file keeps its permission bits; a
    symlink is followed, so its target is replaced rather than the link. Text mode writes with
    ``newline=""`` (the csv writers choose the line ends).
    """
    target = Path(os.path.realpath(path))
    fd, temp = _create_temp(target.parent, target.name)
    # open() owns fd from here: it closes it on its own errors and when the block ends.
    mode = {"mode": "wb"} if binary else {"mode": "w", "encoding": encoding, "newline": ""}
    try:
        with open(fd, **mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            shutil.copymode(target, temp)
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(target.parent)
