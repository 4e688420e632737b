"""Feedback as CSV: the file a ministry pools its officers' corrections with."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amif_match.errors import FeedbackError
from amif_match.feedback.records import CSV_COLUMNS, FeedbackRecord, Vocabulary

__all__ = ["read_csv", "write_csv"]


def write_csv(records: Sequence[FeedbackRecord], path: str | os.PathLike[str]) -> None:
    """Write ``records`` to a UTF-8 CSV file with the columns :data:`CSV_COLUMNS` (codes
    ``;``-separated), next to its destination first and then renamed into place."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for r in records:
                row = r.to_dict()
                row["target_groups"] = ";".join(r.target_groups)
                row["activities"] = ";".join(r.activities)
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def read_csv(
    path: str | os.PathLike[str], vocabulary: Vocabulary, *, reviewer: str | None = None
) -> list[FeedbackRecord]:
    """Every row of a feedback CSV file, checked; the first invalid row raises
    :class:`~amif_match.errors.FeedbackError` naming the file, the row and the column."""
    name = Path(path).name
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in ("text", "objective") if c not in header]
            if missing:
                raise FeedbackError(
                    f"missing column(s) {', '.join(missing)}; the header must name text and "
                    f"objective (and may name {', '.join(CSV_COLUMNS)})",
                    file=name,
                )
            unknown = [h for h in header if h not in CSV_COLUMNS]
            if unknown:
                raise FeedbackError(
                    f"unknown column(s) {', '.join(unknown)}; "
                    f"expected some of {', '.join(CSV_COLUMNS)}",
                    file=name,
                )
            return [
                _record(row, vocabulary, name, number, reviewer)
                for number, row in enumerate(reader, start=1)
            ]
    except UnicodeDecodeError as exc:
        raise FeedbackError(f"not UTF-8 text ({exc.reason})", file=name) from None
    except csv.Error as exc:
        raise FeedbackError(f"not a readable CSV file ({exc})", file=name) from None


def _record(
    row: dict[str | None, Any], vocabulary: Vocabulary, name: str, number: int, reviewer: Any
) -> FeedbackRecord:
    if None in row:  # more cells than the header names
        raise FeedbackError("more cells than the header has columns", file=name, row=number)
    cells = {k.strip(): (v or "") for k, v in row.items() if k is not None}
    where = {"file": name, "row": number}
    record = vocabulary.record(
        cells.get("text", ""),
        objective=cells.get("objective", ""),
        target_groups=cells.get("target_groups"),
        activities=cells.get("activities"),
        predicted=cells.get("predicted") or None,
        note=cells.get("note"),
        reviewer=cells.get("reviewer") or reviewer,
        model_version=cells.get("model_version") or None,
        embedder=cells.get("embedder") or None,
        time=cells.get("time") or None,
        where=where,
    )
    given = cells.get("text_sha256", "").strip()
    if given and given != record.text_sha256:
        raise FeedbackError(
            "text_sha256 does not match the text (was the text edited?)",
            column="text_sha256",
            **where,
        )
    return record
