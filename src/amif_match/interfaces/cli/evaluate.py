"""``amif-match evaluate``: delegates to ``python -m amif_match.evaluate``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    pass


def run(args: argparse.Namespace) -> int:
    """Run ``python -m amif_match.evaluate`` with the remaining arguments."""
    try:
        from amif_match.evaluate import main as evaluate_main
    except ImportError as exc:
        raise RuntimeError(f"evaluation is not available in this installation ({exc})") from exc
    return int(evaluate_main(list(args.rest)) or 0)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``evaluate`` sub-command to the ``amif-match`` parser."""
    p = sub.add_parser(
        "evaluate",
        help="cross-validate the classifier and write models/MODEL_CARD.md",
        description="Run the evaluation (options are those of python -m amif_match.evaluate).",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run, rest=[])
