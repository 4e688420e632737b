"""The shared JSON sanitiser and Markdown table writer (no model needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from amif_match.markdown import markdown_table
from amif_match.serialise import to_jsonable


def test_to_jsonable_numpy_scalars_become_python_scalars() -> None:
    out = to_jsonable({"f": np.float32(0.5), "i": np.int64(3), "b": np.bool_(True)})
    assert out == {"f": 0.5, "i": 3, "b": True}
    assert [type(v) for v in out.values()] == [float, int, bool]


def test_to_jsonable_missing_and_non_finite_become_none() -> None:
    values = [float("nan"), float("inf"), -math.inf, np.float64("nan"), pd.NA, pd.NaT, None]
    assert to_jsonable(values) == [None] * len(values)


def test_to_jsonable_containers_nest_and_keys_become_strings() -> None:
    value = {1: (np.arange(2), {"x": {np.int32(7)}}), "s": frozenset(["a"])}
    assert to_jsonable(value) == {"1": [[0, 1], {"x": [7]}], "s": ["a"]}


def test_to_jsonable_rounds_only_when_asked() -> None:
    noisy = np.float32(0.1)  # 0.10000000149011612 as a Python float
    assert to_jsonable(noisy) != 0.1
    assert to_jsonable(noisy, float_digits=6) == 0.1
    assert to_jsonable([noisy], float_digits=6) == [0.1]


def test_to_jsonable_unknown_objects_become_strings_and_dump() -> None:
    stamp = pd.Timestamp("2024-01-02")
    records = pd.DataFrame({"when": [stamp], "score": [np.nan], "n": [2]}).to_dict("records")
    out = to_jsonable(records)
    assert out == [{"when": str(stamp), "score": None, "n": 2}]
    json.dumps(out, allow_nan=False)  # raises on NaN if any slipped through


def test_markdown_table_exact_text() -> None:
    frame = pd.DataFrame({"method": ["a", "b"], "score": [0.12345, 1.0], "n": [3, 4]})
    assert markdown_table(frame) == (
        "| method | score | n |\n|---|---|---|\n| a | 0.123 | 3 |\n| b | 1.000 | 4 |"
    )
    assert markdown_table(frame, digits=1).splitlines()[2] == "| a | 0.1 | 3 |"


def test_markdown_table_formats_numpy_floats_in_object_columns() -> None:
    frame = pd.DataFrame({"x": pd.Series([np.float32(0.25), "text"], dtype=object)})
    assert markdown_table(frame).splitlines()[2:] == ["| 0.250 |", "| text |"]
