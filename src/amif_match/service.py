"""The HTTP service: ``amif-match serve`` (needs the ``[serve]`` extra: FastAPI and uvicorn).

Endpoints (JSON in, JSON out; OpenAPI document at ``/openapi.json``, docs at ``/docs``):

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
* a text over :data:`MAX_TEXT_CHARS` (200 000 characters), a batch over :data:`MAX_BATCH` (64)
  texts, an empty batch, a wrong type, an unknown field, malformed JSON or a text the library
  rejects (empty, no words) -> **422**.

Every error body is ``{"detail": "<one clear sentence>"}``; validation errors add ``errors``,
the individual problems (field location, message, type) without echoing the input back.

The model loads once, in the application's lifespan, before the first request is accepted.
Endpoints are plain ``def`` functions, so FastAPI runs them in its thread pool; the
:class:`~amif_match.Matcher` is safe for concurrent inference (numpy and torch forward passes,
tokenizer settings fixed by the warm-up call). :data:`MAX_CONCURRENT` bounds how many model calls
run at once; further requests wait their turn.

Run it with ``amif-match serve --port 8000`` or any ASGI server:
``uvicorn amif_match.service:app``.
"""

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amif_match import __version__

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENT",
    "MAX_K",
    "MAX_TEXT_CHARS",
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
#: Model calls running at once; more requests wait in the thread pool.
MAX_CONCURRENT = 4

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
K = Annotated[int, Field(ge=1, le=MAX_K, description="Length of each returned list.")]
Language = Annotated[
    Literal["fi", "sv", "en"] | None,
    Field(description="Language of the text; detected when omitted."),
]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Names = Annotated[list[Name], Field(max_length=100)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    load_seconds: float
    uptime_seconds: float


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong, in one sentence.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each validation problem (loc, msg, type)."
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body too large"},
    422: {"model": ErrorResponse, "description": "Invalid request"},
}


# --------------------------------------------------------------------------- body limit


class BodySizeLimit:
    """ASGI middleware answering 413 for request bodies over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before the body is read; a streamed
    (chunked) body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

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

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _too_large(received, self.max_bytes, more=True))
            return message

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
    return f"{where}: {error.get('msg', 'invalid value')}"


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
    if exc.status_code == 413:
        response.headers["connection"] = "close"
    return response


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

    def __init__(self, matcher: Any, max_concurrent: int) -> None:
        self.matcher = matcher
        self.slots = threading.BoundedSemaphore(max_concurrent)
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
        self.load_seconds = time.perf_counter() - start
        self.started = time.monotonic()

    @contextmanager
    def model_call(self) -> Iterator[Any]:
        """A bounded slot for one model call; library input errors become 422."""
        with self.slots:
            try:
                yield self.matcher
            except (ValueError, TypeError) as exc:  # InputError is a ValueError
                raise HTTPException(422, " ".join(str(exc).split())) from exc


def create_app(
    matcher: Any = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_concurrent: int = MAX_CONCURRENT,
) -> FastAPI:
    """Build the FastAPI application.

    Args:
        matcher: The :class:`~amif_match.Matcher` to serve (default: ``Matcher.default()``,
            created and fitted when the app starts).
        max_body_bytes: Largest accepted request body (413 above it).
        max_concurrent: Model calls running at once.
    """
    holder: dict[str, _State] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        from amif_match.matcher import Matcher

        state = _State(matcher if matcher is not None else Matcher.default(), max_concurrent)
        log.info("amif_match: loading the model ...")
        await anyio.to_thread.run_sync(state.load)
        log.info(
            "amif_match: ready in %.1f s (%s, %d projects)",
            state.load_seconds,
            state.embedder,
            state.corpus_counts.get("projects", 0),
        )
        holder["state"] = state
        yield
        holder.clear()

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
            f"{max_body_bytes:,} bytes (413 above it). Errors are "
            '`{"detail": "..."}`.'
        ),
        lifespan=lifespan,
        responses={413: _ERRORS[413]},
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
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
    def classify(request: ClassifyRequest) -> Any:
        """Objective probabilities, activities, target groups, evidence sentences and similar
        past projects for one proposal."""
        options = request.model_dump(exclude={"text"})
        with state().model_call() as m:
            return m.classify(request.text, **options).to_dict()

    @app.post(
        "/classify/batch",
        response_model=BatchResult,
        responses=_ERRORS,
        tags=["classification"],
        summary=f"Classify up to {MAX_BATCH} proposals",
    )
    def classify_batch(request: ClassifyBatchRequest) -> Any:
        """Classify several proposals in one embedding pass; results keep the input order."""
        options = request.model_dump(exclude={"texts"})
        with state().model_call() as m:
            results = m.classify_batch(request.texts, show_progress_bar=False, **options)
        return {"results": [r.to_dict() for r in results]}

    @app.post(
        "/partners",
        response_model=PartnersResult,
        responses={**_ERRORS, 503: {"model": ErrorResponse, "description": "Not available"}},
        tags=["partners"],
        summary="Suggest partner organisations",
    )
    def partners(request: PartnersRequest) -> Any:
        """Organisations with the most relevant past AMIF work, best first, each with an
        explanation."""
        s = state()
        if s.partners_error:
            raise HTTPException(503, s.partners_error)
        options = request.model_dump(exclude={"text", "k"}, exclude_none=True)
        if not options.get("complement"):
            options.pop("complement", None)
        with s.model_call() as m:
            frame = m.suggest_partners(request.text, request.k, **options)
        from amif_match.partners import to_records

        return {"partners": to_records(frame)}

    @app.post(
        "/activities",
        response_model=ActivitiesResult,
        responses=_ERRORS,
        tags=["classification"],
        summary="Closest catalogue activities",
    )
    def activities(request: ActivitiesRequest) -> Any:
        """The ``k`` catalogue activities closest to the proposal, best first."""
        with state().model_call() as m:
            frame = m.match_activities(
                request.text, request.k, layer=request.layer, language=request.language
            )
        return {"activities": _json_safe(frame.to_dict("records"))}

    @app.get(
        "/catalogue",
        response_model=CatalogueResult,
        responses={422: _ERRORS[422]},
        tags=["catalogue"],
        summary="The programme catalogue",
    )
    def catalogue(
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
    def health() -> Any:
        """``status: ok`` once the model is loaded (the service accepts no request before)."""
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
            "load_seconds": round(s.load_seconds, 2),
            "uptime_seconds": round(time.monotonic() - s.started, 1),
        }

    return app


#: The application for ASGI servers (``uvicorn amif_match.service:app``); nothing heavy loads
#: until the server starts it.
app = create_app()
