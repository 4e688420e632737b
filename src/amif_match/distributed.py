"""Screening large archives on a Dask cluster: results added to a Dask DataFrame, lazily.

:func:`classify_dask` and :func:`suggest_partners_dask` take a ``dask.dataframe.DataFrame``
and return one with the result columns added, computed partition by partition on the
cluster's workers::

    import dask.dataframe as dd
    from distributed import Client
    from amif_match.distributed import classify_dask

    client = Client("tcp://scheduler:8786")           # or LocalCluster(n_workers=4)
    ddf = dd.read_parquet("archive/*.parquet")        # one text per row, in column "text"
    classify_dask(ddf, text_column="text").to_parquet("classified/")

The result columns are those of :meth:`Matcher.classify_many
<amif_match.matcher.Matcher.classify_many>` (``objective``, ``probability``, ``SO1``-``SO4``,
``target_groups``, ``activities``, ``in_scope``, ``scope_score``, ``language``) plus ``error``:
a text that fails validation (empty, too long, not a string, no words) leaves its result
columns empty and says why in ``error``; ``error`` is null for every classified row. So one bad
row never fails its partition. ``in_scope`` is pandas' nullable ``boolean`` for that reason.
The input index is kept.

Each worker process builds its :class:`~amif_match.matcher.Matcher` once, on first use (or
when it starts, with :func:`matcher_plugin`), and reuses it for every partition it is given.
The model conversion and the embedding cache are safe when several workers start at once on
one machine (the converted model is written to a temporary folder and renamed into place; the
SQLite cache takes turns and skips a write it cannot make), and a worker whose cache folder is
read-only still works once the model is in it (see ``docs/distributed.md``).

:func:`classify_frame` is the per-partition function: plain pandas, no Dask needed; the
command line uses it to stream Parquet files on one machine too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from amif_match.classification.assemble import summary_row
from amif_match.corpus import OBJECTIVES
from amif_match.errors import MissingDependencyError
from amif_match.matcher import Matcher
from amif_match.options import check_options
from amif_match.text import MAX_CHARS, TEXT_LANGUAGES, normalise

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd

    from amif_match.classification import Classification

__all__ = [
    "CHUNK",
    "ERROR_COLUMN",
    "classify_dask",
    "classify_frame",
    "classify_meta",
    "matcher_plugin",
    "partner_frame",
    "partner_meta",
    "suggest_partners_dask",
    "text_error",
    "worker_matcher",
]

#: Texts embedded together inside a partition (bounds a worker's memory for large partitions).
CHUNK = 64

#: The column that holds why a row could not be processed (null when it was).
ERROR_COLUMN = "error"

#: Factory -> Matcher, one per worker process (``None``: :meth:`Matcher.default`).
_MATCHERS: dict[str | None, Matcher] = {}
_MATCHERS_LOCK = threading.Lock()

MatcherFactory = Callable[[], Matcher]


def require_dask() -> None:
    """Raise :class:`MissingDependencyError` with the install command unless Dask is there."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"running on a Dask cluster needs dask[distributed] and pyarrow ({exc}): "
            "pip install 'amif-match[dask]'"
        ) from None


def _factory_key(factory: MatcherFactory | None) -> str | None:
    # A factory arrives freshly unpickled with each task: key it by name, not by identity.
    if factory is None:
        return None
    return f"{getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', factory)!r}"


def worker_matcher(factory: MatcherFactory | None = None) -> Matcher:
    """This process's Matcher: built once by ``factory`` (default :meth:`Matcher.default`).

    Dask calls the partition functions many times in one worker process; the model, the
    catalogue vectors and the heads are loaded on the first call only. ``factory`` should be a
    module-level function (a lambda is keyed by its name, so two lambdas would share one).
    """
    key = _factory_key(factory)
    with _MATCHERS_LOCK:
        if key not in _MATCHERS:
            _MATCHERS[key] = Matcher.default() if factory is None else factory()
        matcher = _MATCHERS[key]
    matcher.fit()
    return matcher


def matcher_plugin(factory: MatcherFactory | None = None) -> Any:
    """A ``distributed.WorkerPlugin`` that loads the Matcher when each worker starts.

    Optional (workers load it on their first partition anyway), but with it the model load
    happens before any task runs, on every worker, also on one that replaces a dead worker::

        client.register_plugin(matcher_plugin())
    """
    require_dask()
    from distributed import WorkerPlugin

    class MatcherPlugin(WorkerPlugin):
        name = "amif-match-matcher"

        def __init__(self, factory: MatcherFactory | None) -> None:
            self.factory = factory

        def setup(self, worker: Any) -> None:
            worker_matcher(self.factory).embedder_.encode(["warm-up"], show_progress_bar=False)

    return MatcherPlugin(factory)


