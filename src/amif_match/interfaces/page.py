"""The page at ``/``: a small web interface over the service's JSON endpoints.

Server-rendered HTML (Jinja2, the ``[serve]`` extra) with one plain script and one stylesheet
of our own under ``static/``; no front-end build, nothing loaded from other sites (a strict
Content-Security-Policy says so to the browser). The script calls ``POST /classify``,
``POST /partners`` and, when the service has them, ``POST /feedback`` / ``GET /feedback``;
documents go through ``POST /page/text`` (their text, read as ``POST /classify/file`` reads
it) so that the evidence can be highlighted in the text and partners suggested for it.

The interface language is Finnish, Swedish or English: ``?lang=`` first, else the browser's
``Accept-Language``, else English. Every string of the page is in ``templates/translations.json``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from amif_match._version import __version__
from amif_match.corpus.schemas import MEMBER_STATES, ORG_TYPES
from amif_match.errors import MissingDependencyError
from amif_match.interfaces.http import upload_name
from amif_match.text.documents import DOCUMENT_SUFFIXES, document_text

__all__ = ["PAGE_LANGUAGES", "TEXT_PATH", "add_page", "choose_language", "translations"]

#: Interface languages, the default last.
PAGE_LANGUAGES = ("fi", "sv", "en")
#: Where the page sends a document to get its text.
TEXT_PATH = "/page/text"

_HERE = Path(__file__).parent
_STATIC = {"page.js": "text/javascript", "page.css": "text/css"}
#: The page runs only its own script and style and talks only to this service.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@cache
def translations() -> dict[str, dict[str, str]]:
    """The page's strings: ``{language: {key: text}}``."""
    return json.loads((_HERE / "templates" / "translations.json").read_text(encoding="utf-8"))


def choose_language(lang: str | None, accept_language: str | None) -> str:
    """The interface language: ``lang`` when it is one of :data:`PAGE_LANGUAGES`, else the
    best of them in an ``Accept-Language`` header, else English."""
    if lang and lang.strip().lower() in PAGE_LANGUAGES:
        return lang.strip().lower()
    best, best_q = "en", 0.0
    for part in (accept_language or "").split(",")[:32]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        if primary == "nb" or primary == "no":  # not an interface language
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in PAGE_LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _static(name: str) -> bytes:
    return (_HERE / "static" / name).read_bytes()


def render_page(lang: str) -> str:
    """The HTML of the page in ``lang``."""
    strings = translations()
    return (
        _environment()
        .get_template("page.html")
        .render(
            lang=lang,
            t=strings[lang],
            languages=PAGE_LANGUAGES,
            language_names={"fi": "suomi", "sv": "svenska", "en": "English"},
            strings=strings,
            org_types=ORG_TYPES,
            member_states=MEMBER_STATES,
            suffixes=", ".join(DOCUMENT_SUFFIXES),
            version=__version__,
        )
    )


def _context(matcher: Any) -> dict[str, Any]:
    """What the page needs from the corpus: project source links, regions, countries."""
    corpus = matcher.corpus_
    projects = corpus.projects
    sources = {}
    if "source_url" in projects:
        for pid, urls in zip(projects["id"], projects["source_url"], strict=True):
            urls = urls.split(";") if isinstance(urls, str) else urls
            if isinstance(urls, list | tuple) or hasattr(urls, "tolist"):
                links = [u.strip() for u in urls if isinstance(u, str)]
                links = [u for u in links if u.startswith(("https://", "http://"))]
                if links:
                    sources[str(pid)] = links[0]
    orgs = corpus.organisations
    regions = sorted({r for r in orgs.get("region", []) if isinstance(r, str) and r})
    countries = sorted({c for c in orgs.get("country", []) if isinstance(c, str) and c})
    return {"sources": sources, "regions": regions, "countries": countries}


def add_page(app: FastAPI, state: Callable[[], Any]) -> None:
    """Serve the page at ``/`` on ``app``; ``state()`` gives the service's model workers."""
    cached: dict[str, Any] = {}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(
        request: Request, lang: Annotated[str | None, Query(max_length=8)] = None
    ) -> Response:
        chosen = choose_language(lang, request.headers.get("accept-language"))
        headers = {**_SECURITY_HEADERS, "Content-Language": chosen, "Vary": "Accept-Language"}
        return HTMLResponse(render_page(chosen), headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(404, "Not Found")
        return Response(
            _static(name),
            media_type=_STATIC[name],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/page/context", include_in_schema=False)
    async def context() -> Any:
        if "context" not in cached:
            cached["context"] = _context(state().matcher)
        return cached["context"]

    async def text_of(request: Request, file: Annotated[UploadFile, File()]) -> Any:
        name = upload_name(file, DOCUMENT_SUFFIXES)
        data = await file.read()
        try:
            text = await state().call(request, lambda m: document_text(data, name), len(data))
        except MissingDependencyError as exc:  # the reader for this type is not installed
            raise HTTPException(503, str(exc)) from None
        return {"name": name, "text": text}

    # Without python-multipart FastAPI cannot read forms: the page then takes pasted text only.
    with contextlib.suppress(RuntimeError):
        app.post(TEXT_PATH, include_in_schema=False)(text_of)
