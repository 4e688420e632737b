"""The HTTP service: ``amif-match serve`` (needs the ``[serve]`` extra: FastAPI and uvicorn).

Endpoints (JSON in, JSON out; OpenAPI document at ``/openapi.json``; the ``/docs`` and ``/redoc``
pages only with ``create_app(docs=True)``, ``amif-match serve --docs`` or ``AMIF_MATCH_DOCS=1``,
because they load scripts and fonts from public CDNs):

============================  =================================================================
``POST /classify``            one proposal -> the classification (:meth:`Classification.to_dict`)
``POST /classify/batch``      up to :data:`MAX_BATCH` proposals -> results in the same order
``POST /partners``            one proposal -> ranked, explained partner organisations
``POST /activities``          one proposal -> the closest catalogue activities
``GET /catalogue``            objectives, activities (``?layer=``) and target groups
``GET /health``               ``{"status": "ok", ...}`` once the model is loaded
============================  =================================================================

Limits, and how a request that breaks one is answered:

* a request body over :data:`MAX_BODY_BYTES` (4 MiB) -> **413**, before the body is read
  (``Content-Length``) or as soon as a streamed body passes the limit;
* a body that has not fully arrived :data:`BODY_TIMEOUT` (30 s) after the headers -> **408**;
* a text over :data:`MAX_TEXT_CHARS` (200 000 characters), a batch over :data:`MAX_BATCH` (64)
  texts, an empty batch, a wrong type (``k`` must be a JSON integer: ``true``, ``"5"`` and
  ``5.0`` are refused), an unknown field, malformed JSON, a body that is not UTF-8, JSON nested
  too deeply or a text the library rejects (empty, no words) -> **422**;
* more than :data:`MAX_QUEUE` requests already waiting for a model worker, or a request that
  waited its whole time budget without getting one -> **503** with ``Retry-After``;
* a request whose model work runs past :data:`REQUEST_TIMEOUT` (60 s, from the moment its body
  was read) -> **504**; the work is stopped within a fraction of an embedding batch;
* a client that closes its connection before the answer: its work is stopped the same way (the
  access log shows status 499, nginx's "client closed request").

Every error body is ``{"detail": "<one clear sentence>"}``; validation errors add ``errors``,
the individual problems (field location, message, type) without echoing the input back.

The model loads once, in the application's lifespan, before the first request is accepted.
Model work runs in a pool of :data:`MAX_CONCURRENT` worker threads of its own, never on the
event loop nor in the thread pool that other endpoints use, so ``GET /health`` and
``GET /catalogue`` answer at once however busy the model is. Requests over
:data:`LARGE_REQUEST_CHARS` characters (all texts together) run one at a time in one more
worker, so a few large requests cannot take every worker from the usual short ones. The
:class:`~amif_match.Matcher` is safe for concurrent inference (numpy and torch forward passes,
tokenizer settings fixed by the warm-up call). Each request carries a
:class:`~.budget.Budget`: when it runs out, or the client closes the connection, the
request's work stops before the model's next batch or transformer block and frees its worker.

Run it with ``amif-match serve --port 8000`` (:func:`~.server.serve`, which also limits
connections, idle keep-alive and slow headers) or any ASGI server:
``uvicorn amif_match.interfaces.service:app``.
"""

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amif_match._version import __version__
from amif_match.interfaces.budget import Budget, Cancelled, DeadlineExceeded, watch

__all__ = [
    "BODY_TIMEOUT",
    "LARGE_REQUEST_CHARS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENT",
    "MAX_K",
    "MAX_QUEUE",
    "MAX_TEXT_CHARS",
    "REQUEST_TIMEOUT",
    "app",
    "create_app",
]

