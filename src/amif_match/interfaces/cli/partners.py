"""``amif-match partners``: partner organisations for one proposal."""

from __future__ import annotations

import argparse
import shutil
from typing import TYPE_CHECKING, Any

from amif_match.interfaces.cli.arguments import option_values
from amif_match.interfaces.cli.common import (
    EXIT_OK,
    add_text_command,
    dump_json,
    get_matcher,
    say,
    wrap_lines,
)
from amif_match.interfaces.cli.inputs import single_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def partners_frame(text: str, options: dict[str, Any]) -> pd.DataFrame:
    """Partner suggestions for ``text`` (options as in :mod:`amif_match.options`)."""
    return get_matcher().suggest_partners(text, **options)


def print_partners(frame: pd.DataFrame) -> None:
    """The suggestions as a numbered list with explanations."""
    if frame.empty:
        say("No organisation with past AMIF projects matches these filters.")
        return
    width = shutil.get_terminal_size((120, 24)).columns
    if frame.attrs.get("transnational"):
        states = frame.attrs.get("member_states", [])
        say(f"Consortium with these partners spans {len(states)} Member States: {' '.join(states)}")
    for row in frame.to_dict("records"):
        place = [p for p in (row.get("city"), row.get("country")) if p]
        where = f", {', '.join(place)}" if place else ""
        say(f"{row['rank']:>2}. {row['name']} ({row['type']}{where})  score {row['score']:.2f}")
        explanation = str(row.get("explanation") or "")
        for line in wrap_lines(explanation, width - 6):
            say(f"    {line}")


def run(args: argparse.Namespace) -> int:
    """Print partner suggestions for one proposal."""
    text = single_text(args)
    frame = partners_frame(text, option_values(args, "partners"))
    if args.json:
        from amif_match.partners import to_records

        say(dump_json(to_records(frame)))
    else:
        print_partners(frame)
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``partners`` sub-command to the ``amif-match`` parser."""
    add_text_command(
        sub,
        parents,
        "partners",
        run,
        help="suggest partner organisations for a proposal",
        description="Organisations with the most relevant past AMIF work, best first, explained.",
        epilog="""\
Esimerkkejä (fi):
  amif-match partners "Pakolaistaustaisten nuorten asumisvalmennusta" --k 5
  amif-match partners hakemus.txt --applicant "Helsingin kaupunki" --complement
Examples (en):
  amif-match partners proposal.txt --org-type ngo --region Uusimaa --region nationwide --json
  amif-match partners proposal.txt --applicant se-migrationsverket --countries SE DE
  amif-match partners proposal.txt --applicant "Helsingin kaupunki" --transnational 3

""",
    )
