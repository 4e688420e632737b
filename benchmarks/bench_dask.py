"""Dask throughput with 1 and 2 worker processes, and memory while streaming a Parquet file.

Run from the repository root (needs ``pip install '.[dask]'``)::

    python benchmarks/bench_dask.py [--texts 128] [--repeats 3] [--rows 100000] \
        [--classify-rows 1500] [--skip-throughput] [--skip-streaming]

What it measures, on this machine:

* **throughput**: the same ``--texts`` synthetic proposals (2-5 sentences recombined from the
  corpus' Finnish, English and original-language descriptions) classified by
  :func:`amif_match.distributed.classify_dask` on a ``LocalCluster`` of 1 and of 2 worker
  processes (one thread each, partitions of 16 texts, the model already loaded on every worker
  by the worker plugin), median of ``--repeats`` runs; plus ``classify_many`` in one process
  for reference. Also the resident memory of one worker with the Matcher loaded.
* **memory while streaming**: ``--rows`` synthetic texts are written to a Parquet file (row
  groups of 1000). Two runs of ``amif-match classify FILE -o OUT.parquet`` in a child process,
  whose resident memory (RSS) is sampled every 0.5 s:

  1. *the whole file, streaming only*: every row is read in batches and written with its
     result columns, but the classifier is replaced by a stub that returns an empty result
     row (classifying 100,000 texts at ~12 texts/s would take over two hours on two cores);
     this shows the reader and writer hold one batch at a time;
  2. *really classified*: the first ``--classify-rows`` rows of the same texts, through the
     real model; this shows the classification itself does not accumulate memory.

  For each run: RSS once the model is loaded (or at start), the peak, and the RSS at each
  quarter of the run; flat means the peak does not grow with the number of rows.

Writes ``benchmarks/results/dask.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")
PARTITION = 16  # rows per Dask partition in the throughput runs

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024

#: Run in the child process for the streaming-only measurement: the real CLI, stub classifier.
STUB = """
import sys
import amif_match.interfaces.cli.parquet as parquet
from amif_match.interfaces.cli.app import main

def stub(frame, **options):
    meta = parquet.result_meta()
    return meta.reindex(range(len(frame))).astype(meta.dtypes.to_dict()).set_axis(frame.index)

def engine(args, options):
    def results(batches):
        for batch in batches:
            yield batch, stub(parquet.texts_frame(batch, args.column))
    return results

parquet.local_engine = engine  # no model: only the reader and the writer hold memory
sys.exit(main(sys.argv[1:]))
"""


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` proposal-like texts: 2-5 corpus sentences of one language, recombined."""
    from amif_match.corpus import Corpus
    from amif_match.text import split_sentences

    projects = Corpus.default().projects
    pools = []
    for column in ("description_fi", "summary_en", "description"):
        sentences = [s for t in projects[column].dropna() for s in split_sentences(t)]
        pools.append([s for s in sentences if len(s.split()) >= 4])
    rng = random.Random(seed)
    return [" ".join(rng.sample(pools[i % 3], rng.randint(2, 5))) for i in range(n)]


