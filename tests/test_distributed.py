"""amif_match.distributed and Parquet in the CLI (issue 15), on a real 2-process Dask cluster.

One :class:`~distributed.LocalCluster` (2 worker processes, one thread each) serves the module;
each worker loads the real default model once. The texts are real corpus descriptions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from amif_match.distributed import (
    classify_dask,
    classify_frame,
    classify_meta,
    suggest_partners_dask,
)
from amif_match.errors import MissingDependencyError

SRC = str(Path(__file__).resolve().parent.parent / "src")
N_TEXTS = 200
BAD = {17: "", 60: None, 133: "   "}  # position -> a text that fails validation
SUMMARY_COLUMNS = list(classify_meta().columns[:-1])


def _texts() -> list[str]:
    """Real proposal-like texts in three languages (Finnish, English, the original language)."""
    from amif_match.corpus import Corpus

    projects = Corpus.default().projects
    texts = []
    for column in ("description_fi", "summary_en", "description"):
        texts += [t for t in projects[column].dropna() if t.strip()][: N_TEXTS // 3 + 1]
    return texts[:N_TEXTS]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The texts with the bad rows in, indexed by a non-default (string) index."""
    texts: list[object] = list(_texts())
    for pos, bad in BAD.items():
        texts[pos] = bad
    index = pd.Index([f"row-{i:04d}" for i in range(len(texts))], name="ident")
    return pd.DataFrame({"text": texts, "n": range(len(texts))}, index=index)


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,  # logging.ERROR: a killed worker is expected below
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


@pytest.fixture(scope="module")
def expected(frame: pd.DataFrame) -> pd.DataFrame:
    """``Matcher.default().classify_many`` on the valid texts, in this process."""
    from amif_match.matcher import Matcher

    valid = frame["text"].drop(frame.index[list(BAD)])
    return Matcher.default().classify_many(valid)


