"""The one JSON sanitiser: library results -> values ``json.dumps`` always accepts.

The Python API returns pandas frames and numpy values; the CLI's ``--json`` output and the
service's responses go through :func:`to_jsonable` so that the two cannot disagree on how a
NaN, a ``numpy.float32`` or a ``pd.NA`` is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["to_jsonable"]


def to_jsonable(value: Any, *, float_digits: int | None = None) -> Any:
    """``value`` as plain JSON: ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``.

    - mappings become dicts with ``str`` keys; lists, tuples, sets and numpy arrays become lists;
    - numpy scalars become the matching Python scalar;
    - non-finite floats (NaN, ±inf) and missing values (``None``, ``pd.NA``, ``pd.NaT``,
      ``numpy.datetime64("NaT")``) become ``None``;
    - ``float_digits`` rounds every float (scores computed in float32 carry binary noise past
      the sixth decimal; rounding there drops the noise, not information);
    - anything else is written as ``str(value)``.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, float_digits=float_digits) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [to_jsonable(v, float_digits=float_digits) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if float_digits is not None:
            value = round(value, float_digits)
        return value if math.isfinite(value) else None
    if _is_missing(value):
        return None
    return str(value)


def _is_missing(value: Any) -> bool:
    # pd.isna covers pd.NA, pd.NaT and numpy NaT; it answers with an array for list-likes,
    # which were handled above, so anything that is not a plain truth value counts as present.
    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return isinstance(missing, bool | np.bool_) and bool(missing)
