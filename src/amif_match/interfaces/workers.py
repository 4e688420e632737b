"""The service's model workers: the loaded matcher, its threads, queue and time budgets.

Model work runs in worker threads so the event loop stays free (``/health`` answers under
load); a request waits in a bounded queue, runs under its :class:`~.budget.Budget`, and is
stopped when its budget runs out or its client goes away. Needs the ``[serve]`` extra.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import HTTPException, Request

from amif_match.interfaces.budget import Budget, Cancelled, DeadlineExceeded, watch
from amif_match.serialise import to_jsonable

__all__ = ["WARM_UP_TEXT", "ModelWorkers"]

log = logging.getLogger("uvicorn.error")

#: Classified (and used for partners) once at start-up, so that the first request is not slow.
WARM_UP_TEXT = "Kotoutumiskoulutusta maahanmuuttajanaisille."


class ModelWorkers:
    """The loaded matcher, its worker threads and the request queue every request shares."""

    def __init__(
        self,
        matcher: Any,
        max_concurrent: int,
        max_queue: int,
        request_timeout: float | None,
        large_request_chars: int | None,
    ) -> None:
        self.matcher = matcher
        self.workers = ThreadPoolExecutor(max_concurrent, thread_name_prefix="amif-match-model")
        self.large_workers = ThreadPoolExecutor(1, thread_name_prefix="amif-match-large")
        self.large_request_chars = large_request_chars
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.request_timeout = request_timeout
        self.pending = 0  # requests in call(); touched only on the event loop
        self.partners_error: str | None = None
        self.catalogue: dict[str, list[dict[str, Any]]] = {}
        self.corpus_counts: dict[str, int] = {}
        self.embedder = ""
        self.load_seconds = 0.0
        self.started = time.monotonic()

    def load(self) -> None:
        start = time.perf_counter()
        m = self.matcher
        m.fit()
        m.classify(WARM_UP_TEXT, k=1)  # loads the model, sets the tokenizer up once
        try:
            m.suggest_partners(WARM_UP_TEXT, 1)
        except ImportError as exc:
            self.partners_error = f"partner suggestions are not available ({exc})"
        except Exception:  # classification must still be served; /partners will report it
            log.exception("amif_match: warming up partner suggestions failed")
        self.catalogue = {
            "objectives": to_jsonable(m.get_objectives().to_dict("records")),
            "activities": to_jsonable(m.get_activities().to_dict("records")),
            "target_groups": to_jsonable(m.get_target_groups().to_dict("records")),
        }
        corpus = m.corpus_
        self.corpus_counts = {
            name: len(getattr(corpus, name))
            for name in ("objectives", "activities", "target_groups", "organisations", "projects")
        }
        self.embedder = m.embedder_.name
        # Requests' budgets are checked before every batch the model embeds.
        watch(m.embedder_)
        self.load_seconds = time.perf_counter() - start
        self.started = time.monotonic()

    async def call(self, request: Request, work: Callable[[Any], Any], chars: int) -> Any:
        """Run ``work(matcher)`` in a model worker under the request's time budget.

        ``chars``, the request's text length, sends large requests to their own worker. Answers
        503 when too many requests are waiting or the budget ran out before a worker was free,
        504 when the work itself ran out of time, and 422 for a text the library rejects. If
        the client disconnects, the work is stopped at its next embedding batch.
        """
        workers = self.max_concurrent + (self.large_request_chars is not None)
        if self.pending >= workers + self.max_queue:
            raise HTTPException(
                503,
                f"the service is busy ({self.pending} requests in progress or waiting for "
                f"{workers} model workers); try again shortly",
                headers={"Retry-After": "5"},
            )
        budget = Budget(self.request_timeout)
        started = False

        def job() -> Any:
            nonlocal started
            if budget.cancelled:  # timed out or abandoned while queued: nothing to do
                return None
            started = True
            with budget.applied():
                return work(self.matcher)

        self.pending += 1
        loop = asyncio.get_running_loop()
        large = self.large_request_chars is not None and chars > self.large_request_chars
        future = loop.run_in_executor(self.large_workers if large else self.workers, job)
        gone = asyncio.ensure_future(disconnected(request))
        try:
            done, _ = await asyncio.wait(
                {future, gone}, timeout=budget.remaining, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:  # the server is shutting down: nobody will read it
            budget.cancel("the request was cancelled by the server")
            future.cancel()
            raise
        finally:
            self.pending -= 1
            gone.cancel()
        if future in done:
            return outcome(future, budget)
        # The worker cannot be interrupted; the budget stops it at its next batch, and a job
        # still queued is dropped. Cancelling the asyncio future also means its late result
        # or exception is discarded rather than logged as never retrieved.
        if gone in done:
            budget.cancel("the client closed the connection")
            future.cancel()
            raise HTTPException(499, "the client closed the connection before the answer")
        budget.cancel(f"the request ran past its time budget of {budget.seconds:g} s")
        future.cancel()
        if not started:
            raise HTTPException(
                503,
                f"the service is busy: no model worker became free within the "
                f"{budget.seconds:g} s time budget; try again shortly",
                headers={"Retry-After": "10"},
            )
        raise HTTPException(504, over_budget(budget))


def outcome(future: asyncio.Future[Any], budget: Budget) -> Any:
    """The work's result; its errors as HTTP errors."""
    try:
        return future.result()
    except DeadlineExceeded:
        raise HTTPException(504, over_budget(budget)) from None
    except Cancelled as exc:  # cancelled by the client going away, a moment before the end
        raise HTTPException(499, str(exc)) from None
    except (ValueError, TypeError) as exc:  # InputError is a ValueError
        raise HTTPException(422, " ".join(str(exc).split())) from exc


def over_budget(budget: Budget) -> str:
    return (
        f"the request took longer than its time budget of {budget.seconds:g} s and was "
        "stopped; send a shorter text or fewer texts per batch"
    )


async def disconnected(request: Request) -> None:
    """Return when the client has closed the connection (the body has been read by now)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0.1)  # a server that answers at once must not make this spin
