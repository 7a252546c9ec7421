"""kcover against apricot-select and submodlib-py on the same features and the same similarity.

One run measures every configuration, each in its own subprocess (so that its peak RSS is its
own), and writes ``benchmarks/results/``:

* ``selection.md`` / ``selection.json``: wall time (compile separate from steady state), peak
  RSS and objective (one float64 scorer, as a ratio to the best) for N in {2,000, 10,000,
  30,000} and k in {50, 500}; plus the sparse kNN option against exact greedy on a subsample;
* ``scaling.png`` / ``scaling.json``: time and peak memory against N up to 200,000 (d = 384,
  k = 1,000) on the matrix-free path.

Data: a Gaussian mixture (50 centres in d = 128), float32; the RBF kernel with the median
heuristic bandwidth, the same for everyone. kcover runs matrix-free lazy greedy with the float16
bound cache; the peers get the dense float32 kernel (built by kcover's jitted ``gram``, the
fastest builder at hand, compiled beforehand, timed as part of their end-to-end time): apricot's
``FacilityLocationSelection(metric="precomputed",
optimizer="lazy")`` and submodlib's ``FacilityLocationFunction(mode="dense")`` maximised with
``LazyGreedy``. The peers are the ``bench`` extra: ``pip install -e ".[bench]"``.

    python benchmarks/bench_selection.py              # the table (about 15 minutes on 2 cores)
    python benchmarks/bench_selection.py --scaling    # the scaling curve (about 15 minutes)
    python benchmarks/bench_selection.py --quick      # a smoke run at tiny sizes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TOOLS = ("kcover", "kcover-cli", "apricot", "submodlib")
# submodlib's lazy greedy, run to the full budget, quietly (bench_scale.py uses the same call)
SUBMODLIB_LAZY = dict(
    optimizer="LazyGreedy", stopIfZeroGain=False, stopIfNegativeGain=False, verbose=False, show_progress=False
)


def mixture(n: int, d: int, seed: int = 0, centres: int = 50) -> np.ndarray:
    """n points of a Gaussian mixture in d dimensions, float32; the same for every tool."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, d))
    return (c[rng.integers(0, centres, n)] + 0.5 * rng.normal(size=(n, d))).astype(np.float32)


def bandwidth(x: np.ndarray) -> float:
    from kcover.kernels import median_bandwidth

    return median_bandwidth(x)


def dense_rbf(x: np.ndarray, bw: float, block: int | None = None) -> np.ndarray:
    """The (N, N) float32 RBF kernel, built by kcover's jitted blocked ``gram`` (multi-threaded).

    The fastest builder at hand, and the very similarity kcover uses: the peers' end-to-end
    time is not inflated by a slow kernel build.
    """
    import kcover

    return np.asarray(kcover.gram(x, bandwidth=bw, block=block))


def warm_dense_rbf(x: np.ndarray, bw: float) -> None:
    """Compile ``dense_rbf`` for these shapes (not counted in the peers' time)."""
    dense_rbf(x, bw)


def score(x: np.ndarray, picks, bw: float, block: int = 4096) -> float:
    """F(S) in float64 numpy: sum over targets of the best similarity to the picks."""
    x = x.astype(np.float64)
    s = x[np.asarray(picks, int)]
    ss = np.einsum("ij,ij->i", s, s)
    total = 0.0
    for i in range(0, x.shape[0], block):
        xb = x[i : i + block]
        d2 = np.einsum("ij,ij->i", xb, xb)[:, None] + ss[None, :] - 2.0 * xb @ s.T
        total += float(np.exp(-np.maximum(d2, 0.0) / (2.0 * bw * bw)).max(axis=1).sum())
    return total


