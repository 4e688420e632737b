"""``amif-match activities``: the catalogue activities closest to one proposal."""

from __future__ import annotations

import argparse
from typing import Any

from amif_match.interfaces.cli.arguments import option_values
from amif_match.interfaces.cli.common import (
    EXIT_OK,
    add_text_command,
    dump_json,
    get_matcher,
    say,
    text_table,
)
from amif_match.interfaces.cli.inputs import single_text


def run(args: argparse.Namespace) -> int:
    """Print the catalogue activities closest to one proposal."""
    text = single_text(args)
    frame = get_matcher().match_activities(text, **option_values(args, "activities"))
    if args.json:
        say(dump_json(frame.to_dict("records")))
        return EXIT_OK
    rows = [
        [r["rank"], r["code"], r["layer"], r["objective"], f"{r['score']:.3f}", r["name"]]
        for r in frame.to_dict("records")
    ]
    say(text_table(rows, ["#", "code", "layer", "objective", "score", "name"]))
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``activities`` sub-command to the ``amif-match`` parser."""
    add_text_command(
        sub,
        parents,
        "activities",
        run,
        help="the catalogue activities closest to a proposal",
        description="The catalogue activities closest to a proposal, best first.",
        epilog="""\
Esimerkkejä (fi):
  amif-match activities "Vastaanottokeskusten henkilöstön koulutusta" --layer national_action
Examples (en):
  amif-match activities proposal.txt --k 5 --json

""",
    )
