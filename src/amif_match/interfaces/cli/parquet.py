"""``amif-match classify`` on Parquet files: streamed in batches, in one process or on Dask.

The input file is read in batches of ``--batch-rows`` rows (``ParquetFile.iter_batches``) and
each batch is written to the output as soon as it is classified, so memory stays bounded
whatever the size of the file. With ``--workers N`` (a local Dask cluster of N processes) or
``--scheduler ADDRESS`` (an existing cluster) the batches are classified on the cluster's
workers by :func:`amif_match.distributed.classify_frame`, the partition function of
:func:`~amif_match.distributed.classify_dask`, a few batches per worker in flight; this
process reads the file and writes the results in input order, so the workers need no access
to the file.

The output has every input column, unchanged, plus the ``amif_*`` columns of the CSV output
and ``amif_error``: a text that cannot be classified (empty, too long, missing, no words) is
recorded there, in its row, and the rest of the file goes on, as with ``--skip-invalid``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amif_match.interfaces.cli.arguments import option_values
from amif_match.interfaces.cli.classify import RESULT_COLUMNS, progress_wanted, result_row
from amif_match.interfaces.cli.common import EXIT_OK, UsageError
from amif_match.interfaces.cli.inputs import require_column

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

#: File names read and written as Parquet.
PARQUET_SUFFIXES = (".parquet", ".pq")

#: The column that says why a row was not classified.
ERROR_COLUMN = "amif_error"

#: Default rows per batch: one Dask task each (about a minute of one worker's time).
BATCH_ROWS = 512

_TEXT = "amif_text"  # the name of the text column in the frames sent to the workers


def is_parquet(name: object) -> bool:
    """Whether ``name`` is a path with a Parquet suffix."""
    return isinstance(name, str) and Path(name).suffix.lower() in PARQUET_SUFFIXES


def wants_parquet(args: argparse.Namespace) -> bool:
    """Whether this ``classify`` call reads or writes Parquet (then :func:`run` handles it)."""
    if any(is_parquet(a) for a in args.inputs) or is_parquet(args.output):
        return True
    if args.workers is not None or args.scheduler is not None:
        raise UsageError("--workers and --scheduler apply to a .parquet input (-o OUT.parquet)")
    return False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Parquet and Dask options of ``classify``."""
    from amif_match.interfaces.cli.common import positive_int

    group = parser.add_argument_group("large files and Dask (.parquet input and -o)")
    group.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="classify on a local Dask cluster of N worker processes (needs amif-match[dask])",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="classify on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    group.add_argument(
        "--batch-rows",
        type=positive_int,
        default=BATCH_ROWS,
        metavar="N",
        help=f"rows read, classified and written at a time; one Dask task (default {BATCH_ROWS})",
    )


def result_meta() -> pd.DataFrame:
    """The empty frame of the ``amif_*`` columns and their dtypes."""
    import pandas as pd

    text = pd.Series(["x"]).dtype
    dtypes = {name: text for name in [*RESULT_COLUMNS, ERROR_COLUMN]}
    dtypes.update({f"amif_{c}": "float64" for c in ("probability", "SO1", "SO2", "SO3", "SO4")})
    dtypes.update({"amif_in_scope": "boolean", "amif_scope_score": "float64"})
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def result_schema() -> pa.Schema:
    """The Arrow types of the ``amif_*`` columns."""
    import pyarrow as pa

    floats = {f"amif_{c}" for c in ("probability", "SO1", "SO2", "SO3", "SO4", "scope_score")}
    types = {**dict.fromkeys(floats, pa.float64()), "amif_in_scope": pa.bool_()}
    return pa.schema([(n, types.get(n, pa.string())) for n in [*RESULT_COLUMNS, ERROR_COLUMN]])


def check_arguments(args: argparse.Namespace) -> Path:
    """The Parquet input, once the arguments are known to fit Parquet mode."""
    if len(args.inputs) != 1 or not is_parquet(args.inputs[0]):
        raise UsageError("-o FILE.parquet needs one .parquet INPUT (the texts, in --column)")
    if not is_parquet(args.output):
        raise UsageError("a .parquet input is written to a .parquet file: add -o OUT.parquet")
    for flag, given in (
        ("--lines", args.lines),
        ("--sheet", args.sheet is not None),
        ("--sep", args.sep is not None),
        ("--json", args.json),
        ("--format", args.format != "auto"),
    ):
        if given:
            raise UsageError(f"{flag} does not apply to a .parquet input")
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("give --workers N (a local cluster) or --scheduler ADDRESS, not both")
    path = Path(args.inputs[0]).expanduser()
    if not path.is_file():
        raise UsageError(f"no such file: {args.inputs[0]}")
    return path