#: Longest accepted text, in characters (a 30-page application is about 100 000).
MAX_TEXT_CHARS = 200_000
#: Most texts in one ``/classify/batch`` request.
MAX_BATCH = 64
#: Largest accepted request body, in bytes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Largest ``k`` (list length) a request may ask for.
MAX_K = 50
#: Model calls running at once, each in a worker thread of its own; more requests wait.
MAX_CONCURRENT = 4
#: Requests waiting for a model worker before further ones get 503 at once.
MAX_QUEUE = 64
#: Requests with more characters than this in all their texts run one at a time, in a worker
#: of their own, so that a few large requests cannot take every worker.
LARGE_REQUEST_CHARS = 20_000
#: Seconds a request may take from its body being read to its answer (waiting included).
REQUEST_TIMEOUT = 60.0
#: Seconds a client has to send the whole request body once the headers are in.
BODY_TIMEOUT = 30.0

log = logging.getLogger("uvicorn.error")

WARM_UP_TEXT = "Kotoutumiskoulutusta maahanmuuttajanaisille."

# --------------------------------------------------------------------------- request models

Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The proposal: plain text or HTML, in Finnish, Swedish or English.",
        examples=["Kotoutumiskoulutusta maahanmuuttajanaisille"],
    ),
]
K = Annotated[
    int, Field(ge=1, le=MAX_K, description="Length of each returned list (a JSON integer).")
]
Language = Annotated[
    Literal["fi", "sv", "en"] | None,
    Field(description="Language of the text; detected when omitted."),
]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Names = Annotated[list[Name], Field(max_length=100)]


class _Request(BaseModel):
    # Strict: ``"k": true``, ``"k": "5"`` or ``"complement": "yes"`` are mistakes in the client,
    # not values to coerce; an integer is still accepted where a number is expected.
    model_config = ConfigDict(extra="forbid", strict=True)


class ClassifyOptions(_Request):
    k: K = 10
    threshold: Annotated[
        float | None,
        Field(ge=0.0, le=1.0, description="Selection threshold; default: the tuned ones."),
    ] = None
    min_labels: Annotated[
        int, Field(ge=0, le=10, description="At least this many objectives/target groups.")
    ] = 1
    language: Language = None


class ClassifyRequest(ClassifyOptions):
    text: Text


class ClassifyBatchRequest(ClassifyOptions):
    texts: Annotated[
        list[Text],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description=f"1 to {MAX_BATCH} proposals; results come back in the same order.",
        ),
    ]


class PartnersRequest(_Request):
    text: Text
    k: K = 10
    applicant: Annotated[
        Name | None, Field(description="Applicant (id, name or alias); never suggested.")
    ] = None
    consortium: Annotated[
        Names | None, Field(description="Partners already in the consortium.")
    ] = None
    org_types: Annotated[Names | None, Field(description="Keep only these types.")] = None
    region: Annotated[
        Names | None, Field(description="Keep only these regions ('nationwide' for national).")
    ] = None
    exclude: Annotated[Names | None, Field(description="Never suggest these.")] = None
    complement: Annotated[
        bool, Field(description="Favour organisation types the consortium lacks.")
    ] = False


class ActivitiesRequest(_Request):
    text: Text
    k: K = 10
    layer: Literal["activity_type", "intervention_field", "national_action"] | None = None
    language: Language = None


# --------------------------------------------------------------------------- response models


class _Response(BaseModel):
    # Fields the library adds later pass through unchanged.
    model_config = ConfigDict(extra="allow")


class ObjectiveScore(_Response):
    code: str
    name: str
    probability: float
    selected: bool


class ActivityScore(_Response):
    code: str
    layer: str
    objective: str
    name: str
    score: float


class TargetGroupScore(_Response):
    code: str
    name: str
    probability: float
    selected: bool


class Evidence(_Response):
    text: str
    supports: str
    score: float


class SimilarProject(_Response):
    id: str
    name: str
    score: float


class FundGuess(_Response):
    fund: str
    probability: float


class ModelInfo(_Response):
    embedder: str
    version: str


class ClassificationResult(_Response):
    objective: str = Field(description="The best specific objective, SO1..SO4.")
    objectives: list[ObjectiveScore]
    activities: list[ActivityScore]
    target_groups: list[TargetGroupScore]
    evidence: list[Evidence]
    similar_projects: list[SimilarProject]
    in_scope: bool
    scope_score: float
    scope_reason: str | None = Field(
        default=None,
        description="Why the text was not assessed (not a project description); null otherwise.",
    )
    resembles: FundGuess | None = None
    language: str
    model: ModelInfo


