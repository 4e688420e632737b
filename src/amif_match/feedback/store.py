"""The feedback store: officers' confirmations and corrections, in one SQLite file.

Every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) on a database in WAL mode
with a busy timeout, so a process stopped mid-write leaves either the whole record or none,
and concurrent writers (threads, processes, service workers) wait for each other instead of
failing or overwriting. Each call opens its own short-lived connection: a store object may be
shared between threads.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amif_match.feedback.csvio import read_csv, write_csv
from amif_match.feedback.records import (
    CSV_COLUMNS,
    FeedbackRecord,
    ImportResult,
    Vocabulary,
)

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.corpus import Corpus

__all__ = [
    "CSV_COLUMNS",
    "FEEDBACK_ENV",
    "FeedbackRecord",
    "FeedbackStore",
    "ImportResult",
    "default_feedback_path",
]

#: Environment variable naming the feedback database file.
FEEDBACK_ENV = "AMIF_MATCH_FEEDBACK"
#: Seconds a writer waits for another one before giving up.
BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    text TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    objective TEXT NOT NULL,
    target_groups TEXT NOT NULL DEFAULT '',
    activities TEXT NOT NULL DEFAULT '',
    predicted TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    model_version TEXT NOT NULL DEFAULT '',
    embedder TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_text ON feedback (text_sha256);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_identity ON feedback (
    time, text_sha256, objective, target_groups, activities, predicted, note, reviewer,
    model_version, embedder
);
"""


def default_feedback_path() -> Path:
    """``$AMIF_MATCH_FEEDBACK``, else ``$XDG_DATA_HOME/amif_match/feedback.sqlite``, else
    ``~/.local/share/amif_match/feedback.sqlite``."""
    if os.environ.get(FEEDBACK_ENV):
        return Path(os.environ[FEEDBACK_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "amif_match" / "feedback.sqlite"


class FeedbackStore:
    """Officers' corrections in a SQLite file (created on first write).

    Args:
        path: The database file (default :func:`default_feedback_path`).
        corpus: The corpus whose codes corrections are checked against (default: the bundled
            one).
        timeout: Seconds a writer waits for a concurrent one before failing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        corpus: Corpus | None = None,
        timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_feedback_path()
        self.timeout = timeout
        self.vocabulary = Vocabulary(corpus)

    # -- connections -----------------------------------------------------------------------

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; for writes, inside ``BEGIN IMMEDIATE``."""
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        with closing(
            sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        ) as conn:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if write:
                self._use_wal(conn)
                conn.execute("PRAGMA synchronous = FULL")
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the database to WAL (once: the mode is stored in the file).

        Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
        without its busy handler, while another connection holds one; so wait here, up to
        ``timeout``, as every other statement does.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- writing ---------------------------------------------------------------------------
    def validate(self, text: Any, **correction: Any) -> FeedbackRecord:
        """A checked, not yet stored :class:`FeedbackRecord` (``id`` 0): ``objective``
        (required), ``target_groups``, ``activities``, ``predicted``, ``note``, ``reviewer``,
        ``model_version``, ``embedder``, ``time``. Raises
        :class:`~amif_match.errors.FeedbackError` (a ``ValueError``) naming the field."""
        return self.vocabulary.record(text, **correction)

    def add(self, text: str, **correction: Any) -> FeedbackRecord:
        """Check and store one correction (arguments as :meth:`validate`); returns the
        stored record with its ``id``."""
        record = self.validate(text, **correction)
        with self._connect(write=True) as conn:
            row_id = self._insert(conn, record)
        return replace(record, id=row_id or 0)

    @staticmethod
    def _insert(conn: sqlite3.Connection, record: FeedbackRecord) -> int | None:
        """Insert unless an identical row is stored; the new id, or ``None`` (duplicate)."""
        values = _row(record)
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO feedback ({', '.join(values)}) "
            f"VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        return cursor.lastrowid if cursor.rowcount else None

    # -- reading ---------------------------------------------------------------------------

    def records(
        self, *, limit: int | None = None, reviewer: str | None = None
    ) -> list[FeedbackRecord]:
        """Stored records, oldest first (``limit``: only the newest ``limit``)."""
        if not self.path.exists():
            return []
        sql = "SELECT * FROM feedback"
        params: list[Any] = []
        if reviewer is not None:
            sql += " WHERE reviewer = ?"
            params.append(reviewer)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect(write=False) as conn:
            conn.row_factory = sqlite3.Row
            try:
                rows = conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise
        return [_record(dict(r)) for r in reversed(rows)]

    def __len__(self) -> int:
        return len(self.records())

    def for_training(self) -> list[FeedbackRecord]:
        """One record per text: the latest (a re-correction replaces the earlier one)."""
        latest: dict[str, FeedbackRecord] = {}
        for record in self.records():
            latest.pop(record.text_sha256, None)
            latest[record.text_sha256] = record
        return list(latest.values())

    def fingerprint(self) -> str:
        """A hash of the records :meth:`for_training` returns (saved with trained heads)."""
        digest = hashlib.sha256()
        for r in self.for_training():
            digest.update(
                "\x1f".join(
                    [r.text_sha256, r.objective, *r.target_groups, "|", *r.activities]
                ).encode()
            )
        return digest.hexdigest()[:16]

    # -- CSV -------------------------------------------------------------------------------
    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write every record to a UTF-8 CSV file (:data:`CSV_COLUMNS`, codes
        ``;``-separated), atomically; returns the count."""
        records = self.records()
        write_csv(records, path)
        return len(records)

    def import_csv(
        self, path: str | os.PathLike[str], *, reviewer: str | None = None
    ) -> ImportResult:
        """Add the rows of a CSV file made by :meth:`export_csv` (or by hand: ``text`` and
        ``objective`` are required, the other columns of :data:`CSV_COLUMNS` optional).

        Every row is checked before any is stored: an invalid row raises
        :class:`~amif_match.errors.FeedbackError` naming the file, the row and the column, and
        nothing is imported. Rows identical to stored ones (same time, text, codes, note,
        reviewer, version) are skipped, so importing a file twice adds nothing. ``reviewer``
        fills rows that name none.
        """
        records = read_csv(path, self.vocabulary, reviewer=reviewer)
        added = 0
        with self._connect(write=True) as conn:
            for record in records:
                added += self._insert(conn, record) is not None
        return ImportResult(added=added, duplicates=len(records) - added)

    def __repr__(self) -> str:
        return f"FeedbackStore({str(self.path)!r})"


def _row(record: FeedbackRecord) -> dict[str, Any]:
    values = record.to_dict()
    del values["id"]
    values["target_groups"] = ";".join(record.target_groups)
    values["activities"] = ";".join(record.activities)
    values["predicted"] = record.predicted or ""
    values["reviewer"] = record.reviewer or ""
    return values


def _record(row: dict[str, Any]) -> FeedbackRecord:
    return FeedbackRecord(
        id=int(row["id"]),
        time=row["time"],
        text=row["text"],
        text_sha256=row["text_sha256"],
        objective=row["objective"],
        target_groups=tuple(c for c in row["target_groups"].split(";") if c),
        activities=tuple(c for c in row["activities"].split(";") if c),
        predicted=row["predicted"] or None,
        note=row["note"],
        reviewer=row["reviewer"] or None,
        model_version=row["model_version"],
        embedder=row["embedder"],
    )
