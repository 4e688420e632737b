"""``python -m amif_match.evaluate``: run the evaluation, print the tables, update the card."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from amif_match._version import __version__
from amif_match.corpus import Corpus
from amif_match.embedding import DEFAULT_EMBEDDER
from amif_match.evaluate.card import write_model_card
from amif_match.evaluate.classification import evaluate_classification
from amif_match.evaluate.scope import evaluate_scope

__all__ = ["main", "print_tables", "run"]

#: Columns of the classification summary printed on the terminal.
PRINTED_COLUMNS = [
    "method",
    "language",
    "accuracy",
    "macro_f1",
    "tg_micro_f1",
    "tg_macro_f1",
    "tg_no_label_share",
    "activities_hit@3",
    "intervention_field_hit@3",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amif-match evaluate",
        description="Evaluation harness: cross-validated quality of classification "
        "(and partner suggestions).",
    )
    parser.add_argument("--splits", type=int, default=5, help="number of CV folds (default 5)")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--card", default=None, help="write the tables into this model card")
    parser.add_argument("--no-partners", action="store_true", help="skip the partner evaluation")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    return parser


def run(*, embedder: str = DEFAULT_EMBEDDER, n_splits: int = 5, partners: bool = True) -> dict:
    """Every evaluation table, plus what the model card's header line reports."""
    from amif_match.evaluate.partners import evaluate_partners

    start = time.perf_counter()
    results: dict[str, Any] = {
        "classification": evaluate_classification(embedder=embedder, n_splits=n_splits),
        "scope": evaluate_scope(embedder=embedder, n_splits=n_splits),
    }
    if partners:
        tables = evaluate_partners()
        results["partners"] = {
            "by segment (all periods)": tables["metrics"],
            "by period (weights tuned on 2014-2020 queries only)": tables["by_period"],
            "diversity of top-10 lists": tables["diversity"],
        }
    results.update(
        embedder=embedder,
        version=__version__,
        n_projects=len(Corpus.default().projects),
        n_splits=n_splits,
        seconds=time.perf_counter() - start,
    )
    return results


def print_tables(results: dict[str, Any]) -> None:
    """The summary, scope and partner tables as plain text."""
    summary = results["classification"]["summary"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(summary[PRINTED_COLUMNS].to_string(index=False))
        print(results["scope"].to_string(index=False))
        for name, frame in results.get("partners", {}).items():
            print(f"\n{name}\n{frame.to_string(index=False)}")


def _json_tables(results: dict[str, Any]) -> str:
    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return json.loads(frame.to_json(orient="records"))

    return json.dumps(
        {
            "classification": records(results["classification"]["summary"]),
            "classification_folds": records(results["classification"]["folds"]),
            "scope": records(results["scope"]),
            "partners": {k: records(v) for k, v in results.get("partners", {}).items()},
            **{k: results[k] for k in ("embedder", "version", "n_projects", "n_splits")},
        },
        ensure_ascii=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m amif_match.evaluate [--splits 5] [--card models/MODEL_CARD.md]``."""
    args = _parser().parse_args(argv)
    results = run(embedder=args.embedder, n_splits=args.splits, partners=not args.no_partners)
    if args.json:
        print(_json_tables(results))
    else:
        print_tables(results)
    if args.card:
        command = (
            "python -m amif_match.evaluate"
            + (f" --splits {args.splits}" if args.splits != 5 else "")
            + f" --card {args.card}"
        )
        write_model_card(results, args.card, command=command)
        print(f"wrote {args.card}", file=sys.stderr if args.json else sys.stdout)
    return 0
