"""The service under hostile use: time budgets, clients that stall or leave, strict requests.

One real uvicorn server (the settings :func:`~.server.serve` uses, with short timeouts)
runs in a thread of this process on 127.0.0.1 and serves the session's real Matcher, with a
single model worker so that a request that is not stopped would visibly hold up the next one.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from amif_match.interfaces.budget import Budget, Cancelled, DeadlineExceeded, watch
from amif_match.interfaces.server import (
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    LIMIT_CONCURRENCY,
    server_config,
)
from amif_match.interfaces.service import create_app
from servers import serve_in_thread

INTEGRATION = "Kotoutumiskoulutusta maahanmuuttajanaisille"
BUDGET = 8.0  # the test server's time budget per request, seconds
SHORT = 1.5  # its header and body timeouts, seconds
JSON = {"content-type": "application/json"}


def _long_text(chars: int = 190_000) -> str:
    """A real-looking Finnish proposal of ``chars`` characters whose sentences all differ (so
    no cache or de-duplication shortens the work): a minute of embedding on a small CPU."""
    from amif_match.corpus import Corpus

    pieces = [
        s.strip().rstrip(".")
        for t in Corpus.default().project_texts("fi")
        if t
        for s in t.split(". ")
        if s.strip()
    ]
    out, size, i = [], 0, 0
    while size < chars:
        sentence = f"{pieces[i % len(pieces)]} (kohta {i})."
        out.append(sentence)
        size += len(sentence) + 1
        i += 1
    return " ".join(out)[:chars]


@pytest.fixture(scope="module")
def long_text() -> str:
    return _long_text()


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """uvicorn with :func:`server_config`'s settings (short timeouts) in a thread, on a socket
    bound here (no port race); yields its base URL."""

    config = server_config(app, log_level="warning", header_timeout=SHORT, keep_alive_timeout=1.0)
    with serve_in_thread(config) as url:
        yield url


@pytest.fixture(scope="module")
def server(matcher) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """One model worker and no queue, every request in the same lane."""
    app = create_app(
        matcher,
        max_concurrent=1,
        max_queue=0,
        request_timeout=BUDGET,
        body_timeout=SHORT,
        large_request_chars=None,
    )
    with _serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as c:
        yield c


def _detail(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def _timed_classify(client: httpx.Client) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = client.post("/classify", json={"text": INTEGRATION, "k": 3})
    return response, time.perf_counter() - start


# --------------------------------------------------------------------------- time budget


def test_budget_stops_the_model_between_batches(embedder, long_text: str) -> None:  # type: ignore[no-untyped-def]
    watch(embedder)
    sentences = long_text.split(". ")[:3000]
    start = time.perf_counter()
    with pytest.raises(DeadlineExceeded, match=r"time budget of 0\.5 s"), Budget(0.5).applied():
        embedder.encode(sentences)
    # One batch of 32 sentences past the deadline at most (the whole list takes minutes).
    assert time.perf_counter() - start < 5


def test_budget_cancelled_from_another_thread(embedder, long_text: str) -> None:  # type: ignore[no-untyped-def]
    watch(embedder)
    budget = Budget(None)
    threading.Timer(0.3, budget.cancel, args=("the client closed the connection",)).start()
    start = time.perf_counter()
    with pytest.raises(Cancelled, match="client closed"), budget.applied():
        embedder.encode(long_text.split(". ")[:3000])
    assert time.perf_counter() - start < 5
    assert not isinstance(Cancelled("x"), ValueError)  # never mistaken for bad input (422)


def test_no_budget_changes_nothing(embedder) -> None:  # type: ignore[no-untyped-def]
    assert watch(embedder) == 0  # watched already: no second hook
    assert embedder.encode(["Kotoutumista", "Paluuta"]).shape[0] == 2
    with pytest.raises(ValueError, match="positive"):
        Budget(0)


def test_request_over_budget_is_504_and_the_service_stays_responsive(
    client: httpx.Client, server: str, long_text: str
) -> None:
    answers: list[httpx.Response] = []
    elapsed: list[float] = []

    def long_request() -> None:
        start = time.perf_counter()
        with httpx.Client(base_url=server, timeout=120) as c:
            answers.append(c.post("/classify", json={"text": long_text}))
        elapsed.append(time.perf_counter() - start)

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(1.0)
    # While the only model worker is busy: health answers at once, a further request is told
    # the service is busy (max_queue=0) instead of waiting.
    start = time.perf_counter()
    assert client.get("/health").json()["status"] == "ok"
    assert time.perf_counter() - start < 1.0
    busy = client.post("/classify", json={"text": INTEGRATION})
    assert "busy" in _detail(busy, 503) and busy.headers["retry-after"]
    worker.join(timeout=120)

    detail = _detail(answers[0], 504)
    assert f"time budget of {BUDGET:g} s" in detail and "shorter text" in detail
    assert elapsed[0] < BUDGET + 5
    # The stopped work freed its worker within a batch: the next request is served at once.
    response, seconds = _timed_classify(client)
    assert response.status_code == 200 and seconds < 4, seconds


def test_work_for_a_client_that_left_is_stopped(
    client: httpx.Client, server: str, long_text: str
) -> None:
    # This client gives up after 1 s and closes its connection.
    with httpx.Client(base_url=server, timeout=1.0) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("/classify", json={"text": long_text})
    # Had the work gone on, this request would wait for the worker until the budget ran out
    # (about BUDGET - 1 s); stopped, the worker is free within a batch.
    response, seconds = _timed_classify(client)
    assert response.status_code == 200 and seconds < BUDGET / 2, seconds


def test_large_requests_leave_the_other_workers_free(matcher, long_text: str) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        matcher, max_concurrent=1, max_queue=0, request_timeout=4.0, large_request_chars=50_000
    )
    with _serving(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        answers: list[httpx.Response] = []
        large = threading.Thread(
            target=lambda: answers.append(client.post("/classify", json={"text": long_text}))
        )
        large.start()
        time.sleep(1.0)
        # The large request holds the large lane's worker; a short one still gets the usual
        # worker (with one lane, and no queue, it would be told the service is busy).
        response, seconds = _timed_classify(client)
        assert response.status_code == 200 and seconds < 3, seconds
        large.join(timeout=60)
        assert "time budget of 4 s" in _detail(answers[0], 504)


# --------------------------------------------------------------------------- slow clients


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Read until the server closes the connection; what came, and how long it took."""
    sock.settimeout(seconds)
    start = time.perf_counter()
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {seconds} s (got {data[:200]!r})")
    return data, time.perf_counter() - start


