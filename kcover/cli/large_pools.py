"""``kcover select``'s options for large pools (issue 26): ``--exact``, ``--targets-sketch``,
``--partitions``, ``--split``, ``--neighbors``, and the summary line that says which path ran.

Kept apart from :mod:`kcover.cli.select` so that the approximate paths' flags live in one block;
what they do: :mod:`kcover.selection.auto` and docs/scale.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from kcover import checks


def count(value: str, name: str, maximum: int | None = None) -> int:
    """A positive integer flag value (at most ``maximum``), or a ValueError naming the flag ``name``."""
    if not str(value).strip().lstrip("+-").isdigit():
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return checks.positive_int(int(value), name, maximum=maximum)


def scale_options(args: argparse.Namespace, method: str, n: int) -> dict[str, Any]:
    """The keywords of the approximate paths (issue 26's flags); a flag that does not apply is an error."""
    fl = method in ("auto", "lazy", "naive", "stochastic")
    opts: dict[str, Any] = {}
    if args.exact:
        if method != "auto":
            raise ValueError(f"--exact: applies to --method auto only (the default), not {method}")
        if args.targets_sketch is not None or args.partitions is not None:
            raise ValueError("--exact: cannot be combined with --targets-sketch or --partitions")
        opts["exact"] = True
    for flag, value in (("--targets-sketch", args.targets_sketch), ("--partitions", args.partitions)):
        if value is not None and not fl:
            raise ValueError(f"{flag}: applies to facility location (auto, lazy, naive, stochastic) only, not {method}")
    if args.targets_sketch is not None:
        opts["targets_sketch"] = count(args.targets_sketch, "--targets-sketch")
    if args.partitions is not None:
        opts["partitions"] = count(args.partitions, "--partitions", maximum=n)
    if args.split is not None:
        if args.partitions is None:
            raise ValueError("--split: needs --partitions")
        opts["split"] = checks.choice(args.split, ("random", "kmeans"), "--split")
    if args.neighbors is not None:
        if method != "knn":
            raise ValueError(f"--neighbors: applies to --method knn only, not {method}")
        opts["neighbors"] = count(args.neighbors, "--neighbors", maximum=n)
    return opts


def add_scale_args(parser: argparse.ArgumentParser) -> None:
    """The approximate paths' options (an argument group of ``parser``); see docs/scale.md."""
    g = parser.add_argument_group("large pools", "approximate facility location; see docs/scale.md")
    g.add_argument("--exact", action="store_true", help="--method auto: always exact lazy greedy")
    g.add_argument(
        "--targets-sketch",
        default=None,
        metavar="K",
        help="cover K weighted k-means centres of the targets instead of every target "
        "(auto: max(1024, k) above the exact budget)",
    )
    g.add_argument(
        "--partitions",
        default=None,
        metavar="P",
        help="partitioned greedy (GreeDi): greedy in P parts of the pool, then over their picks; "
        "in a distributed run the parts are spread over the processes",
    )
    g.add_argument(
        "--split", default=None, metavar="S", help="how --partitions splits the pool: random (default) or kmeans"
    )
    g.add_argument(
        "--neighbors",
        default=None,
        metavar="M",
        help="--method knn: neighbours kept per target (default 32; faiss when installed)",
    )


def path_line(info: Any) -> str:
    """One summary line: which facility-location path ran, its approximation, and why."""
    approx = info.get("approximation")
    text = f"path: {info['method']}" + (
        " (exact)"
        if not approx
        else " (approximate: "
        + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in approx.items())
        + ")"
    )
    if approx:
        text += f"; F over the surrogate {info['approximate_objective']:.6g}"
        built = [
            f"{name} {info[key]:.2f} s"
            for name, key in (("index", "index_seconds"), ("sketch", "sketch_seconds"), ("selection", "select_seconds"))
            if key in info
        ]
        text += "; " + ", ".join(built)
    return text + (f"; {info['reason']}" if info.get("reason") else "")
