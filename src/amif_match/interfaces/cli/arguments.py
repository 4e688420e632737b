"""argparse arguments derived from :mod:`amif_match.options`, and the values read back.

Every model option of ``classify``, ``partners`` and ``activities`` is added here from its one
definition, so the command line has the same names, defaults and limits as the Python API and
the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from amif_match.options import Option, options_for

__all__ = ["add_options", "converter", "option_values", "split_multi"]


def converter(option: Option) -> Callable[[str], Any]:
    """An argparse ``type`` that parses and checks one value of ``option``."""

    def convert(value: str) -> Any:
        try:
            number = option.type(value)
            option.check(number)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected {option.describe()}, got {value!r}"
            ) from None
        return number

    return convert


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the options of ``command`` (see :func:`amif_match.options.options_for`)."""
    for option in options_for(command):
        flags = [option.short, option.cli_flag] if option.short else [option.cli_flag]
        help_text = option.help[0].lower() + option.help[1:]
        kwargs: dict[str, Any] = {"dest": option.name, "default": option.default}
        if option.type is bool:
            # A flag that is on by default is turned off with --no-<name>.
            kwargs["action"] = argparse.BooleanOptionalAction if option.default else "store_true"
        elif option.many:
            kwargs["action"] = "extend" if option.several else "append"
            kwargs["metavar"] = option.cli_flag[2:].upper().replace("-", "_")
            if option.several:
                # A list after one flag (--countries SE DE): each value is one more item.
                kwargs["nargs"] = "+"
            help_text += " (repeat, or separate with ;)"
        elif option.type is str:
            kwargs["choices"] = option.choices
        else:
            kwargs["type"] = converter(option)
        if option.default is not None and option.type is not bool:
            help_text += f" (default {option.default})"
        parser.add_argument(*flags, help=help_text, **kwargs)


def split_multi(values: list[str]) -> list[str]:
    """Repeated options; ``;`` also separates values (names may contain commas)."""
    return [part.strip() for value in values for part in value.split(";") if part.strip()]


def option_values(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The options of ``command`` as keyword arguments for the Python API."""
    values = {}
    for option in options_for(command):
        value = getattr(args, option.name)
        values[option.name] = split_multi(value) if option.many and value else value
    return values