def cpu_times() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far, all its threads.

    System time is time in the operating system on the process's behalf: here mostly page faults,
    the first touch of freshly allocated memory (a dense N x N kernel, a float64 copy of it).
    """
    t = os.times()
    return t.user, t.system


def cpu_since(c0: tuple[float, float]) -> dict:
    u, s = cpu_times()
    return dict(cpu_s=(u - c0[0]) + (s - c0[1]), user_s=u - c0[0], sys_s=s - c0[1])


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kilobytes on Linux


# ----------------------------------------------------------------------------- workers


def run_kcover(x, k, bw, opts):
    from kcover import facility_location

    def _facility_location(x, k, **kw):
        sel = facility_location(x, k, **kw)
        return sel, {c: sel.info[c] for c in ("similarity_columns", "cache_rows", "rounds")}

    kw = dict(
        method=opts.get("method", "lazy"),
        bandwidth=bw,
        block=opts.get("block", 16),
        cache=opts.get("cache", True),
        epsilon=opts.get("epsilon", 0.1),
    )
    first = None
    if opts.get("repeat", True):
        t0 = time.perf_counter()
        _facility_location(x, k, **kw)  # compile + run
        first = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = cpu_times()
    sel, stats = _facility_location(x, k, **kw)
    steady = time.perf_counter() - t0
    cpu = cpu_since(c0)
    compile_s = None if first is None else max(first - steady, 0.0)  # a single call includes its compilation
    return dict(
        picks=sel.indices.tolist(),
        compile_s=compile_s,
        steady_s=steady,
        **cpu,
        kernel_s=0.0,
        select_s=steady,
        stats=stats,
        options=kw | {"bandwidth": float(bw)},
    )


def run_kcover_cli(x, k, bw, opts):
    """``kcover select`` with its defaults, as a user runs it: a fresh process, features from a .npy file.

    Run twice with an empty persistent compilation cache: the first run compiles (reported as
    compile), the second finds the cache the first one wrote (its wall time is end to end).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/x.npy", x)
        env = {**os.environ, "KCOVER_COMPILE_CACHE": f"{tmp}/jax"}
        cmd = [sys.executable, "-m", "kcover.cli", "select", "--features", f"{tmp}/x.npy", "--k", str(k)]
        cmd += ["--out", f"{tmp}/picks.npy", "--json"]
        walls = []
        for _ in range(2):
            t0 = time.perf_counter()
            c0 = os.times()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - t0)
            c1 = os.times()
        report = json.loads(done.stdout)
        picks = np.load(f"{tmp}/picks.npy").tolist()
    child = dict(user_s=c1.children_user - c0.children_user, sys_s=c1.children_system - c0.children_system)
    return dict(
        picks=picks,
        compile_s=max(walls[0] - walls[1], 0.0),
        steady_s=walls[1],
        cpu_s=child["user_s"] + child["sys_s"],
        **child,
        kernel_s=0.0,
        select_s=report["seconds"],
        stats=report["info"],
        options=dict(block=report["block"], cache=report["cache"], auto=report["auto"]),
        child_peak_rss_gb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6,
    )


def run_product(x, k, bw, opts):
    """One bare all-pairs product X X^T (float32, jitted, compiled first): the floor of exact greedy,
    which must see every pair once."""
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda a: jnp.matmul(a, a.T, precision=jax.lax.Precision.HIGHEST))
    xj = jnp.asarray(x)
    f(xj).block_until_ready()
    t0 = time.perf_counter()
    c0 = cpu_times()
    f(xj).block_until_ready()
    took = time.perf_counter() - t0
    return dict(picks=[], steady_s=took, **cpu_since(c0))


def run_apricot(x, k, bw, opts):
    import apricot

    warm = dense_rbf(x[:300], bw)
    t0 = time.perf_counter()
    apricot.FacilityLocationSelection(5, metric="precomputed", optimizer="lazy", verbose=False).fit(warm)
    warm_dense_rbf(x, bw)
    compile_s = time.perf_counter() - t0  # numba compiles on the first call; the kernel builder too
    t0 = time.perf_counter()
    c0 = cpu_times()
    kmat = dense_rbf(x, bw)
    t1 = time.perf_counter()
    sel = apricot.FacilityLocationSelection(k, metric="precomputed", optimizer="lazy", verbose=False).fit(kmat)
    t2 = time.perf_counter()
    return dict(
        picks=[int(i) for i in sel.ranking],
        compile_s=compile_s,
        steady_s=t2 - t0,
        **cpu_since(c0),
        kernel_s=t1 - t0,
        select_s=t2 - t1,
    )


