"""Where the bundled data (``corpus/``, ``models/``) lives for installed and source checkouts."""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_path"]


def bundled_path(kind: str) -> Path:
    """Return the folder of bundled ``"corpus"`` or ``"models"`` data.

    A wheel carries them as ``amif_match/_data/<kind>``; an editable install or a source checkout
    reads them from the repository's top-level folder.
    """
    if kind not in {"corpus", "models"}:
        raise ValueError(f"unknown bundled data kind {kind!r}")
    package = Path(__file__).resolve().parent
    installed = package / "_data" / kind
    if installed.is_dir():
        return installed
    checkout = package.parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"bundled {kind} data not found (looked in {installed} and {checkout}); "
        "reinstall amif-match"
    )