class BatchResult(_Response):
    results: list[ClassificationResult]


class RankedActivity(ActivityScore):
    rank: int


class ActivitiesResult(_Response):
    activities: list[RankedActivity]


class PartnerEvidence(_Response):
    project_id: str
    project_name: str
    role: str
    similarity: float


class Partner(_Response):
    rank: int
    id: str
    name: str
    type: str | None = None
    city: str | None = None
    region: str | None = None
    score: float
    n_projects: int | None = None
    evidence: list[PartnerEvidence] = []
    shared_partners: list[str] = []
    worked_with: list[str] = []
    explanation: str


class PartnersResult(_Response):
    partners: list[Partner]


class CatalogueResult(_Response):
    objectives: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    target_groups: list[dict[str, Any]]


class Health(_Response):
    status: Literal["ok"]
    version: str
    embedder: str
    corpus: dict[str, int]
    partners: bool = Field(description="Whether /partners is available.")
    limits: dict[str, int]
    timeouts: dict[str, float | None] = Field(
        description="Time budget per model request and for receiving a body, in seconds."
    )
    load_seconds: float
    uptime_seconds: float


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong, in one sentence.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each validation problem (loc, msg, type)."
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    408: {"model": ErrorResponse, "description": "Request body not received in time"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    422: {"model": ErrorResponse, "description": "Invalid request"},
    503: {"model": ErrorResponse, "description": "Busy, or not available; see Retry-After"},
    504: {"model": ErrorResponse, "description": "The request ran past its time budget"},
}


# --------------------------------------------------------------------------- body limits


class BodyLimits:
    """ASGI middleware answering 413 for request bodies over ``max_bytes`` and 408 for bodies
    that do not arrive within ``timeout`` seconds.

    A declared ``Content-Length`` over the limit is refused before the body is read; a streamed
    (chunked) body is counted as it arrives. The time limit covers the whole body, not the gap
    between chunks, so a client dripping a byte now and then is cut off too. Once the body is
    complete, ``receive`` passes through untouched (the model endpoints use it to notice a
    client that has gone).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, timeout: float = BODY_TIMEOUT
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > self.max_bytes:
            response = _error(413, _too_large(declared, self.max_bytes))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0
        complete = False
        deadline = anyio.current_time() + self.timeout

        async def limited() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()):
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect
                    complete = True
                    return message
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _too_large(received, self.max_bytes, more=True))
                complete = not message.get("more_body", False)
                return message
            raise HTTPException(
                408,
                f"the request body did not arrive within {self.timeout:g} s of the headers "
                f"({received:,} bytes received); send it in one go",
            )

        await self.app(scope, limited, send)


def _too_large(size: int, limit: int, *, more: bool = False) -> str:
    got = f"more than {limit:,}" if more else f"{size:,}"
    return (
        f"request body is {got} bytes; the limit is {limit:,} bytes "
        f"(at most {MAX_TEXT_CHARS:,} characters per text and {MAX_BATCH} texts per batch)"
    )


# --------------------------------------------------------------------------- errors


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def _describe(error: dict[str, Any]) -> str:
    """One readable sentence for one pydantic/FastAPI validation error."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    where = _loc(error.get("loc", ()))
    value = error.get("input")
    if kind == "json_invalid":
        return f"request body is not valid JSON ({ctx.get('error', 'decode error')})"
    if kind == "string_too_long":
        size = f" has {len(value):,} characters;" if isinstance(value, str) else ""
        return f"{where}{size} the limit is {ctx.get('max_length', MAX_TEXT_CHARS):,} characters"
    if kind == "too_long":
        size = f" has {len(value)} items;" if isinstance(value, list) else ""
        what = "texts per batch" if where == "texts" else "items"
        return f"{where}{size} the limit is {ctx.get('max_length')} {what}"
    if kind == "too_short" and where == "texts":
        return "texts must hold at least one text"
    if kind == "string_too_short":
        return f"{where} must not be empty"
    if kind == "missing":
        return f"{where} is required"
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind in ("model_attributes_type", "dict_type") and where == "body":
        return "request body must be a JSON object"
    if kind in _JSON_TYPES:
        return f"{where} must be {_JSON_TYPES[kind]}, not {_json_kind(value)}"
    return f"{where}: {error.get('msg', 'invalid value')}"


