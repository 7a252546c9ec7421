"""``kcover select`` in a distributed run: real processes on localhost, and its option errors."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest


@pytest.fixture
def run(make_run):
    """kcover.cli.main with only ``select`` registered; (exit code, stdout, stderr)."""
    return make_run("select")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(commands, cwd, timeout=300):
    """Start every command at once; (exit code, stdout, stderr) of each; fail on a hang."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", KCOVER_COMPILE_CACHE="off")
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    deadline = time.monotonic() + timeout
    try:
        outs = [p.communicate(timeout=max(1.0, deadline - time.monotonic())) for p in procs]
        return [(p.returncode, *o) for p, o in zip(procs, outs)]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"kcover select still running after {timeout} s (a hang)")


def test_two_processes_pick_what_one_process_picks_and_process_0_writes(tmp_path, run):
    rng = np.random.default_rng(0)
    centers = 4.0 * rng.normal(size=(10, 8))
    x = (rng.normal(size=(240, 8)) + centers[rng.integers(0, 10, 240)]).astype(np.float32)
    t = (rng.normal(size=(150, 8)) + centers[rng.integers(0, 10, 150)]).astype(np.float32)
    np.save(tmp_path / "pool.npy", x)
    np.save(tmp_path / "targets.npy", t)
    np.save(tmp_path / "targets.0.npy", t[:60])
    np.save(tmp_path / "targets.1.npy", t[60:])
    common = ["--features", "pool.npy", "--k", "12", "--json", "--num-processes", "2", "--heartbeat-timeout", "30"]
    whole, local = free_port(), free_port()
    cli = [sys.executable, "-m", "kcover.cli", "select"]
    runs = launch(
        [
            cli
            + common
            + [
                "--targets",
                "targets.npy",
                "--out",
                "whole.{process}.npy",
                "--all-processes-write",
                "--coordinator",
                f"127.0.0.1:{whole}",
                "--process-id",
                str(i),
            ]
            for i in (0, 1)
        ]
        + [
            cli
            + common
            + [
                "--targets",
                "targets.{process}.npy",
                "--local-targets",
                "--method",
                "stochastic",
                "--out",
                "local.npy",
                "--coordinator",
                f"127.0.0.1:{local}",
                "--process-id",
                str(i),
            ]
            for i in (0, 1)
        ],
        tmp_path,
    )
    reports = []
    for code, out, err in runs:
        assert code == 0, err[-3000:]
        assert len(out.strip().splitlines()) == 1, out  # --json: one object; gloo's lines went to stderr
        reports.append(json.loads(out))

    single = ("select", "--features", tmp_path / "pool.npy", "--targets", tmp_path / "targets.npy", "--k", 12, "--json")
    code, out, err = run(*single, "--out", tmp_path / "one.npy")
    assert code == 0, err
    one = json.loads(out)
    code, out, err = run(*single, "--method", "stochastic", "--out", tmp_path / "one_s.npy")
    assert code == 0, err
    one_s = json.loads(out)

    for i in (0, 1):  # whole targets, every process writes its own file
        np.testing.assert_array_equal(np.load(tmp_path / f"whole.{i}.npy"), np.load(tmp_path / "one.npy"))
        np.testing.assert_allclose(
            np.load(tmp_path / f"whole.{i}.weights.npy"), np.load(tmp_path / "one.weights.npy"), rtol=1e-5
        )
        np.testing.assert_allclose(reports[i]["objective"], one["objective"], rtol=1e-5)
        assert reports[i]["random_objective"] == one["random_objective"]
    # each process's own rows: only process 0 writes, no single-process random baseline
    np.testing.assert_array_equal(np.load(tmp_path / "local.npy"), np.load(tmp_path / "one_s.npy"))
    np.testing.assert_allclose(
        np.load(tmp_path / "local.weights.npy"), np.load(tmp_path / "one_s.weights.npy"), rtol=1e-5
    )
    for r in reports[2:]:
        np.testing.assert_allclose(r["objective"], one_s["objective"], rtol=1e-5)
        assert r["random_objective"] is None
    assert sorted(p.name for p in tmp_path.glob("local*")) == ["local.npy", "local.weights.npy"]


def test_a_busy_coordinator_port_is_reported_before_joining(tmp_path, run):
    np.save(tmp_path / "x.npy", np.ones((5, 2), np.float32))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(
            "select",
            "--features",
            tmp_path / "x.npy",
            "--k",
            2,
            "--out",
            tmp_path / "p.npy",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            2,
            "--process-id",
            0,
        )
    assert code == 2
    assert f"--coordinator: port {port} is already in use on this host" in err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--num-processes", "2", "--process-id", "2"], "--process-id: must be below --num-processes (2), got 2"),
        (["--num-processes", "0"], "--num-processes: must be at least 1, got 0"),
        (["--num-processes", "two"], "--num-processes: must be an integer"),
        (["--process-id", "-1"], "--process-id: must be at least 0, got -1"),
        (["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"], "--coordinator: must be HOST:PORT"),
        (["--distributed", "--init-timeout", "0"], "--init-timeout: must be at least 1"),
        (["--local-targets"], "--local-targets: only in a distributed run"),
        (["--all-processes-write"], "--all-processes-write: only in a distributed run"),
    ],
)
def test_bad_distributed_options_name_the_option(tmp_path, run, options, message):
    np.save(tmp_path / "x.npy", np.ones((5, 2), np.float32))
    code, _, err = run("select", "--features", tmp_path / "x.npy", "--k", 2, "--out", tmp_path / "p.npy", *options)
    assert code == 2
    assert f"kcover select: error: {message}" in err
    assert not (tmp_path / "p.npy").exists()
