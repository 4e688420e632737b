"""Exceptions raised by amif_match.

Every error a user can cause names what was wrong and how to fix it; bad input never reaches
torch.
"""

from __future__ import annotations

__all__ = [
    "AmifMatchError",
    "CacheWarning",
    "CorpusError",
    "DocumentError",
    "FeedbackError",
    "HeadsError",
    "InputError",
    "MissingDependencyError",
    "ModelCacheError",
]


class AmifMatchError(Exception):
    """Base class of every error raised on purpose by amif_match."""


class InputError(AmifMatchError, ValueError):
    """A text given to amif_match cannot be used (empty, too long, wrong type in a batch, ...)."""


class DocumentError(InputError):
    """A document file cannot be read as a proposal; ``file`` names it.

    Raised for an unknown or unsupported file type, a file over the size limit, a corrupt,
    truncated or password-protected file, a PDF without a text layer (a scan), a document
    with no text, or one with more text than a proposal may have. A document is never
    classified as empty.
    """

    def __init__(self, message: str, *, file: str) -> None:
        self.file = file  # the message names it too
        super().__init__(message)


class _Located:
    """An error in a file's row and column: ``file``, ``row`` (1-based data row) and ``column``
    are kept as attributes and named at the start of the message."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.reason = message
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class CorpusError(_Located, AmifMatchError, ValueError):
    """A corpus file is invalid. ``file``, ``row`` (1-based data row) and ``column`` locate it."""


class FeedbackError(_Located, InputError):
    """A correction (or a row of a feedback CSV file) is invalid: an unknown objective, target
    group or activity code, an empty text, ... ``file``, ``row`` (1-based data row) and
    ``column`` locate it when it comes from a file."""


class ModelCacheError(AmifMatchError, RuntimeError):
    """The converted model in the cache folder is missing, partial or corrupted."""


class HeadsError(AmifMatchError, RuntimeError):
    """A stored heads file (``heads.json`` / ``heads.npz``) is unreadable or inconsistent.

    ``file`` is the file at fault; the message says what is wrong with it. Raised when the heads
    are loaded, never later at classification time.
    """

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        self.reason = message
        super().__init__(f"{file}: {message}" if file else message)


class MissingDependencyError(AmifMatchError, ImportError):
    """An optional dependency needed for the requested feature is not installed."""


class CacheWarning(UserWarning):
    """The embedding cache could not be used as usual (damaged, read-only or locked).

    amif_match carries on without it, so results are unaffected; only speed is.
    """
