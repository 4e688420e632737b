"""``amif-match feedback``: record, list, export and import officers' corrections."""

from __future__ import annotations

import argparse
from typing import Any

from amif_match.interfaces.cli.common import (
    EXIT_OK,
    CliParser,
    add_command,
    add_encoding_option,
    dump_json,
    say,
    shorten,
    text_table,
)
from amif_match.interfaces.cli.inputs import single_text


def _store(args: argparse.Namespace) -> Any:
    from amif_match.feedback import open_store

    return open_store(args.store)


def run_add(args: argparse.Namespace) -> int:
    """Record one confirmation or correction."""
    from amif_match.matcher import Matcher

    text = single_text(args)
    record = Matcher().record_feedback(
        text,
        objective=args.objective,
        target_groups=args.target_groups,
        activities=args.activities,
        note=args.note,
        reviewer=args.reviewer,
        predicted=args.predicted,
        store=_store(args),
    )
    if args.json:
        say(dump_json(record.to_dict()))
    else:
        say(f"Recorded #{record.id}: {record.objective} ({shorten(record.text, 60)})")
        say(f"Store: {_store(args).path}")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    """List stored corrections, newest last."""
    records = _store(args).records(limit=args.limit, reviewer=args.reviewer)
    if args.json:
        say(dump_json([r.to_dict() for r in records]))
        return EXIT_OK
    rows = [
        [
            r.id,
            r.time[:19].replace("T", " "),
            r.objective,
            r.predicted or "",
            ";".join(r.target_groups),
            r.reviewer or "",
            r.text,
        ]
        for r in records
    ]
    header = ["id", "time (UTC)", "objective", "predicted", "target groups", "reviewer", "text"]
    say(text_table(rows, header) if rows else "No corrections stored yet.")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    """Write every correction to a CSV file."""
    count = _store(args).export_csv(args.file)
    say(
        dump_json({"exported": count, "file": args.file})
        if args.json
        else f"Exported {count} to {args.file}"
    )
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    """Add the corrections of a CSV file (identical rows are skipped)."""
    result = _store(args).import_csv(args.file, reviewer=args.reviewer)
    if args.json:
        say(dump_json({"added": result.added, "duplicates": result.duplicates}))
    else:
        say(f"Imported {result.added} (skipped {result.duplicates} already stored)")
    return EXIT_OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``feedback`` sub-command (and its ``add``/``list``/``export``/``import``)."""
    p = add_command(
        sub,
        parents,
        "feedback",
        help="record, list, export and import officers' corrections",
        description=(
            "Officers' confirmations and corrections of results, kept in a SQLite file "
            "(--store, else $AMIF_MATCH_FEEDBACK, else ~/.local/share/amif_match/"
            "feedback.sqlite). `amif-match train --with-feedback` learns from them."
        ),
        epilog="""\
Examples:
  amif-match feedback add hakemus.docx --objective SO2 --target-groups women --reviewer "A. V."
  amif-match feedback list
  amif-match feedback export oulu.csv; amif-match feedback import oulu.csv
  amif-match train --with-feedback

""",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="DB", help="the feedback database file")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=CliParser)
    actions.required = True
    ours = [*parents, common]

    add = add_command(actions, ours, "add", help="record a confirmation or correction")
    add.add_argument(
        "input", nargs="?", metavar="INPUT", help='text, "-", or a document (.docx/.pdf/...)'
    )
    add.add_argument("--objective", required=True, help="the right objective: SO1-SO4")
    add.add_argument("--target-groups", help="the right target groups, ;-separated codes")
    add.add_argument("--activities", help="the right catalogue activities, ;-separated codes")
    add.add_argument("--note", help="free text")
    add.add_argument("--reviewer", help="who records it")
    add.add_argument("--predicted", help="the objective the model gave")
    add_encoding_option(add)
    add.set_defaults(func=run_add)

    listing = add_command(actions, ours, "list", help="list stored corrections")
    listing.add_argument("--limit", type=int, help="only the newest N")
    listing.add_argument("--reviewer", help="only this reviewer's")
    listing.set_defaults(func=run_list)

    export = add_command(actions, ours, "export", help="write every correction to a CSV file")
    export.add_argument("file", metavar="FILE.csv")
    export.set_defaults(func=run_export)

    imp = add_command(actions, ours, "import", help="add the corrections of a CSV file")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--reviewer", help="reviewer for rows that name none")
    imp.set_defaults(func=run_import)
