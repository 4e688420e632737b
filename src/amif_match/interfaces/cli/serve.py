"""``amif-match serve``: the HTTP service (needs the ``[serve]`` extra)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from amif_match.interfaces.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    add_command,
    positive_int,
)


def run(args: argparse.Namespace) -> int:
    """Start the HTTP service (checks the port and the ``[serve]`` extra first)."""
    try:
        import uvicorn  # noqa: F401  (fail here, with the install hint, when it is missing)

        from amif_match.interfaces.server import serve
    except ImportError as exc:
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            f"amif-match serve needs FastAPI and uvicorn ({exc}): pip install 'amif-match[serve]'"
        ) from None
    check_port(args.host, args.port)  # fail now, not after loading the model
    local = args.host in LOOPBACK
    token = args.token or os.environ.get("AMIF_MATCH_TOKEN") or None
    if not local:
        print(
            f"amif-match: warning: serving on {args.host} makes the service reachable from "
            "other machines; "
            + (
                "POST /feedback needs the token"
                if token
                else "feedback is disabled until a token is set (--token or AMIF_MATCH_TOKEN)"
            ),
            file=sys.stderr,
        )
    try:
        # Also sets connection, keep-alive and header limits (amif_match.interfaces.server).
        serve(
            args.host,
            args.port,
            log_level=args.log_level,
            request_timeout=args.request_timeout,
            docs=args.docs or None,
            token=token,
            local=local,
            cors_origins=tuple(args.cors_origin or ()),
            feedback_store=args.feedback_store,
        )
    except SystemExit as exc:  # uvicorn exits on a taken port or a failed start-up
        return EXIT_FAILURE if exc.code else EXIT_OK
    return EXIT_OK


#: Addresses only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_port(host: str, port: int) -> None:
    """Fail early, with a clear message, when ``host:port`` cannot be bound."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            raise RuntimeError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port"
            ) from None


def port(value: str) -> int:
    """argparse type: a port number 0-65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}")
    return number


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` sub-command to the ``amif-match`` parser."""
    p = add_command(
        sub,
        parents,
        "serve",
        help="run the HTTP service (needs the [serve] extra)",
        description=(
            "Run the HTTP service: POST /classify, /classify/batch, /partners, /activities; "
            "GET /catalogue, /health; OpenAPI at /openapi.json (/docs with --docs). The model "
            "loads once at start-up."
        ),
        epilog="""\
Examples:
  amif-match serve --port 8000
  curl -s localhost:8000/classify -H 'content-type: application/json' \\
       -d '{"text": "Kotoutumiskoulutusta maahanmuuttajanaisille"}'

""",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="port (default 8000)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn log level (default info)",
    )
    p.add_argument(
        "--request-timeout",
        type=positive_int,
        metavar="SECONDS",
        help="time budget per request: 504 when the model work runs over, 503 when no worker "
        "was free in time (default 60, or $AMIF_MATCH_REQUEST_TIMEOUT)",
    )
    p.add_argument(
        "--docs",
        action="store_true",
        help="serve the /docs and /redoc pages (they load scripts and fonts from public CDNs; "
        "off by default, or $AMIF_MATCH_DOCS=1)",
    )
    p.add_argument(
        "--token",
        help="token POST/GET /feedback require (Authorization: Bearer TOKEN; default "
        "$AMIF_MATCH_TOKEN); without one, feedback works only on a loopback --host",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="allow browser pages from ORIGIN (e.g. https://intra.example.fi) to call the "
        "service; repeatable; CORS is off by default",
    )
    p.add_argument(
        "--feedback-store",
        metavar="DB",
        help="the feedback database (default $AMIF_MATCH_FEEDBACK or the user data folder)",
    )
    p.set_defaults(func=run)
