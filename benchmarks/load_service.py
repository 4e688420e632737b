"""Load test of the HTTP service on loopback: latency percentiles and errors per concurrency.

Starts ``amif-match serve`` on a free 127.0.0.1 port (or uses ``--url``, which must be a
loopback address), sends a bounded number of requests at each concurrency level from a pool of
threads, one HTTP connection per thread, and prints p50/p95/max latency, throughput and
errors. Results are also written as JSON (default ``benchmarks/results/load_service.json``).

Run from the repository root::

    python benchmarks/load_service.py                       # /classify at 1, 4 and 16
    python benchmarks/load_service.py --endpoint batch --concurrency 1 4 --requests 20
    python benchmarks/load_service.py --hostile             # normal traffic, then under attack

The request texts are the corpus projects' Finnish descriptions (a few hundred characters
each, like a proposal summary), cycled.

``--hostile`` runs normal requests at ``--hostile-concurrency`` for ``--phase-seconds`` twice:
alone, then alongside a hostile mix, and reports both phases' p50/p95 side by side. The mix:
clients that send half their headers and stall (``--half-headers``, 50), clients that send
headers and part of a body and stall (``--stalled-bodies``, 20) — each reconnecting when the
server closes it — a client posting pathological texts (the shapes of issue 9 and a 190 000-
character proposal of distinct sentences), a client that posts long texts and hangs up after
0.5 s, and a /health poller. All traffic goes to the loopback server and is bounded in count
and time.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MAX_REQUESTS = 1000  # per level: keeps a run bounded whatever the arguments
MAX_CONCURRENCY = 64
MAX_PHASE_SECONDS = 180.0
MAX_SLOW_CLIENTS = 200  # per kind, open at once
REQUEST_TIMEOUT = 120.0
STARTUP_TIMEOUT = 240.0
ROOT = Path(__file__).resolve().parent.parent


def _payloads(endpoint: str, texts: list[str], n: int) -> list[tuple[str, dict]]:
    out = []
    for i in range(n):
        text = texts[i % len(texts)]
        if endpoint == "classify":
            out.append(("/classify", {"text": text}))
        elif endpoint == "batch":
            batch = [texts[(i * 8 + j) % len(texts)] for j in range(8)]
            out.append(("/classify/batch", {"texts": batch}))
        elif endpoint == "partners":
            out.append(("/partners", {"text": text, "k": 10}))
        else:
            out.append(("/activities", {"text": text, "k": 10}))
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_level(
    url: str, payloads: list[tuple[str, dict]], concurrency: int, *, seconds: float | None = None
) -> dict:
    """Send ``payloads`` with ``concurrency`` threads; latency in milliseconds.

    With ``seconds``, no new request starts after that long (the payloads bound the count).
    """
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    queue = iter(payloads)
    local = threading.local()
    until = None if seconds is None else time.perf_counter() + seconds

    def next_payload() -> tuple[str, dict] | None:
        if until is not None and time.perf_counter() > until:
            return None
        with lock:
            return next(queue, None)

    def worker() -> None:
        local.client = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT)
        try:
            while (item := next_payload()) is not None:
                path, body = item
                start = time.perf_counter()
                try:
                    response = local.client.post(path, json=body)
                    ok = response.status_code == 200
                    kind = None if ok else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if kind is None:
                        latencies.append(elapsed)
                    else:
                        errors[kind] = errors.get(kind, 0) + 1
        finally:
            local.client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies) + sum(errors.values()),
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": round(_percentile(latencies, 50), 1),
        "p95_ms": round(_percentile(latencies, 95), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "throughput_rps": round(len(latencies) / wall, 2) if wall > 0 else None,
        "wall_s": round(wall, 2),
    }


# --------------------------------------------------------------------------- the hostile mix

HALF_HEADERS = b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl"
STALLED_BODY = (
    b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100000\r\n\r\n{"text": "Kotoutumiskoulutusta'
)


def pathological_texts(texts: list[str]) -> dict[str, str]:
    """The text shapes that once took seconds to minutes each, and a long real proposal."""
    pieces = [p.strip().rstrip(".") for t in texts for p in t.split(". ") if p.strip()]
    sentences, size = [], 0
    while size < 190_000:  # distinct sentences: nothing is cached or de-duplicated away
        sentence = f"{pieces[len(sentences) % len(pieces)]} (kohta {len(sentences)})."
        sentences.append(sentence)
        size += len(sentence) + 1
    return {
        "abbreviations": "Esim. " * 10_000,
        "unclosed_tags": "<a" * 50_000,
        "short_lines": "a\n" * 40_000,
        "long_proposal": " ".join(sentences)[:190_000],
    }


def _slow_clients(
    port: int, payload: bytes, count: int, stop: threading.Event, max_opens: int
) -> dict:
    """Keep ``count`` connections that sent ``payload`` and stall; reopen what the server
    closes. Reports how long the server let them live and what it answered."""
    socks: dict[socket.socket, float] = {}
    lifetimes: list[float] = []
    answers: dict[str, int] = {}
    opened = refused = 0
    while not stop.is_set():
        while len(socks) < count and opened < max_opens and not stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(payload)
            except OSError:
                refused += 1
                time.sleep(0.2)
                break
            socks[sock] = time.perf_counter()
            opened += 1
        if not socks:
            time.sleep(0.2)
            continue
        readable, _, _ = select.select(list(socks), [], [], 0.2)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/"):
                status = data.split(b" ", 2)[1].decode()
                answers[status] = answers.get(status, 0) + 1
            if not data:  # closed by the server
                lifetimes.append(time.perf_counter() - socks.pop(sock))
                sock.close()
    for sock in socks:
        sock.close()
    return {
        "opened": opened,
        "closed_by_server": len(lifetimes),
        "still_open_at_end": len(socks),
        "refused": refused,
        "lifetime_s_median": round(statistics.median(lifetimes), 1) if lifetimes else None,
        "lifetime_s_max": round(max(lifetimes), 1) if lifetimes else None,
        "answers": answers,
    }


def _pathological(url: str, texts: dict[str, str], stop: threading.Event) -> dict:
    """Post each pathological text in turn until stopped; status and seconds per text."""
    out: dict[str, list[str]] = {name: [] for name in texts}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
        while not stop.is_set():
            for name, text in texts.items():
                if stop.is_set():
                    break
                start = time.perf_counter()
                try:
                    status = str(client.post("/classify", json={"text": text}).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                out[name].append(f"{status} in {time.perf_counter() - start:.1f} s")
    return out


def _disconnecting(url: str, text: str, stop: threading.Event) -> dict:
    """Post a long text and hang up after 0.5 s, again and again."""
    sent = 0
    while not stop.is_set():
        with httpx.Client(base_url=url, timeout=0.5) as client:
            try:
                client.post("/classify", json={"text": text})
            except httpx.TimeoutException:
                pass
            except httpx.HTTPError:
                time.sleep(0.5)
        sent += 1
        stop.wait(0.5)
    return {"hung_up": sent}


def _health(url: str, stop: threading.Event) -> dict:
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
        while not stop.wait(0.5):
            start = time.perf_counter()
            try:
                ok = client.get("/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                failures += 1
    return {
        "checks": len(latencies) + failures,
        "failures": failures,
        "p50_ms": round(_percentile(latencies, 50), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
    }


def run_hostile(
    url: str,
    payloads: list[tuple[str, dict]],
    texts: list[str],
    *,
    concurrency: int,
    seconds: float,
    half_headers: int,
    stalled_bodies: int,
) -> dict:
    """Normal requests alone, then alongside the hostile mix; both phases reported."""
    port = urlparse(url).port or 80
    baseline = run_level(url, payloads, concurrency, seconds=seconds)
    _print_level("normal", baseline)
    patho = pathological_texts(texts)
    stop = threading.Event()
    jobs = {
        "half_headers": lambda: _slow_clients(
            port, HALF_HEADERS, half_headers, stop, max_opens=half_headers * 20
        ),
        "stalled_bodies": lambda: _slow_clients(
            port, STALLED_BODY, stalled_bodies, stop, max_opens=stalled_bodies * 20
        ),
        "pathological_texts": lambda: _pathological(url, patho, stop),
        "disconnecting_clients": lambda: _disconnecting(url, patho["long_proposal"], stop),
        "health": lambda: _health(url, stop),
    }
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        time.sleep(2.0)  # let the slow clients connect and the heavy requests start
        try:
            attacked = run_level(url, payloads, concurrency, seconds=seconds)
        finally:
            stop.set()
        mix = {name: future.result() for name, future in futures.items()}
    _print_level("hostile", attacked)
    for name, result in mix.items():
        print(f"  {name}: {json.dumps(result)}")
    return {"normal": baseline, "with_hostile_mix": attacked, "hostile_mix": mix}


def _print_level(label: str, result: dict) -> None:
    print(
        f"{label:<10} c={result['concurrency']:<3} n={result['requests']:<4} "
        f"p50 {result['p50_ms']:>7.1f} ms  p95 {result['p95_ms']:>7.1f} ms  "
        f"max {result['max_ms']:>7.1f} ms  {result['throughput_rps']:>6.2f} req/s  "
        f"errors {result['errors']} {result['error_kinds'] or ''}"
    )


def _check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"load_service.py: error: --url must be a loopback address, got {host!r}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "amif_match",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the server did not answer /health within {STARTUP_TIMEOUT:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service on loopback (default: start one)")
    parser.add_argument(
        "--endpoint", choices=("classify", "batch", "partners", "activities"), default="classify"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=48, help="requests per level")
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="instead of the levels: normal traffic alone, then alongside a hostile mix",
    )
    parser.add_argument("--hostile-concurrency", type=int, default=4)
    parser.add_argument(
        "--phase-seconds", type=float, default=45.0, help="length of each --hostile phase"
    )
    parser.add_argument("--half-headers", type=int, default=50)
    parser.add_argument("--stalled-bodies", type=int, default=20)
    parser.add_argument(
        "--out",
        help="JSON report (default benchmarks/results/load_service.json, "
        "or load_service_hostile.json with --hostile)",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        name = "load_service_hostile.json" if args.hostile else "load_service.json"
        args.out = str(ROOT / "benchmarks/results" / name)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS}")
    if any(not 1 <= c <= MAX_CONCURRENCY for c in args.concurrency):
        parser.error(f"--concurrency values must be 1..{MAX_CONCURRENCY}")
    if not 1 <= args.hostile_concurrency <= MAX_CONCURRENCY:
        parser.error(f"--hostile-concurrency must be 1..{MAX_CONCURRENCY}")
    if not 1 <= args.phase_seconds <= MAX_PHASE_SECONDS:
        parser.error(f"--phase-seconds must be 1..{MAX_PHASE_SECONDS:g}")
    if not (
        0 <= args.half_headers <= MAX_SLOW_CLIENTS and 0 <= args.stalled_bodies <= MAX_SLOW_CLIENTS
    ):
        parser.error(f"--half-headers and --stalled-bodies must be 0..{MAX_SLOW_CLIENTS}")

    from amif_match.corpus import Corpus

    texts = [t for t in Corpus.default().project_texts("fi") if t]
    proc = None
    if args.url:
        _check_loopback(args.url)
        url = args.url.rstrip("/")
    else:
        print("starting amif-match serve on 127.0.0.1 ...", file=sys.stderr)
        started = time.perf_counter()
        proc, url = _start_server()
        print(f"ready in {time.perf_counter() - started:.1f} s at {url}", file=sys.stderr)
    try:
        health = httpx.get(f"{url}/health", timeout=10).json()
        warm = _payloads(args.endpoint, texts, 3)
        run_level(url, warm, 1)  # warm-up, not reported
        levels = []
        hostile = None
        if args.hostile:
            hostile = run_hostile(
                url,
                _payloads(args.endpoint, texts, MAX_REQUESTS),
                texts,
                concurrency=args.hostile_concurrency,
                seconds=args.phase_seconds,
                half_headers=args.half_headers,
                stalled_bodies=args.stalled_bodies,
            )
            levels = [hostile["normal"], hostile["with_hostile_mix"]]
        for concurrency in [] if args.hostile else args.concurrency:
            payloads = _payloads(args.endpoint, texts, args.requests)
            result = run_level(url, payloads, concurrency)
            levels.append(result)
            _print_level(args.endpoint, result)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    report = {
        "endpoint": args.endpoint,
        "text_chars_median": int(statistics.median(len(t) for t in texts)),
        "levels": levels,
        **({"hostile": hostile} if hostile else {}),
        "server": {k: health.get(k) for k in ("version", "embedder", "limits")},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(level["errors"] for level in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
