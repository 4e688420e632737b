"""The programme corpus: objectives, activity catalogue, target groups, organisations, projects.

All of it is plain CSV in ``corpus/`` (documented in ``corpus/README.md``), validated on load.
Every problem is reported as a :class:`~amif_match.errors.CorpusError` naming the file, the data
row (1-based; the CSV line is one more because of the header) and the column. Nothing is
silently dropped: unknown extra columns are kept as they are.

Users extend the corpus without touching code::

    from amif_match.corpus import Corpus
    corpus = Corpus.default().add(projects="our_projects.csv", organisations="our_orgs.csv")
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from amif_match.errors import CorpusError

__all__ = [
    "OBJECTIVES",
    "ORG_TYPES",
    "Corpus",
    "load_organisations",
    "load_projects",
]

OBJECTIVES = ("SO1", "SO2", "SO3", "SO4")
ORG_TYPES = (
    "state_authority",
    "municipality",
    "regional_authority",
    "ngo",
    "foundation",
    "education",
    "church",
    "company",
    "international_organisation",
    "research_institute",
    "other",
)
LAYERS = ("activity_type", "intervention_field", "national_action")
TG_KINDS = ("beneficiary", "intermediary")
FUNDS = ("ISF", "BMVI", "ERDF", "ESF+", "EAFRD", "EMFAF", "Horizon", "other")
LANGS = ("fi", "sv", "en")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Column:
    """One column of a corpus file.

    ``kind`` is how the cell is parsed: ``str``, ``id``, ``list`` (``;``-separated), ``bool``,
    ``number``, ``date`` (YYYY, YYYY-MM or YYYY-MM-DD), or ``choice``/``choices`` (one/several of
    ``allowed``).
    """

    name: str
    kind: str = "str"
    required: bool = False
    allowed: tuple[str, ...] = ()


def _lang_columns(*stems: str, required: tuple[str, ...] = ("fi", "en")) -> list[Column]:
    return [Column(f"{stem}_{lang}", required=lang in required) for stem in stems for lang in LANGS]


SCHEMAS: dict[str, list[Column]] = {
    "objectives": [
        Column("code", "choice", True, OBJECTIVES),
        *_lang_columns("name", "description"),
        Column("source", "list", True),
    ],
    "activities": [
        Column("code", "id", True),
        Column("layer", "choice", True, LAYERS),
        Column("objectives", "choices", True, OBJECTIVES),
        *_lang_columns("name", "description"),
        Column("to_check", "bool"),
        Column("source", "list", True),
    ],
    "target_groups": [
        Column("code", "id", True),
        Column("kind", "choice", True, TG_KINDS),
        *_lang_columns("term"),
        *[Column(f"synonyms_{lang}", "list") for lang in LANGS],
        *_lang_columns("definition"),
        Column("objectives", "choices", False, OBJECTIVES),
        Column("source", "list", True),
    ],
    "organisations": [
        Column("id", "id", True),
        Column("name", required=True),
        Column("aliases", "list"),
        Column("type", "choice", True, ORG_TYPES),
        Column("type_original"),
        Column("city"),
        Column("region"),
        Column("source_url", "list"),
    ],
    "projects": [
        Column("id", "id", True),
        Column("name", required=True),
        Column("acronym"),
        Column("lead"),
        Column("partners", "list"),
        Column("period"),
        Column("call"),
        Column("objective", "choice", True, OBJECTIVES),
        Column("objective_original"),
        Column("objective_inferred", "bool"),
        Column("target_groups", "list"),
        Column("target_groups_original"),
        Column("activities", "list"),
        Column("region"),
        Column("eu_funding_eur", "number"),
        Column("total_cost_eur", "number"),
        Column("start", "date"),
        Column("end", "date"),
        Column("status"),
        Column("summary_en"),
        Column("description_fi"),
        # For user rows written in any language (e.g. Swedish); the bundled file leaves it empty.
        Column("description"),
        Column("inferred", "bool"),
        Column("inferred_notes"),
        Column("source_url", "list"),
    ],
    "out_of_scope": [
        Column("id", "id", True),
        Column("language", "choice", True, LANGS),
        Column("text", required=True),
        Column("resembles", "choice", True, FUNDS),
        Column("note"),
    ],
}
TEXT_COLUMNS = ("description_fi", "description", "summary_en")

FILES = {
    "objectives": "objectives.csv",
    "activities": "activities.csv",
    "target_groups": "target_groups.csv",
    "organisations": "organisations.csv",
    "projects": "projects.csv",
    "out_of_scope": "out_of_scope.csv",
}


# --------------------------------------------------------------------------- parsing


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


def _validate_table(
    source: str | os.PathLike[str] | pd.DataFrame, kind: str, *, id_column: str
) -> pd.DataFrame:
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
    frame = _validate_table(source, "organisations", id_column="id")
    _check_org_names(frame.iloc[:0], frame)
    return frame


def load_projects(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Load and validate a projects CSV (schema in ``corpus/README.md``).

    Organisation references are checked later, against a registry, by :class:`Corpus`.
    """
    frame = _validate_table(source, "projects", id_column="id")
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


