"""The ``amif-match`` command line."""

from amif_match.interfaces.cli.app import main

__all__ = ["main"]
