"""``kcover select``: pick k rows of a feature matrix and write their indices and weights.

(``kcover select --data PATH ...`` picks rows of a table and writes them: see
:mod:`kcover.cli.select_data` and docs/data.md.)

    kcover select --features E.npy|E.npz [--key NAME] --k 100
                  [--method auto|lazy|naive|stochastic|knn|kcenter|random] [--kernel rbf|cosine|linear]
                  [--bandwidth B] [--targets T.npy] [--target-weights W.npy] [--initial I.npy]
                  [--epsilon E] [--block B|auto] [--cache|--no-cache] [--precision highest|default]
                  [--seed S] --out picks.npy [--json]
                  [--exact] [--targets-sketch K] [--partitions P] [--split random|kmeans] [--neighbors M]

The defaults are the fast path: ``--block auto`` and, unless ``--cache`` or ``--no-cache`` is
given, the float16 bound cache when it fits (see :mod:`kcover.selection.facility_options`); what they chose is in
the summary and the JSON (``block``, ``cache``). ``--method auto`` (the default) runs exact lazy
greedy while its first pass fits a time budget and a weighted target sketch above it
(:mod:`kcover.selection.auto`); the summary and the JSON (``info.method``,
``info.approximation``, ``info.reason``) say which path ran and why, and ``objective`` is
always F over every real target. ``.npy`` features are memory-mapped, not read
twice.

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

from kcover import checks
from kcover.cli import distributed
from kcover.cli.large_pools import add_scale_args, path_line, scale_options
from kcover.cli.select_data import add_data_arguments
from kcover.data.budget import resolve_budget
from kcover.kernels import KERNELS, make_kernel
from kcover.selection.entry import METHODS, random_objective
from kcover.selection.kcenter import DEFAULT_KERNEL as KCENTER_KERNEL
from kcover.selection.similarity import PRECISIONS


def load_array(path: str, name: str, *, key: str | None = None, mmap: bool = False) -> np.ndarray:
    """Load a ``.npy`` file (memory-mapped with ``mmap``) or one array of a ``.npz`` file (``key``;
    optional when it holds one array), without pickles, or raise naming the argument ``name``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{name}: is a directory, not a .npy file: {path}")
    if not path.endswith((".npy", ".npz")):
        raise ValueError(f"{name}: expects a .npy file (numpy.save) or .npz (numpy.savez), got {path}")
    if key is not None and not path.endswith(".npz"):
        raise ValueError(f"--key: names an array inside a .npz file, but {name} is {path}")
    try:
        if path.endswith(".npy"):
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if key is None and len(names) != 1:
                raise ValueError(f"--key: {path} holds {len(names)} arrays ({', '.join(names)}); name one")
            if key is not None and key not in names:
                raise ValueError(f"--key: {path} has no array {key!r}; it has {', '.join(names)}")
            return z[names[0] if key is None else key]
    except (ValueError, OSError, EOFError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        if msg.startswith("--key:"):
            raise ValueError(msg) from None
        raise ValueError(f"{name}: cannot read {path} as a numpy array ({msg})") from err


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


def selection_options(args: argparse.Namespace, method: str, n: int, t: int | None, joined: bool) -> dict[str, Any]:
    """The selector keywords that the flags ask for; a flag that does not apply to ``method`` is an error."""
    fl = method in ("auto", "lazy", "naive", "stochastic")
    opts: dict[str, Any] = scale_options(args, method, n)
    if args.epsilon is not None:
        if method != "stochastic":
            raise ValueError(f"--epsilon: applies to --method stochastic only, not {method}")
        opts["epsilon"] = checks.positive(args.epsilon, "--epsilon")
        if not opts["epsilon"] < 1:
            raise ValueError(f"--epsilon: must lie in (0, 1), got {args.epsilon}")
    for flag, value, default in (
        ("--block", args.block, "auto"),
        ("--cache", args.cache, "auto"),
        ("--precision", args.precision, "highest"),
    ):
        if value != default and not fl:
            raise ValueError(f"{flag}: applies to facility location (auto, lazy, naive, stochastic) only, not {method}")
    if fl:
        opts["block"] = "auto" if args.block == "auto" else parse_int(args.block, "--block")
        if opts["block"] != "auto" and opts["block"] <= 0:
            raise ValueError(f"--block: must be a positive integer or auto, got {args.block}")
        opts["cache"] = args.cache
        opts["precision"] = checks.choice(args.precision, tuple(PRECISIONS), "--precision")
    if args.target_weights is not None:
        if method == "kcenter":
            raise ValueError("--target-weights: kcenter covers the pool itself and takes no target weights")
        w = load_array(distributed.process_path(args.target_weights, joined), "--target-weights")
        opts["target_weights"] = checks.weights(w, n if t is None else t, "--target-weights")
    if args.initial is not None:
        idx = load_array(args.initial, "--initial")
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"--initial: must hold a 1-d array of integer indices, got {idx.dtype} {idx.shape}")
        opts["initial"] = checks.indices(idx, n, "--initial")
    return opts


