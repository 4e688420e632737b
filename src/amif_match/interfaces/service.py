"""The HTTP service: ``amif-match serve`` (needs the ``[serve]`` extra: FastAPI and uvicorn).

Endpoints (JSON in, JSON out; OpenAPI document at ``/openapi.json``; the ``/docs`` and ``/redoc``
pages only with ``create_app(docs=True)``, ``amif-match serve --docs`` or ``AMIF_MATCH_DOCS=1``,
because they load scripts and fonts from public CDNs):

============================  =================================================================
``POST /classify``            one proposal -> the classification (:meth:`Classification.to_dict`)
``POST /classify/batch``      up to :data:`MAX_BATCH` proposals -> results in the same order
``POST /classify/file``       one document (multipart upload: .docx, .pdf, .odt, .txt, .md,
                              .html) -> its classification
``POST /partners``            one proposal -> ranked, explained partner organisations
``POST /activities``          one proposal -> the closest catalogue activities
``GET /catalogue``            objectives, activities (``?layer=``) and target groups
``GET /health``               ``{"status": "ok", ...}`` once the model is loaded
``POST /feedback``            record an officer's correction (token rules: :mod:`~.feedback_routes`)
``GET /feedback``             the stored corrections
``GET /``                     the page: a web interface over these endpoints (:mod:`~.page`)
============================  =================================================================

Limits, and how a request that breaks one is answered:

* a request body over :data:`MAX_BODY_BYTES` (4 MiB), or an upload over
  :data:`MAX_UPLOAD_BYTES` (16 MiB and a little for the form) -> **413**, before the body is
  read (``Content-Length``) or as soon as a streamed body passes the limit;
* a body that has not fully arrived :data:`BODY_TIMEOUT` (30 s) after the headers -> **408**;
* a text over :data:`MAX_TEXT_CHARS` (200 000 characters), a batch over :data:`MAX_BATCH` (64)
  texts, an empty batch, a wrong type (``k`` must be a JSON integer: ``true``, ``"5"`` and
  ``5.0`` are refused), an unknown field, malformed JSON, a body that is not UTF-8, JSON nested
  too deeply or a text the library rejects (empty, no words) -> **422**; so is an upload
  that cannot be read as a document (unknown type, corrupt, password-protected, a scan
  without a text layer, no text): its error names the uploaded file, never a server path;
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

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException

from amif_match._version import __version__
from amif_match.corpus import LAYERS
from amif_match.errors import MissingDependencyError
from amif_match.feedback import open_store
from amif_match.interfaces.feedback_routes import add_feedback_routes
from amif_match.interfaces.http import (
    BODY_TIMEOUT,
    MAX_BODY_BYTES,
    BodyLimits,
    JSONRoute,
    on_http_error,
    on_unexpected,
    on_validation_error,
    upload_name,
)
from amif_match.interfaces.models import (
    MAX_BATCH,
    ActivitiesRequest,
    ActivitiesResult,
    BatchResult,
    CatalogueResult,
    ClassificationResult,
    ClassifyBatchRequest,
    ClassifyFileForm,
    ClassifyRequest,
    ErrorResponse,
    Health,
    PartnersRequest,
    PartnersResult,
)
from amif_match.interfaces.page import TEXT_PATH, add_page
from amif_match.interfaces.workers import ModelWorkers
from amif_match.options import MAX_CHARS, MAX_K
from amif_match.serialise import to_jsonable
from amif_match.text.documents import DOCUMENT_SUFFIXES, MAX_DOCUMENT_BYTES, document_text

__all__ = [
    "BODY_TIMEOUT",
    "LARGE_REQUEST_CHARS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENT",
    "MAX_K",
    "MAX_QUEUE",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "REQUEST_TIMEOUT",
    "app",
    "create_app",
]

#: Longest accepted text, in characters: the library's one limit.
MAX_TEXT_CHARS = MAX_CHARS
#: Model calls running at once, each in a worker thread of its own; more requests wait.
MAX_CONCURRENT = 4
#: Requests waiting for a model worker before further ones get 503 at once.
MAX_QUEUE = 64
#: Requests with more characters than this in all their texts run one at a time, in a worker
#: of their own, so that a few large requests cannot take every worker.
LARGE_REQUEST_CHARS = 20_000
#: Seconds a request may take from its body being read to its answer (waiting included).
REQUEST_TIMEOUT = 60.0
#: Largest ``POST /classify/file`` body: the largest document read, and room for the form.
MAX_UPLOAD_BYTES = MAX_DOCUMENT_BYTES + 64 * 1024
#: The body of ``POST /classify/file``: the document and the options of ``/classify``.
UploadForm = Annotated[ClassifyFileForm, Form(media_type="multipart/form-data")]  # type: ignore[valid-type]

log = logging.getLogger("uvicorn.error")


_ERRORS: dict[int | str, dict[str, Any]] = {
    408: {"model": ErrorResponse, "description": "Request body not received in time"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    422: {"model": ErrorResponse, "description": "Invalid request"},
    503: {"model": ErrorResponse, "description": "Busy, or not available; see Retry-After"},
    504: {"model": ErrorResponse, "description": "The request ran past its time budget"},
}


# --------------------------------------------------------------------------- the app


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
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_concurrent: int = MAX_CONCURRENT,
    max_queue: int = MAX_QUEUE,
    request_timeout: float | None = None,
    body_timeout: float = BODY_TIMEOUT,
    large_request_chars: int | None = LARGE_REQUEST_CHARS,
    docs: bool | None = None,
    token: str | None = None,
    local: bool = True,
    cors_origins: Sequence[str] = (),
    feedback_store: Any = None,
) -> FastAPI:
    """Build the FastAPI application.

    Args:
        matcher: The :class:`~amif_match.Matcher` to serve (default: ``Matcher.default()``,
            created and fitted when the app starts).
        max_body_bytes: Largest accepted request body (413 above it).
        max_upload_bytes: Largest accepted ``POST /classify/file`` body (413 above it).
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
        token: The token ``POST``/``GET /feedback`` require (``Authorization: Bearer``);
            default ``$AMIF_MATCH_TOKEN``. Without one, feedback works only when ``local``.
        local: Whether the service is bound to a loopback address (``amif-match serve`` sets
            it from ``--host``); see :mod:`~.feedback_routes`.
        cors_origins: Origins allowed to call the service from a browser (CORS is off
            without them).
        feedback_store: The :class:`~amif_match.feedback.FeedbackStore` or its path (default:
            ``$AMIF_MATCH_FEEDBACK`` or the user data folder).
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
    holder: dict[str, ModelWorkers] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        from amif_match.matcher import Matcher

        state = ModelWorkers(
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
            f"{max_body_bytes:,} bytes, a document upload at most {max_upload_bytes:,} "
            "(413 above them), and must arrive within "
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
    app.router.route_class = JSONRoute
    app.add_middleware(
        BodyLimits,
        max_bytes=max_body_bytes,
        timeout=body_timeout,
        uploads={"/classify/file": max_upload_bytes, TEXT_PATH: max_upload_bytes},
    )
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_unexpected)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    add_feedback_routes(
        app,
        open_store(feedback_store),
        token=token if token is not None else os.environ.get("AMIF_MATCH_TOKEN") or None,
        local=local,
        embedder=lambda: holder["state"].embedder if "state" in holder else "",
    )

    def model_route(
        path: str,
        model: Any,
        summary: str,
        responses: dict[int | str, dict[str, Any]] = _ERRORS,
        tags: list[str] | None = None,
    ) -> Callable[[Any], Any]:
        """``POST path``: model work, answering ``model`` or one of ``responses``."""
        return app.post(
            path,
            response_model=model,
            responses=responses,
            tags=tags or ["classification"],
            summary=summary,
        )

    def state() -> ModelWorkers:
        if "state" not in holder:  # only without a lifespan (e.g. a bare ASGI test client)
            raise HTTPException(503, "the model is not loaded yet")
        return holder["state"]

    @model_route("/classify", ClassificationResult, "Classify one proposal")
    async def classify(body: ClassifyRequest, request: Request) -> Any:
        """Objective probabilities, activities, target groups, evidence sentences and similar
        past projects for one proposal."""
        options = body.model_dump(exclude={"text"})
        return await state().call(
            request, lambda m: m.classify(body.text, **options).to_dict(), len(body.text)
        )

    @model_route("/classify/batch", BatchResult, f"Classify up to {MAX_BATCH} proposals")
    async def classify_batch(body: ClassifyBatchRequest, request: Request) -> Any:
        """Classify several proposals in one embedding pass; results keep the input order."""
        options = body.model_dump(exclude={"texts"})

        def work(m: Any) -> Any:
            results = m.classify_batch(body.texts, show_progress_bar=False, **options)
            return {"results": [r.to_dict() for r in results]}

        return await state().call(request, work, sum(map(len, body.texts)))

    async def classify_file(form: UploadForm, request: Request) -> Any:
        """Classify one document sent as a multipart/form-data upload (the field ``file``;
        the options as form fields): .docx, .pdf, .odt, .txt, .md or .html. A document that
        cannot be read (unknown type, corrupt, password-protected, a scan without a text
        layer, no text) is a 422 naming the uploaded file."""
        name = upload_name(form.file, DOCUMENT_SUFFIXES)
        data = await form.file.read()
        options = form.model_dump(exclude={"file"})

        def work(m: Any) -> Any:
            text = document_text(data, name, max_bytes=max_upload_bytes)
            return m.classify(text, **options).to_dict()

        try:
            return await state().call(request, work, len(data))
        except MissingDependencyError as exc:  # the reader for this type is not installed
            raise HTTPException(503, str(exc)) from None

    try:
        model_route(
            "/classify/file",
            ClassificationResult,
            "Classify one document (upload)",
            responses={**_ERRORS, 503: {"model": ErrorResponse, "description": "Not available"}},
        )(classify_file)
    except RuntimeError:  # FastAPI reads forms with python-multipart, which is not installed

        @app.post("/classify/file", include_in_schema=False)
        async def no_uploads() -> Any:
            raise HTTPException(
                503,
                "document uploads need python-multipart on the server: "
                "pip install 'amif-match[serve]'",
            )

    @model_route(
        "/partners",
        PartnersResult,
        "Suggest partner organisations",
        responses={**_ERRORS, 503: {"model": ErrorResponse, "description": "Not available"}},
        tags=["partners"],
    )
    async def partners(body: PartnersRequest, request: Request) -> Any:
        """Organisations with the most relevant past AMIF work, best first, each with an
        explanation."""
        s = state()
        if s.partners_error:
            raise HTTPException(503, s.partners_error)
        options = body.model_dump(exclude={"text"})

        def work(m: Any) -> Any:
            from amif_match.partners import to_records

            return {"partners": to_records(m.suggest_partners(body.text, **options))}

        return await s.call(request, work, len(body.text))

    @model_route("/activities", ActivitiesResult, "Closest catalogue activities")
    async def activities(body: ActivitiesRequest, request: Request) -> Any:
        """The ``k`` catalogue activities closest to the proposal, best first."""

        def work(m: Any) -> Any:
            frame = m.match_activities(body.text, **body.model_dump(exclude={"text"}))
            return {"activities": to_jsonable(frame.to_dict("records"))}

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
            Literal[LAYERS] | None,  # type: ignore[valid-type]
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
                "max_upload_bytes": max_upload_bytes,
                "max_k": MAX_K,
            },
            "timeouts": {
                "request_seconds": s.request_timeout,
                "body_seconds": body_timeout,
            },
            "load_seconds": round(s.load_seconds, 2),
            "uptime_seconds": round(time.monotonic() - s.started, 1),
        }

    add_page(app, state)
    return app


#: The application for ASGI servers (``uvicorn amif_match.interfaces.service:app``); nothing
#: heavy loads until the server starts it.
app = create_app()