@pytest.fixture(scope="module")
def computed(cluster, frame: pd.DataFrame) -> pd.DataFrame:
    _, client = cluster
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    return client.compute(classify_dask(ddf)).result()


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same labels; probabilities equal up to float noise of a different batch composition."""
    assert list(got.index) == list(want.index)
    for column in SUMMARY_COLUMNS:
        if pd.api.types.is_float_dtype(want[column]):
            np.testing.assert_allclose(got[column].to_numpy(float), want[column], atol=2e-3)
        else:
            assert got[column].tolist() == want[column].tolist(), column


def test_results_equal_classify_many_and_keep_the_index(computed, expected, frame):
    assert list(computed.index) == list(frame.index)  # every row, in order, same labels
    assert list(computed.columns) == ["text", "n", *SUMMARY_COLUMNS, "error"]
    assert list(expected.columns) == SUMMARY_COLUMNS  # the same columns as classify_many
    assert computed["n"].tolist() == frame["n"].tolist()
    good = computed.drop(frame.index[list(BAD)])
    assert good["error"].isna().all()
    _assert_same(good, expected)


def test_a_bad_row_is_an_error_value_not_a_lost_partition(computed, frame):
    bad = computed.loc[frame.index[list(BAD)]]
    assert bad["error"].tolist() == [
        "text is empty or whitespace only",
        "text is missing (null)",
        "text is empty or whitespace only",
    ]
    assert bad["objective"].isna().all() and bad["in_scope"].isna().all()
    # Its partition neighbours were classified.
    neighbours = computed.iloc[[16, 18, 59, 61]]
    assert neighbours["error"].isna().all() and neighbours["objective"].notna().all()


def test_partition_function_in_pandas_matches(frame, computed):
    """classify_frame is plain pandas (what the CLI streams with); same rows as on Dask."""
    part = frame.iloc[10:30]
    got = classify_frame(part)
    pd.testing.assert_index_equal(got.index, part.index)
    assert got.dtypes.to_dict() == classify_meta().dtypes.to_dict()
    _assert_same(got.drop(part.index[7]), computed.loc[got.index].drop(part.index[7]))
    assert got["error"].iloc[7] == "text is empty or whitespace only"


def test_options_and_columns_are_checked_before_any_work(frame):
    ddf = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ValueError, match="k"):
        classify_dask(ddf, k=0)
    with pytest.raises(ValueError, match="language"):
        classify_dask(ddf, language="xx")
    with pytest.raises(KeyError, match="'body' not found"):
        classify_dask(ddf, text_column="body")
    clash = dd.from_pandas(frame.assign(language="fi"), npartitions=2)
    with pytest.raises(ValueError, match="prefix="):
        classify_dask(clash)
    prefixed = classify_dask(clash, prefix="amif_")
    assert "amif_objective" in prefixed.columns and "amif_error" in prefixed.columns


def test_missing_dask_names_the_extra(monkeypatch, frame):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'amif-match\[dask\]'"):
        classify_dask(frame)


def test_suggest_partners_dask(cluster, frame):
    from amif_match.matcher import Matcher

    _, client = cluster
    part = frame.iloc[55:65]
    out = client.compute(
        suggest_partners_dask(dd.from_pandas(part, npartitions=2), k=3, org_types=["ngo"])
    ).result()
    assert list(out.index) == list(part.index)
    assert out.loc[part.index[5], "error"] == "text is missing (null)"
    first = Matcher.default().suggest_partners(part["text"].iloc[0], k=3, org_types=["ngo"])
    assert out["partners"].iloc[0] == list(first["id"])
    assert out["partner_names"].iloc[0] == list(first["name"])
    assert all(len(p) == 3 for p in out["partners"].drop(part.index[5]))


# --------------------------------------------------------------------------- the command line


def _write_parquet(frame: pd.DataFrame, path: Path, row_group_size: int) -> None:
    frame.reset_index().to_parquet(path, row_group_size=row_group_size, index=False)


def test_cli_streams_parquet_in_one_process(tmp_path, frame, computed, capsys):
    from amif_match.interfaces.cli.app import RESULT_COLUMNS, main

    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    part = frame.iloc[:40]
    _write_parquet(part, source, row_group_size=12)
    argv = ["classify", str(source), "--column", "text", "-o", str(target), "--batch-rows", "12"]
    assert main(argv) == 0
    assert "1 of 40 rows were invalid" in capsys.readouterr().err
    out = pq.ParquetFile(target)
    assert out.metadata.num_row_groups == 4  # written batch by batch (40 rows / 12)
    result = out.read().to_pandas()
    assert list(result.columns) == ["ident", "text", "n", *RESULT_COLUMNS, "amif_error"]
    assert result["ident"].tolist() == list(part.index)  # input columns kept, in order
    assert result.loc[17, "amif_error"] == "text is empty or whitespace only"
    assert result["amif_error"].drop([17]).isna().all()
    valid = result.drop([17])
    assert valid["amif_objective"].tolist() == computed["objective"].iloc[valid.index].tolist()


def test_cli_parquet_on_two_local_workers(tmp_path, frame):
    """The documented command, in a fresh process, as a user runs it."""
    source, target = tmp_path / "big.parquet", tmp_path / "out.parquet"
    part = frame.iloc[50:90]
    _write_parquet(part, source, row_group_size=10)
    command = [sys.executable, "-m", "amif_match", "classify", str(source), "--column", "text"]
    command += ["-o", str(target), "--workers", "2", "--batch-rows", "10"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AMIF_MATCH_PROGRESS": "0"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 of 40 rows were invalid" in done.stderr
    result = pd.read_parquet(target)
    assert result["ident"].tolist() == list(part.index)
    assert result.loc[10, "amif_error"] == "text is missing (null)"
    assert result["amif_error"].drop([10]).isna().all()
    assert result["amif_objective"].drop([10]).notna().all()


def test_cli_parquet_usage_errors(tmp_path, frame, capsys):
    from amif_match.interfaces.cli.app import main

    source = tmp_path / "in.parquet"
    _write_parquet(frame.iloc[:3], source, row_group_size=3)
    cases = [
        ([str(source), "--column", "body", "-o", str(tmp_path / "o.parquet")], "'body' not found"),
        ([str(source), "-o", str(tmp_path / "o.csv")], "add -o OUT.parquet"),
        (["some text", "--workers", "2"], "apply to a .parquet input"),
        (
            [str(source), "-o", str(tmp_path / "o.parquet"), "--workers", "2", "--scheduler", "x"],
            "not both",
        ),
    ]
    for argv, message in cases:
        assert main(["classify", *argv]) == 2
        assert message in capsys.readouterr().err


# --------------------------------------------------------------------------- failures


_READ_ONLY_WORKER = textwrap.dedent(
    """
    import json, sys
    print("started", flush=True)
    sys.path.insert(0, {src!r})
    import pandas as pd, dask.dataframe as dd
    from distributed import Client, LocalCluster
    from amif_match.distributed import classify_dask

    if __name__ == "__main__":
        texts = {texts!r}
        with LocalCluster(n_workers=1, processes=True, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                out = classify_dask(dd.from_pandas(pd.DataFrame({{"text": texts}}), 1)).compute()
                mode = client.run(lambda: __import__("amif_match.distributed").distributed
                                  .worker_matcher()._store.cache.mode)
        print(json.dumps([list(out["objective"]), list(out["error"].isna()), list(mode.values())]))
    """
)


def test_a_worker_with_a_read_only_cache_still_works(tmp_path, computed):
    """The model is already in the cache (read-only image or volume); nothing can be written."""
    from amif_match.embedding.model_cache import cache_root

    cache = cache_root().resolve()
    texts = [computed["text"].iloc[i] for i in (0, 70, 140)]
    script = tmp_path / "worker.py"
    script.write_text(_READ_ONLY_WORKER.format(src=SRC, texts=texts))
    env = {**os.environ, "AMIF_MATCH_CACHE": str(cache), "AMIF_MATCH_PROGRESS": "0"}
    if os.geteuid() != 0:
        pytest.skip("needs root for a read-only bind mount (file modes do not bind root)")
    if shutil.which("unshare") is None:
        pytest.fail("as root this test needs unshare (util-linux) to mount a read-only folder")
    mount = f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache}"
    command = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$0" "$1"', sys.executable]
    done = subprocess.run(
        [*command, str(script)], capture_output=True, text=True, timeout=300, env=env
    )
    if not done.stdout.startswith("started"):
        pytest.fail(f"could not make a read-only mount for the test: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr[-3000:]
    objectives, ok, modes = json.loads(done.stdout.splitlines()[-1])
    assert objectives == [computed["objective"].iloc[i] for i in (0, 70, 140)]
    assert ok == [True, True, True]
    assert modes in (["ro"], ["immutable"])  # cached vectors served, nothing written


def test_a_killed_worker_is_replaced_and_the_compute_finishes(cluster, frame, computed):
    _, client = cluster
    part = frame.iloc[:80]
    future = client.compute(classify_dask(dd.from_pandas(part, npartitions=8)))
    deadline = time.monotonic() + 120
    while not any(client.processing().values()):  # wait until the work has started
        assert time.monotonic() < deadline
        time.sleep(0.2)
    victim, pid = next(iter(client.run(os.getpid).items()))
    os.kill(pid, signal.SIGKILL)
    result = future.result(timeout=300)
    _assert_same(
        result.drop(part.index[[17, 60]]),
        computed.loc[part.index].drop(part.index[[17, 60]]),
    )
    client.wait_for_workers(2, timeout=120)  # the nanny started a new worker
    assert victim not in client.run(os.getpid)
