"""The on-disk embedding cache: vectors keyed by (model key, text hash) in one SQLite file.

The cache only saves time, so no problem with it may fail a call or change a result:

* **damaged** (not an SQLite file, truncated, "database disk image is malformed"): the file is
  moved aside as ``<name>.corrupt-<UTC timestamp>`` (kept for inspection, with its ``-wal``),
  a :class:`~amif_match.errors.CacheWarning` names both paths, and a new cache is started;
* **read-only** (a read-only file or folder: a shared image, a read-only volume): vectors are
  read through a read-only connection (``immutable`` when even the folder is read-only, which
  SQLite needs to read a WAL database there) and new vectors are not saved, with one warning;
* **locked** by another writer for longer than ``timeout`` seconds: the vectors are computed
  anyway and returned, the write is skipped with a warning;
* **unusable** (e.g. its folder cannot be created): amif_match runs without a cache, with one
  warning.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from amif_match.errors import CacheWarning

__all__ = ["DEFAULT_TIMEOUT", "EmbeddingCache"]

#: Seconds a read or write waits for another process's lock before the cache is skipped. Writes
#: are single short transactions, so a lock held longer than this means something is stuck.
DEFAULT_TIMEOUT = 5.0

_MAGIC = b"SQLite format 3\x00"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, hash TEXT NOT NULL, "
    "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, hash))"
)
_T = TypeVar("_T")
Mode = Literal["rw", "ro", "immutable", "off"]


def _kind(exc: sqlite3.Error) -> str:
    """Classify an SQLite error as ``corrupt``, ``busy``, ``readonly`` or ``other``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in message:
        return "corrupt"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message:
        return "busy"
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return "readonly"
    if "readonly" in message or "unable to open" in message:
        return "readonly"
    return "other"