def _norm_key(name: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


# --------------------------------------------------------------------------- corpus


class Corpus:
    """Everything amif_match knows about the programme, as validated pandas DataFrames.

    Attributes:
        objectives: The four specific objectives with fi/sv/en names and descriptions.
        activities: The activity catalogue (activity types, EU intervention fields, Finnish
            national actions), one row per item.
        target_groups: The controlled target-group vocabulary.
        organisations: The organisation registry (``id``, ``name``, ``aliases``, ``type``, ...).
        projects: Past projects with organisation ids, objective, target groups and texts.
        out_of_scope: Non-AMIF proposal texts used to train and test the scope check.

    Use :meth:`default` for the bundled data, :meth:`from_dir` for a folder of the same files,
    and :meth:`add` to extend a corpus with your own projects and organisations.
    """

    def __init__(
        self,
        *,
        objectives: pd.DataFrame,
        activities: pd.DataFrame,
        target_groups: pd.DataFrame,
        organisations: pd.DataFrame,
        projects: pd.DataFrame,
        out_of_scope: pd.DataFrame | None = None,
    ) -> None:
        self.objectives = objectives.reset_index(drop=True)
        self.activities = activities.reset_index(drop=True)
        self.target_groups = target_groups.reset_index(drop=True)
        self.organisations = organisations.reset_index(drop=True)
        self.projects = projects.reset_index(drop=True)
        self.out_of_scope = (
            out_of_scope.reset_index(drop=True)
            if out_of_scope is not None
            else pd.DataFrame(columns=[c.name for c in SCHEMAS["out_of_scope"]])
        )
        self._check_references()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_dir(cls, folder: str | os.PathLike[str]) -> Corpus:
        """Load a corpus folder holding the six files named in ``corpus/README.md``.

        ``out_of_scope.csv`` is optional; the other five are required.
        """
        folder = Path(folder)
        tables: dict[str, pd.DataFrame] = {}
        for kind, filename in FILES.items():
            path = folder / filename
            if kind == "out_of_scope" and not path.exists():
                continue
            id_column = "code" if kind in ("objectives", "activities", "target_groups") else "id"
            if kind == "projects":
                tables[kind] = load_projects(path)
            elif kind == "organisations":
                tables[kind] = load_organisations(path)
            else:
                tables[kind] = _validate_table(path, kind, id_column=id_column)
        return cls(**tables)

    @classmethod
    def default(cls) -> Corpus:
        """The corpus bundled with the package (cached; treat it as read-only)."""
        return _default_corpus()

    def add(
        self,
        *,
        projects: str | os.PathLike[str] | pd.DataFrame | None = None,
        organisations: str | os.PathLike[str] | pd.DataFrame | None = None,
    ) -> Corpus:
        """Return a new corpus with extra projects and/or organisations.

        The files use the same columns as the bundled ones (only ``id``, ``name``,
        ``objective`` and one text column are required for a project; ``id``, ``name`` and
        ``type`` for an organisation). In a project's ``lead`` and ``partners`` you may write an
        organisation id, its name or one of its aliases; names are resolved to ids. Ids must not
        clash with existing ones.
        """
        orgs = self.organisations
        if organisations is not None:
            extra_orgs = load_organisations(organisations)
            _no_clash(orgs, extra_orgs, "id", "organisation")
            _check_org_names(orgs, extra_orgs)
            orgs = pd.concat([orgs, extra_orgs], ignore_index=True)
        projs = self.projects
        if projects is not None:
            extra = load_projects(projects)
            _no_clash(projs, extra, "id", "project")
            extra = _resolve_org_columns(extra, orgs)
            # Checked before concatenation so errors name the user's file and row.
            _check_project_references(extra, orgs, self.target_groups, self.activities)
            projs = pd.concat([projs, extra], ignore_index=True)
        return Corpus(
            objectives=self.objectives,
            activities=self.activities,
            target_groups=self.target_groups,
            organisations=orgs,
            projects=projs,
            out_of_scope=self.out_of_scope,
        )

    # -- validation across files ---------------------------------------------------------

    def _check_references(self) -> None:
        _check_project_references(
            self.projects, self.organisations, self.target_groups, self.activities
        )

    # -- look-ups ------------------------------------------------------------------------

    def resolve_organisation(self, name_or_id: str) -> str | None:
        """Return the id of an organisation given its id, name or an alias (case-insensitive).

        Returns ``None`` for an unknown organisation.
        """
        return _org_index(self.organisations).get(_norm_key(name_or_id))

    def organisation(self, org_id: str) -> dict[str, Any]:
        """One organisation as a dict (raises ``KeyError`` for an unknown id)."""
        match = self.organisations[self.organisations["id"] == org_id]
        if match.empty:
            raise KeyError(org_id)
        return match.iloc[0].to_dict()

    def project_texts(self, language: str | None = None) -> pd.Series:
        """One text per project, indexed by project id.

        With ``language="fi"`` the Finnish description, with ``"en"`` the English summary, each
        falling back to whatever text the project has. ``None`` prefers Finnish.
        """
        order = {
            "en": ("summary_en", "description", "description_fi"),
            "fi": ("description_fi", "description", "summary_en"),
        }.get(language or "fi", ("description", "description_fi", "summary_en"))
        texts = []
        for row in self.projects.to_dict("records"):
            text = next((row[c] for c in order if row.get(c)), "")
            texts.append(f"{row['name']}. {text}" if text else row["name"])
        return pd.Series(texts, index=self.projects["id"], name="text")

    def text(self, table: str, code: str, field: str, language: str = "en") -> str:
        """A localised field (``name``, ``description``, ``term``, ``definition``) of a row.

        Falls back to English, then Finnish, when the language has no text.
        """
        frame = getattr(self, table)
        key = "code" if "code" in frame.columns else "id"
        row = frame[frame[key] == code]
        if row.empty:
            raise KeyError(f"{table} has no {key} {code!r}")
        record = row.iloc[0]
        for lang in (language, "en", "fi"):
            value = record.get(f"{field}_{lang}")
            if isinstance(value, str) and value:
                return value
        return str(code)

    @property
    def fingerprint(self) -> str:
        """Content hash of every table; changes whenever any data changes (cache key)."""
        digest = hashlib.sha256()
        for name in ("objectives", "activities", "target_groups", "organisations", "projects"):
            digest.update(name.encode())
            digest.update(getattr(self, name).to_json(orient="values").encode())
        return digest.hexdigest()[:16]

    def summary(self) -> pd.DataFrame:
        """Row counts of each table."""
        return pd.DataFrame(
            {
                "table": list(FILES),
                "rows": [len(getattr(self, name)) for name in FILES],
            }
        )

    def __repr__(self) -> str:
        return (
            f"Corpus({len(self.projects)} projects, {len(self.organisations)} organisations, "
            f"{len(self.activities)} activities, {len(self.target_groups)} target groups)"
        )


def _check_project_references(
    projects: pd.DataFrame,
    organisations: pd.DataFrame,
    target_groups: pd.DataFrame,
    activities: pd.DataFrame,
) -> None:
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


def _no_clash(old: pd.DataFrame, new: pd.DataFrame, column: str, what: str) -> None:
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
    return [(_norm_key(value), column, value) for column, value in pairs if _norm_key(value)]


def _check_org_names(existing: pd.DataFrame, new: pd.DataFrame) -> None:
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


def _org_index(organisations: pd.DataFrame) -> dict[str, str]:
    index: dict[str, str] = {}
    for row in organisations.itertuples(index=False):
        for key in (row.id, row.name, *row.aliases):
            index.setdefault(_norm_key(key), row.id)
    return index


def _resolve_org_columns(projects: pd.DataFrame, organisations: pd.DataFrame) -> pd.DataFrame:
    """Map names/aliases in ``lead``/``partners`` to organisation ids; unknown ones stay as given
    (and fail the reference check with a clear message)."""
    index = _org_index(organisations)

    def resolve(value: str) -> str:
        return index.get(_norm_key(value), value)

    out = projects.copy()
    out["lead"] = [resolve(v) if v else v for v in out["lead"]]
    out["partners"] = [[resolve(v) for v in values] for values in out["partners"]]
    return out


@cache
def _default_corpus() -> Corpus:
    from amif_match._resources import bundled_path

    return Corpus.from_dir(bundled_path("corpus"))
