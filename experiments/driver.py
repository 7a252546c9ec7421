"""The machinery both study drivers share: resumable cells grouped by what they load.

A study is a list of cell keys; each key belongs to a *group* (e.g. one dataset and backbone)
whose expensive state (images, encoder features) is prepared once, when the first unfinished
cell of the group comes up, and dropped when the next group starts. Finished groups are never
prepared again, so a rerun of a finished study only rewrites its report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kcover.experiments.store import ResultStore, run_cells


def drive(
    out: str | Path,
    todo: Sequence[Mapping[str, Any]],
    *,
    group: Callable[[Mapping[str, Any]], Hashable],
    prepare: Callable[[Hashable], Any],
    compute: Callable[[Any, Mapping[str, Any]], Mapping[str, Any]],
    desc: str,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """Run every unfinished cell of ``todo`` into ``out/results.jsonl``.

    ``prepare(group_key)`` builds a group's state; ``compute(state, key)`` one cell's value.
    Returns the result rows of ``todo`` (finished earlier or now) and how many were computed.
    """
    store = ResultStore(Path(out) / "results.jsonl")
    state: dict[Hashable, Any] = {}

    def one(key: Mapping[str, Any]) -> Mapping[str, Any]:
        g = group(key)
        if g not in state:
            state.clear()
            state[g] = prepare(g)
        return compute(state[g], key)

    ran = run_cells(store, todo, one, desc=desc, disable=None if progress else True)
    wanted = {json.dumps(dict(c), sort_keys=True) for c in todo}
    rows = [r for r in store.rows() if json.dumps(r["key"], sort_keys=True) in wanted]
    return rows, ran


def run_study(
    args: Any,
    todo: Sequence[Mapping[str, Any]],
    group: Callable[[Mapping[str, Any]], Hashable],
    prepare: Callable[[Hashable, Any], Any],
    report: Callable[[list[dict[str, Any]], Path], Sequence[Path]],
    desc: str,
    table: str,
) -> int:
    """A study driver's ``run``: every unfinished cell of ``todo`` (a cell's value is ``state.cell(key)``
    of its group's ``prepare(group_key, args)``), then ``report`` into ``args.out``; prints what was
    computed and written, and the ``table`` file. Returns 0."""
    rows, ran = drive(
        args.out,
        todo,
        group=group,
        prepare=lambda g: prepare(g, args),
        compute=lambda st, k: st.cell(dict(k)),
        desc=desc,
        progress=not args.no_progress,
    )
    paths = report(rows, Path(args.out))
    print(f"{ran} cells computed, {len(rows) - ran} reused; wrote {', '.join(str(p) for p in paths)}")
    print((Path(args.out) / table).read_text())
    return 0


class Memo:
    """Per-group memoization: ``memo(key, fn)`` computes ``fn()`` once per key (features, picks)."""

    def __init__(self) -> None:
        self._memo: dict[Hashable, Any] = {}

    def memo(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudySettings:
    """What every study driver takes; each study's settings add their own fields. The command line's
    flags carry the same names (``--diagnostic-seeds`` is ``diagnostic_seeds``)."""

    out: str
    seeds: int = 3
    pool: int = 3000
    candidates: int | None = None
    test: int = 2000
    diagnostic_seeds: int = 1
    weights_dir: str | None = None
    data_dir: str | None = None
    batch_size: int | None = None
    dtype: str = "float32"
    cache_dir: str | None = None
    no_progress: bool = False
    kernel: str = "rbf"  # the selection kernel in both geometries, and the advisor's


def kernel_field(kernel: str, default: str) -> dict[str, str]:
    """``{"kernel": kernel}`` for a cell key when the run selects with another kernel than its study's
    ``default``, else ``{}``: keys written before the flag existed stay valid."""
    return {} if kernel == default else {"kernel": kernel}


def add_study_flags(p: argparse.ArgumentParser, cls: type, what: str, *, weights_help: str, data_help: str) -> None:
    """The flags of :class:`StudySettings`, with the defaults of the study's settings ``cls``."""
    p.add_argument("--weights-dir", default=cls.weights_dir, help=weights_help)
    p.add_argument("--data-dir", default=cls.data_dir, help=data_help)
    p.add_argument("--seeds", type=int, default=cls.seeds)
    p.add_argument("--pool", type=int, default=cls.pool)
    p.add_argument(
        "--candidates",
        type=int,
        default=cls.candidates,
        help=f"{what} of the pool split encoded, each seed's pool drawn from them (default 2 x --pool)",
    )
    p.add_argument("--test", type=int, default=cls.test, help=f"held-out {what} scored (default {cls.test})")
    p.add_argument(
        "--diagnostic-seeds",
        type=int,
        default=cls.diagnostic_seeds,
        help="run kcover advise (pilot and a priori) on the pools of this many seeds (default 1; 0: none)",
    )
    p.add_argument("--batch-size", type=int, default=cls.batch_size, help="encoder batch size")
    p.add_argument("--dtype", default=cls.dtype, choices=["float32", "bfloat16"])
    p.add_argument("--cache-dir", default=cls.cache_dir, help="feature cache (default OUT/cache)")
    p.add_argument(
        "--kernel",
        default=cls.kernel,
        choices=["rbf", "cosine"],
        help=f"selection kernel in both geometries, also the advisor's (default {cls.kernel})",
    )
    p.add_argument("--out", required=True, help="output folder (results.jsonl, tables, figures)")
    p.add_argument("--no-progress", action="store_true")


def check_study(args: Any, positive: dict[str, int]) -> Any:
    """Check the shared settings and the study's ``positive`` ones ({flag: value}); fill in ``candidates``."""
    if args.candidates is None:
        args = dataclasses.replace(args, candidates=2 * args.pool)
    shared = {"--seeds": args.seeds, "--pool": args.pool, "--test": args.test, "--candidates": args.candidates}
    for name, v in {**shared, **positive}.items():
        if v <= 0:
            raise ValueError(f"{name}: must be positive, got {v}")
    if not 0 <= args.diagnostic_seeds <= args.seeds:
        raise ValueError(f"--diagnostic-seeds: must lie in [0, --seeds = {args.seeds}], got {args.diagnostic_seeds}")
    return args


def as_settings(cls: type, args: Any) -> Any:
    """``args`` (an argparse namespace with the same names, or already a ``cls``) as the typed settings ``cls``."""
    if isinstance(args, cls):
        return args
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    return cls(**values)


def main_with_errors(
    prog: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse, run, and turn bad input into a one-line error with exit code 2."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{prog}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
