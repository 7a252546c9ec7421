"""Two processes against one: facility location with the targets sharded over jax.distributed.

One process runs ``kcover.facility_location(x, k, targets=t)`` on its CPU device; then two
processes on localhost (one CPU device each, gloo collectives) run
``kcover.facility_location_sharded(x, k, targets=own rows, local_targets=True)``, each holding
half of the target rows. Each selection runs twice: the first call includes compilation, the
second is the steady state. Writes ``benchmarks/results/multiprocess.json``: wall times, the
CPU time of each call (all threads of its process), peak RSS per process, whether the picks are
the same, and the load average around the runs (the machine is shared: read the times against
it).

Data: a Gaussian mixture (50 centres), float32, N candidates and T = N targets drawn from the
same mixture, rbf kernel with the median-heuristic bandwidth, lazy and stochastic greedy with
the defaults (block and cache "auto", epsilon 0.1).

    python benchmarks/bench_multiprocess.py                 # N = 20,000, d = 128, k = 100
    python benchmarks/bench_multiprocess.py --quick         # a smoke run at N = 2,000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) candidates and (N, d) targets from one Gaussian mixture, float32."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(50, d))
    x = centres[rng.integers(0, 50, n)] + rng.normal(size=(n, d))
    t = centres[rng.integers(0, 50, n)] + rng.normal(size=(n, d))
    return x.astype(np.float32), t.astype(np.float32)


def worker(args: argparse.Namespace) -> None:
    """One process: time two calls, print one JSON line."""
    import jax

    if args.processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            f"127.0.0.1:{args.port}",
            args.processes,
            args.pid,
            initialization_timeout=120,
            heartbeat_timeout_seconds=120,
        )
    import kcover

    x, t = data(args.n, args.d)
    if args.processes > 1:
        from jax.experimental import multihost_utils

        rows = np.array_split(np.arange(args.n), args.processes)[args.pid]
        t_own = t[rows]
        del t

        def call():
            return kcover.facility_location_sharded(x, args.k, targets=t_own, local_targets=True, method=args.method)

        multihost_utils.sync_global_devices("start")  # both processes start the clock together
    else:

        def call():
            return kcover.facility_location(x, args.k, targets=t, method=args.method)

    times, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        sel = call()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "pid": args.pid,
                "first_s": times[0],
                "second_s": times[1],
                "first_cpu_s": cpu[0],
                "second_cpu_s": cpu[1],
                "picks": sel.indices.tolist(),
                "objective": float(sel.objective[-1]),
                "info": {k: v for k, v in dict(sel.info).items()},
                "peak_rss_gb": usage.ru_maxrss / 2**20,
                "cpu_user_s": usage.ru_utime,
                "cpu_system_s": usage.ru_stime,
            }
        )
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n_proc: int, args: argparse.Namespace) -> dict:
    """Run ``n_proc`` worker processes at once; their JSON lines, and the launch's wall time."""
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    base = [
        sys.executable,
        __file__,
        "--worker",
        "--processes",
        str(n_proc),
        "--port",
        str(port),
        "--n",
        str(args.n),
        "--d",
        str(args.d),
        "--k",
        str(args.k),
        "--method",
        args.method,
    ]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(base + ["--pid", str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(n_proc)
    ]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.perf_counter() - t0
    for p, (_, err) in zip(procs, outs):
        if p.returncode:
            raise RuntimeError(f"worker failed ({p.returncode}): {err[-3000:]}")
    runs = [json.loads(next(ln for ln in out.splitlines() if ln.startswith("{"))) for out, _ in outs]
    return {"launch_wall_s": wall, "processes": runs}


def compare(args: argparse.Namespace) -> dict:
    """One process, then two, for ``args.method``: their runs and a summary."""
    one = launch(1, args)
    two = launch(2, args)
    p1, p2 = one["processes"][0], two["processes"]
    first2, second2 = max(p["first_s"] for p in p2), max(p["second_s"] for p in p2)
    summary = {
        "one_first_s": p1["first_s"],
        "one_second_s": p1["second_s"],
        "two_first_s": first2,
        "two_second_s": second2,
        "speedup_first": p1["first_s"] / first2,
        "speedup_second": p1["second_s"] / second2,
        "one_second_cpu_s": p1["second_cpu_s"],
        "two_second_cpu_s": [p["second_cpu_s"] for p in p2],
        "same_picks": all(p["picks"] == p1["picks"] for p in p2),
        "objective_one": p1["objective"],
        "objective_two": p2[0]["objective"],
        "peak_rss_gb_one": p1["peak_rss_gb"],
        "peak_rss_gb_two": [p["peak_rss_gb"] for p in p2],
    }
    return {"summary": summary, "one_process": one, "two_processes": two}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--methods", default="lazy,stochastic", help="comma-separated (default lazy,stochastic)")
    parser.add_argument("--quick", action="store_true", help="N = 2,000, d = 32, k = 20; results not saved")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="lazy", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.n, args.d, args.k = 2_000, 32, 20
    load_before = " ".join(f"{v:.1f}" for v in os.getloadavg())
    runs = {}
    for method in args.methods.split(","):
        args.method = method
        runs[method] = compare(args)
        print(method, json.dumps(runs[method]["summary"], indent=1))
    load_after = " ".join(f"{v:.1f}" for v in os.getloadavg())
    result = {
        "info": {
            "n": args.n,
            "t": args.n,
            "d": args.d,
            "k": args.k,
            "kernel": "rbf",
            "epsilon": 0.1,
            "cpu_cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
            "devices_per_process": 1,
            "two_process_mode": "local_targets (each process: half the rows)",
        },
        "runs": runs,
    }
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "multiprocess.json").write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {RESULTS / 'multiprocess.json'}")


if __name__ == "__main__":
    main()
