"""``POST /feedback`` and ``GET /feedback``: officers' corrections through the service.

Who may use them (safe by default):

* a token set (``create_app(token=...)``, ``amif-match serve --token`` or
  ``$AMIF_MATCH_TOKEN``): every feedback request must send ``Authorization: Bearer <token>``
  (compared in constant time); otherwise **401**;
* no token, the service bound to a loopback address (the default, 127.0.0.1): allowed, since
  only this machine can reach it;
* no token, bound to any other address: **403**, feedback is disabled until a token is set.

Each record is written in one SQLite transaction (:class:`~amif_match.feedback.FeedbackStore`),
so stopping the service mid-write loses nothing already answered and stores nothing half.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from amif_match.errors import FeedbackError
from amif_match.feedback import FeedbackStore
from amif_match.feedback.records import MAX_NOTE_CHARS, MAX_REVIEWER_CHARS
from amif_match.interfaces.models import ErrorResponse
from amif_match.options import MAX_CHARS

__all__ = ["FeedbackRequest", "FeedbackResult", "add_feedback_routes"]

Codes = Annotated[list[Annotated[str, Field(min_length=1, max_length=80)]], Field(max_length=200)]


class FeedbackRequest(BaseModel):
    """The body of ``POST /feedback``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=MAX_CHARS, description="The proposal judged.")
    objective: str = Field(min_length=1, max_length=10, description="The right objective.")
    target_groups: Codes = Field(default_factory=list, description="The right target groups.")
    activities: Codes = Field(default_factory=list, description="The right activities.")
    predicted: str | None = Field(default=None, max_length=10, description="The model's one.")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)
    reviewer: str | None = Field(default=None, max_length=MAX_REVIEWER_CHARS)


class FeedbackResult(BaseModel):
    """One stored record."""

    id: int
    time: str
    text: str
    text_sha256: str
    objective: str
    target_groups: list[str]
    activities: list[str]
    predicted: str | None
    note: str
    reviewer: str | None
    model_version: str
    embedder: str


class FeedbackList(BaseModel):
    """The answer of ``GET /feedback``."""

    feedback: list[FeedbackResult]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong token"},
    403: {"model": ErrorResponse, "description": "Feedback is disabled (no token set)"},
    422: {"model": ErrorResponse, "description": "Invalid correction"},
}


def add_feedback_routes(
    app: FastAPI,
    store: FeedbackStore,
    *,
    token: str | None,
    local: bool,
    embedder: Any = None,
) -> None:
    """Add the feedback endpoints to ``app``. ``local``: the service is bound to a loopback
    address; ``embedder()`` names the served model's embedder (recorded with each row)."""

    def check(request: Request) -> None:
        if token:
            sent = request.headers.get("authorization", "")
            scheme, _, value = sent.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                raise HTTPException(
                    401,
                    "feedback needs the service's token: send Authorization: Bearer <token>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        elif not local:
            raise HTTPException(
                403,
                "feedback is disabled: the service is reachable from other machines and has "
                "no token (start it with --token or AMIF_MATCH_TOKEN)",
            )

    @app.post(
        "/feedback",
        response_model=FeedbackResult,
        status_code=201,
        responses=_RESPONSES,
        tags=["feedback"],
        summary="Record a confirmation or correction",
    )
    async def post_feedback(body: FeedbackRequest, request: Request) -> Any:
        """Store an officer's confirmation or correction of a result; ``amif-match train
        --with-feedback`` learns from them."""
        check(request)
        details = body.model_dump(exclude={"text"})
        details["embedder"] = embedder() if callable(embedder) else embedder

        def write() -> Any:
            return store.add(body.text, **details).to_dict()

        try:
            return await anyio.to_thread.run_sync(write)
        except FeedbackError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get(
        "/feedback",
        response_model=FeedbackList,
        responses=_RESPONSES,
        tags=["feedback"],
        summary="Stored corrections",
    )
    async def list_feedback(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000, description="The newest N.")] = 100,
    ) -> Any:
        """The newest stored corrections, oldest of them first."""
        check(request)
        records = await anyio.to_thread.run_sync(lambda: store.records(limit=limit))
        return {"feedback": [r.to_dict() for r in records]}
