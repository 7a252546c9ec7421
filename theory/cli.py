"""``kcover theory mode|law|knob``: run the section-3 simulators and write figure, table, JSON."""

from __future__ import annotations

import argparse

COMMANDS = ("mode", "law", "knob")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``theory`` subcommand to the ``kcover`` parser."""
    p = subparsers.add_parser("theory", help="simulators that check the paper's Eq. 1 and Eq. 2")
    p.add_argument("which", choices=COMMANDS, help="mode (Eq. 1), law (Eq. 2) or knob (Fig. 1)")
    p.add_argument("--out", default="kcover-out/theory", help="output folder (default kcover-out/theory)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per setting (default per command)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one simulator from parsed arguments; returns the exit code."""
    raise ValueError("which: the theory simulators are not built yet")