def run_submodlib(x, k, bw, opts):
    from submodlib import FacilityLocationFunction

    t0 = time.perf_counter()
    warm_dense_rbf(x, bw)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = cpu_times()
    kmat = dense_rbf(x, bw)
    t1 = time.perf_counter()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):  # it prints a progress bar
        f = FacilityLocationFunction(n=x.shape[0], mode="dense", sijs=kmat, separate_rep=False)
        out = f.maximize(budget=k, **SUBMODLIB_LAZY)
    t2 = time.perf_counter()
    return dict(
        picks=[int(i) for i, _ in out],
        compile_s=compile_s,
        steady_s=t2 - t0,
        **cpu_since(c0),
        kernel_s=t1 - t0,
        select_s=t2 - t1,
    )


def worker(spec: dict) -> None:
    """Run one configuration in this process and print one JSON line."""
    x = mixture(spec["n"], spec["d"], spec.get("seed", 0))
    bw = bandwidth(x)
    fn = {
        "kcover": run_kcover,
        "kcover-cli": run_kcover_cli,
        "apricot": run_apricot,
        "submodlib": run_submodlib,
        "product": run_product,
    }[spec["tool"]]
    try:
        res = fn(x, spec["k"], bw, spec.get("opts", {}))
        res["status"] = "ok"
    except ImportError as err:
        res = dict(status=f"unavailable: {err}")
    except Exception as err:  # report, do not hide, a peer's failure
        res = dict(status=f"failed: {type(err).__name__}: {err}"[:300])
    res["peak_rss_gb"] = res.pop("child_peak_rss_gb", None) or peak_rss_gb()
    print("RESULT " + json.dumps(res), flush=True)


