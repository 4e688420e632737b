"""Parsing and validation of corpus files against :data:`~amif_match.corpus.schemas.SCHEMAS`.

Every problem is reported as a :class:`~amif_match.errors.CorpusError` naming the file, the data
row (1-based; the CSV line is one more because of the header) and the column. Nothing is
silently dropped: unknown extra columns are kept as they are. The checks across files (project
references, organisation names) are here too, so that :class:`~amif_match.corpus.loader.Corpus`
only assembles tables.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from amif_match.corpus.schemas import COUNTRIES, SCHEMAS, TEXT_COLUMNS, Column
from amif_match.errors import CorpusError

__all__ = [
    "check_no_clash",
    "check_org_names",
    "check_project_references",
    "load_organisations",
    "load_out_of_scope",
    "load_projects",
    "norm_key",
    "org_lookup",
    "resolve_org_columns",
    "validate_table",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _read_csv(
    source: str | os.PathLike[str] | pd.DataFrame, label: str
) -> tuple[pd.DataFrame, str]:
    """Read a CSV (or take a DataFrame) as strings; returns ``(frame, file label)``."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        return frame.astype(object).where(frame.notna(), "").astype(str), f"<{label} DataFrame>"
    path = Path(source)
    if not path.is_file():
        raise CorpusError(f"{label} file not found", file=str(path))
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _decode_error(data, exc, str(path)) from exc
    try:
        frame = pd.read_csv(
            io.StringIO(raw), dtype=str, keep_default_na=False, skipinitialspace=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CorpusError(f"not a readable CSV file: {exc}", file=str(path)) from exc
    return frame, str(path)


def _decode_error(data: bytes, exc: UnicodeDecodeError, label: str) -> CorpusError:
    """A :class:`CorpusError` locating the first undecodable byte by data row and column."""
    # Decoding with surrogateescape keeps every bad byte as one lone surrogate, so the csv
    # module (which honours quoted line breaks, unlike counting lines) can say which cell
    # holds it.
    text = data.decode("utf-8-sig", errors="surrogateescape")
    bad = re.compile("[\udc80-\udcff]")
    row: int | None = None
    column: str | None = None
    where = ""
    header: list[str] = []
    # pandas skips blank lines, so they do not count as rows here either.
    records = (r for r in csv.reader(io.StringIO(text, newline="")) if r)
    for index, record in enumerate(records):
        if index == 0:
            header = record
        hit = next((i for i, cell in enumerate(record) if bad.search(cell)), None)
        if hit is None:
            continue
        if index == 0:
            where = f" in the header (column {hit + 1})"
        else:
            row = index
            column = header[hit] if hit < len(header) else f"#{hit + 1}"
        break
    byte = data[exc.start : exc.start + 1].hex()
    return CorpusError(
        f"not UTF-8 text: byte 0x{byte} at offset {exc.start} cannot be decoded{where} "
        "(save the file as UTF-8, e.g. 'CSV UTF-8' in Excel)",
        file=label,
        row=row,
        column=column,
    )


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _parse_cell(col: Column, value: str, fail: Callable[[str], CorpusError]) -> Any:
    value = value.strip()
    if not value:
        if col.required:
            raise fail("required value is missing")
        if col.kind in ("list", "choices"):
            return []
        return {"bool": False, "number": float("nan")}.get(col.kind, "")
    if col.kind == "str":
        return value
    if col.kind == "id":
        if not _ID.match(value):
            raise fail(f"{value!r} is not a valid id (letters, digits and _ . : / - only)")
        return value
    if col.kind == "list":
        return _split_list(value)
    if col.kind in ("choice", "choices"):
        items = _split_list(value) if col.kind == "choices" else [value]
        for item in items:
            if item not in col.allowed:
                hint = difflib.get_close_matches(item, col.allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise fail(
                    f"unknown value {item!r} (allowed: {', '.join(col.allowed)}){suggestion}"
                )
        return items if col.kind == "choices" else value
    if col.kind == "country":
        code = value.upper()
        if value != code or (code not in COUNTRIES and code not in col.allowed):
            extra = "; EU for a Union action" if "EU" in col.allowed else ""
            raise fail(
                f"{value!r} is not an ISO 3166-1 alpha-2 country code in capitals "
                f"(e.g. FI, SE, DE, GR{extra})"
            )
        return code
    if col.kind == "bool":
        lowered = value.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise fail(f"{value!r} is not a boolean (use true or false)")
    if col.kind == "number":
        try:
            return float(value.replace(" ", "").replace("\u00a0", ""))
        except ValueError:
            raise fail(f"{value!r} is not a number (use a dot for decimals)") from None
    if col.kind == "date":
        if not _DATE.match(value):
            raise fail(f"{value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")
        return value
    raise AssertionError(col.kind)  # pragma: no cover


def validate_table(
    source: str | os.PathLike[str] | pd.DataFrame, kind: str, *, id_column: str
) -> pd.DataFrame:
    """Read ``source`` and check it against ``SCHEMAS[kind]``: parsed cells, unique ids."""
    frame, label = _read_csv(source, kind)
    schema = SCHEMAS[kind]
    names = {c.name for c in schema}
    missing = [c.name for c in schema if c.required and c.name not in frame.columns]
    if missing and len(frame.columns) == 1:
        header = str(frame.columns[0])
        separator = next((s for s in (";", "\t") if s in header), None)
        if separator is not None:
            shown = "';'" if separator == ";" else "tabs"
            raise CorpusError(
                f"the file has one column {header[:60]!r}: it looks separated by {shown}, "
                "but corpus files must be comma-separated (save as 'CSV UTF-8 (comma "
                "delimited)'; ';' is only the separator of lists inside a cell)",
                file=label,
            )
    if missing:
        raise CorpusError(
            f"missing required column(s) {', '.join(missing)}; expected columns: "
            f"{', '.join(c.name for c in schema)}",
            file=label,
        )
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise CorpusError(f"duplicate column(s) {', '.join(duplicated)}", file=label)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(frame.to_dict("records"), start=1):
        parsed: dict[str, Any] = {}
        for col in schema:

            def fail(msg: str, _col: str = col.name, _row: int = index) -> CorpusError:
                return CorpusError(msg, file=label, row=_row, column=_col)

            parsed[col.name] = _parse_cell(col, str(record.get(col.name, "")), fail)
        # Keep columns the schema does not know, unchanged.
        parsed.update({k: v for k, v in record.items() if k not in names})
        key = parsed[id_column]
        if key in seen:
            raise CorpusError(
                f"duplicate id {key!r} (first seen in row {seen[key]})",
                file=label,
                row=index,
                column=id_column,
            )
        seen[key] = index
        rows.append(parsed)
    columns = [c.name for c in schema] + [c for c in frame.columns if c not in names]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["source"] = label
    return out


def load_organisations(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Load and validate an organisations CSV (schema in ``corpus/README.md``).

    Two organisations of the file may not share a name or alias (compared case-insensitively,
    ignoring punctuation, as look-ups are): a reference by that name would be ambiguous.
    """
    frame = validate_table(source, "organisations", id_column="id")
    check_org_names(frame.iloc[:0], frame)
    return frame


def load_projects(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Load and validate a projects CSV (schema in ``corpus/README.md``).

    Organisation references are checked later, against a registry, by :class:`Corpus`.
    """
    frame = validate_table(source, "projects", id_column="id")
    label = frame.attrs["source"]
    for index, row in enumerate(frame.itertuples(index=False), start=1):
        if not any(str(getattr(row, c) or "").strip() for c in TEXT_COLUMNS):
            raise CorpusError(
                f"a project needs a text: fill one of {', '.join(TEXT_COLUMNS)}",
                file=label,
                row=index,
                column="description_fi",
            )
    return frame


def load_out_of_scope(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Load and validate an out-of-scope CSV (schema in ``corpus/README.md``).

    A row with a ``name`` describes a real project of another fund, so it must say where its
    facts come from (``source_url``) and whether its subject is migration-related
    (``migration_related`` filled in, not left to default to false). Invented examples leave
    ``name`` empty and need neither.
    """
    frame = validate_table(source, "out_of_scope", id_column="id")
    label = frame.attrs["source"]
    # Re-read the raw cells: a blank boolean parses as false, and here blank must fail.
    raw, _ = _read_csv(source, "out_of_scope")
    flags = raw["migration_related"] if "migration_related" in raw.columns else None
    for index, row in enumerate(frame.itertuples(index=False), start=1):
        if not str(row.name or "").strip():
            continue
        if not row.source_url:
            raise CorpusError(
                "a real project (a row with a name) needs its sources: fill source_url "
                "(';'-separated addresses)",
                file=label,
                row=index,
                column="source_url",
            )
        if flags is None or not str(flags.iloc[index - 1]).strip():
            raise CorpusError(
                "a real project (a row with a name) must say whether it is migration-related: "
                "fill migration_related with true or false",
                file=label,
                row=index,
                column="migration_related",
            )
    return frame


def norm_key(name: str) -> str:
    """The look-up key of an organisation name: case-folded, punctuation as single spaces."""
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def check_project_references(
    projects: pd.DataFrame,
    organisations: pd.DataFrame,
    target_groups: pd.DataFrame,
    activities: pd.DataFrame,
) -> None:
    """Fail on the first unknown organisation, target group or activity a project names."""
    label = projects.attrs.get("source", "projects.csv")
    checks: list[tuple[str, set[str], str]] = [
        ("lead", set(organisations["id"]), "organisation"),
        ("partners", set(organisations["id"]), "organisation"),
        ("target_groups", set(target_groups["code"]), "target-group code"),
        ("activities", set(activities["code"]), "activity code"),
    ]
    for index, row in enumerate(projects.to_dict("records"), start=1):
        for column, known, what in checks:
            value = row.get(column)
            values = value if isinstance(value, list) else ([value] if value else [])
            for item in values:
                if item not in known:
                    hint = difflib.get_close_matches(item, sorted(known), n=1)
                    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                    extra = (
                        " (give an organisation id, name or alias, or add it to an "
                        "organisations file)"
                        if what == "organisation"
                        else ""
                    )
                    raise CorpusError(
                        f"unknown {what} {item!r}{suggestion}{extra}",
                        file=label,
                        row=index,
                        column=column,
                    )


def check_no_clash(old: pd.DataFrame, new: pd.DataFrame, column: str, what: str) -> None:
    """Fail when an id in ``new[column]`` is already in ``old[column]`` (names ``new``'s row)."""
    clash = sorted(set(old[column]) & set(new[column]))
    if clash:
        row = int(new.index[new[column] == clash[0]][0]) + 1
        raise CorpusError(
            f"{what} id {clash[0]!r} already exists in the corpus"
            + (f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""),
            file=new.attrs.get("source"),
            row=row,
            column=column,
        )


def _org_keys(row: Any) -> list[tuple[str, str, str]]:
    """``(look-up key, column, value)`` for an organisation's id, name and aliases."""
    pairs = [("id", row.id), ("name", row.name), *(("aliases", a) for a in row.aliases)]
    return [(norm_key(value), column, value) for column, value in pairs if norm_key(value)]


def check_org_names(existing: pd.DataFrame, new: pd.DataFrame) -> None:
    """Fail when a new organisation's name or alias is already another organisation's.

    Names and aliases are how projects refer to organisations, and a look-up takes the first
    match, so a clash would silently attach projects to the wrong organisation. Ids are in the
    same key space because references may also be ids.
    """
    owners: dict[str, tuple[str, str, str, int | None]] = {}  # key -> (id, column, value, row)
    for row in existing.itertuples(index=False):
        for key, column, value in _org_keys(row):
            owners.setdefault(key, (row.id, column, value, None))
    label = new.attrs.get("source")
    for index, row in enumerate(new.itertuples(index=False), start=1):
        for key, column, value in _org_keys(row):
            owner = owners.get(key)
            if owner is not None and owner[0] != row.id:
                other_id, other_column, other_value, other_row = owner
                place = f"row {other_row} of this file" if other_row else "the corpus"
                what = {"id": "id", "name": "name", "aliases": "alias"}
                raise CorpusError(
                    f"organisation {row.id!r} has the {what[column]} {value!r}, which is already "
                    f"the {what[other_column]} {other_value!r} of organisation {other_id!r} "
                    f"({place}); names and aliases must identify one organisation "
                    "(compared case-insensitively)",
                    file=label,
                    row=index,
                    column=column,
                )
            owners.setdefault(key, (row.id, column, value, index))


def org_lookup(organisations: pd.DataFrame) -> dict[str, str]:
    """Look-up key (:func:`norm_key`) of every id, name and alias -> organisation id."""
    index: dict[str, str] = {}
    for row in organisations.itertuples(index=False):
        for key in (row.id, row.name, *row.aliases):
            index.setdefault(norm_key(key), row.id)
    return index


def resolve_org_columns(projects: pd.DataFrame, organisations: pd.DataFrame) -> pd.DataFrame:
    """Map names/aliases in ``lead``/``partners`` to organisation ids; unknown ones stay as given
    (and fail the reference check with a clear message)."""
    index = org_lookup(organisations)

    def resolve(value: str) -> str:
        return index.get(norm_key(value), value)

    out = projects.copy()
    out["lead"] = [resolve(v) if v else v for v in out["lead"]]
    out["partners"] = [[resolve(v) for v in values] for values in out["partners"]]
    return out