def test_half_sent_headers_are_closed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    for s in socks:
        s.sendall(b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
    try:
        for s in socks:
            data, _ = _closed_within(s, SHORT + 5)
            assert data == b""
    finally:
        for s in socks:
            s.close()


def test_idle_and_dripping_connections_are_closed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as idle:
        _closed_within(idle, SHORT + 5)
    with socket.create_connection(("127.0.0.1", port)) as drip:
        start = time.perf_counter()
        request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
        try:
            for byte in request:  # one byte every 0.2 s: each resets no timer
                drip.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:  # closed by the server mid-drip: what we want
            pass
        _closed_within(drip, SHORT + 5)
        assert time.perf_counter() - start < SHORT + 5


def test_stalled_body_gets_408_and_is_closed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"text": "Kotou'
        )
        data, _ = _closed_within(s, SHORT + 5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), data[:300]
    assert b"connection: close" in head.lower()
    detail = json.loads(body)["detail"]
    assert f"within {SHORT:g} s" in detail and "15 bytes received" in detail


def test_idle_keep_alive_connection_is_closed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data, _ = _closed_within(s, 1.0 + 5)
    assert data.startswith(b"HTTP/1.1 200")


def test_serve_sets_the_connection_limits() -> None:
    config = server_config(app=create_app())
    assert config.limit_concurrency == LIMIT_CONCURRENCY
    assert config.timeout_keep_alive == KEEP_ALIVE_TIMEOUT
    assert config.http.header_timeout == HEADER_TIMEOUT  # type: ignore[union-attr]


# --------------------------------------------------------------------------- strict requests


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"text": "Käännös"}'.encode("latin-1"), "not valid UTF-8 (byte 0xe4 at offset 11"),
        (b'{"text": "abc \xff\xfe"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "too deeply"),
        (b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", "too deeply"),
        (b'{"text": "Kotoutumista", "k": true}', "k must be a JSON integer such as 5, not true"),
        (b'{"text": "Kotoutumista", "k": "5"}', "k must be a JSON integer such as 5, not a string"),
        (b'{"text": "Kotoutumista", "k": 5.0}', "k must be a JSON integer"),
        (b'{"text": "Kotoutumista", "min_labels": false}', "min_labels must be a JSON integer"),
        (b'{"text": "Kotoutumista", "threshold": "0.5"}', "threshold must be a JSON number"),
    ],
)
def test_bad_bodies_are_422_with_a_sentence(
    client: httpx.Client, body: bytes, expected: str
) -> None:
    assert expected in _detail(client.post("/classify", content=body, headers=JSON), 422)


def test_strict_fields_on_other_endpoints(client: httpx.Client) -> None:
    partners = {"text": INTEGRATION, "complement": "yes"}
    assert "complement must be true or false" in _detail(
        client.post("/partners", json=partners), 422
    )
    assert "k must be a JSON integer" in _detail(
        client.post("/activities", json={"text": INTEGRATION, "k": "3"}), 422
    )
    # Integers stay valid where a number is expected.
    response = client.post("/classify", json={"text": INTEGRATION, "k": 2, "threshold": 1})
    assert response.status_code == 200, response.text


def test_docs_pages_are_off_by_default(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    document = client.get("/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert {"408", "413", "422", "503", "504"} <= set(paths["/classify"]["post"]["responses"])


def test_docs_pages_can_be_turned_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the pages, which need no model: no lifespan is started.
    page = TestClient(create_app(docs=True)).get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    monkeypatch.setenv("AMIF_MATCH_DOCS", "1")
    assert TestClient(create_app()).get("/redoc").status_code == 200
    monkeypatch.setenv("AMIF_MATCH_REQUEST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="AMIF_MATCH_REQUEST_TIMEOUT must be seconds"):
        create_app()


def test_health_reports_the_timeouts(client: httpx.Client) -> None:
    assert client.get("/health").json()["timeouts"] == {
        "request_seconds": BUDGET,
        "body_seconds": SHORT,
    }
