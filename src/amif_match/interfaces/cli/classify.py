"""``amif-match classify``: one proposal or a batch, as a summary, a table, CSV/XLSX or JSON."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amif_match.interfaces.cli.arguments import add_options, option_values
from amif_match.interfaces.cli.common import (
    EXIT_OK,
    add_command,
    add_encoding_option,
    dump_json,
    get_matcher,
    indent_lines,
    say,
    score_bar,
    shorten,
    text_table,
)
from amif_match.interfaces.cli.inputs import Inputs, gather_inputs, validate_inputs
from amif_match.interfaces.cli.output import check_output, output_format, write_output, write_xlsx
from amif_match.serialise import to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from amif_match.classification import Classification
    from amif_match.matcher import Matcher


#: Texts classified per model call in a batch (the progress bar advances per chunk).
CHUNK = 16


#: Columns a batch adds to its input (CSV/XLSX output); lists are ``;``-joined codes.
RESULT_COLUMNS = [
    "amif_objective",
    "amif_objectives",
    "amif_probability",
    "amif_SO1",
    "amif_SO2",
    "amif_SO3",
    "amif_SO4",
    "amif_target_groups",
    "amif_activities",
    "amif_similar_projects",
    "amif_in_scope",
    "amif_scope_score",
    "amif_scope_reason",
    "amif_language",
]


EPILOG = """\
INPUT is a text, "-" for stdin, a document (.docx/.pdf/.odt/.txt/.md/.html), a folder of
documents, or one .csv/.tsv/.xlsx file with one proposal per row (--column). Several INPUTs
make a batch.
A .parquet file (with -o OUT.parquet) is streamed in batches of --batch-rows, with bounded
memory, in this process or on Dask (--workers N: a local cluster; --scheduler ADDRESS);
invalid rows are recorded in amif_error and the rest goes on. Needs amif-match[dask].

Output: one text gives a readable summary (--json: the classification as JSON). A batch gives
a table; a CSV/XLSX input is written back as CSV with every input column, in input order,
plus the amif_* result columns (on a terminal it is shown as a table instead; -o FILE or
--format decide explicitly). Batches show a progress bar on stderr when it is a terminal
(--progress forces it).

Applicants' texts are untrusted: in CSV/TSV output a text cell that starts with = + - @ tab
or CR gets a ' in front so that a spreadsheet shows it instead of running it as a formula
(plain numbers such as -42 are kept); XLSX cells are always written as text, never formulas.
--raw-cells keeps the cells as they are. -o writes a temporary file next to FILE and renames
it over FILE only when complete; a CSV input's UTF-8 byte-order mark is kept on CSV output.
Every CSV row must have as many fields as the header (an error names the line), and header
names must be unique.

Esimerkkejä (fi):
  amif-match classify "Kotoutumiskoulutusta maahanmuuttajanaisille"
  echo "Vapaaehtoisen paluun neuvontaa" | amif-match classify -
  amif-match classify hakemukset.csv --column kuvaus --id-column dnro -o tulokset.csv
  amif-match classify hakemukset.xlsx --sheet Hakemukset --column kuvaus -o tulokset.xlsx
  amif-match classify hakemukset/ --json > tulokset.json
  amif-match classify arkisto.parquet --column kuvaus -o tulokset.parquet --workers 2

Examples (en):
  amif-match classify "Language training for immigrant women" --json
  amif-match classify proposal.html --k 5
  cat titles.txt | amif-match classify - --lines --format csv

