"""A correction as a record, and the checks every correction passes before it is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amif_match.errors import FeedbackError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.corpus import Corpus

__all__ = [
    "CSV_COLUMNS",
    "MAX_NOTE_CHARS",
    "MAX_REVIEWER_CHARS",
    "FeedbackRecord",
    "ImportResult",
    "Vocabulary",
    "parse_codes",
    "place",
    "short_text",
]

#: Longest note and reviewer name, in characters.
MAX_NOTE_CHARS = 2000
MAX_REVIEWER_CHARS = 200


@dataclass(frozen=True)
class FeedbackRecord:
    """One stored confirmation or correction of a result.

    Attributes:
        id: Row number in the store (``0`` for a record not stored yet).
        time: When it was recorded, UTC, ISO 8601.
        text: The proposal text the officer judged.
        text_sha256: SHA-256 of ``text`` (UTF-8), to find the same text again.
        objective: The right specific objective (``SO1`` ... ``SO4``).
        target_groups: The right target-group codes (empty: not given).
        activities: The right catalogue activity codes (empty: not given).
        predicted: The objective the model gave, when known (``objective == predicted`` is a
            confirmation).
        note: Free text.
        reviewer: Who recorded it (optional).
        model_version: The amif_match version that made the prediction.
        embedder: The embedder's name.
    """

    id: int
    time: str
    text: str
    text_sha256: str
    objective: str
    target_groups: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    predicted: str | None = None
    note: str = ""
    reviewer: str | None = None
    model_version: str = ""
    embedder: str = ""

    @property
    def is_correction(self) -> bool:
        """Whether the officer changed the objective the model predicted."""
        return self.predicted is not None and self.predicted != self.objective

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples."""
        out = asdict(self)
        out["target_groups"] = list(self.target_groups)
        out["activities"] = list(self.activities)
        return out


#: Columns of an exported CSV file, in order (``id`` is the exporting store's own number).
CSV_COLUMNS = tuple(f.name for f in fields(FeedbackRecord))


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`FeedbackStore.import_csv` did: rows ``added`` and ``duplicates`` skipped."""

    added: int
    duplicates: int


class Vocabulary:
    """The codes a correction may use, from a corpus (loaded on first use)."""

    def __init__(self, corpus: Corpus | None = None) -> None:
        self._corpus = corpus
        self._codes: dict[str, tuple[str, ...]] | None = None

    def codes(self, column: str) -> tuple[str, ...]:
        if self._codes is None:
            from amif_match.corpus import OBJECTIVES, Corpus

            corpus = self._corpus if self._corpus is not None else Corpus.default()
            self._codes = {
                "objective": tuple(OBJECTIVES),
                "target_groups": tuple(corpus.target_groups["code"]),
                "activities": tuple(corpus.activities["code"]),
            }
        return self._codes[column]

    def check(self, column: str, values: Sequence[str], *, where: dict[str, Any]) -> tuple:
        """``values`` as the corpus spells them (case-insensitively matched), or an error."""
        known = {c.casefold(): c for c in self.codes(column)}
        out = []
        for value in values:
            code = known.get(str(value).strip().casefold())
            if code is None:
                allowed = self.codes(column)
                shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
                hint = "" if column == "objective" else " (amif-match catalogue lists them)"
                raise FeedbackError(
                    f"{str(value)[:60]!r} is not a known {column.rstrip('s').replace('_', ' ')} "
                    f"code; expected one of {shown}{hint}",
                    column=where.get("column", column),
                    file=where.get("file"),
                    row=where.get("row"),
                )
            if code not in out:
                out.append(code)
        return tuple(out)

    def record(
        self,
        text: Any,
        *,
        objective: Any,
        target_groups: str | Iterable[str] | None = None,
        activities: str | Iterable[str] | None = None,
        predicted: str | None = None,
        note: str | None = None,
        reviewer: str | None = None,
        model_version: str | None = None,
        embedder: str | None = None,
        time: str | None = None,
        where: dict[str, Any] | None = None,
    ) -> FeedbackRecord:
        """A checked, not yet stored :class:`FeedbackRecord` (``id`` 0); raises
        :class:`~amif_match.errors.FeedbackError` (a ``ValueError``) naming the field."""
        from amif_match._version import __version__
        from amif_match.text import normalise

        where = where or {}
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        try:
            normalise(text)  # the same checks as every text: not empty, not too long, words
        except InputError as exc:
            raise FeedbackError(str(exc), column="text", **place(where)) from None
        if objective is None or (isinstance(objective, str) and not objective.strip()):
            raise FeedbackError(
                "objective is required: the specific objective (SO1-SO4) the text serves",
                column="objective",
                **place(where),
            )
        check = self.check
        (objective,) = check("objective", [objective], where=where)
        pred = None
        if predicted is not None and str(predicted).strip():
            (pred,) = check("objective", [predicted], where={**where, "column": "predicted"})
        stamp = time or datetime.now(UTC).isoformat(timespec="microseconds")
        if time is not None:
            try:
                datetime.fromisoformat(time)
            except (TypeError, ValueError):
                raise FeedbackError(
                    f"{str(time)[:40]!r} is not an ISO 8601 time", column="time", **place(where)
                ) from None
        text = text.strip()
        return FeedbackRecord(
            id=0,
            time=stamp,
            text=text,
            text_sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            objective=objective,
            target_groups=check("target_groups", parse_codes(target_groups), where=where),
            activities=check("activities", parse_codes(activities), where=where),
            predicted=pred,
            note=short_text(note, "note", MAX_NOTE_CHARS, where),
            reviewer=short_text(reviewer, "reviewer", MAX_REVIEWER_CHARS, where) or None,
            model_version=str(model_version or __version__),
            embedder=str(embedder or ""),
        )


def parse_codes(value: str | Iterable[str] | None) -> list[str]:
    """A list of codes from ``None``, ``"a;b"`` or an iterable of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (p.strip() for p in value.replace(",", ";").split(";")) if v]
    out = []
    for v in value:
        if not isinstance(v, str):
            raise TypeError(f"codes must be strings, got {type(v).__name__}")
        out.extend(parse_codes(v))
    return out


def short_text(value: Any, name: str, limit: int, where: dict[str, Any]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    value = " ".join(value.split()) if name == "reviewer" else value.strip()
    if len(value) > limit:
        raise FeedbackError(
            f"{name} has {len(value):,} characters; the limit is {limit:,}",
            column=name,
            file=where.get("file"),
            row=where.get("row"),
        )
    return value


def place(where: dict[str, Any]) -> dict[str, Any]:
    return {"file": where.get("file"), "row": where.get("row")}
