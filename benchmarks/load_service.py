"""Load test of the HTTP service on loopback: latency percentiles and errors per concurrency.

Starts ``amif-match serve`` on a free 127.0.0.1 port (or uses ``--url``, which must be a
loopback address), sends a bounded number of requests at each concurrency level from a pool of
threads, one HTTP connection per thread, and prints p50/p95/max latency, throughput and
errors. Results are also written as JSON (default ``benchmarks/results/load_service.json``).

Run from the repository root::

    python benchmarks/load_service.py                       # /classify at 1, 4 and 16
    python benchmarks/load_service.py --endpoint batch --concurrency 1 4 --requests 20

The request texts are the corpus projects' Finnish descriptions (a few hundred characters
each, like a proposal summary), cycled.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
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


def run_level(url: str, payloads: list[tuple[str, dict]], concurrency: int) -> dict:
    """Send ``payloads`` with ``concurrency`` threads; latency in milliseconds."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    queue = iter(payloads)
    local = threading.local()

    def next_payload() -> tuple[str, dict] | None:
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
        "requests": len(payloads),
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
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/load_service.json"))
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS}")
    if any(not 1 <= c <= MAX_CONCURRENCY for c in args.concurrency):
        parser.error(f"--concurrency values must be 1..{MAX_CONCURRENCY}")

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
        for concurrency in args.concurrency:
            payloads = _payloads(args.endpoint, texts, args.requests)
            result = run_level(url, payloads, concurrency)
            levels.append(result)
            print(
                f"{args.endpoint:<10} c={concurrency:<3} n={result['requests']:<4} "
                f"p50 {result['p50_ms']:>7.1f} ms  p95 {result['p95_ms']:>7.1f} ms  "
                f"max {result['max_ms']:>7.1f} ms  {result['throughput_rps']:>6.2f} req/s  "
                f"errors {result['errors']}"
            )
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
