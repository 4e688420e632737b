"""Shared fixtures: the real default model, loaded once per test session."""

from __future__ import annotations

import os

import pytest

# Progress bars would only clutter test logs.
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    """The default backend: ``me5-small`` on ONNX Runtime (exported into the user cache on first
    use)."""
    from amif_match.embedding import get_embedder

    e = get_embedder()
    e.encode(["lämmittely"])  # load once, here, not inside the first test
    return e


@pytest.fixture(scope="session")
def matcher():
    """The default Matcher (bundled corpus, default model, trained heads), built once."""
    from amif_match import Matcher

    return Matcher.default().fit()
