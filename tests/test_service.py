"""The HTTP service, end to end: a real ``amif-match serve`` process on 127.0.0.1, called with
httpx (and curl when it is installed). One server for the whole module."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fastapi  # noqa: F401  (a test dependency: fail loudly if missing)
import httpx
import pytest
import uvicorn  # noqa: F401  (a test dependency: fail loudly if missing)

from amif_match.interfaces.service import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_TEXT_CHARS,
    MAX_UPLOAD_BYTES,
)

INTEGRATION = "Kotoutumiskoulutusta maahanmuuttajanaisille"
RETURN = "Vapaaehtoisen paluun neuvontaa kielteisen turvapaikkapäätöksen saaneille"
RECEPTION = "Vastaanottokeskusten henkilöstön koulutus ja turvapaikkamenettelyn laadun kehittäminen"
STARTUP_TIMEOUT = 240  # seconds; the first ever start converts the model (~20-40 s)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``python -m amif_match serve`` on a free port; yield its base URL."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    with open(log_path, "wb") as log:
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "amif_match", "serve", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                if _wait_until_healthy(proc, url):
                    break
            except BaseException:
                _stop(proc)
                raise
            _stop(proc)
        else:
            pytest.fail(f"the server did not start:\n{Path(log_path).read_text()[-3000:]}")
        try:
            yield url
        finally:
            _stop(proc)
    # SIGTERM shuts uvicorn down gracefully (it exits 0 or re-raises SIGTERM once done); the
    # SIGKILL that _stop sends after its timeout would mean a hung shutdown.
    log_text = Path(log_path).read_text()
    assert proc.returncode in (0, -signal.SIGTERM), log_text[-3000:]
    assert "Application shutdown complete" in log_text


def _wait_until_healthy(proc: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no /health from {url} within {STARTUP_TIMEOUT} s")


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as c:
        yield c


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


# --------------------------------------------------------------------------- happy paths


def test_health(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["embedder"] == "me5-small"
    assert body["corpus"]["projects"] > 0
    assert body["limits"] == {
        "max_text_chars": MAX_TEXT_CHARS,
        "max_batch": MAX_BATCH,
        "max_body_bytes": MAX_BODY_BYTES,
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "max_k": 50,
    }


def test_classify_matches_the_library(client: httpx.Client) -> None:
    import amif_match

    response = client.post("/classify", json={"text": INTEGRATION})
    assert response.status_code == 200
    body = response.json()
    assert body == json.loads(json.dumps(amif_match.classify(INTEGRATION)))
    assert body["objective"] == "SO2"
    assert len(body["activities"]) == 10


def test_classify_options(client: httpx.Client) -> None:
    body = client.post(
        "/classify", json={"text": RETURN, "k": 3, "threshold": 0.9, "language": "fi"}
    ).json()
    assert body["objective"] == "SO3"
    assert len(body["activities"]) == 3 and len(body["similar_projects"]) == 3


def test_batch_keeps_order_and_equals_single_calls(client: httpx.Client) -> None:
    texts = [RECEPTION, INTEGRATION, RETURN]
    response = client.post("/classify/batch", json={"texts": texts, "k": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["objective"] for r in results] == ["SO1", "SO2", "SO3"]
    single = client.post("/classify", json={"text": INTEGRATION, "k": 3}).json()
    assert results[1]["objectives"] == single["objectives"]


def test_partners(client: httpx.Client) -> None:
    response = client.post("/partners", json={"text": INTEGRATION, "k": 3})
    assert response.status_code == 200, response.text
    partners = response.json()["partners"]
    assert [p["rank"] for p in partners] == [1, 2, 3]
    assert all(p["explanation"] and p["id"] for p in partners)
    filtered = client.post(
        "/partners", json={"text": INTEGRATION, "k": 2, "org_types": ["ngo"]}
    ).json()["partners"]
    assert {p["type"] for p in filtered} == {"ngo"}
    detail = _error(
        client.post("/partners", json={"text": INTEGRATION, "org_types": ["spaceship"]}), 422
    )
    assert "spaceship" in detail


def test_activities(client: httpx.Client) -> None:
    body = client.post(
        "/activities", json={"text": RETURN, "k": 4, "layer": "national_action"}
    ).json()
    rows = body["activities"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert {r["layer"] for r in rows} == {"national_action"}


def test_catalogue(client: httpx.Client) -> None:
    body = client.get("/catalogue").json()
    assert [o["code"] for o in body["objectives"]] == ["SO1", "SO2", "SO3", "SO4"]
    assert len(body["activities"]) > 10 and len(body["target_groups"]) > 10
    only = client.get("/catalogue", params={"layer": "national_action"}).json()["activities"]
    assert only and {a["layer"] for a in only} == {"national_action"}
    assert "layer" in _error(client.get("/catalogue", params={"layer": "x"}), 422)


def test_openapi_document_validates(client: httpx.Client) -> None:
    import openapi_spec_validator as validator

    document = client.get("/openapi.json").json()
    validator.validate(document)
    assert {
        "/classify",
        "/classify/batch",
        "/classify/file",
        "/partners",
        "/activities",
        "/catalogue",
        "/health",
    } <= (set(document["paths"]))
    schemas = document["components"]["schemas"]
    assert schemas["ClassifyRequest"]["properties"]["text"]["maxLength"] == MAX_TEXT_CHARS
    assert schemas["ClassifyBatchRequest"]["properties"]["texts"]["maxItems"] == MAX_BATCH
    assert "422" in document["paths"]["/classify"]["post"]["responses"]
    # The CDN-backed /docs page is opt-in (`serve --docs`); tests/test_service_hardening.py.
    assert client.get("/docs").status_code == 404


def test_concurrent_requests_are_safe(client: httpx.Client, server: str) -> None:
    texts = [INTEGRATION, RETURN, RECEPTION, INTEGRATION] * 3
    expected = {t: client.post("/classify", json={"text": t, "k": 3}).json() for t in set(texts)}

    def call(text: str) -> tuple[str, int, dict]:
        with httpx.Client(base_url=server, timeout=120) as c:
            r = c.post("/classify", json={"text": text, "k": 3})
            return text, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, texts))
    for text, status, body in answers:
        assert status == 200
        assert body["objectives"] == expected[text]["objectives"]
        assert body["activities"] == expected[text]["activities"]


def test_curl(server: str) -> None:
    proc = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "60",
            f"{server}/classify",
            "-H",
            "content-type: application/json",
            "-d",
            json.dumps({"text": INTEGRATION}),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["objective"] == "SO2"


# --------------------------------------------------------------------------- limits and errors


def test_text_over_the_limit_is_422_without_echo(client: httpx.Client) -> None:
    response = client.post("/classify", json={"text": "a" * (MAX_TEXT_CHARS + 1)})
    detail = _error(response, 422)
    assert f"{MAX_TEXT_CHARS:,}" in detail and "characters" in detail
    assert len(response.content) < 2000  # the text is not sent back


def test_batch_over_the_limit_is_422(client: httpx.Client) -> None:
    detail = _error(client.post("/classify/batch", json={"texts": ["x"] * (MAX_BATCH + 1)}), 422)
    assert str(MAX_BATCH) in detail and "batch" in detail
    assert "at least one" in _error(client.post("/classify/batch", json={"texts": []}), 422)
    detail = _error(client.post("/classify/batch", json={"texts": [INTEGRATION, "  "]}), 422)
    assert "position 1" in detail


def test_oversize_body_is_413(client: httpx.Client) -> None:
    payload = json.dumps({"text": "ä" * (MAX_BODY_BYTES // 2 + 10)}).encode()
    assert len(payload) > MAX_BODY_BYTES
    detail = _error(
        client.post("/classify", content=payload, headers={"content-type": "application/json"}),
        413,
    )
    assert f"{MAX_BODY_BYTES:,}" in detail


def test_oversize_chunked_body_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    response = client.post(
        "/classify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "limit" in _error(response, 413)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b'{"text": ', {"content-type": "application/json"}, "not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, "JSON object"),
        (b"Kotoutumista", {"content-type": "text/plain"}, "Content-Type: application/json"),
        (b"{}", {"content-type": "application/json"}, "text is required"),
        (b'{"text": 5}', {"content-type": "application/json"}, "valid string"),
        (b'{"txt": "x", "text": "y"}', {"content-type": "application/json"}, "unknown field"),
        (b'{"text": "   "}', {"content-type": "application/json"}, "empty"),
        (b'{"text": "<p></p>"}', {"content-type": "application/json"}, "no words"),
        (b'{"text": "x y", "k": 0}', {"content-type": "application/json"}, "k"),
        (b'{"text": "x y", "language": "xx"}', {"content-type": "application/json"}, "'fi'"),
    ],
)
def test_malformed_requests_are_422(
    client: httpx.Client, body: bytes, headers: dict[str, str], expected: str
) -> None:
    assert expected in _error(client.post("/classify", content=body, headers=headers), 422)


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/classify").status_code == 405


def test_still_healthy_after_errors(client: httpx.Client) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.post("/classify", json={"text": RETURN}).json()["objective"] == "SO3"
