"""classify() latency and classify_many() throughput against the raw embedding time.

Run from the repository root (``make bench`` runs it too)::

    python benchmarks/bench_classify.py [--repeats 15] [--batch 200]

With a warm Matcher (model loaded, catalogue and corpus embeddings cached), it measures in one
process, interleaved:

* ``classify`` latency (p50/p95) for a 60-word and a 600-word Finnish proposal;
* the raw embedding time of the same text, two ways: the whole text in one ``encode`` call
  (the model truncates at 512 tokens) and its sentences in one ``encode`` call (what classify
  must embed: it embeds every sentence, so nothing is truncated);
* ``classify_many`` throughput on 200 60-word texts vs. encoding their sentences.

The overhead ratio is classify time / sentence-embedding time: the cost of everything that is
not the transformer (normalisation, heads, evidence, similar projects, result objects).
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


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/classify.json")
    args = parser.parse_args()

    from amif_match import Matcher
    from amif_match.text import normalise

    matcher = Matcher.default().fit()
    embedder = matcher.embedder_
    short = finnish_texts(1, words=60, seed=11)[0]
    long = finnish_texts(1, words=600, seed=12)[0]
    matcher.classify(short)  # warm-up

    result: dict[str, object] = {}
    rows = []
    for label, text in (("60-word", short), ("600-word", long)):
        sentences = list(normalise(text).sentences)
        t_cls, t_whole, t_sent = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            matcher.classify(text)
            t_cls.append(time.perf_counter() - t)
            t = time.perf_counter()
            embedder.encode([text])
            t_whole.append(time.perf_counter() - t)
            t = time.perf_counter()
            embedder.encode(sentences)
            t_sent.append(time.perf_counter() - t)
        stats = {
            "classify_p50_ms": 1000 * statistics.median(t_cls),
            "classify_p95_ms": 1000 * _p(t_cls, 0.95),
            "embed_whole_p50_ms": 1000 * statistics.median(t_whole),
            "embed_sentences_p50_ms": 1000 * statistics.median(t_sent),
            "sentences": len(sentences),
        }
        stats["overhead_vs_sentences"] = stats["classify_p50_ms"] / stats["embed_sentences_p50_ms"]
        stats["ratio_vs_whole_text"] = stats["classify_p50_ms"] / stats["embed_whole_p50_ms"]
        result[label] = stats
        rows.append((label, stats))

    texts = finnish_texts(args.batch, words=60, seed=13)
    all_sentences = [s for t in texts for s in normalise(t).sentences]
    t_many, t_emb = [], []
    for _ in range(3):
        t = time.perf_counter()
        matcher.classify_many(texts, show_progress_bar=False)
        t_many.append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.encode(all_sentences, show_progress_bar=False)
        t_emb.append(time.perf_counter() - t)
    many = {
        "texts": args.batch,
        "classify_many_s": statistics.median(t_many),
        "embed_sentences_s": statistics.median(t_emb),
        "texts_per_s": args.batch / statistics.median(t_many),
    }
    many["overhead_vs_sentences"] = many["classify_many_s"] / many["embed_sentences_s"]
    result["classify_many"] = many

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        "| input | classify p50 | p95 | embed sentences p50 | embed whole text p50 "
        "| overhead (classify / embed sentences) |"
    )
    print("|---|---|---|---|---|---|")
    for label, s in rows:
        print(
            f"| {label} Finnish proposal ({s['sentences']} sentences) "
            f"| {s['classify_p50_ms']:.0f} ms | {s['classify_p95_ms']:.0f} ms "
            f"| {s['embed_sentences_p50_ms']:.0f} ms | {s['embed_whole_p50_ms']:.0f} ms "
            f"| {s['overhead_vs_sentences']:.2f} |"
        )
    print(
        f"| classify_many, {args.batch} x 60 words | {many['classify_many_s']:.1f} s "
        f"({many['texts_per_s']:.1f} texts/s) | | {many['embed_sentences_s']:.1f} s | "
        f"| {many['overhead_vs_sentences']:.2f} |"
    )


if __name__ == "__main__":
    main()