def run(args: argparse.Namespace) -> int:
    """Run ``kcover select``; returns the exit code."""
    if args.data is not None:
        from kcover.cli.select_data import run_select

        return run_select(args)
    if args.features is None:
        raise ValueError("--features: give --features E.npy, or --data PATH (a table; see docs/data.md)")
    joined = distributed.join(args)  # a distributed run: before any JAX computation
    method = checks.choice(args.method, METHODS, "--method")
    kernel_name = checks.choice(args.kernel or (KCENTER_KERNEL if method == "kcenter" else "rbf"), KERNELS, "--kernel")
    picks_path, weights_path = output_paths(distributed.process_path(args.out, joined))
    x = checks.features(load_array(args.features, "--features", key=args.key, mmap=True), "--features")
    k = resolve_budget(args.k, x.shape[0])
    seed = parse_int(args.seed, "--seed")
    targets = None
    if args.targets is not None:
        if method == "kcenter":
            raise ValueError("--targets: kcenter covers the pool itself and takes no targets")
        targets = checks.features(load_array(distributed.process_path(args.targets, joined), "--targets"), "--targets")
        if targets.shape[1] != x.shape[1]:
            raise ValueError(f"--targets: has {targets.shape[1]} columns but --features has {x.shape[1]}")
    bandwidth = None if args.bandwidth is None else checks.positive(args.bandwidth, "--bandwidth")
    if bandwidth is not None and kernel_name != "rbf":
        raise ValueError(f"--bandwidth: only the rbf kernel has one, not {kernel_name}")
    kern = make_kernel(kernel_name, bandwidth, x)
    options = selection_options(args, method, x.shape[0], None if targets is None else targets.shape[0], joined)

    t0 = time.perf_counter()
    sel = distributed.select_rows(
        joined, args.local_targets, x, k, method=method, kernel=kern, targets=targets, seed=seed, **options
    )
    took = time.perf_counter() - t0
    baseline = None
    if method not in ("kcenter", "random") and not args.local_targets:  # local targets: no single-process baseline
        baseline = random_objective(
            x,
            k,
            kernel=kern,
            targets=targets,
            seed=seed,
            **{o: options[o] for o in ("target_weights", "initial") if o in options},
        )
    written = distributed.writes_output(args, joined)
    if written:
        np.save(picks_path, sel.indices.astype(np.int64))
        np.save(weights_path, sel.weights.astype(np.float32))

    report: dict[str, Any] = {
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "k": k,
        "method": method,
        "kernel": kernel_name,
        "bandwidth": float(kern.bandwidth) if kernel_name == "rbf" else None,
        "objective": float(sel.info.get("exact_objective", sel.objective[-1])),
        "random_objective": baseline,
        "picks": picks_path,
        "weights": weights_path,
        "seconds": round(took, 3),
        "block": sel.info.get("block"),
        "cache": sel.info.get("cache"),
        "auto": [o for o in ("block", "cache") if o in sel.info and getattr(args, o) == "auto"],
        "info": {
            key: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v)
            for key, v in sel.info.items()
        },
    }
    if args.json:
        print(json.dumps(report))
        return 0
    bw = ""
    if kernel_name == "rbf":
        bw = f" (bandwidth {float(kern.bandwidth):.4g}{', median heuristic' if bandwidth is None else ''})"
    covering = "pool" if targets is None else f"{targets.shape[0]} targets"
    print(
        f"kcover select: {k} of {x.shape[0]} points (d = {x.shape[1]}), method {method}, "
        f"{kernel_name} kernel{bw}, covering the {covering}"
    )
    if method == "kcenter":
        print(f"covering radius {sel.objective[-1]:.4g} (after the first pick: {sel.objective[0]:.4g})")
    else:
        value = float(report["objective"])
        line = f"facility-location objective F(S) = {value:.6g}"
        if baseline is not None and baseline > 0:
            line += f" (random {k}: {baseline:.6g}, ratio {value / baseline:.3f})"
        print(line)
        if "method" in sel.info:
            print(path_line(sel.info))
    if "block" in sel.info:
        chosen = [
            f"block {sel.info['block']}" + (" (auto)" if args.block == "auto" else ""),
            f"cache {'on' if sel.info['cache'] else 'off'}" + (" (auto)" if args.cache == "auto" else ""),
        ]
        print(
            f"ran with {', '.join(chosen)}; {sel.info.get('similarity_columns', 0):,} similarity columns, "
            f"{sel.info.get('rounds', 0):,} lazy rounds"
        )
    print(f"first picks, in order: {sel.indices[:10].tolist()}{' ...' if k > 10 else ''}")
    print(f"weights: max {sel.weights.max():.4g}, min {sel.weights.min():.4g}, total {sel.weights.sum():.6g}")
    if written:
        print(f"wrote {picks_path} ({k} int64 indices, selection order) and {weights_path} ({k} float32 weights)")
    print(f"time {took:.2f} s (includes compilation)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``select`` subcommand."""
    p = subparsers.add_parser(
        "select",
        help="pick k rows of a feature matrix or a table by coverage",
        description="Pick k rows of --features by facility location (lazy, naive, stochastic), k-center or at "
        "random, and write their indices (--out) and weights (<out>.weights.npy); or pick k rows of "
        "a table (--data) and write them, unchanged, to --out (see docs/data.md).",
    )
    p.add_argument(
        "--features",
        default=None,
        metavar="E.npy",
        help="(N, d) feature matrix: .npy (memory-mapped) or .npz (see --key)",
    )
    p.add_argument("--key", default=None, metavar="NAME", help="the array of a .npz --features file to use")
    p.add_argument(
        "--k", required=True, metavar="K", help="number of points to pick, 1 <= K <= N, or a fraction of N: 10%% or 0.1"
    )
    p.add_argument(
        "--method",
        default="auto",
        metavar="M",
        help=f"selector: {', '.join(METHODS)} (default auto: exact lazy greedy while its first pass fits "
        "the time budget, a weighted target sketch above; see --exact)",
    )
    p.add_argument(
        "--kernel",
        default=None,
        metavar="KERNEL",
        help=f"similarity: {', '.join(KERNELS)} (default rbf with the median-heuristic bandwidth; "
        f"for kcenter {KCENTER_KERNEL}, i.e. Euclidean distance)",
    )
    p.add_argument("--bandwidth", default=None, metavar="B", help="rbf bandwidth (default: median heuristic)")
    p.add_argument(
        "--targets",
        default=None,
        metavar="T.npy",
        help="(T, d) points to cover (default: the pool itself); facility location and random only",
    )
    p.add_argument(
        "--target-weights",
        default=None,
        metavar="W.npy",
        help="(T,) non-negative weight of each target (default ones); facility location and random",
    )
    p.add_argument(
        "--initial",
        default=None,
        metavar="I.npy",
        help="indices of an initial subset: counted as covering, never picked again",
    )
    p.add_argument(
        "--epsilon",
        default=None,
        metavar="E",
        help="stochastic greedy's accuracy in (0, 1) (default 0.1; 0.5 evaluates a third as many columns)",
    )
    p.add_argument(
        "--block",
        default="auto",
        metavar="B",
        help="similarity columns per call, or auto (default: 16 on the CPU, 1024 on a GPU/TPU)",
    )
    cache = p.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        dest="cache",
        action="store_const",
        const=True,
        default="auto",
        help="lazy greedy's float16 bound cache on (N x T x 2 bytes); default: on when it fits "
        "a quarter of the available memory (rbf, cosine)",
    )
    cache.add_argument("--no-cache", dest="cache", action="store_const", const=False, help="the cache off")
    p.add_argument(
        "--precision",
        default="highest",
        metavar="P",
        help="matrix products: highest (float32, default) or default (TF32/bf16 on a GPU)",
    )
    p.add_argument("--seed", default="0", metavar="S", help="seed for stochastic, kcenter's first center, random")
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="with --features: PICKS.npy, the indices (weights go to PICKS.weights.npy); with --data: "
        "the selected rows, as .jsonl, .csv, .tsv, .parquet or a datasets folder (no extension)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    add_scale_args(p)
    distributed.add_distributed_args(p)
    add_data_arguments(p)
    p.set_defaults(func=run)