# Strict scalar types: what the field wants, in the words of JSON.
_JSON_TYPES = {
    "int_type": "a JSON integer such as 5",
    "float_type": "a JSON number such as 0.5",
    "bool_type": "true or false",
}


def _json_kind(value: Any) -> str:
    """What a JSON value is, without echoing it (it may be a long text)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction" if not value.is_integer() else f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")) and any(
        e.get("type") in ("model_attributes_type", "dict_type")
        and isinstance(e.get("input"), bytes)
        for e in errors
    ):
        return _error(422, "send the request body as JSON (Content-Type: application/json)")
    messages = [_describe(e) for e in errors]
    detail = messages[0] + (
        f" (and {len(messages) - 1} more problems)" if len(messages) > 1 else ""
    )
    shown = [
        {"loc": list(e.get("loc", ())), "msg": m, "type": e.get("type")}
        for e, m in zip(errors, messages, strict=True)
    ]
    return _error(422, detail, jsonable_encoder(shown))


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    response = _error(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code in (408, 413):
        # The rest of the body may still be on its way; the connection cannot be reused.
        response.headers["connection"] = "close"
    return response


class _JSONRequest(Request):
    """A request whose JSON body fails with a sentence (422), not a bare 400.

    FastAPI turns every error of ``json.loads`` other than a syntax error into
    ``400 There was an error parsing the body``; these are the client's mistakes too.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
            except UnicodeDecodeError as exc:
                byte = exc.object[exc.start : exc.start + 1].hex()
                raise HTTPException(
                    422,
                    f"request body is not valid UTF-8 (byte 0x{byte} at offset {exc.start}: "
                    f"{exc.reason}); send JSON encoded as UTF-8",
                ) from None
            except RecursionError:
                raise HTTPException(
                    422, "request body nests JSON arrays or objects too deeply to be read"
                ) from None
        return self._json


class _JSONRoute(APIRoute):
    """Routes that read their body through :class:`_JSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(_JSONRequest(request.scope, request.receive))

        return route_handler


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("amif_match: unexpected error in %s %s", request.method, request.url.path)
    return _error(500, f"internal error ({type(exc).__name__}); see the server log")


# --------------------------------------------------------------------------- the app


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalars and arrays
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return None if _is_missing(value) else str(value)


def _is_missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class _State:
    """What the lifespan loads once and every request shares."""

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
        self.activities_by_layer: dict[str, list[dict[str, Any]]] = {}
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
            "objectives": _json_safe(m.get_objectives().to_dict("records")),
            "activities": _json_safe(m.get_activities().to_dict("records")),
            "target_groups": _json_safe(m.get_target_groups().to_dict("records")),
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
        gone = asyncio.ensure_future(_disconnected(request))
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
            return _outcome(future, budget)
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
        raise HTTPException(504, _over_budget(budget))


def _outcome(future: asyncio.Future[Any], budget: Budget) -> Any:
    """The work's result; its errors as HTTP errors."""
    try:
        return future.result()
    except DeadlineExceeded:
        raise HTTPException(504, _over_budget(budget)) from None
    except Cancelled as exc:  # cancelled by the client going away, a moment before the end
        raise HTTPException(499, str(exc)) from None
    except (ValueError, TypeError) as exc:  # InputError is a ValueError
        raise HTTPException(422, " ".join(str(exc).split())) from exc


def _over_budget(budget: Budget) -> str:
    return (
        f"the request took longer than its time budget of {budget.seconds:g} s and was "
        "stopped; send a shorter text or fewer texts per batch"
    )


