"""Figures of the evaluation (matplotlib, imported only when a figure is drawn)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from amif_match.corpus import OBJECTIVES
from amif_match.evaluate.metrics import reliability_table

__all__ = ["reliability_figure"]

#: How the two held-out texts are labelled in the figure.
_TEXT_LABELS = {"description": "own-language descriptions", "summary_en": "English summaries"}


def reliability_figure(predictions: pd.DataFrame, *, bins: int = 10) -> Any:
    """A reliability diagram of held-out predictions: top-label confidence vs. accuracy.

    Args:
        predictions: Rows with ``objective``, ``text`` and ``p_SO1`` … ``p_SO4`` (the
            ``predictions`` table of :func:`~amif_match.evaluate.evaluate_countries`).
        bins: Equal-width confidence bins.

    Returns:
        A matplotlib ``Figure`` (requires matplotlib: ``pip install "amif-match[notebooks]"``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the reliability plot needs matplotlib: pip install "amif-match[notebooks]"'
        ) from exc
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    columns = [f"p_{c}" for c in OBJECTIVES]
    for text, group in predictions.groupby("text", sort=False):
        table = reliability_table(group["objective"], group[columns].to_numpy(), bins=bins)
        ax.plot(
            table["confidence"], table["accuracy"], marker="o", label=_TEXT_LABELS.get(text, text)
        )
        for x, y, n in zip(table["confidence"], table["accuracy"], table["texts"], strict=True):
            ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence of the top objective")
    ax.set_ylabel("share correct")
    ax.set_title("Objective probabilities, leave-one-country-out")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
