"""``kcover theory mode|law|knob [--out DIR] [--seeds N]``: the section-3 simulators.

Thin argparse glue: the simulations and statistics are :mod:`kcover.theory.summaries`, the
figures, tables and records one renderer per command (:mod:`kcover.theory.mode_render`,
:mod:`kcover.theory.law_render`, :mod:`kcover.theory.knob_render`); the commentary is in
``docs/theory.md``.
Each command writes ``<name>.png`` (figure), ``<name>.md`` (table) and ``<name>.json``
(record) to DIR, shows a progress bar on stderr and prints a short summary with the paper's
claim beside our measurement. Stable JSON keys for scripts:

* ``mode.json``: ``instances`` (one dict per instance and budget, with ``adv_measured`` and
  ``adv_predicted``), ``summary``;
* ``law.json``: ``c_empirical``, ``violations`` (every one, with its parameters), ``rows``;
* ``knob.json``: ``alpha``, ``adv_mean``, ``adv_std`` (lists over alpha).
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Any

COMMANDS = ("mode", "law", "knob")
DEFAULT_SEEDS = {"mode": 3, "law": 2, "knob": 5}

# The simulation (JAX) and the figures (matplotlib) load on first use, so that building the
# ``kcover`` parser stays light: summaries in kcover.theory.summaries, renderers in kcover.theory.*_render.
_LAZY = {
    "run_mode": "kcover.theory.mode_render",
    "run_law": "kcover.theory.law_render",
    "run_knob": "kcover.theory.knob_render",
    "fmt_or_dash": "kcover.theory.report",
    "PAPER_KNOB": "kcover.theory.summaries",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kcover.theory.cli' has no attribute {name!r}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``theory`` subcommand to the ``kcover`` parser."""
    p = subparsers.add_parser(
        "theory",
        help="simulators that check the paper's Eq. 1, Eq. 2 and Fig. 1",
        description="mode: Eq. 1 on the latent-mode model; law: the product law Eq. 2; knob: Fig. 1.",
    )
    p.add_argument("which", choices=COMMANDS, help="mode (Eq. 1), law (Eq. 2) or knob (Fig. 1)")
    p.add_argument("--out", default="kcover-out/theory", help="output folder (default kcover-out/theory)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per setting (default: mode 3, law 2, knob 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one simulator from parsed arguments (``which``, ``out``, ``seeds``); returns 0."""
    which = args.which
    if which not in COMMANDS:
        raise ValueError(f"which: unknown command {which!r}; choose one of {', '.join(COMMANDS)}")
    seeds = DEFAULT_SEEDS[which] if args.seeds is None else args.seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds: must be a positive integer, got {seeds!r}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"out: cannot create {out} ({err.strerror or err})") from err
    t0 = time.perf_counter()
    runner = __getattr__(f"run_{which}")
    paths, summary = runner(out, seeds)
    took = time.perf_counter() - t0
    print(f"kcover theory {which}: {seeds} seed(s), {took:.1f} s")
    for line in summary:
        print("  " + line)
    print("  wrote " + ", ".join(str(p) for p in paths))
    return 0
