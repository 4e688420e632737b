"""Time budgets and cancellation for one call, checked cooperatively between embedding batches.

A model call cannot be interrupted from outside its thread, so the HTTP service gives each
request a :class:`Budget` and the library checks it at safe points: before every forward pass
of the embedding model (one batch of up to 32 sentences, well under a second on a CPU). A call
whose budget has run out, or whose budget was cancelled (its client went away), raises
:class:`Cancelled` at the next batch and frees its worker thread instead of finishing work nobody
will read.

The budget of the running call lives in a :mod:`contextvars` variable, so concurrent calls in
other threads each see their own, and code that runs without one (the CLI, notebooks, the
service's start-up) pays one context-variable lookup per batch::

    budget = Budget(30.0)
    with budget.applied():          # in the thread that does the work
        matcher.classify(text)      # raises DeadlineExceeded after ~30 s
    budget.cancel("the client closed the connection")   # from any thread
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from amif_match.errors import AmifMatchError

__all__ = ["Budget", "Cancelled", "DeadlineExceeded", "check", "current", "watch"]


class Cancelled(AmifMatchError):
    """The call was stopped before it finished: its budget was cancelled or has run out."""


class DeadlineExceeded(Cancelled, TimeoutError):
    """The call ran past its time budget."""


class Budget:
    """A deadline and a cancel flag for one call.

    Args:
        seconds: How long the call may take from now; ``None`` for no time limit (the budget
            can still be cancelled).
    """

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and not seconds > 0:
            raise ValueError(f"a time budget must be positive seconds or None, got {seconds!r}")
        self.seconds = seconds
        self.started = time.monotonic()
        self.deadline = None if seconds is None else self.started + seconds
        self._reason: str | None = None
        # Set from the event loop, read from worker threads: a lock keeps reason and flag
        # consistent without relying on the GIL.
        self._lock = threading.Lock()

    @property
    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` without a time limit."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    @property
    def elapsed(self) -> float:
        """Seconds since the budget was created."""
        return time.monotonic() - self.started

    @property
    def cancelled(self) -> str | None:
        """Why the budget was cancelled, or ``None``."""
        with self._lock:
            return self._reason

    def cancel(self, reason: str) -> None:
        """Stop the call at its next check; ``reason`` becomes the message of :class:`Cancelled`.

        The first reason wins; safe to call from any thread, any number of times.
        """
        with self._lock:
            if self._reason is None:
                self._reason = reason

    def check(self) -> None:
        """Raise :class:`Cancelled` (or :class:`DeadlineExceeded`) if the call must stop."""
        reason = self.cancelled
        if reason is not None:
            raise Cancelled(reason)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded(
                f"the call ran past its time budget of {self.seconds:g} s "
                f"(stopped after {self.elapsed:.1f} s)"
            )

    @contextmanager
    def applied(self) -> Iterator[Budget]:
        """Make this the budget of the current thread (context) while the block runs."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


_current: ContextVar[Budget | None] = ContextVar("amif_match_budget", default=None)


def current() -> Budget | None:
    """The budget of the running call, if any."""
    return _current.get()


def check() -> None:
    """Raise :class:`Cancelled` if the running call has a budget that is spent or cancelled.

    A no-op without a budget. Call it between units of work that take a noticeable time.
    """
    budget = _current.get()
    if budget is not None:
        budget.check()


# Modules already hooked, so that watching the same model twice adds no second hook; weak so a
# discarded model is not kept alive by this set.
_watched: weakref.WeakSet[Any] = weakref.WeakSet()
_watch_lock = threading.Lock()


def _before_forward(module: Any, args: Any) -> None:
    check()


def watch(embedder: Any) -> int:
    """Check the running call's budget before every batch ``embedder``'s torch model runs, and
    before each of its transformer blocks.

    Finds the torch module behind an embedder (a :class:`~amif_match.embedding.CachedEmbedder`
    is unwrapped; the model is loaded if it is not yet) and registers forward pre-hooks on its
    first layer, which sentence-transformers calls once per batch, and on every block of its
    layer stacks (``ModuleList``), so that a call is stopped within a fraction of a batch: a
    batch of 32 long passages can take seconds on a small CPU. The ONNX backends get a check
    before each batch (``add_batch_hook``). Embedders with neither (TF-IDF) are left alone:
    their calls are fast and are only stopped at the end.

    Returns:
        How many modules were hooked by this call (0 when there is nothing to hook or the
        model is watched already).
    """
    model = _torch_module(embedder)
    if model is None:
        return _watch_batches(embedder)
    import torch

    # sentence-transformers calls each layer as ``layer(features)`` (hooks run) but has called
    # the top-level module's ``forward`` directly in some versions (hooks do not).
    targets = [next(iter(model.children()), model)]
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            targets.extend(module)
    hooked = 0
    with _watch_lock:
        for target in targets:
            if target not in _watched:
                target.register_forward_pre_hook(_before_forward)
                _watched.add(target)
                hooked += 1
    return hooked


def _watch_batches(embedder: Any) -> int:
    """For an embedder without torch (the ONNX backends): check before each of its batches."""
    target = embedder
    while not hasattr(target, "add_batch_hook") and getattr(target, "embedder", None) is not None:
        target = target.embedder  # CachedEmbedder -> the model
    if not hasattr(target, "add_batch_hook"):
        return 0
    with _watch_lock:
        if target in _watched:
            return 0
        target.add_batch_hook(check)
        _watched.add(target)
    return 1


def _torch_module(embedder: Any) -> Any:
    """The torch module behind an embedder, or ``None``."""
    seen: set[int] = set()
    obj = embedder
    while obj is not None and id(obj) not in seen:
        seen.add(id(obj))
        if hasattr(obj, "register_forward_pre_hook"):
            return obj
        # CachedEmbedder -> .embedder, SentenceTransformerEmbedder -> .model (loads it)
        inner = getattr(obj, "embedder", None)
        obj = inner if inner is not None else getattr(obj, "model", None)
    return None
