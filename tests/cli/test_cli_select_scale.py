"""``kcover select``'s large-pool flags (issue 26): the auto path's report, the approximate paths
against the library, their flag errors, and partitioned greedy over two real processes."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import kcover
from kcover.selection import auto

RNG = np.random.default_rng(1)
X = (3.0 * RNG.normal(size=(6, 5))[RNG.integers(0, 6, 300)] + RNG.normal(size=(300, 5))).astype(np.float32)


@pytest.fixture
def run(make_run):
    return make_run("select")


@pytest.fixture
def pool(tmp_path):
    np.save(tmp_path / "x.npy", X)
    return tmp_path


def select_json(run, pool, *flags):
    code, out, err = run("select", "--features", pool / "x.npy", "--k", 10, "--out", pool / "p.npy", "--json", *flags)
    assert code == 0, err
    return json.loads(out)


def test_the_default_is_auto_and_stays_exact_lazy_greedy_on_a_small_pool(run, pool):
    report = select_json(run, pool)
    ref = kcover.facility_location(X, 10)
    np.testing.assert_array_equal(np.load(pool / "p.npy"), ref.indices)
    assert report["method"] == "auto" and report["info"]["method"] == "lazy"
    assert report["info"]["approximation"] is None and "exact lazy greedy" in report["info"]["reason"]
    assert report["objective"] == pytest.approx(float(ref.objective[-1]), rel=1e-6)
    code, out, _ = run("select", "--features", pool / "x.npy", "--k", 10, "--out", pool / "p.npy")
    assert code == 0 and "path: lazy (exact); first pass N*T*d" in out


def test_above_the_budget_auto_sketches_and_reports_the_exact_objective(run, pool, monkeypatch):
    monkeypatch.setattr(auto, "EXACT_SECONDS", 1e-9)
    report = select_json(run, pool)
    assert report["info"]["method"] == "lazy+sketch"
    assert report["info"]["approximation"]["targets_sketch"] == auto.sketch_size(300, 10)
    assert "> budget" in report["info"]["reason"]
    picks = np.load(pool / "p.npy")
    assert report["objective"] == pytest.approx(kcover.objective(X, picks), rel=1e-5)  # F over every target
    forced = select_json(run, pool, "--exact")
    assert forced["info"]["method"] == "lazy" and forced["info"]["approximation"] is None


@pytest.mark.parametrize(
    "flags, method, approximation",
    [
        (["--targets-sketch", "40"], "lazy+sketch", {"targets_sketch": 40}),
        pytest.param(
            ["--method", "stochastic", "--partitions", "3"],
            "stochastic+partitions",
            {"partitions": 3, "split": "random"},
            marks=pytest.mark.slow,
        ),
        (["--method", "knn", "--neighbors", "12"], "knn", {"neighbors": 12}),
    ],
)
def test_each_approximate_path_matches_the_library(run, pool, flags, method, approximation):
    report = select_json(run, pool, *flags)
    assert report["info"]["method"] == method
    assert approximation.items() <= report["info"]["approximation"].items()
    opts = {
        "--targets-sketch": "targets_sketch",
        "--partitions": "partitions",
        "--neighbors": "neighbors",
        "--method": "method",
    }
    kw = {opts[f]: (v if f == "--method" else int(v)) for f, v in zip(flags[::2], flags[1::2])}
    lib = kcover.select(X, 10, **{"method": "auto", **kw})
    np.testing.assert_array_equal(np.load(pool / "p.npy"), lib.indices)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--method", "lazy", "--exact"], "--exact:"),
        (["--exact", "--targets-sketch", "10"], "--exact:"),
        (["--targets-sketch", "0"], "--targets-sketch:"),
        (["--targets-sketch", "many"], "--targets-sketch:"),
        (["--partitions", "0"], "--partitions:"),
        (["--partitions", "301"], "--partitions:"),
        (["--method", "kcenter", "--partitions", "2"], "--partitions:"),
        (["--split", "kmeans"], "--split:"),
        (["--partitions", "2", "--split", "ring"], "--split:"),
        (["--neighbors", "8"], "--neighbors:"),
        (["--method", "knn", "--neighbors", "0"], "--neighbors:"),
        (["--method", "knn", "--block", "8"], "--block:"),
    ],
)
def test_bad_scale_flags_exit_2_naming_the_flag(run, pool, flags, message):
    code, out, err = run("select", "--features", pool / "x.npy", "--k", 10, "--out", pool / "p.npy", *flags)
    assert code == 2 and out == ""
    assert err.startswith(f"kcover select: error: {message}"), err
    assert len(err.strip().splitlines()) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_partitioned_greedy_over_two_processes_picks_what_one_process_picks(pool):
    """GreeDi's parts spread over two jax.distributed processes: the same picks as the one-process run."""
    common = [
        sys.executable,
        "-m",
        "kcover.cli",
        "select",
        "--features",
        "x.npy",
        "--k",
        "10",
        "--json",
        "--partitions",
        "4",
        "--split",
        "kmeans",
        "--seed",
        "3",
    ]
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "KCOVER_COMPILE_CACHE": "off"}
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    procs = [
        subprocess.Popen(
            common
            + [
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
                "--all-processes-write",
                "--out",
                "two.{process}.npy",
            ],
            cwd=pool,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    one = subprocess.run(common + ["--out", "one.npy"], cwd=pool, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    reports = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert all(r["info"]["processes"] == 2 for r in reports)
    assert json.loads(one.stdout)["info"]["processes"] == 1
    for i in (0, 1):
        np.testing.assert_array_equal(np.load(pool / f"two.{i}.npy"), np.load(pool / "one.npy"))