def _damage(path: Path) -> str | None:
    """Why ``path`` cannot be a whole SQLite database, from its 100-byte header; else ``None``.

    SQLite itself only notices truncation when a query reaches a missing page, so a truncated
    cache could otherwise keep failing late and at random; the header records the page count.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return None  # a new, empty database
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError:
        return None  # unreadable: SQLite will say so (read-only or missing handling)
    if not header.startswith(_MAGIC[: len(header)]) or len(header) < len(_MAGIC):
        return "not an SQLite database"
    if len(header) < 100:
        return f"truncated: {size} bytes, shorter than the SQLite header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when the change counter equals "version-valid-for".
    if header[24:28] == header[92:96] and pages and size < pages * page_size:
        return f"truncated: {size} bytes, the header says {pages * page_size}"
    return None


class EmbeddingCache:
    """Persistent store of vectors keyed by (model key, text hash), in one SQLite file.

    SQLite gives atomic writes and safe concurrent readers across processes; vectors are stored
    as raw float32 bytes. A damaged, read-only, locked or unusable file never fails a call (see
    the module docstring); it is reported with a :class:`~amif_match.errors.CacheWarning`.

    Args:
        path: The SQLite file (created with its folder if missing).
        timeout: Seconds to wait for another process's lock (SQLite's busy timeout).

    Attributes:
        mode: ``"rw"`` (normal), ``"ro"`` / ``"immutable"`` (read-only; writes are skipped) or
            ``"off"`` (the cache could not be used at all).
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.mode: Mode = "rw"
        self._lock = threading.Lock()
        self._inode: int | None = None
        with self._lock:
            self._open()

    # -- public API ----------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """Whether new vectors are not saved (read-only or unusable cache)."""
        return self.mode != "rw"

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors among ``hashes`` (missing ones are simply absent)."""
        unique = list(dict.fromkeys(hashes))

        def read(db: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT hash, dim, vec FROM vectors WHERE model = ? AND hash IN ({marks})",
                    [model, *chunk],
                )
                for key, dim, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (dim,) and np.isfinite(vec).all():  # skip damaged rows
                        found[key] = vec
            return found

        if not unique:
            return {}
        with self._lock:
            return self._run(read, write=False, doing=f"read {len(unique)} vectors") or {}

    def put(self, model: str, items: dict[str, np.ndarray]) -> bool:
        """Store vectors; ``False`` when they could not be saved.

        A locked or failing cache warns each time; a read-only one warns once, when opened.
        """
        rows = [
            (model, key, int(vec.shape[0]), np.ascontiguousarray(vec, np.float32).tobytes())
            for key, vec in items.items()
        ]

        def write(db: sqlite3.Connection) -> bool:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            return True

        if not rows:
            return True
        with self._lock:
            return bool(self._run(write, write=True, doing=f"save {len(rows)} new vectors"))

    def __len__(self) -> int:
        with self._lock:
            count = self._run(
                lambda db: int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]),
                write=False,
                doing="count the vectors",
            )
        return count or 0

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.path)!r}, mode={self.mode!r})"

    # -- connections and failure handling ------------------------------------------------

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not self.path.exists():
                self._off(f"its folder cannot be created ({exc})")
                return
        problem = _damage(self.path)
        if problem and not self._move_aside(problem):
            return
        # Creating the table is the first write: it tells a read-only cache apart at once.
        self._run(lambda db: None, write=True, doing="open it")

    def _connect(self) -> sqlite3.Connection:
        if self.mode == "rw":
            db = sqlite3.connect(self.path, timeout=self.timeout)
            try:
                self._inode = os.stat(self.path).st_ino
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
            except BaseException:
                db.close()
                raise
            return db
        # mode=ro never writes; immutable also skips locking and the WAL index, which is what
        # lets SQLite read a WAL database in a folder where it cannot create ``-shm``.
        query = "mode=ro" if self.mode == "ro" else "mode=ro&immutable=1"
        uri = f"{self.path.resolve().as_uri()}?{query}"
        return sqlite3.connect(uri, uri=True, timeout=self.timeout)

    def _run(
        self, work: Callable[[sqlite3.Connection], _T], *, write: bool, doing: str
    ) -> _T | None:
        """Run ``work`` in one transaction; ``None`` when the cache could not serve it."""
        for attempt in range(3):
            if self.mode == "off" or (write and self.mode != "rw"):
                return None
            try:
                with closing(self._connect()) as db:
                    result = work(db)
                    db.commit()
                    return result
            except sqlite3.Error as exc:
                kind = _kind(exc)
                if attempt < 2 and self._recover(kind, exc):
                    continue
                if self.mode == "off":
                    return None  # already reported
                if kind == "busy":
                    computed = "; they were computed and are returned" if write else ""
                    self._warn(
                        f"the embedding cache {self.path} is locked by another process (waited "
                        f"{self.timeout:g} s); could not {doing}{computed}, results are unaffected"
                    )
                else:
                    self._warn(
                        f"could not {doing} in the embedding cache {self.path} ({exc}); "
                        "carrying on without it, results are unaffected"
                    )
                return None
        return None  # pragma: no cover - the loop always returns

    def _recover(self, kind: str, exc: sqlite3.Error) -> bool:
        """Adapt to a failure; returns whether the operation is worth retrying."""
        if kind == "corrupt":
            return self._move_aside(str(exc))
        if kind == "readonly" and self.mode == "rw":
            self._to_read_only(exc)
            return self.mode != "off"
        if kind == "readonly" and self.mode == "ro":
            self.mode = "immutable"  # the folder is read-only too: no ``-shm`` can be made
            return True
        if kind == "readonly" or "no such table" in str(exc):
            self._off(f"it cannot be read ({exc})")
        return False

    def _to_read_only(self, exc: sqlite3.Error) -> None:
        if not self.path.is_file():
            self._off(f"it does not exist and cannot be created ({exc})")
            return
        self.mode = "ro"
        self._warn(
            f"the embedding cache {self.path} is read-only ({exc}); cached vectors are used, "
            "new ones are not saved"
        )

    def _move_aside(self, reason: str) -> bool:
        """Keep a damaged file as ``<name>.corrupt-<timestamp>`` and start afresh.

        Returns whether a new cache can be used.
        """
        if self.mode != "rw":
            self._off(f"it is damaged ({reason}) and read-only, so it cannot be rebuilt")
            return False
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return True  # another process moved it already
        if self._inode is not None and inode != self._inode:
            return True  # another process already replaced it with a new cache
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True
        except OSError as exc:
            self._off(f"it is damaged ({reason}) and cannot be moved aside ({exc})")
            return False
        # A stale write-ahead log belongs to the damaged file: keep it with it, never let it be
        # replayed into the new database. The shared-memory index is rebuilt by SQLite.
        for suffix in ("-wal", "-shm"):
            extra = self.path.with_name(self.path.name + suffix)
            try:
                if suffix == "-wal":
                    os.rename(extra, aside.with_name(aside.name + suffix))
                else:
                    extra.unlink()
            except OSError:
                pass
        self._inode = None
        self._warn(
            f"the embedding cache {self.path} was damaged ({reason}); moved it to {aside} and "
            "started a new cache (vectors are recomputed as needed)"
        )
        return True

    def _off(self, reason: str) -> None:
        self.mode = "off"
        self._warn(f"the embedding cache {self.path} cannot be used: {reason}; running without it")

    def _warn(self, message: str) -> None:
        warnings.warn(f"amif_match: {message}", CacheWarning, stacklevel=4)
