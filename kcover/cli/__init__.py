"""The ``kcover`` command line.

Subcommands live in their own modules and are found through the ``kcover.commands`` entry-point
group (see pyproject.toml), so this module never imports the packages built on top of kcover.
Each entry point names a function ``register(subparsers)`` that adds a parser whose ``func``
default takes the parsed arguments and returns an exit code.

Bad input (ValueError, missing files) ends with a one-line error on stderr and exit code 2.

Every command starts warm: JAX's persistent compilation cache is on, in
``$KCOVER_COMPILE_CACHE`` (default ``$XDG_CACHE_HOME/kcover/jax``, i.e. ``~/.cache/kcover/jax``);
``KCOVER_COMPILE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points

import numpy as np


def _quickstart(args: argparse.Namespace) -> int:
    from kcover.selection.entry import select

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
    print(
        f"facility-location objective F(S) = {sel.objective[-1]:.1f} "
        f"(random subset: {rand.objective[-1]:.1f}, ratio {sel.objective[-1] / rand.objective[-1]:.3f})"
    )
    print(f"modes covered: {covered}/{args.modes} (random: {covered_r}/{args.modes})")
    print(
        f"largest weight (targets covered by one pick): {sel.weights.max():.0f}; time {took:.2f} s "
        "(includes compilation)"
    )
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


COMPILE_CACHE_ENV = "KCOVER_COMPILE_CACHE"


def compile_cache_dir() -> str | None:
    """Where the command line keeps JAX's compiled programs, or None when turned off."""
    value = os.environ.get(COMPILE_CACHE_ENV, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    if value:
        return os.path.expanduser(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kcover", "jax")


def enable_compile_cache() -> str | None:
    """Turn on JAX's persistent compilation cache (see the module note); returns its folder."""
    path = compile_cache_dir()
    if path is None:
        return None
    import jax

    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # an unwritable cache folder must not stop the command
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every program: small ones add up
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="kcover",
        description="Coverage data selection in a chosen geometry.",
        epilog=f"Compiled programs are cached across runs in {compile_cache_dir() or '(off)'}; set "
        f"{COMPILE_CACHE_ENV} to another folder, or to 'off' to turn the cache off.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _register_quickstart(sub)
    for ep in sorted(entry_points(group="kcover.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    enable_compile_cache()
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, IsADirectoryError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"kcover {args.command}: error: {msg}", file=sys.stderr)
        return 2


def run_and_exit(argv: Sequence[str] | None = None) -> None:
    """The ``kcover`` executable: :func:`main`, then leave without the interpreter's teardown.

    Tearing the interpreter down (freeing every module and XLA's client) is skipped: it is a
    noticeable share of a short command (benchmarks/README.md, "Measurements behind the code").
    Everything the command writes is closed by then; standard output and error are flushed and
    the exit handlers (JAX's clean-up and distributed shutdown, logging) still run, in order,
    before the process ends.
    """
    code = main(argv)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # another Python: the ordinary exit
        sys.exit(code)
    run_exit_handlers()  # they may print too: flush after them
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run_and_exit()
