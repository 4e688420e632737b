"""The ``amif-match`` command line.

Subcommands: ``classify``, ``partners``, ``activities``, ``catalogue``, ``demo``, ``evaluate``,
``train``, ``feedback`` and ``serve``; ``amif-match COMMAND --help`` shows each one's options
and examples.

Conventions scripts can rely on:

* results go to stdout, everything else (progress bars, warnings, errors) to stderr;
* ``--json`` on every command prints machine-readable JSON instead of a table;
* an error is one line ``amif-match: error: ...`` on stderr;
* exit codes: 0 success, 1 runtime failure (model, missing optional dependency, I/O while
  writing), 2 bad usage or bad input (unknown option, empty or unreadable text, missing file or
  column), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from amif_match._version import __version__
from amif_match.embedding.backends import BACKEND_ENV, BACKENDS, DEFAULT_BACKEND
from amif_match.interfaces.cli import (
    activities,
    catalogue,
    classify,
    demo,
    evaluate,
    feedback,
    partners,
    serve,
    train,
)
from amif_match.interfaces.cli.classify import RESULT_COLUMNS
from amif_match.interfaces.cli.common import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliParser,
    UsageError,
)
from amif_match.interfaces.cli.demo import SAMPLE_PROPOSAL

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "RESULT_COLUMNS",
    "SAMPLE_PROPOSAL",
    "build_parser",
    "main",
]

#: The command modules, in the order ``--help`` lists them; each has ``register`` and ``run``.
COMMANDS = (classify, partners, activities, catalogue, demo, evaluate, train, feedback, serve)

_MAIN_EPILOG = (
    """\
Esimerkkejä (fi):
  amif-match classify "Kotoutumiskoulutusta maahanmuuttajanaisille"
  amif-match classify hakemukset.xlsx --column kuvaus -o tulokset.xlsx
  echo "Paluuneuvontaa turvapaikanhakijoille" | amif-match classify - --json
  amif-match partners hakemus.txt --applicant "Tampereen kaupunki"
  amif-match catalogue activities --language fi

Examples (en):
  amif-match demo
  amif-match classify "Language training for immigrant women" --json
  amif-match classify applications.csv --column text --id-column id -o results.csv
  amif-match serve --port 8000

"""
    + EXIT_CODES_HELP
)


def build_parser() -> argparse.ArgumentParser:
    """The ``amif-match`` parser: each command module registers its own sub-command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "--backend",
        choices=BACKENDS,
        default=argparse.SUPPRESS,
        help=f"runtime of the default model (default: ${BACKEND_ENV} or {DEFAULT_BACKEND}): "
        "onnx = exact 4-bit ONNX Runtime, fast = int8 ONNX Runtime, torch = PyTorch fp32",
    )
    parser = CliParser(
        prog="amif-match",
        description=(
            "Classify proposals for the EU Asylum, Migration and Integration Fund (AMIF) in "
            "Finland and suggest partner organisations. Works offline; Finnish, Swedish and "
            "English texts."
        ),
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"amif-match {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)
    sub.required = True

    for command in COMMANDS:
        command.register(sub, [common])
    return parser


@contextmanager
def _cli_environment() -> Iterator[None]:
    """Offline model loading, no library progress bars, warnings as one stderr line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        print(f"amif-match: warning: {' '.join(str(message).split())}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


@contextmanager
def _backend(backend: str | None) -> Iterator[None]:
    """``--backend`` as ``$AMIF_MATCH_BACKEND`` for this command (and the service's workers)."""
    previous = os.environ.get(BACKEND_ENV)
    if backend is not None:
        os.environ[BACKEND_ENV] = backend
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = previous


def _error(message: object) -> None:
    text = " ".join(str(message).split()) or "unknown error"
    print(f"amif-match: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises ``SystemExit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with _cli_environment():
        parser = build_parser()
        try:
            args, rest = parser.parse_known_args(argv)
            if args.command == "evaluate":
                args.rest = rest
            elif rest:
                _error(
                    f"unrecognized arguments: {' '.join(rest)} "
                    f"(see amif-match {args.command} --help)"
                )
                return EXIT_USAGE
            args.json = getattr(args, "json", False)
        except SystemExit as exc:  # --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        try:
            with _backend(getattr(args, "backend", None)):
                return int(args.func(args))
        except UsageError as exc:
            _error(exc)
            return EXIT_USAGE
        except ImportError as exc:  # includes MissingDependencyError
            _error(exc)
            return EXIT_FAILURE
        except (ValueError, TypeError) as exc:
            # InputError and CorpusError are ValueErrors: the user's text, options or files.
            _error(exc)
            return EXIT_USAGE
        except BrokenPipeError:
            # `amif-match ... | head`: the reader went away; not an error.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, AttributeError, ValueError):
                pass
            return EXIT_OK
        except KeyboardInterrupt:
            print("amif-match: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # e.g. uvicorn when the port is taken
            return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
        except Exception as exc:  # runtime failure: one line, not a traceback
            ours = isinstance(exc, RuntimeError | OSError) and str(exc)
            _error(exc if ours else f"{exc} ({type(exc).__name__})" if str(exc) else repr(exc))
            if os.environ.get("AMIF_MATCH_DEBUG"):
                raise
            return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
