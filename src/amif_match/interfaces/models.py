"""The service's pydantic request and response models, derived from :mod:`amif_match.options`.

Each request model has one field per option of its command, with the option's type, default,
limits and help text; each response model has exactly the fields of a result record in
:data:`amif_match.options.RESULTS` (no extras pass through unlisted), so the service and the
Python API cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, create_model

from amif_match.options import (
    MAX_CHARS,
    MAX_NAME_CHARS,
    MAX_NAMES,
    RESULTS,
    Option,
    options_for,
)

__all__ = [
    "MAX_BATCH",
    "ActivitiesRequest",
    "ActivitiesResult",
    "BatchResult",
    "CatalogueResult",
    "ClassificationResult",
    "ClassifyBatchRequest",
    "ClassifyFileForm",
    "ClassifyRequest",
    "ErrorResponse",
    "Health",
    "Partner",
    "PartnersRequest",
    "PartnersResult",
    "RankedActivity",
    "request_fields",
    "response_model",
]

#: Most texts in one ``/classify/batch`` request.
MAX_BATCH = 64

Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_CHARS,
        description="The proposal: plain text or HTML, in any EU language.",
        examples=["Kotoutumiskoulutusta maahanmuuttajanaisille"],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


class _Request(BaseModel):
    # Strict: ``"k": true``, ``"k": "5"`` or ``"complement": "yes"`` are mistakes in the client,
    # not values to coerce; an integer is still accepted where a number is expected.
    model_config = ConfigDict(extra="forbid", strict=True)


def _annotation(option: Option) -> Any:
    """The pydantic type of one option, with its limits."""
    if option.type is bool:
        return Annotated[bool, Field(description=option.help)]
    if option.type is str:
        item: Any = Literal[option.choices] if option.choices else Name  # type: ignore[valid-type]
        if option.many:
            item = Annotated[list[item], Field(max_length=MAX_NAMES)]  # type: ignore[valid-type]
        return Annotated[item | None, Field(description=option.help)]
    kind: Any = option.type if option.default is not None else option.type | None
    return Annotated[kind, Field(ge=option.minimum, le=option.maximum, description=option.help)]


def request_fields(command: str) -> dict[str, Any]:
    """``create_model`` field definitions for the options of ``command``."""
    return {o.name: (_annotation(o), o.default) for o in options_for(command)}


ClassifyRequest = create_model(
    "ClassifyRequest", __base__=_Request, text=(Text, ...), **request_fields("classify")
)
ClassifyBatchRequest = create_model(
    "ClassifyBatchRequest",
    __base__=_Request,
    texts=(
        Annotated[
            list[Text],
            Field(
                min_length=1,
                max_length=MAX_BATCH,
                description=f"1 to {MAX_BATCH} proposals; results come back in the same order.",
            ),
        ],
        ...,
    ),
    **request_fields("classify"),
)


class _Form(BaseModel):
    # A form's fields arrive as strings: "5" is the integer 5 here. Unknown fields are refused.
    model_config = ConfigDict(extra="forbid")


ClassifyFileForm = create_model(
    "ClassifyFileForm",
    __base__=_Form,
    file=(
        Annotated[
            UploadFile,
            Field(
                description="The document: .docx, .pdf, .odt, .txt, .md or .html; its file "
                "name's suffix gives its type."
            ),
        ],
        ...,
    ),
    **request_fields("classify"),
)
PartnersRequest = create_model(
    "PartnersRequest", __base__=_Request, text=(Text, ...), **request_fields("partners")
)
ActivitiesRequest = create_model(
    "ActivitiesRequest", __base__=_Request, text=(Text, ...), **request_fields("activities")
)


class _Response(BaseModel):
    # Every field is listed: a field the library adds must be added to amif_match.options.
    model_config = ConfigDict(extra="forbid")


_SCALARS: dict[Any, Any] = {str: str, int: int, float: float, bool: bool}
_MODELS: dict[str, type[BaseModel]] = {}


def response_model(record: str) -> type[BaseModel]:
    """The response model of one record of :data:`amif_match.options.RESULTS` (built once)."""
    if record not in _MODELS:
        fields: dict[str, Any] = {}
        for f in RESULTS[record]:
            kind: Any = response_model(f.type) if isinstance(f.type, str) else _SCALARS[f.type]
            if f.many:
                kind = list[kind]  # type: ignore[valid-type]
            if f.optional:
                kind = kind | None
            info = Field(default=None if f.optional else ..., description=f.help or None)
            fields[f.name] = (kind, info)
        _MODELS[record] = create_model(record, __base__=_Response, **fields)
    return _MODELS[record]


ClassificationResult = response_model("ClassificationResult")
RankedActivity = response_model("RankedActivity")
Partner = response_model("Partner")


class BatchResult(_Response):
    """The answer of ``POST /classify/batch``."""

    results: list[ClassificationResult]  # type: ignore[valid-type]


class ActivitiesResult(_Response):
    """The answer of ``POST /activities``."""

    activities: list[RankedActivity]  # type: ignore[valid-type]


class PartnersResult(_Response):
    """The answer of ``POST /partners``."""

    partners: list[Partner]  # type: ignore[valid-type]


class CatalogueResult(_Response):
    """The answer of ``GET /catalogue``."""

    objectives: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    target_groups: list[dict[str, Any]]


class Health(_Response):
    """The answer of ``GET /health``."""

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
    """The body of every error answer."""

    detail: str = Field(description="What was wrong, in one sentence.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each validation problem (loc, msg, type)."
    )
