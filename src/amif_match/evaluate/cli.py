"""``python -m amif_match.evaluate``: run the evaluation, print the tables, update the card."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from amif_match._version import __version__
from amif_match.corpus import Corpus
from amif_match.embedding import DEFAULT_EMBEDDER
from amif_match.evaluate.card import write_model_card
from amif_match.evaluate.classification import evaluate_classification
from amif_match.evaluate.countries import evaluate_countries
from amif_match.evaluate.scope import evaluate_scope

__all__ = ["evaluation_json", "main", "print_tables", "run"]

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
    parser.add_argument(
        "--with-feedback",
        nargs="?",
        const=True,
        default=None,
        metavar="DB",
        help="instead of the full evaluation: objective accuracy on held-out officers' "
        "corrections, trained without and with the other corrections (cross-validated over "
        "--splits folds of the corrections; DB: the feedback store, default "
        "$AMIF_MATCH_FEEDBACK or the user data folder)",
    )
    return parser


def run(*, embedder: str = DEFAULT_EMBEDDER, n_splits: int = 5, partners: bool = True) -> dict:
    """Every evaluation table, plus what the model card's header line reports."""
    from amif_match.evaluate.partners import evaluate_partners

    start = time.perf_counter()
    corpus = Corpus.default()
    results: dict[str, Any] = {
        # The Finnish folds, with every other country's projects always in training.
        "classification": evaluate_classification(
            embedder=embedder, n_splits=n_splits, folds_of=["FI"]
        ),
        # The same folds trained on the Finnish projects alone (the model before issue 11).
        "classification_fi_only": evaluate_classification(
            Corpus.default(countries=["FI"]), embedder=embedder, n_splits=n_splits
        ),
        "countries": evaluate_countries(embedder=embedder),
        "scope": evaluate_scope(embedder=embedder, n_splits=n_splits),
    }
    if partners:
        tables = evaluate_partners()
        results["partners"] = {
            "by segment (all periods)": tables["metrics"],
            "by period (weights tuned on 2014-2020 queries only)": tables["by_period"],
            "diversity of top-10 lists": tables["diversity"],
        }
        # The multi-country tables, where the partner evaluation provides them.
        for key, name in (
            ("by_scope", "by project kind and segment, in the default country scope"),
            ("union_actions", "Union actions: cross-border vs same-country partners"),
        ):
            if key in tables:
                results["partners"][name] = tables[key]
    projects = corpus.projects
    from amif_match.embedding.backends import DEFAULT_EMBEDDER, resolve_backend

    results.update(
        embedder=embedder,
        # The default model's runtime (all three give the same objective for >= 98 % of texts).
        backend=resolve_backend(None) if embedder == DEFAULT_EMBEDDER else "torch",
        version=__version__,
        n_projects=len(projects),
        n_countries=projects["country"].nunique(),
        n_fi_projects=int((projects["country"] == "FI").sum()),
        objective_counts={k: int(v) for k, v in projects["objective"].value_counts().items()},
        n_splits=n_splits,
        seconds=time.perf_counter() - start,
    )
    return results


def print_tables(results: dict[str, Any]) -> None:
    """The summary, scope and partner tables as plain text."""
    summary = results["classification"]["summary"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(summary[PRINTED_COLUMNS].to_string(index=False))
        if "countries" in results:
            countries = results["countries"]
            columns = ["country", "text", "projects", "accuracy", "macro_f1"]
            print("\nleave-one-country-out (pooled, then per country)")
            print(countries["by_text"].to_string(index=False))
            print(countries["by_country"][columns].to_string(index=False))
        print(results["scope"].to_string(index=False))
        for name, frame in results.get("partners", {}).items():
            print(f"\n{name}\n{frame.to_string(index=False)}")


def evaluation_json(results: dict[str, Any]) -> dict[str, Any]:
    """The leave-one-country-out and Finnish CV results as plain data (``evaluation.json``).

    ``accuracy`` and ``macro_f1`` of a country or language are on the held-out projects'
    own-language descriptions; ``accuracy_en`` and ``macro_f1_en`` on their English summaries.
    """

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return json.loads(frame.to_json(orient="records"))

    def merged(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
        own = frame[frame["text"] == "description"].drop(columns=["text"])
        english = frame[frame["text"] == "summary_en"][[key, "accuracy", "macro_f1"]]
        english = english.rename(columns={"accuracy": "accuracy_en", "macro_f1": "macro_f1_en"})
        return records(own.merge(english, on=key, how="left"))

    countries = results["countries"]
    columns = ["method", "language", "accuracy", "macro_f1"]
    return {
        "leave_one_country_out": merged(countries["by_country"], "country"),
        "by_language": records(countries["by_language"]),
        "pooled": records(countries["by_text"]),
        "finnish_cv": {
            "n_splits": results["n_splits"],
            "training": "all non-FI projects + the 4 Finnish training folds",
            "summary": records(results["classification"]["summary"][columns]),
            "fi_only_training": records(results["classification_fi_only"]["summary"][columns]),
        },
        **{
            k: results[k]
            for k in (
                "embedder",
                "backend",
                "version",
                "n_projects",
                "n_countries",
                "objective_counts",
            )
            if k in results  # results of an older run have no backend
        },
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _json_tables(results: dict[str, Any]) -> str:
    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return json.loads(frame.to_json(orient="records"))

    return json.dumps(
        {
            "classification": records(results["classification"]["summary"]),
            "classification_folds": records(results["classification"]["folds"]),
            "scope": records(results["scope"]),
            "partners": {k: records(v) for k, v in results.get("partners", {}).items()},
            **({"countries": evaluation_json(results)} if "countries" in results else {}),
            **{k: results[k] for k in ("embedder", "version", "n_projects", "n_splits")},
        },
        ensure_ascii=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m amif_match.evaluate [--splits 5] [--card models/MODEL_CARD.md]``."""
    args = _parser().parse_args(argv)
    if args.with_feedback is not None:
        from amif_match.evaluate.feedback import evaluate_feedback

        table = evaluate_feedback(args.with_feedback, embedder=args.embedder, n_splits=args.splits)
        print(table.to_json(orient="records") if args.json else table.to_string(index=False))
        return 0
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
        # The plain-data results next to the card (the notebooks plot them).
        if "countries" in results:
            from amif_match.evaluate.plots import reliability_figure

            figure = reliability_figure(results["countries"]["predictions"])
            figure.savefig(Path(args.card).with_name("reliability.png"), dpi=110)
        out = Path(args.card).with_name("evaluation.json")
        out.write_text(
            json.dumps(evaluation_json(results), ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {args.card} and {out}", file=sys.stderr if args.json else sys.stdout)
    return 0
