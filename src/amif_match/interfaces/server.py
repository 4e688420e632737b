"""Running the HTTP service under uvicorn with limits on connections and slow clients.

:func:`serve` is what ``amif-match serve`` runs. On top of the application's own limits
(:mod:`~.service`: body size, body read time, per-request time budget, queue length)
it sets uvicorn's:

* ``limit_concurrency`` (:data:`LIMIT_CONCURRENCY`): open connections and running requests;
  above it uvicorn answers **503** (plain text) at once, so a flood cannot exhaust memory or
  file descriptors;
* ``timeout_keep_alive`` (:data:`KEEP_ALIVE_TIMEOUT`): an idle keep-alive connection is closed;
* a header timeout (:data:`HEADER_TIMEOUT`): a connection that has not sent a complete request
  line and headers this long after it opened (or after its previous response) is closed.
  uvicorn's h11 protocol has no such timeout of its own — a client sending half a header and
  then nothing would hold its connection forever — so :class:`H11HeaderTimeoutProtocol` adds it.

Under another ASGI server, set the equivalent limits there; with uvicorn directly::

    uvicorn amif_match.interfaces.service:app --limit-concurrency 256 --timeout-keep-alive 5 \\
        --http amif_match.interfaces.server:H11HeaderTimeoutProtocol
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "HEADER_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "LIMIT_CONCURRENCY",
    "H11HeaderTimeoutProtocol",
    "serve",
    "server_config",
]

#: Open connections plus running requests before uvicorn answers 503.
LIMIT_CONCURRENCY = 256
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_TIMEOUT = 5.0
#: Seconds a client has to send a complete request line and headers.
HEADER_TIMEOUT = 10.0

log = logging.getLogger("uvicorn.error")


class H11HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for receiving a request's headers.

    The deadline runs from the moment the connection is waiting for a request (it opened, or
    the previous response was sent and data arrived) and is not extended by further bytes, so a
    client dripping one header byte at a time is closed too. Once the headers are in, the
    application's body read timeout and time budget take over.
    """

    #: Seconds allowed for the request line and headers; :func:`serve` sets it per server.
    header_timeout: float = HEADER_TIMEOUT

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._update_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._update_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        # No request is being served: none has started on this connection yet, or the last
        # response is complete and the next request's headers have not been parsed (a client
        # still dripping the body of a request already answered counts as waiting too).
        return self.cycle is None or self.cycle.response_complete

    def _update_header_timer(self) -> None:
        if self.transport.is_closing():
            self._cancel_header_timer()
        elif self._waiting_for_headers():
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout, self._expired)
        else:
            self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._waiting_for_headers():
            return
        # A keep-alive connection that simply stayed idle is uvicorn's business (its own,
        # shorter keep-alive timer closes it); this one started a request and stalled.
        if self.client:
            log.info(
                "amif_match: closing %s:%d - no complete request headers within %g s",
                *self.client,
                self.header_timeout,
            )
        self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[H11HeaderTimeoutProtocol]:
    """A :class:`H11HeaderTimeoutProtocol` subclass with its own header timeout."""
    if not seconds > 0:
        raise ValueError(f"the header timeout must be positive seconds, got {seconds!r}")
    return type(
        "H11HeaderTimeoutProtocol",
        (H11HeaderTimeoutProtocol,),
        {"header_timeout": float(seconds), "__module__": __name__},
    )


def server_config(
    app: Any = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    limit_concurrency: int = LIMIT_CONCURRENCY,
    keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT,
    header_timeout: float = HEADER_TIMEOUT,
    **app_options: Any,
) -> Any:
    """The ``uvicorn.Config`` that :func:`serve` runs (arguments as there)."""
    import uvicorn

    if app is None:
        from amif_match.interfaces.service import create_app

        app = create_app(**app_options)
    elif app_options:
        raise TypeError(f"app options {sorted(app_options)} need app=None")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol_with_header_timeout(header_timeout),
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=keep_alive_timeout,
        timeout_graceful_shutdown=10,
    )


def serve(host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve the application with uvicorn until interrupted.

    Args:
        host: Address to bind (the service has no authentication; keep it on loopback unless
            a proxy in front of it adds some).
        port: Port to bind.
        **options: Those of :func:`server_config`: ``log_level``, ``limit_concurrency``
            (open connections plus running requests before uvicorn answers 503),
            ``keep_alive_timeout`` (seconds an idle keep-alive connection stays open),
            ``header_timeout`` (seconds to send the request line and headers), ``app`` (default:
            :func:`~.service.create_app` called with the remaining options, e.g.
            ``request_timeout=60`` or ``docs=True``).

    Raises:
        SystemExit: uvicorn could not start (e.g. the port is taken), with status 3 as
            ``uvicorn.run`` uses.
    """
    import uvicorn

    server = uvicorn.Server(server_config(host=host, port=port, **options))
    server.run()
    if not server.started:
        raise SystemExit(3)