"""


def progress_wanted(flag: bool | None, n: int) -> bool:
    """Whether to show a progress bar: as asked, else for a batch on a terminal."""
    if flag is not None:
        return flag
    return n > 1 and sys.stderr is not None and sys.stderr.isatty()


def classify_all(
    matcher: Matcher, texts: list[str], options: dict[str, Any], progress: bool
) -> list[Classification]:
    """Classify ``texts`` in chunks of :data:`CHUNK`, advancing the progress bar."""
    from tqdm import tqdm

    results: list[Classification] = []
    with tqdm(
        total=len(texts),
        unit="text",
        desc="classifying",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
        mininterval=0.2,
    ) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            results.extend(matcher.classify_batch(chunk, show_progress_bar=False, **options))
            bar.update(len(chunk))
    return results


def result_row(result: Classification) -> dict[str, Any]:
    """The ``amif_*`` columns of one classification (see :data:`RESULT_COLUMNS`)."""
    probs = {o["code"]: o["probability"] for o in result.objectives}
    return {
        "amif_objective": result.objective,
        "amif_objectives": ";".join(o["code"] for o in result.objectives if o["selected"]),
        "amif_probability": probs[result.objective],
        **{f"amif_{code}": probs.get(code) for code in ("SO1", "SO2", "SO3", "SO4")},
        "amif_target_groups": ";".join(t["code"] for t in result.target_groups if t["selected"]),
        "amif_activities": ";".join(a["code"] for a in result.activities[:3]),
        "amif_similar_projects": ";".join(p["id"] for p in result.similar_projects[:3]),
        "amif_in_scope": result.in_scope,
        "amif_scope_score": result.scope_score,
        "amif_scope_reason": result.scope_reason or "",
        "amif_language": result.language,
    }


def result_frame(inputs: Inputs, results: dict[int, Classification]) -> pd.DataFrame:
    """The input table (or ids and texts) plus the ``amif_*`` result columns."""
    import pandas as pd

    rows = []
    for i in range(len(inputs.texts)):
        row = result_row(results[i]) if i in results else dict.fromkeys(RESULT_COLUMNS)
        if inputs.skipped:
            row["amif_error"] = inputs.skipped.get(i, "")
        rows.append(row)
    columns = RESULT_COLUMNS + (["amif_error"] if inputs.skipped else [])
    added = pd.DataFrame(rows, columns=columns)
    if inputs.frame is None:
        return pd.concat([pd.DataFrame({"id": inputs.ids}), added], axis=1)
    base = inputs.frame.drop(
        columns=[c for c in inputs.frame.columns if c in [*RESULT_COLUMNS, "amif_error"]]
    ).reset_index(drop=True)
    return pd.concat([base, added], axis=1)


def result_records(inputs: Inputs, results: dict[int, Classification]) -> list[dict[str, Any]]:
    """One JSON record per input: its id and the classification (or its error)."""
    records = []
    for i, ident in enumerate(inputs.ids):
        ident = to_jsonable(ident)
        if i in results:
            records.append({"id": ident, **results[i].to_dict()})
        else:
            records.append({"id": ident, "error": inputs.skipped[i]})
    return records


def run(args: argparse.Namespace) -> int:
    """Classify one proposal or a batch and write the results."""
    from amif_match.interfaces.cli import parquet

    if parquet.wants_parquet(args):  # streamed, in batches, optionally on Dask
        return parquet.run(args)
    inputs = gather_inputs(args)
    fmt = output_format(args, inputs)
    check_output(args, fmt, inputs)
    validate_inputs(inputs, args)
    matcher = get_matcher()
    k = args.k
    options = option_values(args, "classify")
    positions = [i for i in range(len(inputs.texts)) if i not in inputs.skipped]
    matcher.fit()
    progress = progress_wanted(args.progress, len(positions))
    if progress:  # load the model now so that the bar measures classification only
        matcher.embedder_.encode(["lämmittely"], show_progress_bar=False)
    classified = classify_all(matcher, [inputs.texts[i] for i in positions], options, progress)
    results = dict(zip(positions, classified, strict=True))

    if inputs.single:
        result = results[0]
        if fmt == "summary":
            print_classification(result, k=k)
            return EXIT_OK
        if fmt in ("json", "jsonl"):
            indent = 2 if fmt == "json" else None
            write_output(args, lambda f: f.write(dump_json(result.to_dict(), indent=indent) + "\n"))
            return EXIT_OK
    if fmt == "json":
        records = result_records(inputs, results)
        write_output(args, lambda f: f.write(dump_json(records) + "\n"))
    elif fmt == "jsonl":
        records = result_records(inputs, results)
        write_output(
            args, lambda f: f.writelines(dump_json(r, indent=None) + "\n" for r in records)
        )
    elif fmt == "csv":
        from amif_match.interfaces.cli.tables import neutralise_frame

        frame = result_frame(inputs, results)
        if not args.raw_cells:  # applicants' texts must not become live spreadsheet formulas
            frame = neutralise_frame(frame)
        sep = "\t" if str(args.output or "").lower().endswith(".tsv") else inputs.sep
        write_output(args, lambda f: frame.to_csv(f, index=False, sep=sep), bom=inputs.bom)
    elif fmt == "xlsx":
        write_xlsx(result_frame(inputs, results), Path(args.output), raw=args.raw_cells)
    else:  # table (or summary of a batch)
        print_batch_table(inputs, results)
    if inputs.skipped:
        print(
            f"amif-match: warning: {len(inputs.skipped)} of {len(inputs.texts)} inputs were "
            "invalid and left unclassified (see amif_error)",
            file=sys.stderr,
        )
    return EXIT_OK


def print_batch_table(inputs: Inputs, results: dict[int, Classification]) -> None:
    """A batch as a terminal table, one row per input."""
    rows = []
    for i, ident in enumerate(inputs.ids):
        if i not in results:
            rows.append([ident, "-", "", "", "", f"invalid: {inputs.skipped[i]}"])
            continue
        r = results[i]
        p = next(o["probability"] for o in r.objectives if o["code"] == r.objective)
        rows.append(
            [
                ident,
                r.objective,
                f"{p:.2f}",
                "yes" if r.in_scope else "NO",
                ", ".join(t["code"] for t in r.target_groups if t["selected"]),
                ", ".join(a["code"] for a in r.activities[:3]),
            ]
        )
    header = ["id", "objective", "p", "in scope", "target groups", "top activities"]
    say(text_table(rows, header, flexible=4))


def print_classification(result: Classification, *, k: int = 5, evidence: int = 3) -> None:
    """A readable summary of one classification."""
    best = result.objectives[0]
    scope = (
        f"in AMIF scope (score {result.scope_score:.2f})"
        if result.in_scope
        else f"NOT in AMIF scope (score {result.scope_score:.2f})"
    )
    if result.scope_reason:
        scope = f"not assessed: {result.scope_reason}"
    if not result.in_scope and result.resembles:
        scope += f"; resembles {result.resembles['fund']} ({result.resembles['probability']:.2f})"
    say(f"Objective: {result.objective} – {best['name']} (p = {best['probability']:.2f})")
    say(f"Scope:     {scope}; language {result.language}")
    say("\nObjectives")
    for o in result.objectives:
        mark = "✔" if o["selected"] else " "
        p = o["probability"]
        say(f"  {mark} {o['code']}  {p:.3f}  {score_bar(p)}  {o['name']}")
    chosen = [t for t in result.target_groups if t["selected"]]
    say("\nTarget groups (selected)")
    for t in chosen or result.target_groups[:1]:
        say(f"  {t['code']:<18} {t['probability']:.2f}  {t['name']}")
    say("\nTop activities")
    rows = [
        [n, a["code"], a["objective"], f"{a['score']:.3f}", a["name"]]
        for n, a in enumerate(result.activities[:k], 1)
    ]
    say(indent_lines(text_table(rows, ["#", "code", "objective", "score", "name"])))
    say("\nEvidence")
    width = shutil.get_terminal_size((120, 24)).columns - 16
    for e in result.evidence[:evidence]:
        say(f"  [{e['supports']} {e['score']:.2f}] {shorten(e['text'], max(width, 40))}")
    say("\nSimilar past projects")
    rows = [[p["id"], f"{p['score']:.3f}", p["name"]] for p in result.similar_projects[:k]]
    say(indent_lines(text_table(rows, ["id", "score", "name"])))


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``classify`` sub-command to the ``amif-match`` parser."""
    p = add_command(
        sub,
        parents,
        "classify",
        help="classify proposals: objective, activities, target groups, evidence",
        description="Classify one proposal or a batch (folder, CSV/XLSX, lines of text).",
        epilog=EPILOG,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help='text, "-", file or folder')
    add_options(p, "classify")
    p.add_argument(
        "--column", default="text", help="text column of a CSV/XLSX input (default text)"
    )
    p.add_argument("--id-column", help="id column of a CSV/XLSX input (default: row number)")
    p.add_argument("--sheet", help="XLSX sheet name or index (default: the first)")
    p.add_argument(
        "--sep", help="CSV separator, one character or \\t (default: guessed from the header)"
    )
    p.add_argument("--lines", action="store_true", help="each non-empty line is one proposal")
    p.add_argument(
        "-o", "--output", help="write results to FILE (.csv .tsv .json .jsonl .xlsx .parquet)"
    )
    p.add_argument(
        "--format",
        choices=("auto", "summary", "table", "csv", "json", "jsonl"),
        default="auto",
        help="stdout format (default: summary for one text, table or CSV for batches)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="in a batch, leave invalid rows and unreadable files unclassified instead of failing",
    )
    p.add_argument(
        "--raw-cells",
        action="store_true",
        help="CSV/XLSX output: keep text cells that start with = + - @ tab or CR as they are "
        "(default: CSV gets a ' in front, XLSX marks them; for programs, not spreadsheets)",
    )
    add_encoding_option(p)
    from amif_match.interfaces.cli import parquet

    parquet.add_arguments(p)
    p.set_defaults(func=run)