async def _disconnected(request: Request) -> None:
    """Return when the client has closed the connection (the body has been read by now)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0.1)  # a server that answers at once must not make this spin


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_seconds(name: str, default: float) -> float | None:
    """A timeout from the environment: seconds, or 0/``none`` for no limit."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("0", "none", "off"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"{name} must be seconds (e.g. 60) or 0 for no limit, got {raw!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive seconds or 0 for no limit, got {raw!r}")
    return value


def create_app(
    matcher: Any = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_concurrent: int = MAX_CONCURRENT,
    max_queue: int = MAX_QUEUE,
    request_timeout: float | None = None,
    body_timeout: float = BODY_TIMEOUT,
    large_request_chars: int | None = LARGE_REQUEST_CHARS,
    docs: bool | None = None,
) -> FastAPI:
    """Build the FastAPI application.

    Args:
        matcher: The :class:`~amif_match.Matcher` to serve (default: ``Matcher.default()``,
            created and fitted when the app starts).
        max_body_bytes: Largest accepted request body (413 above it).
        max_concurrent: Model calls running at once (worker threads).
        max_queue: Requests that may wait for a worker; more get 503 at once.
        request_timeout: Time budget per model request, in seconds, waiting for a worker
            included (503 or 504 when it runs out); default ``$AMIF_MATCH_REQUEST_TIMEOUT``,
            else :data:`REQUEST_TIMEOUT`. ``0`` in the variable means no limit.
        body_timeout: Seconds a client has to send the whole body (408 after).
        large_request_chars: Requests with more characters in all their texts run one at a
            time in one extra worker; ``None`` sends every request to the same workers.
        docs: Serve the interactive ``/docs`` and ``/redoc`` pages. They load their scripts
            and fonts from public CDNs (jsdelivr, Google Fonts), which an offline or locked-down
            deployment cannot reach and should not call, so they are off unless this is true
            or ``AMIF_MATCH_DOCS=1``. ``/openapi.json`` is always served.
    """
    timeout = (
        _env_seconds("AMIF_MATCH_REQUEST_TIMEOUT", REQUEST_TIMEOUT)
        if request_timeout is None
        else request_timeout
    )
    if timeout is not None and not timeout > 0:
        raise ValueError(f"request_timeout must be positive seconds, got {request_timeout!r}")
    if docs is None:
        docs = _env_flag("AMIF_MATCH_DOCS")
    holder: dict[str, _State] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        from amif_match.matcher import Matcher

        state = _State(
            matcher if matcher is not None else Matcher.default(),
            max_concurrent,
            max_queue,
            timeout,
            large_request_chars,
        )
        log.info("amif_match: loading the model ...")
        await anyio.to_thread.run_sync(state.load)
        log.info(
            "amif_match: ready in %.1f s (%s, %d projects)",
            state.load_seconds,
            state.embedder,
            state.corpus_counts.get("projects", 0),
        )
        holder["state"] = state
        try:
            yield
        finally:
            holder.clear()
            # Work still running was abandoned by its request; its budget stops it soon.
            state.workers.shutdown(wait=False, cancel_futures=True)
            state.large_workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="amif-match",
        version=__version__,
        summary="Classify AMIF proposals and suggest partner organisations (Finland).",
        description=(
            "Classifies proposals for the EU Asylum, Migration and Integration Fund (AMIF) "
            "and suggests partner organisations from past funded projects. Finnish, Swedish "
            "and English texts; plain text or HTML.\n\n"
            f"Limits: a text has at most {MAX_TEXT_CHARS:,} characters, a batch at most "
            f"{MAX_BATCH} texts (422 above them); a request body has at most "
            f"{max_body_bytes:,} bytes (413 above it) and must arrive within "
            f"{body_timeout:g} s (408). "
            + (
                f"Each request has a time budget of {timeout:g} s (504 when its work runs "
                "over, 503 when it found no free model worker in time). "
                if timeout is not None
                else ""
            )
            + 'Errors are `{"detail": "..."}`.'
        ),
        lifespan=lifespan,
        responses={408: _ERRORS[408], 413: _ERRORS[413]},
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.router.route_class = _JSONRoute
    app.add_middleware(BodyLimits, max_bytes=max_body_bytes, timeout=body_timeout)
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)

    def state() -> _State:
        if "state" not in holder:  # only without a lifespan (e.g. a bare ASGI test client)
            raise HTTPException(503, "the model is not loaded yet")
        return holder["state"]

    @app.post(
        "/classify",
        response_model=ClassificationResult,
        responses=_ERRORS,
        tags=["classification"],
        summary="Classify one proposal",
    )
    async def classify(body: ClassifyRequest, request: Request) -> Any:
        """Objective probabilities, activities, target groups, evidence sentences and similar
        past projects for one proposal."""
        options = body.model_dump(exclude={"text"})
        return await state().call(
            request, lambda m: m.classify(body.text, **options).to_dict(), len(body.text)
        )

    @app.post(
        "/classify/batch",
        response_model=BatchResult,
        responses=_ERRORS,
        tags=["classification"],
        summary=f"Classify up to {MAX_BATCH} proposals",
    )
    async def classify_batch(body: ClassifyBatchRequest, request: Request) -> Any:
        """Classify several proposals in one embedding pass; results keep the input order."""
        options = body.model_dump(exclude={"texts"})

        def work(m: Any) -> Any:
            results = m.classify_batch(body.texts, show_progress_bar=False, **options)
            return {"results": [r.to_dict() for r in results]}

        return await state().call(request, work, sum(map(len, body.texts)))

    @app.post(
        "/partners",
        response_model=PartnersResult,
        responses={**_ERRORS, 503: {"model": ErrorResponse, "description": "Not available"}},
        tags=["partners"],
        summary="Suggest partner organisations",
    )
    async def partners(body: PartnersRequest, request: Request) -> Any:
        """Organisations with the most relevant past AMIF work, best first, each with an
        explanation."""
        s = state()
        if s.partners_error:
            raise HTTPException(503, s.partners_error)
        options = body.model_dump(exclude={"text", "k"}, exclude_none=True)
        if not options.get("complement"):
            options.pop("complement", None)

        def work(m: Any) -> Any:
            from amif_match.partners import to_records

            return {"partners": to_records(m.suggest_partners(body.text, body.k, **options))}

        return await s.call(request, work, len(body.text))

    @app.post(
        "/activities",
        response_model=ActivitiesResult,
        responses=_ERRORS,
        tags=["classification"],
        summary="Closest catalogue activities",
    )
    async def activities(body: ActivitiesRequest, request: Request) -> Any:
        """The ``k`` catalogue activities closest to the proposal, best first."""

        def work(m: Any) -> Any:
            frame = m.match_activities(body.text, body.k, layer=body.layer, language=body.language)
            return {"activities": _json_safe(frame.to_dict("records"))}

        return await state().call(request, work, len(body.text))

    @app.get(
        "/catalogue",
        response_model=CatalogueResult,
        responses={422: _ERRORS[422]},
        tags=["catalogue"],
        summary="The programme catalogue",
    )
    async def catalogue(
        layer: Annotated[
            Literal["activity_type", "intervention_field", "national_action"] | None,
            Query(description="Only activities of this layer."),
        ] = None,
    ) -> Any:
        """The four specific objectives, the activity catalogue and the target groups, with
        Finnish, Swedish and English names."""
        data = state().catalogue
        acts = data["activities"]
        if layer is not None:
            acts = [a for a in acts if a.get("layer") == layer]
        return {**data, "activities": acts}

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness and model")
    async def health() -> Any:
        """``status: ok`` once the model is loaded (the service accepts no request before).

        Answered on the event loop, never behind model work, so it stays quick under load."""
        s = state()
        return {
            "status": "ok",
            "version": __version__,
            "embedder": s.embedder,
            "corpus": s.corpus_counts,
            "partners": s.partners_error is None,
            "limits": {
                "max_text_chars": MAX_TEXT_CHARS,
                "max_batch": MAX_BATCH,
                "max_body_bytes": max_body_bytes,
                "max_k": MAX_K,
            },
            "timeouts": {
                "request_seconds": s.request_timeout,
                "body_seconds": body_timeout,
            },
            "load_seconds": round(s.load_seconds, 2),
            "uptime_seconds": round(time.monotonic() - s.started, 1),
        }

    return app


#: The application for ASGI servers (``uvicorn amif_match.interfaces.service:app``); nothing
#: heavy loads until the server starts it.
app = create_app()
