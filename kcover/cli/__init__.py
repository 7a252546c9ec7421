"""The ``kcover`` command line.

Subcommands live in their own modules and are found through the ``kcover.commands`` entry-point
group (see pyproject.toml), so this module never imports the packages built on top of kcover.
Each entry point names a function ``register(subparsers)`` that adds a parser whose ``func``
default takes the parsed arguments and returns an exit code.

Bad input (ValueError, missing files) ends with a one-line error on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points

import numpy as np


def _quickstart(args: argparse.Namespace) -> int:
    from kcover.selection import select

    rng = np.random.default_rng(args.seed)
    centers = rng.normal(scale=4.0, size=(args.modes, args.dim))
    labels = rng.integers(args.modes, size=args.n)
    x = (centers[labels] + rng.normal(size=(args.n, args.dim))).astype(np.float32)
    print(f"kcover quickstart: {args.n} x {args.dim} features from {args.modes} Gaussian modes, k = {args.k}")
    t0 = time.perf_counter()
    sel = select(x, args.k, method=args.method, kernel="rbf")
    took = time.perf_counter() - t0
    rand = select(x, args.k, method="random", kernel="rbf", seed=args.seed)
    covered = np.unique(labels[sel.indices]).size
    covered_r = np.unique(labels[rand.indices]).size
    print(f"picked (first 10, in order): {sel.indices[:10].tolist()}")
    print(f"facility-location objective F(S) = {sel.objective[-1]:.1f} "
          f"(random subset: {rand.objective[-1]:.1f}, ratio {sel.objective[-1] / rand.objective[-1]:.3f})")
    print(f"modes covered: {covered}/{args.modes} (random: {covered_r}/{args.modes})")
    print(f"largest weight (targets covered by one pick): {sel.weights.max():.0f}; time {took:.2f} s "
          "(includes compilation)")
    return 0


def _register_quickstart(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="select from generated data and print what was picked")
    p.add_argument("--n", type=int, default=10_000, help="pool size (default 10000)")
    p.add_argument("--dim", type=int, default=64, help="feature dimension (default 64)")
    p.add_argument("--modes", type=int, default=50, help="Gaussian modes (default 50)")
    p.add_argument("--k", type=int, default=100, help="budget (default 100)")
    p.add_argument("--method", default="lazy", help="selector (default lazy)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_quickstart)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="kcover", description="Coverage data selection in a chosen geometry.")
    sub = parser.add_subparsers(dest="command", required=True)
    _register_quickstart(sub)
    for ep in sorted(entry_points(group="kcover.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, IsADirectoryError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"kcover {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
