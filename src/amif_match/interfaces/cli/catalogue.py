"""``amif-match catalogue``: the objectives, activities and target groups (no model)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from amif_match.corpus import LAYERS
from amif_match.interfaces.cli.common import (
    EXIT_OK,
    UsageError,
    add_command,
    dump_json,
    get_matcher,
    say,
    text_table,
)
from amif_match.text import LANGUAGES

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.matcher import Matcher


TABLES = ("objectives", "activities", "target-groups")


def catalogue_frames(matcher: Matcher, table: str | None, layer: str | None) -> dict[str, Any]:
    """The requested catalogue tables (all three by default), by name."""
    frames = {}
    if table in (None, "objectives"):
        frames["objectives"] = matcher.get_objectives()
    if table in (None, "activities"):
        frames["activities"] = matcher.get_activities(layer)
    if table in (None, "target-groups"):
        frames["target_groups"] = matcher.get_target_groups()
    return frames


def run(args: argparse.Namespace) -> int:
    """Print the catalogue tables (no model is loaded)."""
    if args.layer is not None and args.table not in (None, "activities"):
        raise UsageError("--layer only applies to the activities table")
    frames = catalogue_frames(get_matcher(), args.table, args.layer)
    if args.json:
        data = {name: frame.to_dict("records") for name, frame in frames.items()}
        say(dump_json(data if args.table is None else next(iter(data.values()))))
        return EXIT_OK
    lang = args.language or "en"

    def name(row: dict[str, Any], stem: str) -> str:
        value = row.get(f"{stem}_{lang}")
        return value if isinstance(value, str) and value else str(row.get(f"{stem}_en") or "")

    blocks = []
    for table, frame in frames.items():
        records = frame.to_dict("records")
        if table == "objectives":
            rows = [[r["code"], name(r, "name")] for r in records]
            text = text_table(rows, ["code", "name"])
        elif table == "activities":
            rows = [
                [r["code"], r["layer"], ";".join(r["objectives"]), name(r, "name")] for r in records
            ]
            text = text_table(rows, ["code", "layer", "objectives", "name"])
        else:
            rows = [[r["code"], r["kind"], name(r, "term")] for r in records]
            text = text_table(rows, ["code", "kind", "term"])
        title = table.replace("_", " ").capitalize()
        blocks.append(f"{title} ({len(records)})\n{text}" if args.table is None else text)
    say("\n\n".join(blocks))
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``catalogue`` sub-command to the ``amif-match`` parser."""
    p = add_command(
        sub,
        parents,
        "catalogue",
        help="list the objectives, activities and target groups",
        description="List the programme catalogue (no model needed).",
        epilog="""\
Esimerkkejä (fi):
  amif-match catalogue objectives --language fi
  amif-match catalogue activities --layer national_action --language fi
Examples (en):
  amif-match catalogue target-groups --json

""",
    )
    p.add_argument("table", nargs="?", choices=TABLES, help="one table (default: all)")
    p.add_argument("--layer", choices=LAYERS, help="activities of one layer only")
    p.add_argument("--language", choices=LANGUAGES, help="names in this language (default en)")
    p.set_defaults(func=run)
