"""The one Markdown table writer, for evaluation printouts and the generated model-card section."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["markdown_table"]


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """``frame`` as a GitHub Markdown table (no extra dependency such as ``tabulate``).

    Floats are written with ``digits`` decimals; every other cell as ``str(value)``. The index is
    not written.
    """

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