# --------------------------------------------------------------------------- classification


def _string_dtype() -> Any:
    """The dtype pandas gives a column of texts (``str`` in pandas 3, ``object`` before)."""
    return pd.Series(["x"]).dtype


def classify_meta(prefix: str = "") -> pd.DataFrame:
    """The empty frame of :func:`classify_frame`'s columns and dtypes (Dask's ``meta``)."""
    text = _string_dtype()
    dtypes: dict[str, Any] = {"objective": text, "probability": "float64"}
    dtypes.update(dict.fromkeys(OBJECTIVES, "float64"))
    dtypes.update(
        {
            "target_groups": "object",
            "activities": "object",
            "in_scope": "boolean",
            "scope_score": "float64",
            "language": text,
            ERROR_COLUMN: text,
        }
    )
    return _empty({f"{prefix}{name}": dtype for name, dtype in dtypes.items()})


def _empty(dtypes: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def check_classify_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``classify`` options once, before any work (not once per row)."""
    options = dict(options)
    language = options.get("language")
    if language is not None and language not in TEXT_LANGUAGES:
        raise ValueError(
            f"language must be one of {', '.join(TEXT_LANGUAGES)} or None, got {language!r}"
        )
    max_chars = options.get("max_chars", MAX_CHARS)
    if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")
    check_options("classify", {n: v for n, v in options.items() if n not in _TEXT_OPTIONS})
    return options


#: Options that concern the text (checked with it), not the classification.
_TEXT_OPTIONS = ("language", "max_chars", "show_progress_bar")


def text_error(text: object, **options: Any) -> str | None:
    """Why ``text`` cannot be classified (a missing value, empty, too long, ...), or ``None``."""
    if text is None or (
        not isinstance(text, str) and pd.api.types.is_scalar(text) and pd.isna(text)
    ):
        return "text is missing (null)"
    try:
        normalise(text, **options)
    except (TypeError, ValueError) as exc:  # InputError is a ValueError
        return str(exc) or type(exc).__name__
    return None


def _validate(texts: pd.Series, options: Mapping[str, Any]) -> tuple[list[int], dict[int, str]]:
    """Positions of valid texts, and position -> error message for the others."""
    language = options.get("language")
    max_chars = options.get("max_chars", MAX_CHARS)
    valid: list[int] = []
    errors: dict[int, str] = {}
    for pos, text in enumerate(texts):
        error = text_error(text, language=language, max_chars=max_chars)
        if error is None:
            valid.append(pos)
        else:
            errors[pos] = error
    return valid, errors


def classify_frame(
    frame: pd.DataFrame,
    text_column: str = "text",
    *,
    matcher: MatcherFactory | None = None,
    row: Callable[[Classification], dict[str, Any]] = summary_row,
    meta: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Classify the texts of one (pandas) partition: the result columns, same index.

    Args:
        frame: A pandas DataFrame with the texts in ``text_column``.
        matcher: A function that builds the Matcher (default :meth:`Matcher.default`); called
            once per process (see :func:`worker_matcher`).
        row: Turns one result into its columns (default: :func:`summary_row`, the columns of
            ``classify_many``); ``meta`` must then give the columns' names and dtypes.
        meta: The empty result frame (default :func:`classify_meta`); its last column holds
            the error of a row that could not be classified.
        **options: Those of :meth:`Matcher.classify` (``k``, ``threshold``, ``min_labels``,
            ``language``, ``max_chars``).
    """
    meta = classify_meta() if meta is None else meta
    options = check_classify_options(options)
    options.pop("show_progress_bar", None)
    *result_columns, error_column = list(meta.columns)
    valid, errors = _validate(frame[text_column], options)
    rows: list[dict[str, Any]] = [{error_column: errors[pos]} for pos in sorted(errors)]
    by_position: dict[int, dict[str, Any]] = dict(zip(sorted(errors), rows, strict=True))
    if valid:
        model = worker_matcher(matcher)
        texts = frame[text_column]
        for start in range(0, len(valid), CHUNK):
            chunk = valid[start : start + CHUNK]
            results = model.classify_batch(
                [texts.iloc[pos] for pos in chunk], show_progress_bar=False, **options
            )
            for pos, result in zip(chunk, results, strict=True):
                by_position[pos] = {**row(result), error_column: None}
    ordered = [by_position[pos] for pos in range(len(frame))]
    out = pd.DataFrame(ordered, columns=[*result_columns, error_column], index=frame.index)
    return out.astype(meta.dtypes.to_dict())


def _with_results(frame: pd.DataFrame, compute: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """``frame`` with the columns ``compute(frame)`` returns appended."""
    return pd.concat([frame, compute(frame)], axis=1)


def _check_columns(ddf: Any, text_column: str, meta: pd.DataFrame) -> None:
    if text_column not in ddf.columns:
        shown = ", ".join(map(str, list(ddf.columns)[:20]))
        raise KeyError(f"text column {text_column!r} not found; the columns are {shown}")
    clash = [c for c in meta.columns if c in ddf.columns]
    if clash:
        raise ValueError(
            f"the input already has result column(s) {', '.join(map(repr, clash))}: "
            "rename them or pass prefix='amif_'"
        )


def classify_dask(
    ddf: dd.DataFrame,
    text_column: str = "text",
    *,
    prefix: str = "",
    matcher: MatcherFactory | None = None,
    **options: Any,
) -> dd.DataFrame:
    """``ddf`` with the classification columns added, lazily, partition by partition.

    Args:
        ddf: A ``dask.dataframe.DataFrame`` with one proposal per row in ``text_column``.
        prefix: Put before every result column name (e.g. ``"amif_"`` when the input already
            has a ``language`` column; a clash is refused).
        matcher: A module-level function that returns the Matcher to use on each worker
            (default :meth:`Matcher.default`); called once per worker process.
        **options: Those of :meth:`Matcher.classify`; checked now, before any work.

    Returns:
        A Dask DataFrame: the input columns, then those of ``classify_many`` and ``error``
        (see the module docstring). Nothing runs until it is computed or written.
    """
    require_dask()
    options = check_classify_options(options)
    meta = classify_meta(prefix)
    _check_columns(ddf, text_column, meta)
    full_meta = pd.concat([ddf._meta, meta], axis=1)
    compute = partial(
        classify_frame, text_column=text_column, matcher=matcher, meta=meta, **options
    )
    return ddf.map_partitions(_with_results, compute, meta=full_meta)


# --------------------------------------------------------------------------- partners

#: Partner columns added per row: organisation ids, names and scores, best first.
PARTNER_COLUMNS = ("partners", "partner_names", "partner_scores")


def partner_meta(prefix: str = "") -> pd.DataFrame:
    """The empty frame of :func:`partner_frame`'s columns and dtypes (Dask's ``meta``)."""
    dtypes: dict[str, Any] = dict.fromkeys(PARTNER_COLUMNS, "object")
    dtypes[ERROR_COLUMN] = _string_dtype()
    return _empty({f"{prefix}{name}": dtype for name, dtype in dtypes.items()})


def partner_frame(
    frame: pd.DataFrame,
    text_column: str = "text",
    k: int = 10,
    *,
    matcher: MatcherFactory | None = None,
    meta: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Suggest partners for the texts of one (pandas) partition: lists per row, same index.

    ``options`` are those of :meth:`Matcher.suggest_partners`; the rows are the ``k`` best
    organisations' ids, names and scores, and ``error`` for a text that failed validation.
    """
    meta = partner_meta() if meta is None else meta
    check_options("partners", {"k": k, **options})
    names = list(meta.columns)
    rows = []
    for text in frame[text_column]:
        error = text_error(text)
        if error is not None:
            rows.append({**dict.fromkeys(names[:-1]), names[-1]: error})
            continue
        ranked = worker_matcher(matcher).suggest_partners(text, k, **options)
        values = (list(ranked["id"]), list(ranked["name"]), [float(s) for s in ranked["score"]])
        rows.append({**dict(zip(names[:-1], values, strict=True)), names[-1]: None})
    out = pd.DataFrame(rows, columns=names, index=frame.index)
    return out.astype(meta.dtypes.to_dict())


def suggest_partners_dask(
    ddf: dd.DataFrame,
    text_column: str = "text",
    k: int = 10,
    *,
    prefix: str = "",
    matcher: MatcherFactory | None = None,
    **options: Any,
) -> dd.DataFrame:
    """``ddf`` with partner suggestions added, lazily, partition by partition.

    Adds ``partners`` (organisation ids, best first), ``partner_names``, ``partner_scores``
    (lists of ``k``) and ``error``. ``options`` are those of :meth:`Matcher.suggest_partners`
    (``applicant``, ``org_types``, ``region``, ...), the same for every row, checked now.
    """
    require_dask()
    check_options("partners", {"k": k, **options})
    meta = partner_meta(prefix)
    _check_columns(ddf, text_column, meta)
    full_meta = pd.concat([ddf._meta, meta], axis=1)
    compute = partial(
        partner_frame, text_column=text_column, k=k, matcher=matcher, meta=meta, **options
    )
    return ddf.map_partitions(_with_results, compute, meta=full_meta)
