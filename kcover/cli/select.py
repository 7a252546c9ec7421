"""``kcover select``: pick k rows of a feature matrix and write their indices and weights.

    kcover select --features E.npy --k 100 [--method lazy|naive|stochastic|kcenter|random]
                  [--kernel rbf|cosine|linear] [--bandwidth B] [--targets T.npy] [--seed S]
                  --out picks.npy [--json]

Writes ``picks.npy`` (k int64 indices into the rows of --features, in selection order) and
``picks.weights.npy`` next to it (k float32 weights: the targets covered by each pick, CRAIG's
gamma; for kcenter, the pool points nearest to each center). Bad input ends with exit code 2 and
a one-line error naming the argument (raised as ValueError / FileNotFoundError, which
:func:`kcover.cli.main` reports).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from kcover import _checks
from kcover.kernels import KERNELS, make_kernel
from kcover.selection import METHODS, select


def load_array(path: str, name: str) -> np.ndarray:
    """Load a ``.npy`` file without pickles, or raise naming the argument ``name``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{name}: is a directory, not a .npy file: {path}")
    if not path.endswith(".npy"):
        raise ValueError(f"{name}: expects a .npy file (numpy.save), got {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{name}: cannot read {path} as a .npy array ({msg})") from err


def parse_int(value: str, name: str) -> int:
    """An integer command-line value, or a ValueError naming ``name``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be an integer, got {value!r}") from None


def output_paths(out: str, name: str = "--out") -> tuple[str, str]:
    """(picks path, weights path) for ``--out``: ``X.npy`` -> ``X.npy``, ``X.weights.npy``."""
    if not out.endswith(".npy"):
        raise ValueError(f"{name}: must end in .npy, got {out}")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: directory does not exist: {parent}")
    if os.path.isdir(out):
        raise ValueError(f"{name}: is a directory: {out}")
    return out, out[: -len(".npy")] + ".weights.npy"


def run(args: argparse.Namespace) -> int:
    """Run ``kcover select``; returns the exit code."""
    method = _checks.choice(args.method, METHODS, "--method")
    kernel_name = _checks.choice(args.kernel, KERNELS, "--kernel")
    picks_path, weights_path = output_paths(args.out)
    x = _checks.features(load_array(args.features, "--features"), "--features")
    k = parse_int(args.k, "--k")
    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"--k: must lie in [1, {x.shape[0]}] (the rows of --features), got {k}")
    seed = parse_int(args.seed, "--seed")
    targets = None
    if args.targets is not None:
        if method == "kcenter":
            raise ValueError("--targets: kcenter covers the pool itself and takes no targets")
        targets = _checks.features(load_array(args.targets, "--targets"), "--targets")
        if targets.shape[1] != x.shape[1]:
            raise ValueError(f"--targets: has {targets.shape[1]} columns but --features has {x.shape[1]}")
    bandwidth = None if args.bandwidth is None else _checks.positive(args.bandwidth, "--bandwidth")
    if bandwidth is not None and kernel_name != "rbf":
        raise ValueError(f"--bandwidth: only the rbf kernel has one, not {kernel_name}")
    kern = make_kernel(kernel_name, bandwidth, x)

    t0 = time.perf_counter()
    sel = select(x, k, method=method, kernel=kern, targets=targets, seed=seed)
    took = time.perf_counter() - t0
    baseline = None
    if method not in ("kcenter", "random"):
        baseline = float(select(x, k, method="random", kernel=kern, targets=targets, seed=seed).objective[-1])
    np.save(picks_path, sel.indices.astype(np.int64))
    np.save(weights_path, sel.weights.astype(np.float32))

    report: dict[str, Any] = {
        "n": int(x.shape[0]), "d": int(x.shape[1]), "k": k, "method": method, "kernel": kernel_name,
        "bandwidth": float(kern.bandwidth) if kernel_name == "rbf" else None,
        "objective": float(sel.objective[-1]), "random_objective": baseline,
        "picks": picks_path, "weights": weights_path, "seconds": round(took, 3),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    bw = ""
    if kernel_name == "rbf":
        bw = f" (bandwidth {float(kern.bandwidth):.4g}{', median heuristic' if bandwidth is None else ''})"
    covering = "pool" if targets is None else f"{targets.shape[0]} targets"
    print(f"kcover select: {k} of {x.shape[0]} points (d = {x.shape[1]}), method {method}, "
          f"{kernel_name} kernel{bw}, covering the {covering}")
    if method == "kcenter":
        print(f"covering radius {sel.objective[-1]:.4g} (after the first pick: {sel.objective[0]:.4g})")
    else:
        line = f"facility-location objective F(S) = {sel.objective[-1]:.6g}"
        if baseline is not None and baseline > 0:
            line += f" (random {k}: {baseline:.6g}, ratio {sel.objective[-1] / baseline:.3f})"
        print(line)
    print(f"first picks, in order: {sel.indices[:10].tolist()}{' ...' if k > 10 else ''}")
    print(f"weights: max {sel.weights.max():.4g}, min {sel.weights.min():.4g}, total {sel.weights.sum():.6g}")
    print(f"wrote {picks_path} ({k} int64 indices, selection order) and {weights_path} ({k} float32 weights)")
    print(f"time {took:.2f} s (includes compilation)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``select`` subcommand."""
    p = subparsers.add_parser(
        "select", help="pick k rows of a feature matrix by coverage; write indices and weights",
        description="Pick k rows of --features by facility location (lazy, naive, stochastic), k-center or at "
                    "random, and write their indices (--out) and weights (<out>.weights.npy).")
    p.add_argument("--features", required=True, metavar="E.npy", help="(N, d) feature matrix, .npy")
    p.add_argument("--k", required=True, metavar="K", help="number of points to pick, 1 <= K <= N")
    p.add_argument("--method", default="lazy", metavar="M",
                   help=f"selector: {', '.join(METHODS)} (default lazy)")
    p.add_argument("--kernel", default="rbf", metavar="KERNEL",
                   help=f"similarity: {', '.join(KERNELS)} (default rbf, median-heuristic bandwidth)")
    p.add_argument("--bandwidth", default=None, metavar="B", help="rbf bandwidth (default: median heuristic)")
    p.add_argument("--targets", default=None, metavar="T.npy",
                   help="(T, d) points to cover (default: the pool itself); facility location and random only")
    p.add_argument("--seed", default="0", metavar="S", help="seed for stochastic, kcenter's first center, random")
    p.add_argument("--out", required=True, metavar="PICKS.npy",
                   help="where to write the indices; weights go to PICKS.weights.npy")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.set_defaults(func=run)
