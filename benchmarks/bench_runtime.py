"""Runtime: the opt-in ONNX Runtime int8 backend vs plain sentence-transformers fp32.

Run from the repository root (needs the ``[onnx]`` extra)::

    python benchmarks/bench_runtime.py [--texts 200] [--repeats 5] [--single 20]

One process, the same ~60-word Finnish texts, interleaved rounds (so drift on a noisy machine
hits both alike): encode throughput on the whole batch (batch size 32 for both) and single-text
latency (one text per call), medians over the rounds, and the cosine of the int8 vectors to
the fp32 ones. Writes ``benchmarks/results/runtime.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_embedding import finnish_texts


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--single", type=int, default=20, help="single-text calls per round")
    parser.add_argument("--out", default="benchmarks/results/runtime.json")
    args = parser.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from amif_match.embedding import get_embedder
    from amif_match.embedding.model_cache import ensure_model
    from amif_match.embedding.onnx_backend import ONNX_EMBEDDER, ensure_onnx_model

    texts = finnish_texts(args.texts)
    singles = texts[: args.single]
    export_s = _timed(ensure_onnx_model)  # ~35 s the first time, else a verification
    fast = get_embedder(ONNX_EMBEDDER)
    plain = SentenceTransformer(str(ensure_model()), device="cpu")

    def run_fast(batch):
        return fast.encode(batch, show_progress_bar=False)

    def run_plain(batch):
        return plain.encode(
            batch,
            prompt_name="query",
            batch_size=32,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    cos = (run_fast(texts) * run_plain(texts)).sum(axis=1)  # also warms both up
    times: dict[str, list[float]] = {"fast": [], "plain": [], "fast_1": [], "plain_1": []}
    for _ in range(args.repeats):
        times["fast"].append(_timed(lambda: run_fast(texts)))
        times["plain"].append(_timed(lambda: run_plain(texts)))
        for text in singles:  # interleaved per text as well
            times["fast_1"].append(_timed(lambda t=text: run_fast([t])))
            times["plain_1"].append(_timed(lambda t=text: run_plain([t])))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "texts": args.texts,
        "words_per_text": 60,
        "repeats": args.repeats,
        "single_calls_per_round": args.single,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "onnx_ready_s": export_s,
        "onnx_texts_per_s": args.texts / med["fast"],
        "plain_texts_per_s": args.texts / med["plain"],
        "throughput_ratio": med["plain"] / med["fast"],
        "onnx_single_ms": 1000 * med["fast_1"],
        "plain_single_ms": 1000 * med["plain_1"],
        "latency_ratio": med["fast_1"] / med["plain_1"],
        "cosine_to_fp32_mean": float(np.mean(cos)),
        "cosine_to_fp32_min": float(np.min(cos)),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    n = args.texts
    rows = [
        (
            f"encode throughput, {n} x 60-word FI texts",
            f"{result['onnx_texts_per_s']:.1f} vs {result['plain_texts_per_s']:.1f} texts/s",
            f"{result['throughput_ratio']:.2f}x",
        ),
        (
            "single 60-word text, encode latency (median)",
            f"{result['onnx_single_ms']:.1f} vs {result['plain_single_ms']:.1f} ms",
            f"{result['latency_ratio']:.2f}x",
        ),
        (
            "cosine of int8 to fp32 vectors (mean / min)",
            f"{result['cosine_to_fp32_mean']:.4f} / {result['cosine_to_fp32_min']:.4f}",
            "",
        ),
    ]
    print(f"| measure (ONNX int8 vs plain ST fp32, {os.cpu_count()} CPUs) | values | ratio |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
