"""Corrections that teach: officers' confirmations and corrections of results.

- :mod:`.store`: :class:`FeedbackStore`, the SQLite file they are kept in (transactions, WAL,
  CSV export and import);
- :mod:`.training`: corrections as extra training projects (``amif-match train
  --with-feedback``, :meth:`amif_match.Matcher.train` with ``feedback=``);
- :mod:`.evaluation`: their effect on held-out corrections (``amif-match evaluate
  --with-feedback``).

Usage::

    m = Matcher.default()
    m.record_feedback(text, objective="SO2", target_groups=["women"], reviewer="A. Virtanen")
    m.train(save_to="models/", feedback=FeedbackStore())
"""

from __future__ import annotations

import os
from typing import Any

from amif_match.feedback.store import (
    CSV_COLUMNS,
    FEEDBACK_ENV,
    FeedbackRecord,
    FeedbackStore,
    ImportResult,
    default_feedback_path,
)

__all__ = [
    "CSV_COLUMNS",
    "FEEDBACK_ENV",
    "FeedbackRecord",
    "FeedbackStore",
    "ImportResult",
    "default_feedback_path",
    "open_store",
    "record_feedback",
    "training_feedback",
]

#: What names a feedback store: a store, a path, ``True`` / ``None`` for the default one.
StoreLike = Any


def open_store(store: StoreLike = None, *, corpus: Any = None) -> FeedbackStore:
    """``store`` as a :class:`FeedbackStore`: itself, the store at a path, or (``None`` or
    ``True``) the default one (``$AMIF_MATCH_FEEDBACK`` or the user data folder)."""
    if isinstance(store, FeedbackStore):
        return store
    if store is None or store is True:
        return FeedbackStore(corpus=corpus)
    if isinstance(store, str | os.PathLike):
        return FeedbackStore(store, corpus=corpus)
    raise TypeError(f"feedback must be a FeedbackStore or a path, got {type(store).__name__}")


def record_feedback(
    matcher: Any, text: str, *, objective: str, store: StoreLike = None, **details: Any
) -> FeedbackRecord:
    """What :meth:`amif_match.Matcher.record_feedback` does: check the correction against the
    matcher's corpus and store it with the matcher's embedder name and the package version.

    ``details``: ``target_groups`` and ``activities`` (codes: a list or ``"a;b"``), ``note``,
    ``reviewer``, ``predicted`` (the objective the model gave); ``store``: a
    :class:`FeedbackStore` or its path (default ``$AMIF_MATCH_FEEDBACK``, else
    ``~/.local/share/amif_match/feedback.sqlite``)."""
    embedder = matcher.embedder if isinstance(matcher.embedder, str) else matcher.embedder.name
    details.setdefault("embedder", embedder)
    return open_store(store, corpus=matcher.corpus_).add(text, objective=objective, **details)


def training_feedback(feedback: StoreLike) -> tuple[list[FeedbackRecord], dict[str, Any]]:
    """The records to train on (the latest per text) and the metadata saved with the heads;
    ``([], {})`` when ``feedback`` is ``None`` or ``False``."""
    if feedback is None or feedback is False:
        return [], {}
    store = open_store(feedback)
    records = store.for_training()
    return records, {"feedback": {"records": len(records), "fingerprint": store.fingerprint()}}
