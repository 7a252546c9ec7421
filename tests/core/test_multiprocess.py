"""Selection across real processes on localhost: jax.distributed, CPU collectives over gloo.

Each test starts Python processes with one CPU device each, joined through
``jax.distributed.initialize`` on a free port, and checks every process's selection against
``kcover.facility_location`` in one process: lazy and stochastic greedy, the whole target matrix
in every process or each process's own rows (``local_targets=True``). A port clash and a dead
peer must end every process with an error, within the subprocess timeout, not hang.
"""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import kcover

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "distributed.md"
TIMEOUT = 300  # seconds for a whole launch: far above its cost, far below "hangs forever"

# One process of a run: N_PROC = 0 runs kcover.facility_location alone, the reference.
WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import jax

    pid, n_proc, coordinator, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    die, timeout = "--die" in sys.argv, 5 if "--fail-fast" in sys.argv else 60
    jax.config.update("jax_enable_x64", True)
    if n_proc:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator, n_proc, pid, initialization_timeout=timeout,
                                   heartbeat_timeout_seconds=timeout)
        assert jax.process_count() == n_proc and jax.device_count() == n_proc, jax.devices()
    if die:
        os._exit(3)  # a peer that joined and died
    import kcover

    rng = np.random.default_rng(0)
    centers = 4.0 * rng.normal(size=(6, 5))
    x = rng.normal(size=(150, 5)) + centers[rng.integers(0, 6, 150)]  # float64: no near-ties
    t = rng.normal(size=(203, 5)) + centers[rng.integers(0, 6, 203)]
    w = rng.uniform(0.5, 2.0, size=203)
    xi = rng.integers(0, 4, size=(150, 5)).astype(np.float64)  # integer similarities: exact sums
    ti = rng.integers(0, 4, size=(203, 5)).astype(np.float64)
    # the whole targets and each process's own rows give the same shapes per device: one compile for both
    cases = {  # name: (features, options, local rows)
        "lazy, whole": (x, dict(method="lazy", targets=t, target_weights=w, initial=[3, 40]), False),
        "lazy, own rows": (x, dict(method="lazy", targets=t, target_weights=w, initial=[3, 40]), True),
        "stochastic, whole": (x, dict(method="stochastic", targets=t, target_weights=w, seed=5), False),
        "stochastic, own rows": (x, dict(method="stochastic", targets=t, target_weights=w, seed=5), True),
        "linear lazy, own rows": (xi, dict(method="lazy", kernel="linear", targets=ti), True),
    }
    # process p holds rows [cut[p], cut[p + 1]): 101 and 102 rows for 2 processes, 50 and 51 for 4
    cut = np.linspace(0, 203, max(n_proc, 1) + 1).astype(int)
    res = {}
    for name, (feats, kw, local) in cases.items():
        kw = dict(kw, block=16, epsilon=0.3, bandwidth=None if kw.get("kernel") == "linear" else 2.0)
        if not n_proc:
            sel = kcover.facility_location(feats, 12, **kw)
        else:
            if local:
                rows = slice(cut[pid], cut[pid + 1])
                kw["targets"] = kw["targets"][rows]
                if "target_weights" in kw:
                    kw["target_weights"] = kw["target_weights"][rows]
            sel = kcover.facility_location_sharded(feats, 12, local_targets=local, **kw)
        res[name] = {f: np.asarray(getattr(sel, f)).tolist()
                     for f in ("indices", "gains", "objective", "weights", "coverage")}
    if n_proc:  # arguments that differ, or are bad in one process: the same ValueError everywhere, no hang
        bad = {"k": lambda: kcover.facility_location_sharded(x, 12 + pid, bandwidth=2.0),
               "nan": lambda: kcover.facility_location_sharded(x * (np.nan if pid == 1 else 1.0), 12, bandwidth=2.0)}
        for name, call in bad.items():
            try:
                call()
                res[name] = "no error"
            except ValueError as err:
                res[name] = str(err)
    with open(out, "w") as fh:
        json.dump(res, fh)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    env.update(JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    return env


def launch(commands: list[list[str]], cwd: Path, timeout: float = TIMEOUT) -> list[tuple[int, str, str]]:
    """Start every command at once; (exit code, stdout, stderr) of each. Kills all and fails on a hang."""
    procs = [
        subprocess.Popen(c, cwd=cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    deadline = time.monotonic() + timeout
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((p.returncode, out, err))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        tails = [p.communicate()[1][-2000:] for p in procs]
        pytest.fail(f"processes still running after {timeout} s (a hang); stderr tails: {tails}")
    return results


def worker(pid: int, n_proc: int, port: int, out: Path, *flags: str) -> list[str]:
    return [sys.executable, "-c", WORKER, str(pid), str(n_proc), f"127.0.0.1:{port}", str(out), *flags]


def check_against_one_process(n_proc: int, tmp_path: Path) -> None:
    port = free_port()
    outs = [tmp_path / f"p{i}.json" for i in range(n_proc)]
    ref = tmp_path / "ref.json"
    runs = launch([worker(0, 0, 0, ref)] + [worker(i, n_proc, port, outs[i]) for i in range(n_proc)], tmp_path)
    for code, _, err in runs:
        assert code == 0, err[-4000:]
    one = json.loads(ref.read_text())
    many = [json.loads(o.read_text()) for o in outs]
    assert many[0]["k"].startswith("k: differs between processes"), many[0]["k"]
    assert many[0]["nan"].startswith("features: contains NaN or inf"), many[0]["nan"]
    assert many[1]["nan"].startswith("features: contains NaN or inf"), many[1]["nan"]
    assert "raised in process 1" in many[0]["nan"]
    for other in many[1:]:
        assert {f: v for f, v in other.items() if f != "nan"} == {f: v for f, v in many[0].items() if f != "nan"}
    for name, r in one.items():
        m = many[0][name]
        assert m["indices"] == r["indices"], name
        for field in ("gains", "objective", "weights", "coverage"):
            np.testing.assert_allclose(m[field], r[field], rtol=1e-12, atol=1e-12, err_msg=f"{name}: {field}")
        if name.startswith("linear"):  # integer sums in float64: bit for bit
            assert m["gains"] == r["gains"] and m["objective"] == r["objective"], name


def test_two_processes_pick_what_one_process_picks(tmp_path):
    check_against_one_process(2, tmp_path)


@pytest.mark.slow
def test_four_processes_pick_what_one_process_picks(tmp_path):
    check_against_one_process(4, tmp_path)


def docs_snippet() -> str:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- snippet: select_distributed.py -->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/distributed.md lost its select_distributed.py snippet"
    return found.group(1)


def test_the_docs_recipe_runs_on_two_processes(tmp_path):
    assert "for i in 0 1; do python select_distributed.py $i 2 127.0.0.1:12355 & done; wait" in DOCS.read_text()
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"<!-- snippet: select_distributed.py -->\n```python\n{docs_snippet()}```" in readme  # the same snippet
    (tmp_path / "select_distributed.py").write_text(docs_snippet())
    rng = np.random.default_rng(0)
    centers = 4.0 * rng.normal(size=(12, 8))
    x = (rng.normal(size=(400, 8)) + centers[rng.integers(0, 12, 400)]).astype(np.float32)
    t = (rng.normal(size=(300, 8)) + centers[rng.integers(0, 12, 300)]).astype(np.float32)
    np.save(tmp_path / "pool.npy", x)
    np.save(tmp_path / "targets.0.npy", t[:130])
    np.save(tmp_path / "targets.1.npy", t[130:])
    port = free_port()
    runs = launch(
        [[sys.executable, "select_distributed.py", str(i), "2", f"127.0.0.1:{port}"] for i in (0, 1)], tmp_path
    )
    one = kcover.facility_location(x, 50, targets=t)
    for i, (code, out, err) in enumerate(runs):
        assert code == 0, err[-4000:]
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{i} ["))
        pid, picks, objective = re.fullmatch(r"(\d+) (\[.*\]) (\S+)", line).groups()
        assert json.loads(picks) == one.indices.tolist()
        np.testing.assert_allclose(float(objective), one.objective[-1], rtol=1e-5)


def test_a_port_clash_ends_every_process_with_an_error(tmp_path):
    with socket.socket() as busy:  # another program holds the coordinator's port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        runs = launch(
            [worker(i, 2, port, tmp_path / f"p{i}.json", "--fail-fast") for i in (0, 1)], tmp_path, timeout=120
        )
    (c0, _, e0), (c1, _, e1) = runs
    # JAX raises "Failed to start RPC server", or (about 1 run in 6 here) crashes right after logging this
    assert c0 != 0 and "Failed to add port to server" in e0, e0[-3000:]
    assert c1 != 0 and re.search(r"DEADLINE_EXCEEDED|Deadline Exceeded", e1), e1[-3000:]


def test_a_dead_peer_ends_the_run_with_an_error(tmp_path):
    port = free_port()
    runs = launch(
        [
            worker(0, 2, port, tmp_path / "p0.json", "--fail-fast"),
            worker(1, 2, port, tmp_path / "p1.json", "--fail-fast", "--die"),
        ],
        tmp_path,
        timeout=120,
    )
    (c0, _, e0), (c1, _, _) = runs
    assert c1 == 3
    assert c0 != 0 and "heartbeat" in e0 and not (tmp_path / "p0.json").exists(), e0[-3000:]


def test_a_mesh_of_this_process_alone_needs_no_distributed_runtime():
    """local_targets in one process: the targets are all the rows, the result the plain one."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 4)).astype(np.float32)
    t = rng.normal(size=(50, 4)).astype(np.float32)
    a = kcover.facility_location(x, 7, targets=t, bandwidth=1.5, block=8)
    b = kcover.facility_location_sharded(x, 7, targets=t, bandwidth=1.5, block=8, local_targets=True)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.coverage, b.coverage, rtol=1e-6)
    assert b.info["processes"] == 1


def test_local_targets_without_targets_is_refused():
    with pytest.raises(ValueError, match="^local_targets: needs targets"):
        kcover.facility_location_sharded(np.ones((4, 2)), 1, local_targets=True)
