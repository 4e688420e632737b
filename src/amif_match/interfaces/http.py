"""HTTP plumbing of the service: body limits, strict JSON parsing, one-sentence errors.

Every error the service answers is ``{"detail": ..., "errors": ...}`` (:class:`ErrorResponse`);
validation errors name the field and say what was wrong in words a client developer can act
on. Needs the ``[serve]`` extra.
"""

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import HTTPException, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amif_match.interfaces.models import MAX_BATCH
from amif_match.options import MAX_CHARS

__all__ = [
    "BODY_TIMEOUT",
    "MAX_BODY_BYTES",
    "BodyLimits",
    "JSONRoute",
    "error_response",
    "on_http_error",
    "on_unexpected",
    "on_validation_error",
    "upload_name",
]

log = logging.getLogger("uvicorn.error")

#: Largest accepted request body, in bytes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Seconds a client has to send the whole request body once the headers are in.
BODY_TIMEOUT = 30.0

# --------------------------------------------------------------------------- body limits


class BodyLimits:
    """ASGI middleware answering 413 for request bodies over ``max_bytes`` and 408 for bodies
    that do not arrive within ``timeout`` seconds. ``uploads`` maps paths that take a document
    upload to their own, larger limit.

    A declared ``Content-Length`` over the limit is refused before the body is read; a streamed
    (chunked) body is counted as it arrives. The time limit covers the whole body, not the gap
    between chunks, so a client dripping a byte now and then is cut off too. Once the body is
    complete, ``receive`` passes through untouched (the model endpoints use it to notice a
    client that has gone).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        timeout: float = BODY_TIMEOUT,
        uploads: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.uploads = dict(uploads or {})

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
        upload = scope.get("path") in self.uploads
        limit = self.uploads[scope["path"]] if upload else self.max_bytes
        if declared is not None and declared > limit:
            response = error_response(413, _too_large(declared, limit, upload=upload))
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
                if received > limit:
                    raise HTTPException(413, _too_large(received, limit, more=True, upload=upload))
                complete = not message.get("more_body", False)
                return message
            raise HTTPException(
                408,
                f"the request body did not arrive within {self.timeout:g} s of the headers "
                f"({received:,} bytes received); send it in one go",
            )

        await self.app(scope, limited, send)


def _too_large(size: int, limit: int, *, more: bool = False, upload: bool = False) -> str:
    got = f"more than {limit:,}" if more else f"{size:,}"
    if upload:
        return (
            f"request body is {got} bytes; the limit for a document upload is {limit:,} bytes "
            "(remove images from the document or send its text to /classify)"
        )
    return (
        f"request body is {got} bytes; the limit is {limit:,} bytes "
        f"(at most {MAX_CHARS:,} characters per text and {MAX_BATCH} texts per batch)"
    )


# --------------------------------------------------------------------------- errors


def error_response(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """The service's error body: ``detail`` and, for 422, ``errors``."""
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
        return f"{where}{size} the limit is {ctx.get('max_length', MAX_CHARS):,} characters"
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
    if kind == "literal_error":  # a choice of amif_match.options: name the wrong value
        return f"{where} must be {ctx.get('expected', 'one of the allowed values')}, not {value!r}"
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


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with each validation problem described in words."""
    errors = list(exc.errors())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")) and any(
        e.get("type") in ("model_attributes_type", "dict_type")
        and isinstance(e.get("input"), bytes)
        for e in errors
    ):
        return error_response(422, "send the request body as JSON (Content-Type: application/json)")
    if content_type != "multipart/form-data" and any(
        e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body", "file") for e in errors
    ):  # the document upload
        return error_response(
            422,
            "send the document as multipart/form-data, in the field 'file' "
            "(e.g. curl -F file=@hakemus.pdf)",
        )
    messages = [_describe(e) for e in errors]
    detail = messages[0] + (
        f" (and {len(messages) - 1} more problems)" if len(messages) > 1 else ""
    )
    shown = [
        {"loc": list(e.get("loc", ())), "msg": m, "type": e.get("type")}
        for e, m in zip(errors, messages, strict=True)
    ]
    return error_response(422, detail, jsonable_encoder(shown))


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Errors raised by routes and middleware, in the service's error body."""
    response = error_response(exc.status_code, str(exc.detail))
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


class JSONRoute(APIRoute):
    """Routes that read their body through :class:`_JSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(_JSONRequest(request.scope, request.receive))

        return route_handler


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """500 without a traceback for the client; the traceback goes to the log."""
    log.exception("amif_match: unexpected error in %s %s", request.method, request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


# --------------------------------------------------------------------------- uploads

#: The type of an upload without a file name suffix, from its Content-Type.
_UPLOAD_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
}


def upload_name(upload: UploadFile, suffixes: tuple[str, ...]) -> str:
    """The uploaded file's own name (no folders, no control characters), for its type and
    errors; from its Content-Type when it has no suffix."""
    raw = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in raw if c.isprintable())[-120:].strip()
    if "." not in name.lstrip("."):
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type not in _UPLOAD_TYPES:
            raise HTTPException(
                422,
                f"name the uploaded file with its type ({', '.join(suffixes)}) or "
                "send its Content-Type",
            )
        name = f"{name or 'upload'}{_UPLOAD_TYPES[content_type]}"
    return name
