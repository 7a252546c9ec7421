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


class Memo:
    """Per-group memoization: ``memo(key, fn)`` computes ``fn()`` once per key (features, picks)."""

    def __init__(self) -> None:
        self._memo: dict[Hashable, Any] = {}

    def memo(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]


def as_settings(cls: type, args: Any) -> Any:
    """``args`` (an argparse namespace with the same names, or already a ``cls``) as the typed settings ``cls``."""
    if isinstance(args, cls):
        return args
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    return cls(**values)


def main_with_errors(prog: str, parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
                     argv: Sequence[str] | None = None) -> int:
    """Parse, run, and turn bad input into a one-line error with exit code 2."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{prog}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
