"""The ``amif-match`` command line.

Errors are printed as one line on stderr; exit codes: 0 success, 1 runtime failure, 2 bad usage
or bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

DEMO_SENTENCES = [
    ("fi", "Kielikoulutusta ja ohjausta maahanmuuttajanaisille."),
    ("sv", "Språkutbildning och vägledning för invandrarkvinnor."),
    ("en", "Language training and guidance for immigrant women."),
    ("fi", "Vapaaehtoisen paluun neuvontaa kielteisen päätöksen saaneille."),
    ("en", "Return counselling for rejected asylum seekers."),
    ("fi", "Metsäautotien perusparannus ja siltojen korjaus."),
]


def _cmd_demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from amif_match.embedding import get_embedder

    embedder = get_embedder(args.embedder)
    texts = [t for _, t in DEMO_SENTENCES]
    vectors = embedder.encode(texts)
    labels = [f"{lang}: {text[:38]}" for lang, text in DEMO_SENTENCES]
    table = pd.DataFrame(vectors @ vectors.T, index=labels, columns=[f"#{i}" for i in range(6)])
    print(f"Cosine similarity with {embedder.name} (higher = closer in meaning):\n")
    with pd.option_context("display.width", 200, "display.precision", 2):
        print(table)
    return 0


def _parser() -> argparse.ArgumentParser:
    from amif_match import __version__

    parser = argparse.ArgumentParser(
        prog="amif-match",
        description="Match proposals to the EU Asylum, Migration and Integration Fund (AMIF).",
    )
    parser.add_argument("--version", action="version", version=f"amif-match {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="embed Finnish/Swedish/English sentences and compare them")
    demo.add_argument("--embedder", default="me5-small", help="embedding backend (default me5-small)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from amif_match.errors import AmifMatchError

    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (AmifMatchError, ValueError, TypeError) as exc:
        print(f"amif-match: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
