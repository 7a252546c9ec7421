"""Scaling benchmark of issue 26: kcover's exact and approximate paths, and apricot on a sparse kernel.

    python benchmarks/bench_scale.py grid --data mixture --ns 30000 100000 300000 1000000 \
        --tools auto knn partitions apricot-knn --repeat 2 --timeout 1200
    python benchmarks/bench_scale.py cli --n 1000000          # the default `kcover select`, /usr/bin/time -v
    python benchmarks/bench_scale.py cosine --n 30000 --k 500 --repeat 2   # CLI defaults vs apricot, cosine
    python benchmarks/bench_scale.py report                   # results/scale_paths.{md,png} from results/scale.json

Every run is a fresh process (``spawn``) that builds the data (benchmarks/scale_data.py), runs one
tool, and reports wall seconds, peak RSS (``ru_maxrss``) and the picks' objective F(S), scored
exactly over all N targets with ``kcover.objective`` (rbf, the median-heuristic bandwidth: the
same for every tool). The quality column is F(S) / F(exact greedy): exact lazy greedy where it
ran (on this machine at N <= 100,000, or from a lent GPU: results/scale_refs/, made by
gpu_reference.py), else marked as missing. Runs append to results/scale.json.

Tools: ``exact`` (lazy greedy), ``auto`` (select(method="auto"), the default: exact below the
budget, target sketch above), ``sketch-sample`` (a uniformly sampled sketch of the same size),
``knn`` (faiss kNN graph, m = 32), ``partitions`` (GreeDi, P = 4, over the auto sketch's targets
above the budget), ``greedi`` (GreeDi, P = 4, no sketch: each part covers its own rows), ``apricot-knn``
(apricot's FacilityLocationSelection on a precomputed sparse
m = 32 nearest-neighbour rbf kernel, built with faiss; its build time counted), ``submodlib-knn``
(submodlib's lazy greedy on the same sparse kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results"
OUT_JSON = RESULTS / "scale.json"
TOOLS = ("exact", "auto", "sketch-sample", "knn", "partitions", "greedi", "apricot-knn", "submodlib-knn")
NEIGHBORS, PARTITIONS = 32, 4
KNN_LAZY_SINCE = "2026-12-05 15:20 UTC"  # from here the kNN path runs lazy greedy on its lists


def data_file(name: str, n: int) -> Path:
    """The data set as a .npy in /tmp (made once: the 1M rows take seconds to draw)."""
    from scale_data import dataset

    path = Path("/tmp/kcover_scale") / f"{name}_{n}.npy"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        np.save(path, dataset(name, n))
    return path


def sparse_kernel(x: np.ndarray, bw: float):
    """The m-nearest-neighbour rbf kernel as a scipy CSR matrix (faiss lists, as kcover's knn path)."""
    import scipy.sparse as sp

    import kcover

    lists, _ = kcover.knn_graph(x, NEIGHBORS, bandwidth=bw)
    rows = np.repeat(np.arange(x.shape[0]), NEIGHBORS)
    return sp.csr_matrix(
        (lists.values.ravel().astype(np.float64), (rows, lists.indices.ravel())), shape=(x.shape[0], x.shape[0])
    )


def apricot_knn(x: np.ndarray, k: int, bw: float) -> np.ndarray:
    """apricot's lazy greedy on the sparse kernel (its build time counted).

    ``sparse_kernel`` has a row per target (its m nearest candidates), kcover's orientation;
    apricot reads a precomputed matrix's rows as candidates (a candidate's gain sums its own row),
    so it gets the transpose: each candidate credited for the targets that list it, as in kcover
    and submodlib. Earlier runs fed it the matrix itself (results rows without ``kernel_rows``,
    see :func:`untransposed`): the same lists read the other way, a different, lower-scoring problem.
    """
    from apricot import FacilityLocationSelection

    kernel = sparse_kernel(x, bw).T.tocsr()
    sel = FacilityLocationSelection(k, metric="precomputed", optimizer="lazy").fit(kernel)
    return np.asarray(sel.ranking)


def submodlib_knn(x: np.ndarray, k: int, bw: float) -> np.ndarray:
    """submodlib's lazy greedy on the same sparse kernel (mode "sparse"; its build time counted)."""
    from submodlib import FacilityLocationFunction

    from bench_selection import SUBMODLIB_LAZY

    f = FacilityLocationFunction(n=x.shape[0], mode="sparse", sijs=sparse_kernel(x, bw), num_neighbors=NEIGHBORS)
    res = f.maximize(budget=k, **SUBMODLIB_LAZY)
    return np.asarray([p for p, _ in res])


def worker(spec: dict) -> dict:
    """One tool on one data set, in this (fresh) process."""
    import kcover
    from kcover.selection.auto import auto_plan, facility_location_scaled, sketch_size

    x = np.load(spec["path"])
    bw = kcover.median_bandwidth(x)
    n, d, k, tool = x.shape[0], x.shape[1], spec["k"], spec["tool"]
    t0 = time.perf_counter()
    info: dict = {}
    if tool == "exact":
        sel = kcover.facility_location(x, k, bandwidth=bw)
        picks, info = sel.indices, dict(sel.info)
    elif tool == "auto":
        sel = kcover.select(x, k, method="auto", bandwidth=bw)
        picks, info = sel.indices, dict(sel.info)
    elif tool in ("sketch-sample", "partitions"):
        plan = auto_plan(n, n, d, k)
        size = plan.targets_sketch
        if tool == "sketch-sample":
            size = size or sketch_size(n, k)
        sel = facility_location_scaled(
            x,
            k,
            targets_sketch=size,
            partitions=PARTITIONS if tool == "partitions" else 1,
            sketch_method="sample" if tool == "sketch-sample" else "kmeans",
            bandwidth=bw,
        )
        picks, info = sel.indices, dict(sel.info)
    elif tool == "greedi":  # partitions alone: every part covers its own rows, stage 2 the whole pool
        sel = facility_location_scaled(x, k, partitions=PARTITIONS, bandwidth=bw)
        picks, info = sel.indices, dict(sel.info)
    elif tool == "knn":
        sel = kcover.select(x, k, method="knn", neighbors=NEIGHBORS, bandwidth=bw)
        picks, info = sel.indices, dict(sel.info)
    elif tool == "apricot-knn":
        picks, info = apricot_knn(x, k, bw), {"kernel_rows": "candidates"}
    elif tool == "submodlib-knn":
        picks = submodlib_knn(x, k, bw)
    else:
        raise ValueError(f"tool: unknown {tool!r}")
    took = time.perf_counter() - t0
    value = kcover.objective(x, picks, bandwidth=bw)
    info.pop("coverage", None)
    return dict(
        seconds=round(took, 2),
        peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        objective=value,
        bandwidth=bw,
        info=json.loads(json.dumps(info, default=str)),
    )


def spawn(spec: dict, timeout: float) -> dict:
    """Run ``worker(spec)`` in a fresh process; its report, or the reason it has none."""
    cmd = [sys.executable, __file__, "worker", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**spec, "status": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        return {**spec, "status": f"failed: {done.stderr.strip().splitlines()[-1][:200] if done.stderr else ''}"}
    return {**spec, "status": "ok", **json.loads(done.stdout.strip().splitlines()[-1])}


def reference(data: str, n: int, k: int, bw_objective) -> tuple[float | None, str]:
    """F of exact lazy greedy's picks: results/scale_refs/ref_<data>_<n>.npy (GPU) or an exact row in the results."""
    path = RESULTS / "scale_refs" / f"ref_{data}_{n}.npy"
    if path.exists() and k == 1000:
        return bw_objective(np.load(path)), "exact lazy greedy (GPU, results/scale_refs)"
    return None, "none"


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def append(rows: list[dict]) -> None:
    old = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else []
    OUT_JSON.write_text(json.dumps(old + rows, indent=1))


def grid(args) -> None:
    import kcover

    for n in args.ns:
        path = data_file(args.data, n)
        x = np.load(path, mmap_mode="r")
        bw = kcover.median_bandwidth(np.asarray(x))
        ref, ref_kind = reference(
            args.data, n, args.k, lambda p, x=x, bw=bw: kcover.objective(np.asarray(x), p, bandwidth=bw)
        )
        rand = kcover.objective(np.asarray(x), np.random.default_rng(0).choice(n, args.k, replace=False), bandwidth=bw)
        for tool in args.tools:
            for rep in range(args.repeat):
                spec = dict(data=args.data, n=n, k=args.k, tool=tool, path=str(path), run=rep + 1)
                row = {
                    **spawn(spec, args.timeout),
                    "load_before": load_average(),
                    "reference": ref,
                    "random_objective": rand,
                    "reference_kind": ref_kind,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                }
                if ref and row.get("objective"):
                    row["fraction_of_exact"] = row["objective"] / ref
                print(
                    json.dumps(
                        {
                            key: row.get(key)
                            for key in (
                                "data",
                                "n",
                                "tool",
                                "run",
                                "status",
                                "seconds",
                                "peak_rss_gb",
                                "fraction_of_exact",
                            )
                        }
                    ),
                    flush=True,
                )
                append([row])


def kcover_select(path: Path, k: int, out: Path, *extra: str) -> list[str]:
    """``kcover select`` on the features in ``path`` with its defaults (and ``extra``), JSON out."""
    kcover = str(Path(sys.executable).with_name("kcover"))
    return [kcover, "select", "--features", str(path), "--k", str(k), *extra, "--out", str(out), "--json"]


def cli_run(args) -> None:
    """The default command line at N rows, under /usr/bin/time -v: wall time, peak RSS, the path taken."""
    path = data_file(args.data, args.n)
    out = Path("/tmp/kcover_scale") / "cli_picks.npy"
    cmd = ["/usr/bin/time", "-v", *kcover_select(path, args.k, out)]
    for rep in range(args.repeat):
        load = load_average()
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        wall = time.perf_counter() - t0
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        row = dict(
            kind="cli",
            data=args.data,
            n=args.n,
            k=args.k,
            run=rep + 1,
            wall_seconds=round(wall, 1),
            peak_rss_gb=int(rss.group(1)) / 1e6 if rss else None,
            load_before=load,
            report=report,
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
        import kcover

        x = np.load(path)
        ref, kind = reference(args.data, args.n, args.k, lambda p, x=x: kcover.objective(x, p))
        row.update(
            reference=ref, reference_kind=kind, fraction_of_exact=None if ref is None else report["objective"] / ref
        )
        print(
            json.dumps({key: row[key] for key in ("n", "run", "wall_seconds", "peak_rss_gb", "fraction_of_exact")}),
            flush=True,
        )
        append([row])


APRICOT_COSINE = """
import sys, time, json, resource
t0 = time.perf_counter()
import numpy as np
from apricot import FacilityLocationSelection
x = np.load(sys.argv[1])
sel = FacilityLocationSelection(int(sys.argv[2]), metric="cosine", optimizer="lazy").fit(x)
np.save(sys.argv[3], np.asarray(sel.ranking))
print(json.dumps(dict(seconds=time.perf_counter() - t0,
peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)))
"""


def cosine(args) -> None:
    """``kcover select --kernel cosine`` (its defaults, a fresh process) against apricot's cosine facility
    location (a fresh process, its own dense kernel), alternating, end to end from process start."""
    import kcover

    path = Path("/tmp/kcover_scale") / f"cosine_{args.n}.npy"
    if not path.exists():
        from bench_selection import mixture

        path.parent.mkdir(exist_ok=True)
        np.save(path, np.abs(mixture(args.n, 128)))  # a 50-centre positive mixture, d = 128
    x = np.load(path)
    kc_out, ap_out = Path("/tmp/kcover_scale/cos_kc.npy"), Path("/tmp/kcover_scale/cos_ap.npy")
    kc_cmd = kcover_select(path, args.k, kc_out, "--kernel", "cosine")
    for rep in range(args.repeat):
        load = load_average()
        t0 = time.perf_counter()
        done = subprocess.run(kc_cmd, capture_output=True, text=True, timeout=args.timeout, check=True)
        kc_s = time.perf_counter() - t0
        info = json.loads(done.stdout.strip().splitlines()[-1])
        t0 = time.perf_counter()
        ap = subprocess.run(
            [sys.executable, "-c", APRICOT_COSINE, str(path), str(args.k), str(ap_out)],
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=True,
        )
        ap_s = time.perf_counter() - t0
        ap_r = json.loads(ap.stdout.strip().splitlines()[-1])
        f_kc = kcover.objective(x, np.load(kc_out), kernel="cosine")
        f_ap = kcover.objective(x, np.load(ap_out), kernel="cosine")
        row = dict(
            kind="cosine",
            n=args.n,
            k=args.k,
            run=rep + 1,
            load_before=load,
            kcover_cli_seconds=round(kc_s, 2),
            apricot_seconds=round(ap_s, 2),
            apricot_fit_seconds=round(ap_r["seconds"], 2),
            apricot_peak_rss_gb=ap_r["peak_rss_gb"],
            ratio=round(ap_s / kc_s, 2),
            kcover_objective=f_kc,
            apricot_objective=f_ap,
            kcover_rounds=info["info"].get("rounds"),
            kcover_path=info["info"].get("method"),
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
        print(json.dumps(row), flush=True)
        append([row])


def report(args) -> None:
    """results/scale_paths.md (every row of results/scale.json) and results/scale_paths.png (log-log time vs N)."""
    rows = json.loads(OUT_JSON.read_text())
    rand = {(r["data"], r["n"]): r["random_objective"] for r in rows if r.get("random_objective")}
    exact = {(r["data"], r["n"]): r["objective"] for r in rows if r.get("tool") == "exact" and r.get("objective")}
    for r in rows:  # rows from before the baseline was recorded: the same (data, N) baseline
        if r.get("kind") not in ("cli", "cosine"):
            r.setdefault("random_objective", rand.get((r["data"], r["n"])))
            if r.get("reference") is None and (r["data"], r["n"]) in exact and r.get("objective"):
                r["reference"] = exact[(r["data"], r["n"])]  # no GPU reference: this machine's exact run
                r["fraction_of_exact"] = r["objective"] / r["reference"]
    lines = [
        "# Scaling: kcover's exact and approximate paths (benchmarks/bench_scale.py)",
        "",
        "2 shared CPU cores (other engineers' jobs ran at the same time: `load` is the 1-minute load "
        "average before each run), k = 1,000, rbf with the median-heuristic bandwidth. `F/exact`: the "
        "picks' objective over all N targets divided by exact lazy greedy's (results/scale_refs: a GPU's "
        "exact run at 300k and 1M, this machine's at 100k gave the same picks' value). `gap closed`: "
        "(F - F_random) / (F_exact - F_random), where the random baseline is reported.",
        "",
        "| data | N | tool | run | seconds | peak RSS GB | F/exact | gap closed | path | load |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        if r.get("kind") == "cosine":
            continue
        if r.get("kind") == "cli":
            info = r["report"]["info"]
            lines.append(
                f"| {r['data']} | {r['n']:,} | kcover select (defaults, CLI) | {r['run']} | "
                f"{r['wall_seconds']} | {r['peak_rss_gb']:.2f} | {fmt(r.get('fraction_of_exact'))} | "
                f"{gap(r['report']['objective'], r['report']['random_objective'], r.get('reference'))} | "
                f"{info.get('method')} | {r['load_before']} |"
            )
            continue
        info = r.get("info") or {}
        tool = r["tool"] + (" (fed the untransposed kernel: rows read as candidates)" if untransposed(r) else "")
        lines.append(
            f"| {r['data']} | {r['n']:,} | {tool} | {r['run']} | {r.get('seconds', r['status'])} | "
            f"{fmt(r.get('peak_rss_gb'), '.2f')} | {fmt(r.get('fraction_of_exact'))} | "
            f"{gap(r.get('objective'), r.get('random_objective'), r.get('reference'))} | "
            f"{path_name(info, r.get('date', ''))} | {r['load_before']} |"
        )
    cos = [r for r in rows if r.get("kind") == "cosine"]
    if cos:
        lines += [
            "",
            "## Cosine: `kcover select --kernel cosine` (defaults) vs apricot, end to end",
            "",
            "Fresh processes, alternating; N = 30,000, d = 128, a 50-centre positive mixture, k = 500.",
            "",
            "The first-pass tiles became (512, 512) on 4 December at 18:00 UTC (rows dated earlier used (256, 256)).",
            "From 6 December 18:30 UTC on, cache rounds read 32 rows a chunk on two cores (8 before) and the",
            "symmetric first pass unrolls its loop by 2 (benchmarks/README.md).",
            "",
            "| when (UTC) | run | kcover CLI s | apricot s | apricot / kcover | F kcover / F apricot | load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        lines += [
            f"| {r.get('date', '?')} | {r['run']} | {r['kcover_cli_seconds']} | {r['apricot_seconds']} | "
            f"{r['ratio']}x | "
            f"{r['kcover_objective'] / r['apricot_objective']:.6f} | {r['load_before']} |"
            for r in cos
        ]
    (RESULTS / "scale_paths.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.set_prop_cycle(color=plt.get_cmap("tab20").colors)
    series: dict[str, list] = {}
    for r in rows:
        if r.get("kind") == "cosine" or (r.get("kind") != "cli" and r.get("status") != "ok"):
            continue
        if untransposed(r):
            continue  # in the table, not the figure
        name = "kcover select (CLI defaults)" if r.get("kind") == "cli" else r["tool"]
        if r.get("tool") == "knn":
            name = path_name(r.get("info") or {}, r.get("date", ""))
        series.setdefault(f"{name}, {r['data']}", []).append((r["n"], r.get("wall_seconds") or r["seconds"]))
    for label, pts in sorted(series.items()):
        ns = sorted({n for n, _ in pts})
        med = [float(np.median([sec for n, sec in pts if n == size])) for size in ns]
        (line,) = ax.plot(ns, med, "-", label=label)  # the median run at each N
        ax.plot([n for n, _ in pts], [sec for _, sec in pts], "o", color=line.get_color(), ms=4)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="N (rows)",
        ylabel="seconds (2 shared CPU cores)",
        title="k = 1,000: time against N (line: median run; dots: every run)",
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(RESULTS / "scale_paths.png", dpi=120)


def untransposed(row: dict) -> bool:
    """An apricot-knn row from before the fix in :func:`apricot_knn`: it solved the other problem."""
    return row.get("tool") == "apricot-knn" and "kernel_rows" not in (row.get("info") or {})


def path_name(info: dict, date: str = "") -> str:
    """The path a row ran, with the kNN index used; kNN rows dated before ``KNN_LAZY_SINCE`` ran
    naive greedy on the lists (a full pass per pick), and say so."""
    approx = info.get("approximation") or {}
    name = info.get("method", "") + (f" ({approx['index']})" if isinstance(approx, dict) and "index" in approx else "")
    if info.get("method") == "knn" and date and date < KNN_LAZY_SINCE:
        name += ", naive greedy"
    return name


def gap(value, rand, ref) -> str:
    """(F - F_random) / (F_exact - F_random): how much of random's distance to exact greedy a path closes."""
    return "" if None in (value, rand, ref) else f"{(value - rand) / (ref - rand):.3f}"


def fmt(v, spec: str = ".4f") -> str:
    return "" if v is None else format(v, spec)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid")
    g.add_argument("--data", default="mixture", choices=["mixture", "embedding"])
    g.add_argument("--ns", type=int, nargs="+", default=[30_000, 100_000, 300_000, 1_000_000])
    g.add_argument("--k", type=int, default=1000)
    g.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    g.add_argument("--repeat", type=int, default=2)
    g.add_argument("--timeout", type=float, default=1800)
    c = sub.add_parser("cli")
    c.add_argument("--data", default="mixture", choices=["mixture", "embedding"])
    c.add_argument("--n", type=int, default=1_000_000)
    c.add_argument("--k", type=int, default=1000)
    c.add_argument("--repeat", type=int, default=1)
    c.add_argument("--timeout", type=float, default=1800)
    co = sub.add_parser("cosine")
    co.add_argument("--n", type=int, default=30_000)
    co.add_argument("--k", type=int, default=500)
    co.add_argument("--repeat", type=int, default=2)
    co.add_argument("--timeout", type=float, default=900)
    sub.add_parser("report")
    w = sub.add_parser("worker")
    w.add_argument("spec")
    args = p.parse_args(argv)
    if args.cmd == "worker":
        print(json.dumps(worker(json.loads(args.spec))))
    elif args.cmd == "grid":
        grid(args)
    elif args.cmd == "cosine":
        cosine(args)
    elif args.cmd == "report":
        report(args)
    else:
        cli_run(args)


if __name__ == "__main__":
    main()