def open_parquet(path: Path) -> Any:
    """``pyarrow.parquet.ParquetFile`` for ``path``; clear errors for a missing pyarrow."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from amif_match.errors import MissingDependencyError

        raise MissingDependencyError(
            "reading and writing .parquet files needs pyarrow: pip install 'amif-match[dask]'"
        ) from None
    try:
        return pq.ParquetFile(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # pyarrow raises ArrowInvalid for a file that is not Parquet
        raise UsageError(f"{path} is not a readable Parquet file: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Classify a Parquet file into a Parquet file, batch by batch."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from amif_match.distributed import check_classify_options
    from amif_match.interfaces.cli.tables import atomic_output, check_output_path

    path = check_arguments(args)
    source = open_parquet(path)
    names = source.schema_arrow.names
    empty = pd.DataFrame(columns=names)
    require_column(empty, args.column, path.name, "--column")
    if args.id_column is not None:  # kept like any input column; checked for the user's sake
        require_column(empty, args.id_column, path.name, "--id-column")
    total = source.metadata.num_rows
    if total == 0:
        raise UsageError(f"{path.name} has no data rows")
    check_output_path(args.output)
    options = check_classify_options(option_values(args, "classify"))
    # Old amif_* columns (an output classified again) are replaced, as for CSV.
    kept = [n for n in names if n not in [*RESULT_COLUMNS, ERROR_COLUMN]]
    schema = pa.schema([source.schema_arrow.field(n) for n in kept] + list(result_schema()))
    batches = source.iter_batches(batch_size=args.batch_rows, columns=kept)
    invalid = 0
    from tqdm import tqdm

    try:
        with (
            engine_for(args, options) as engine,
            atomic_output(Path(args.output), binary=True) as handle,
            pq.ParquetWriter(handle, schema) as writer,
            tqdm(
                total=total,
                unit="text",
                desc="classifying",
                file=sys.stderr,
                disable=not progress_wanted(args.progress, total),
                dynamic_ncols=True,
                mininterval=0.5,
            ) as bar,
        ):
            for batch, results in engine(batches):
                added = pa.Table.from_pandas(results, schema=result_schema(), preserve_index=False)
                table = pa.Table.from_batches([batch])
                for field, column in zip(added.schema, added.columns, strict=True):
                    table = table.append_column(field, column)
                writer.write_table(table)
                invalid += int(results[ERROR_COLUMN].notna().sum())
                bar.update(len(results))
    except OSError as exc:
        raise OSError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if invalid:
        print(
            f"amif-match: warning: {invalid} of {total} rows were invalid and left "
            f"unclassified (see {ERROR_COLUMN})",
            file=sys.stderr,
        )
    return EXIT_OK


def texts_frame(batch: Any, column: str) -> pd.DataFrame:
    """The text column of a record batch, as the one-column frame the workers classify."""
    import pandas as pd

    return pd.DataFrame({_TEXT: batch.column(column).to_pandas()})


def classify_texts(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The ``amif_*`` columns for a frame of texts (runs on a worker, or here)."""
    from amif_match.distributed import classify_frame

    return classify_frame(frame, _TEXT, row=result_row, meta=result_meta(), **options)


Engine = Callable[[Iterator[Any]], Iterator[tuple[Any, "pd.DataFrame"]]]


def local_engine(args: argparse.Namespace, options: dict[str, Any]) -> Engine:
    """Classify batches in this process (the model loads now, before the progress bar)."""
    from amif_match.interfaces.cli.common import get_matcher

    get_matcher().fit().embedder_.encode(["warm-up"], show_progress_bar=False)

    def results(batches: Iterator[Any]) -> Iterator[tuple[Any, pd.DataFrame]]:
        for batch in batches:
            yield batch, classify_texts(texts_frame(batch, args.column), **options)

    return results


@contextmanager
def dask_engine(args: argparse.Namespace, options: dict[str, Any]) -> Iterator[Engine]:
    """Classify batches on a Dask cluster, results in input order.

    A few batches per worker thread are in flight at a time; a worker that dies is replaced
    and its batches are run again by Dask (up to ``distributed.scheduler.allowed-failures``).
    Every worker loads the model when it starts (:func:`~amif_match.distributed.matcher_plugin`).
    """
    from amif_match.distributed import matcher_plugin, require_dask

    require_dask()
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if args.scheduler:
            client = Client(args.scheduler, timeout="30s")
        else:
            cluster = LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                # One ONNX Runtime thread per worker process: the workers share the cores.
                env={"AMIF_MATCH_THREADS": "1"},
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    except OSError as exc:
        raise OSError(f"cannot reach the Dask scheduler {args.scheduler}: {exc}") from None

    def results(batches: Iterator[Any]) -> Iterator[tuple[Any, pd.DataFrame]]:
        threads = sum(client.nthreads().values()) or 1
        work = partial(classify_texts, **options)
        pending: deque[tuple[Any, Any]] = deque()
        for batch in batches:
            pending.append(
                (batch, client.submit(work, texts_frame(batch, args.column), pure=False))
            )
            if len(pending) > 2 * threads:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()

    try:
        client.register_plugin(matcher_plugin())
        yield results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def engine_for(args: argparse.Namespace, options: dict[str, Any]) -> Iterator[Engine]:
    """The engine the arguments ask for: Dask with --workers/--scheduler, else this process."""
    if args.workers is not None or args.scheduler is not None:
        with dask_engine(args, options) as engine:
            yield engine
    else:
        yield local_engine(args, options)
