"""Partner suggestions: leave-one-partner-out evaluation, weight tuning and latency.

Run from the repository root::

    python benchmarks/bench_partners.py [--skip-grid]

1. Grid search of the recommender's weights (:data:`amif_match.evaluate.partners.DEFAULT_GRID`) on
   queries from 2014-2020 projects only, and the point the defaults were picked from.
2. The evaluation table of the issue (combined vs text-only, Adamic-Adar-only, popularity;
   incumbents / newcomers / all; coverage and Gini), with partner names masked in the query
   texts (the headline) and unmasked (to show how much the names alone would give away).
3. Latency of one suggestion after fitting.

Writes ``benchmarks/results/partners.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")

from amif_match.corpus import Corpus
from amif_match.embedding import embed_documents, get_embedder
from amif_match.evaluate.partners import evaluate_partners, report, tune_weights
from amif_match.index import cached
from amif_match.markdown import markdown_table
from amif_match.partners import DEFAULT_WEIGHTS, fit_recommender

RESULTS = Path(__file__).parent / "results" / "partners.json"
TUNED = ["network_weight", "popularity_weight", "profile_weight", "bonus", "repeat"]
SHOW = [*TUNED, "MRR[all]", "MRR[incumbents]", "Hit@10[incumbents]", "MRR[newcomers]"]
QUERIES = [
    "Kehitetään pakolaistaustaisten nuorten asumisvalmennusta kunnan ja järjestöjen yhteistyönä",
    "Vapaaehtoisen paluun neuvontaa kielteisen päätöksen saaneille turvapaikanhakijoille",
    "Stöd till ensamkommande unga vuxna i övergången till eget boende och arbete",
    "Mental health support and trauma-informed training for staff working with refugees",
]


def _records(frame):
    return json.loads(frame.to_json(orient="records"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-grid", action="store_true", help="skip the weight grid search")
    args = parser.parse_args()
    corpus, embedder = Corpus.default(), get_embedder()
    out: dict = {
        "embedder": embedder.name,
        "corpus": {"projects": len(corpus.projects), "organisations": len(corpus.organisations)},
        "defaults": DEFAULT_WEIGHTS,
        "machine": platform.platform(),
    }

    if not args.skip_grid:
        start = time.perf_counter()
        grid = tune_weights(corpus, embedder, period="2014-2020")
        constrained = grid[(grid["bonus"] > 0) & (grid["profile_weight"] > 0)]
        out["grid"] = {
            "period": "2014-2020",
            "points": len(grid),
            "seconds": round(time.perf_counter() - start, 1),
            "best": _records(grid.head(1)),
            "best_with_bonus_and_profile": _records(constrained.head(1)),
            "top10": _records(grid.head(10)),
        }
        print(f"## Grid search on 2014-2020 queries ({len(grid)} points)\n")
        print(markdown_table(grid[SHOW].head(10)))
        print("\nPicked (best with bonus > 0 and profile_weight > 0):\n")
        print(markdown_table(constrained[SHOW].head(1)))
        print()

    for masked in (True, False):
        start = time.perf_counter()
        result = evaluate_partners(corpus, embedder, mask_names=masked)
        key = "masked" if masked else "unmasked"
        out[key] = {
            "seconds": round(time.perf_counter() - start, 1),
            "metrics": _records(result["metrics"]),
            "by_period": _records(result["by_period"]),
            "diversity": _records(result["diversity"]),
            "by_scope": _records(result["by_scope"]),
            "union_actions": _records(result["union_actions"]),
        }
        print(f"## Leave-one-partner-out, names {'masked' if masked else 'NOT masked'}\n")
        print(report(result, details=masked))

    rec = fit_recommender(corpus, cached(embedder))
    vectors = embed_documents(embedder, QUERIES)[0]
    times = []
    for _ in range(5):
        for vector in vectors:
            start = time.perf_counter()
            rec.suggest(vector, k=10, applicant="Helsingin kaupunki", complement=True)
            times.append(time.perf_counter() - start)
    out["suggest_ms"] = {
        "median": round(statistics.median(times) * 1000, 2),
        "max": round(max(times) * 1000, 2),
        "n": len(times),
    }
    print(f"suggest() after fit: median {out['suggest_ms']['median']} ms over {len(times)} calls")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
