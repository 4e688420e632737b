"""``amif-match train``: retrain the classification heads and save them."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from amif_match.interfaces.cli.common import EXIT_OK, add_command, dump_json, say


def run(args: argparse.Namespace) -> int:
    """Retrain the classification heads and save them."""
    from amif_match.classification import model_folder
    from amif_match.matcher import Matcher

    folder = Path(args.out) if args.out else model_folder()
    start = time.perf_counter()
    matcher = Matcher()
    try:
        matcher.train(save_to=folder, feedback=args.with_feedback)
    except OSError as exc:
        raise OSError(f"cannot save the model to {folder}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - start
    training = dict(getattr(matcher.classifier_, "training_", {}) or {})
    if args.json:
        say(
            dump_json({"saved_to": str(folder), "seconds": round(seconds, 1), "training": training})
        )
    else:
        what = ", ".join(f"{k} {v}" for k, v in training.items() if not isinstance(v, list))
        say(f"Trained the classification heads in {seconds:.0f} s ({what}).")
        say(f"Saved to {folder}")
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``train`` sub-command to the ``amif-match`` parser."""
    p = add_command(
        sub,
        parents,
        "train",
        help="retrain the classification heads on the corpus",
        description="Retrain the classification heads and save them.",
        epilog="Examples:\n  amif-match train\n  amif-match train --out /tmp/heads\n"
        "  amif-match train --with-feedback\n\n",
    )
    p.add_argument("--out", metavar="DIR", help="folder to save to (default: the bundled models/)")
    p.add_argument(
        "--with-feedback",
        nargs="?",
        const=True,
        default=None,
        metavar="DB",
        help="add the officers' corrections (amif-match feedback) as training projects; DB: "
        "the feedback store (default $AMIF_MATCH_FEEDBACK or the user data folder)",
    )
    p.set_defaults(func=run)