def throughput(texts: list[str], repeats: int) -> dict[str, object]:
    """Texts per second on 1 and 2 worker processes, and one process without Dask."""
    import dask.dataframe as dd
    import pandas as pd
    import psutil
    from distributed import Client, LocalCluster

    from amif_match.distributed import classify_dask, matcher_plugin
    from amif_match.matcher import Matcher

    frame = pd.DataFrame({"text": texts})
    out: dict[str, object] = {
        "texts": len(texts),
        "partition_rows": PARTITION,
        "repeats": repeats,
    }
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                # One ONNX Runtime thread per worker process: the workers share the cores.
                env={"AMIF_MATCH_THREADS": "1"},
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter()
            client.register_plugin(matcher_plugin())
            load = time.perf_counter() - start
            ddf = dd.from_pandas(frame, npartitions=len(texts) // PARTITION)
            client.compute(classify_dask(ddf.head(8, compute=False))).result()  # warm-up
            times = []
            for i in range(repeats):
                # A new column per round gives new task keys: Dask would otherwise hand back the
                # previous round's results (one round measured 0.02 s that way).
                ddf = dd.from_pandas(frame.assign(round=i), npartitions=len(texts) // PARTITION)
                start = time.perf_counter()
                client.compute(classify_dask(ddf)).result()
                times.append(time.perf_counter() - start)
            rss = client.run(lambda: psutil.Process().memory_info().rss)
        median = statistics.median(times)
        out[f"{workers}_workers"] = {
            "seconds": [round(t, 2) for t in times],
            "median_s": round(median, 2),
            "texts_per_s": round(len(texts) / median, 2),
            "worker_start_and_model_load_s": round(load, 1),
            "worker_rss_mb": round(max(rss.values()) / MB),
        }
        print(f"{workers} worker(s): {out[f'{workers}_workers']}", flush=True)
    speedup = out["2_workers"]["texts_per_s"] / out["1_workers"]["texts_per_s"]  # type: ignore[index]
    out["speedup_2_vs_1"] = round(speedup, 2)
    matcher = Matcher.default().fit()
    matcher.classify_many(texts[:8])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matcher.classify_many(texts)
        times.append(time.perf_counter() - start)
    out["one_process_classify_many"] = {
        "median_s": round(statistics.median(times), 2),
        "texts_per_s": round(len(texts) / statistics.median(times), 2),
    }
    print(f"one process, classify_many: {out['one_process_classify_many']}", flush=True)
    return out


def sample_rss(command: list[str], every: float = 0.25) -> dict[str, object]:
    """Run ``command``; its RSS (with children) every ``every`` seconds, summarised."""
    import psutil

    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    samples: list[tuple[float, int]] = []
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss
        except psutil.Error:
            break
        if rss:  # 0 once the process has exited
            samples.append((time.perf_counter() - start, rss))
        time.sleep(every)
    err = child.communicate()[1]
    if child.returncode != 0:
        raise RuntimeError(f"{command} failed: {err[-2000:]}")
    peak = max(r for _, r in samples)
    # "Loaded": the first sample within 2 % of the final plateau's level after the model load.
    quarters = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        moment = q * samples[-1][0]
        quarters[f"{int(q * 100)}%"] = round(next(r for t, r in samples if t >= moment - 1e-9) / MB)
    return {
        "seconds": round(samples[-1][0], 1),
        "samples": len(samples),
        "peak_rss_mb": round(peak / MB),
        "rss_mb_at_fraction_of_run": quarters,
        "rss_mb_every_10th_sample": [round(r / MB) for _, r in samples[::10]],
    }


def streaming(rows: int, classify_rows: int, batch_rows: int) -> dict[str, object]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, object] = {"rows": rows, "batch_rows": batch_rows}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "synthetic.parquet"
        texts = synthetic_texts(rows, seed=1)
        table = pa.table({"id": list(range(rows)), "text": texts})
        pq.write_table(table, big, row_group_size=1000)
        out["file_mb"] = round(big.stat().st_size / MB, 1)
        small = Path(tmp) / "first.parquet"
        pq.write_table(table.slice(0, classify_rows), small, row_group_size=1000)
        del table, texts
        cli = [sys.executable, "-m", "amif_match", "classify"]
        common = ["--column", "text", "--batch-rows", str(batch_rows), "--no-progress"]
        stub = [sys.executable, "-c", STUB, "classify"]
        print(f"streaming {rows} rows (stub classifier) ...", flush=True)
        out["whole_file_streaming_only"] = sample_rss(
            [*stub, str(big), "-o", str(Path(tmp) / "o1.parquet"), *common]
        )
        print(out["whole_file_streaming_only"], flush=True)
        print(f"classifying the first {classify_rows} rows ...", flush=True)
        run = sample_rss([*cli, str(small), "-o", str(Path(tmp) / "o2.parquet"), *common])
        run["rows"] = classify_rows
        run["texts_per_s"] = round(classify_rows / run["seconds"], 2)  # includes the model load
        out["classified"] = run
        print(run, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128, help="texts per throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the Parquet file")
    parser.add_argument("--classify-rows", type=int, default=1500)
    parser.add_argument("--batch-rows", type=int, default=256)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-streaming", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dask.json"))
    args = parser.parse_args()

    result: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["python", "benchmarks/bench_dask.py", *sys.argv[1:]]),
    }
    previous = (
        json.loads(Path(args.out).read_text(encoding="utf-8")) if Path(args.out).exists() else {}
    )
    # A skipped part keeps the last measurement of it.
    if not args.skip_throughput:
        result["throughput"] = throughput(synthetic_texts(args.texts), args.repeats)
    elif "throughput" in previous:
        result["throughput"] = previous["throughput"]
    if not args.skip_streaming:
        result["streaming"] = streaming(args.rows, args.classify_rows, args.batch_rows)
    elif "streaming" in previous:
        result["streaming"] = previous["streaming"]
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
