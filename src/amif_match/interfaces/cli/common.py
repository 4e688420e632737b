"""What every command shares: exit codes, the usage error, stdout helpers and the matcher."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from amif_match.interfaces.cli.arguments import add_options
from amif_match.serialise import to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from amif_match.matcher import Matcher


EXIT_OK = 0


EXIT_FAILURE = 1


EXIT_USAGE = 2


EXIT_INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  runtime failure (model, missing optional dependency, writing output)
  2  bad usage or bad input (unknown option, empty text, missing file or column)
"""


class UsageError(Exception):
    """Bad command-line usage or an unusable input (exit code 2)."""


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (with a pointer to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"amif-match: error: {message} (see {self.prog} --help)\n")


def stdout_stream() -> TextIO:
    """Where results go (looked up on each call, so tests can capture it)."""
    return sys.stdout


def say(*parts: object) -> None:
    """Print to stdout."""
    print(*parts, file=stdout_stream())


def dump_json(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as JSON text, through the one sanitiser, ``serialise.to_jsonable``."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, indent=indent, allow_nan=False)


def shorten(value: object, width: int) -> str:
    """``value`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def text_table(rows: list[list[object]], header: list[str], *, flexible: int = -1) -> str:
    """A plain-text table fitted to the terminal; column ``flexible`` is cut to fit."""
    cells = [[" ".join(str(c).split()) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    total = shutil.get_terminal_size((120, 24)).columns
    flex = flexible % len(header)
    room = total - (sum(widths) - widths[flex]) - 2 * (len(header) - 1)
    widths[flex] = max(min(widths[flex], room), min(len(header[flex]) + 4, widths[flex]), 12)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(shorten(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def score_bar(p: float, width: int = 20) -> str:
    """A bar of ``width`` cells for a probability."""
    full = round(max(0.0, min(1.0, p)) * width)
    return "█" * full + "·" * (width - full)


def indent_lines(text: str) -> str:
    """``text`` indented by two spaces."""
    return "\n".join("  " + line for line in text.splitlines())


def wrap_lines(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` (at least 40) columns."""
    import textwrap

    return textwrap.wrap(text, width=max(width, 40)) or [""]


def get_matcher() -> Matcher:
    """The shared default :class:`~amif_match.Matcher` (loaded on first use), or one on the
    backend that ``--backend`` / ``$AMIF_MATCH_BACKEND`` names."""
    from amif_match.embedding.backends import BACKEND_ENV
    from amif_match.matcher import Matcher

    backend = os.environ.get(BACKEND_ENV)
    return _backend_matcher(backend) if backend else Matcher.default()


@lru_cache(maxsize=4)
def _backend_matcher(backend: str) -> Matcher:
    from amif_match.matcher import Matcher

    return Matcher(backend=backend)


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def add_encoding_option(parser: argparse.ArgumentParser) -> None:
    """``--encoding``, for the commands that read input files."""
    parser.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="encoding of input files (default utf-8-sig: UTF-8 with or without a BOM)",
    )


def add_command(
    sub: Any, parents: list[argparse.ArgumentParser], name: str, *, epilog: str = "", **kwargs: Any
) -> argparse.ArgumentParser:
    """Add sub-command ``name``: its examples (``epilog``) are followed by the exit codes."""
    return sub.add_parser(
        name,
        epilog=epilog + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
        **kwargs,
    )


def add_text_command(
    sub: Any, parents: list[argparse.ArgumentParser], name: str, run: Any, **kwargs: Any
) -> argparse.ArgumentParser:
    """A command on one proposal: ``INPUT``, the command's options (``amif_match.options``),
    ``--encoding``; ``run(args)`` does the work."""
    p = add_command(sub, parents, name, **kwargs)
    p.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help='text, "-", or a document (.docx/.pdf/.odt/.txt/.md/.html)',
    )
    add_options(p, name)
    add_encoding_option(p)
    p.set_defaults(func=run)
    return p