def spawn(spec: dict, timeout: float) -> dict:
    """Run ``spec`` in a fresh subprocess; its own peak RSS comes back with it."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(status=f"timeout: over {timeout:.0f} s", wall_s=time.perf_counter() - t0)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["wall_s"] = time.perf_counter() - t0
            return res
    return dict(status=f"failed: exit {out.returncode}: {out.stderr.strip()[-300:]}", wall_s=time.perf_counter() - t0)


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


# ----------------------------------------------------------------------------- the table


def table(ns, ks, d, timeouts, tools=TOOLS, out_prefix="selection", knn_n=10_000, knn_m=64):
    rows = []
    products = {}
    for n in ns:
        x = mixture(n, d)
        bw = bandwidth(x)
        print(f"[{time.strftime('%H:%M:%S')}] n={n} bare X X^T (load {load_average()})", flush=True)
        products[n] = spawn(dict(tool="product", n=n, d=d, k=1), timeouts.get("kcover", 900))
        print("   ", products[n], flush=True)
        for k in ks:
            if k >= n:
                continue
            res = {}
            for tool in tools:
                spec = dict(tool=tool, n=n, d=d, k=k)
                print(f"[{time.strftime('%H:%M:%S')}] n={n} k={k} {tool} (load {load_average()})", flush=True)
                r = spawn(spec, timeouts.get(tool, 900))
                r["load_before"] = load_average()
                if r.get("status") == "ok":
                    r["objective"] = score(x, r["picks"], bw)
                    r["distinct"] = len(set(r["picks"])) == k
                res[tool] = r
                print("   ", {key: v for key, v in r.items() if key not in ("picks",)}, flush=True)
            best = max((r["objective"] for r in res.values() if "objective" in r), default=np.nan)
            for r in res.values():
                r["product_s"] = products[n].get("steady_s")
            for tool, r in res.items():
                r.pop("picks", None)
                if "objective" in r:
                    r["ratio"] = r["objective"] / best
                rows.append(dict(n=n, k=k, tool=tool, **r))
    knn = knn_check(min(knn_n, max(ns)), d, min(max(ks), 500), knn_m)
    info = dict(
        cpu=os.cpu_count(),
        load_at_end=load_average(),
        d=d,
        data="Gaussian mixture, 50 centres, float32",
        kernel="rbf, median-heuristic bandwidth",
    )
    RESULTS.mkdir(exist_ok=True)
    info["products"] = {str(n): p for n, p in products.items()}
    (RESULTS / f"{out_prefix}.json").write_text(json.dumps(dict(rows=rows, knn=knn, info=info), indent=1))
    md = markdown(rows, knn, info)
    (RESULTS / f"{out_prefix}.md").write_text(md)
    print(md)
    return rows


def knn_check(n, d, k, m):
    """The sparse kNN option against exact greedy on a subsample: both scored on the exact F."""
    import kcover
    from kcover.selection.knn import facility_location_knn

    x = mixture(n, d)
    bw = bandwidth(x)
    t0 = time.perf_counter()
    exact = kcover.facility_location(x, k, bandwidth=bw, block=16, cache=True)
    t1 = time.perf_counter()
    approx = facility_location_knn(x, k, m=m, bandwidth=bw)
    t2 = time.perf_counter()
    out = dict(n=n, k=k, m=m, exact_s=t1 - t0, knn_s=t2 - t1)
    out["ratio"] = score(x, approx.indices, bw) / score(x, exact.indices, bw)
    # a local kernel (a quarter of the median bandwidth): where the kNN option is meant to be used
    t0 = time.perf_counter()
    exact = kcover.facility_location(x, k, bandwidth=bw / 4, block=16, cache=True)
    approx = facility_location_knn(x, k, m=m, bandwidth=bw / 4)
    out["ratio_local_kernel"] = score(x, approx.indices, bw / 4) / score(x, exact.indices, bw / 4)
    out["local_s"] = time.perf_counter() - t0
    print("kNN vs exact:", out, flush=True)
    return out


def fmt(v, spec):
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def _times(peer_s: float, kcover_s: float) -> str:
    """ "2.50x faster" or "1.30x slower": kcover against a peer, never a ratio below 1 called faster."""
    r = peer_s / kcover_s
    return f"{r:.2f}x faster" if r >= 1.0 else f"{1.0 / r:.2f}x slower"


def _cpu(r: dict) -> str:
    """ "17.48 + 24.84" (user + system); the total alone for results saved before the split was recorded."""
    if r.get("user_s") is None:
        return fmt(r.get("cpu_s"), ".2f")
    return f"{r['user_s']:.2f} + {r['sys_s']:.2f}"


def _sys_share(kc: dict, peer: dict) -> str:
    """ "; system time was 71% of apricot's CPU time and 12% of kcover's", when both were recorded."""
    if not (kc.get("cpu_s") and peer.get("cpu_s")) or kc.get("sys_s") is None or peer.get("sys_s") is None:
        return ""
    return (
        f"; system time was {peer['sys_s'] / peer['cpu_s']:.0%} of {peer['tool']}'s CPU time and "
        f"{kc['sys_s'] / kc['cpu_s']:.0%} of kcover's"
    )


def markdown(rows, knn, info) -> str:
    lines = [
        f"Measured on {info['cpu']} CPU cores ({info['data']}, d = {info['d']}, {info['kernel']}); "
        f"load average at the end: {info['load_at_end']} (the machine was shared).",
        "",
        "| N | k | tool | end to end (s) | kernel build (s) | selection (s) | compile (s) | CPU user + system (s) "
        "| peak RSS (GB) | objective / best | bare X Xᵀ (s) | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = [
        "",
        "End to end: features in, picks out, compiled code (kcover: the tuned API call, `block=16, cache=True`, "
        "its second call; kcover-cli: `kcover select` with its defaults in a fresh process, start-up included, its "
        "second run, which finds the persistent compilation cache the first wrote; the peers: the dense "
        "kernel build plus the selection). Bare X Xᵀ: one jitted float32 all-pairs product at the same N, the "
        "floor of exact greedy, which must see every pair once. Compile: kcover's first call minus "
        "its second; for the peers, the "
        "numba warm-up plus one untimed full-size kernel build that compiles the builder. Peak RSS: the "
        "configuration's own process. CPU: user plus system seconds of the end-to-end run, all threads; system "
        "time is the operating system's work for the process, mostly page faults on freshly allocated memory, and "
        "its cost per gigabyte varies with the host. Objective: one float64 scorer, as a ratio to the best of the "
        "three.",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['k']} | {r['tool']} | {fmt(r.get('steady_s'), '.2f')} | "
            f"{fmt(r.get('kernel_s'), '.2f')} | "
            f"{fmt(r.get('select_s'), '.2f')} | {fmt(r.get('compile_s'), '.2f')} | {_cpu(r)} | "
            f"{fmt(r.get('peak_rss_gb'), '.2f')} | {fmt(r.get('ratio'), '.7f')} | {fmt(r.get('product_s'), '.2f')} | "
            f"{r.get('status', '')} |"
        )
    lines += notes + [""]
    for n, k in sorted({(r["n"], r["k"]) for r in rows}):
        sub = {r["tool"]: r for r in rows if r["n"] == n and r["k"] == k}
        kc = sub.get("kcover", {})
        peers = [r for t, r in sub.items() if not t.startswith("kcover") and r.get("status") == "ok"]
        cli = sub.get("kcover-cli", {})
        if kc.get("status") == "ok" and cli.get("status") == "ok":
            lines.append(
                f"- N = {n:,}, k = {k}: `kcover select` with its defaults took {cli['steady_s']:.2f} s end to end "
                f"({cli['compile_s']:.2f} s more on a cold compilation cache), {cli['steady_s'] / kc['steady_s']:.2f}x "
                f"the tuned API call's warm {kc['steady_s']:.2f} s; it chose {cli.get('options', {})}. The tuned call "
                + (
                    f"took {kc['steady_s'] / kc['product_s']:.2f}x the bare all-pairs product "
                    f"({kc['product_s']:.2f} s)."
                    if kc.get("product_s")
                    else "had no bare-product time to compare with."
                )
            )
            if peers:
                fastest = min(peers, key=lambda r: r["steady_s"])
                lines.append(
                    f"- N = {n:,}, k = {k}: `kcover select` (defaults, CLI) is "
                    f"{_times(fastest['steady_s'], cli['steady_s'])} end to end than the fastest peer "
                    f"({fastest['tool']}), at {cli['peak_rss_gb'] / fastest['peak_rss_gb']:.2f}x its peak memory, "
                    f"objective {cli['ratio']:.7f} of the best."
                )
        if kc.get("status") != "ok" or not peers:
            continue
        fastest = min(peers, key=lambda r: r["steady_s"])
        alone = min(peers, key=lambda r: r.get("select_s", r["steady_s"]))
        alone_s = alone.get("select_s", alone["steady_s"])
        lines.append(
            f"- N = {n:,}, k = {k}: kcover is {_times(fastest['steady_s'], kc['steady_s'])} end to end than the "
            f"fastest peer ({fastest['tool']}), at {kc['peak_rss_gb'] / fastest['peak_rss_gb']:.2f}x its peak memory, "
            f"objective {kc['ratio']:.7f} of the best; {_times(alone_s, kc['steady_s'])} "
            f"than the fastest peer's selection alone ({alone['tool']}, its kernel build not counted)"
            + _sys_share(kc, fastest)
            + "."
        )
    if knn:
        lines += [
            "",
            f"Sparse kNN option (m = {knn['m']}) against exact greedy on a subsample of N = "
            f"{knn['n']:,}, k = {knn['k']}, "
            f"both scored on the exact objective (kNN / exact): {knn['ratio']:.6f} with the "
            "median-heuristic bandwidth, "
            f"{knn['ratio_local_kernel']:.6f} with a quarter of it (a more local kernel); kNN took "
            f"{knn['knn_s']:.1f} s "
            f"against {knn['exact_s']:.1f} s for exact lazy greedy with the cache.",
        ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- scaling


def scaling(ns, d, k, method, epsilon, block, timeout):
    points = []
    for n in ns:
        opts = dict(method=method, epsilon=epsilon, block=block, cache=False, repeat=False)  # one call: with compile
        spec = dict(tool="kcover", n=n, d=d, k=k, opts=opts)
        print(f"[{time.strftime('%H:%M:%S')}] scaling n={n} (load {load_average()})", flush=True)
        r = spawn(spec, timeout)
        r.pop("picks", None)
        r["n"] = n
        r["load_before"] = load_average()
        print("   ", r, flush=True)
        points.append(r)
    info = dict(d=d, k=k, method=method, epsilon=epsilon, block=block, cpu=os.cpu_count(), load_at_end=load_average())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(dict(points=points, info=info), indent=1))
    plot_scaling(points, info)
    (RESULTS / "scaling.md").write_text(scaling_markdown(points, info))
    return points


def scaling_markdown(points, info) -> str:
    lines = [
        f"Matrix-free {info['method']} greedy (epsilon = {info['epsilon']}, block {info['block']}), d = {info['d']}, "
        f"k = {info['k']}, one call per N in its own process (compilation included), {info['cpu']} CPU cores, "
        f"load average at the end {info['load_at_end']}.",
        "",
        "| N | wall (s) | CPU (s) | peak RSS (GB) | similarity columns | dense float32 N x N (GB) | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['n']:,} | {fmt(p.get('steady_s'), '.1f')} | {fmt(p.get('cpu_s'), '.1f')} | "
            f"{fmt(p.get('peak_rss_gb'), '.2f')} | {p.get('stats', {}).get('similarity_columns', '–')} | "
            f"{p['n'] ** 2 * 4 / 1e9:.1f} | {p.get('status', '')} |"
        )
    return "\n".join(lines) + "\n"


def plot_scaling(points, info):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [p for p in points if p.get("status") == "ok"]
    n = np.array([p["n"] for p in ok], float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.loglog(n, [p["steady_s"] for p in ok], "o-", label="wall (one call, compile included)")
    a.loglog(n, [p["cpu_s"] for p in ok], "s--", label="CPU time")
    if len(n):
        a.loglog(n, ok[-1]["steady_s"] * (n / n[-1]) ** 2, ":", color="grey", label="∝ N²")
    a.set_xlabel("N")
    a.set_ylabel("seconds")
    a.set_title(f"time, {info['method']} greedy (ε={info['epsilon']}), d={info['d']}, k={info['k']}", fontsize=10)
    a.legend(fontsize=8)
    b.plot(n, [p["peak_rss_gb"] for p in ok], "o-", label="kcover peak RSS")
    b.plot(n, n**2 * 4 / 1e9, ":", color="grey", label="a dense float32 N×N kernel")
    b.set_yscale("log")
    b.set_xscale("log")
    b.set_xlabel("N")
    b.set_ylabel("GB")
    b.set_title("peak memory (matrix-free)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "scaling.png", dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--scaling", action="store_true", help="the scaling curve instead of the table")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the whole script")
    p.add_argument("--n", type=int, nargs="*", help="pool sizes (table or scaling)")
    p.add_argument("--k", type=int, nargs="*", help="budgets (table); one budget (scaling)")
    p.add_argument("--tools", nargs="*", default=list(TOOLS), choices=TOOLS)
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per configuration")
    p.add_argument("--out", default=None, help="result file prefix under benchmarks/results")
    p.add_argument("--render", action="store_true", help="rewrite the markdown from the saved JSON")
    args = p.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.render and args.scaling:
        saved = json.loads((RESULTS / "scaling.json").read_text())
        plot_scaling(saved["points"], saved["info"])
        (RESULTS / "scaling.md").write_text(scaling_markdown(saved["points"], saved["info"]))
        return
    if args.render:
        name = args.out or "selection"
        saved = json.loads((RESULTS / f"{name}.json").read_text())
        (RESULTS / f"{name}.md").write_text(markdown(saved["rows"], saved["knn"], saved["info"]))
        return
    if args.scaling:
        ns = args.n or ([2000, 4000] if args.quick else [10_000, 20_000, 50_000, 100_000, 200_000])
        k = (args.k or [20 if args.quick else 1000])[0]
        d = 16 if args.quick else 384
        scaling(ns, d, k, "stochastic", 0.5, 256, args.timeout)
        return
    ns = args.n or ([300, 600] if args.quick else [2000, 10_000, 30_000])
    ks = args.k or ([10, 50] if args.quick else [50, 500])
    table(
        ns,
        ks,
        16 if args.quick else 128,
        {t: args.timeout for t in args.tools},
        tools=tuple(args.tools),
        out_prefix=args.out or ("selection_quick" if args.quick else "selection"),
        knn_n=600 if args.quick else 10_000,
        knn_m=16 if args.quick else 64,
    )


if __name__ == "__main__":
    main()
