"""Writing results: the output format, stdout or an atomically written ``-o FILE``, XLSX."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from amif_match.interfaces.cli.common import UsageError, stdout_stream
from amif_match.interfaces.cli.inputs import Inputs

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


OUTPUT_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".xlsx")


def output_format(args: argparse.Namespace, inputs: Inputs | None) -> str:
    """``summary``, ``table``, ``csv``, ``json`` or ``jsonl`` for stdout, or the -o format."""
    fmt = "json" if args.json else args.format
    if args.output is not None:
        suffix = Path(args.output).suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise UsageError(
                f"cannot tell the output format of {args.output}: "
                f"use a name ending in {', '.join(OUTPUT_SUFFIXES)}"
            )
        by_suffix = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl"}
        file_fmt = by_suffix.get(suffix, "xlsx")
        if fmt not in ("auto", file_fmt):
            raise UsageError(
                f"--{'json' if args.json else 'format ' + fmt} conflicts with -o {args.output}"
            )
        return file_fmt
    if fmt != "auto":
        return fmt
    if inputs is not None and inputs.single:
        return "summary"
    if inputs is not None and inputs.frame is not None and not stdout_stream().isatty():
        return "csv"
    return "table"


def write_output(
    args: argparse.Namespace, write: Callable[[TextIO], None], *, bom: bool = False
) -> None:
    """Run ``write`` on stdout, or on ``-o FILE`` atomically (the old file survives a failure).

    ``bom`` starts the output with a UTF-8 byte-order mark (kept from a CSV input that had one:
    Excel reads BOM-less UTF-8 CSV as the local code page and shows ä/ö as mojibake).
    """
    from amif_match.interfaces.cli.tables import atomic_output

    if args.output is None:
        stream = stdout_stream()
        if bom and not stream.isatty():
            stream.write("\ufeff")
        write(stream)
        return
    path = Path(args.output)
    try:
        with atomic_output(path, encoding="utf-8-sig" if bom else "utf-8") as handle:
            write(handle)
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_output(args: argparse.Namespace, fmt: str, inputs: Inputs) -> None:
    """Fail before any model work if ``-o`` cannot be written or cannot hold the table."""
    if args.output is None:
        return
    from amif_match.interfaces.cli.tables import check_output_path, check_xlsx_cells

    check_output_path(args.output)
    if fmt == "xlsx" and inputs.frame is not None:
        check_xlsx_cells(inputs.frame, inputs.source)


def write_xlsx(frame: pd.DataFrame, path: Path, *, raw: bool = False) -> None:
    """``frame`` as an .xlsx file, atomically; text cells are text, never formulas."""
    from amif_match.interfaces.cli.tables import atomic_output, write_xlsx

    try:
        import openpyxl  # noqa: F401
    except ImportError:
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            "writing .xlsx files needs openpyxl: pip install openpyxl "
            "(or pip install 'amif-match[xlsx]'), or write .csv instead"
        ) from None
    try:
        with atomic_output(path, binary=True) as handle:
            write_xlsx(frame, handle, quote_prefix=not raw)
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
