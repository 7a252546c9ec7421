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
from the drivers' ``results.jsonl`` files, so a rerun only redoes missing cells.
Outputs in ``OUT`` (and ``--docs``): ``calibration.md``, ``calibration.csv``, ``calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kcover.advisor.options import MARGIN
from kcover.experiments import protocol as P
from kcover.experiments.calibrate_pools import confidence_section, plot_reach, pool_sections
from kcover.experiments.calibrate_regret import regret_section
from kcover.experiments.driver import main_with_errors
from kcover.experiments.store import ResultStore, atomic_write_text

TRUTH_MARGIN = MARGIN
PAPER_GAP = 0.05
TUNING = ("bbc_news", "mnist5k")
HELD_OUT = ("digits",)
TEXT = {"task": "bbc_news", "encoder": "minilm", "candidates": 1780, "test": 445, "max_tokens": 128,
        "hash_dim": 4096, "budgets": (1, 2, 4, 8, 12)}
VISION = {"digits": {"candidates": 1297, "test": 500}, "mnist5k": {"candidates": 4000, "test": 1000}}
BACKBONE = "efficientnet-lite0"
PIXEL_SIZE = 8
RULES = ("paper", "a priori (former)", "a priori", "pilot", "pilot (fraction)", "pilot (score 10%)")


class Cell(NamedTuple):
    """One calibration cell: its coordinates, the realized truth and the advisor's records per pool.

    ``diagnostics`` from the advisor's default settings; ``variants[name]`` from the advisor with
    the options ``VARIANTS[name]`` (the pilot's budget rule, its scoring share), where they ran.
    ``pool_adv``: (seed, realized ADV) of every truth pool, for the per-pool scores.
    """

    dataset: str
    representation: str
    task: str
    budget: str
    k: int
    truth: P.AdvantageStats
    diagnostics: tuple[dict[str, Any], ...]
    variants: dict[str, tuple[dict[str, Any], ...]] = {}
    pool_adv: tuple[tuple[int, float], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.dataset} / {self.representation} / {self.task} / {self.budget}"

    @property
    def pay(self) -> bool:
        return self.truth.mean > TRUTH_MARGIN

    @property
    def close_call(self) -> bool:
        se = self.truth.std / np.sqrt(max(self.truth.seeds, 1))
        return abs(self.truth.mean - TRUTH_MARGIN) < 2 * se


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="working folder: one sub-folder per study, the tables")
    p.add_argument("--seeds", type=int, default=10, help="pools per cell for the ground truth (default 10)")
    p.add_argument("--diagnostic-seeds", type=int, default=10,
                   help="pools on which the advisor runs, per cell (default 10)")
    p.add_argument("--pool", type=int, default=600, help="points per pool (default 600)")
    p.add_argument("--parts", nargs="+", default=["text", "digits", "mnist5k"], choices=["text", "digits", "mnist5k"])
    p.add_argument("--cache-dir", default=None, help="feature cache (default OUT/cache)")
    p.add_argument("--report-only", action="store_true", help="compute nothing; rebuild the tables from results")
    p.add_argument("--docs", default=None, help="also write the tables to this folder")
    p.add_argument("--no-progress", action="store_true")
    return p


def _study_args(args: argparse.Namespace, part: str) -> tuple[Any, list[str]]:
    from kcover.experiments import llm, vision

    cache = args.cache_dir or str(Path(args.out) / "cache")
    common = ["--seeds", str(args.seeds), "--diagnostic-seeds", str(args.diagnostic_seeds), "--pool", str(args.pool),
              "--selectors", "input-FL", "learner-FL", "--cache-dir", cache, "--out", str(Path(args.out) / part)]
    if args.no_progress:
        common.append("--no-progress")
    if part == "text":
        return llm, ["--tasks", TEXT["task"], "--encoder", TEXT["encoder"], "--candidates", str(TEXT["candidates"]),
                     "--test", str(TEXT["test"]), "--max-tokens", str(TEXT["max_tokens"]), "--hash-dim",
                     str(TEXT["hash_dim"]), "--budgets", *map(str, TEXT["budgets"]), *common]
    v = VISION[part]
    return vision, ["--datasets", part, "--backbones", BACKBONE, "--candidates", str(v["candidates"]), "--test",
                    str(v["test"]), "--pixel-size", str(PIXEL_SIZE), *common]


def _rows(out: Path, part: str, where: dict[str, Any]) -> list[dict[str, Any]]:
    path = out / part / "results.jsonl"
    if not path.exists():
        return []
    return [r for r in ResultStore(path).rows() if all(r["key"].get(f) == v for f, v in where.items())]


VARIANTS = {"fraction": {"pilot_budgets": "fraction"}, "score 10%": {"pilot_test_fraction": 0.1}}


def _diags(rows: list[dict[str, Any]], where: dict[str, Any], variant: str | None, limit: int) -> list[dict[str, Any]]:
    options = VARIANTS.get(variant, {}) if variant else {}
    found = sorted((r for r in rows if r["key"]["selector"] == "diagnostic" and P.advisor_options(r["key"]) == options
                    and all(r["key"].get(f) == v for f, v in where.items())), key=lambda r: r["key"]["seed"])
    return [dict(r["value"], seed=r["key"]["seed"]) for r in found][:limit]


def run_variant(args: argparse.Namespace, part: str, variant: str) -> int:
    """The study's diagnostic cells again with the advisor options ``VARIANTS[variant]``; returns cells computed."""
    from kcover.experiments.driver import drive

    module, argv = _study_args(args, part)
    sargs = module.build_parser().parse_args(argv)
    module.check_args(sargs)
    keys = [dict(k, **VARIANTS[variant]) for k in module.cells(sargs) if k["selector"] == "diagnostic"]
    _, ran = drive(sargs.out, keys, group=module.group_of, prepare=lambda g: module.prepare_group(g, sargs),
                   compute=lambda st, k: st.cell(dict(k)), desc=f"{part} advisor ({variant})",
                   progress=not args.no_progress)
    return ran


def collect(out: Path, args: argparse.Namespace) -> list[Cell]:
    """Every cell with results under ``out``: truth from the sweep rows, advisor records from the diagnostics."""
    cells: list[Cell] = []
    if "text" in args.parts:
        rows = _rows(out, "text", {"pool": args.pool, "candidates": TEXT["candidates"], "test": TEXT["test"],
                                   "max_tokens": TEXT["max_tokens"], "task": TEXT["task"]})
        for rep in ("pretrained", "random"):
            diags = _diags(rows, {"representation": rep}, None, args.diagnostic_seeds)
            var = {v: _diags(rows, {"representation": rep}, v, args.diagnostic_seeds) for v in VARIANTS}
            for m in TEXT["budgets"]:
                where = {"representation": rep, "budget": m}
                truth = P.advantage_stats(rows, where)
                if not truth.seeds:
                    continue
                c = diags[0]["num_classes"] if diags else 5
                cells.append(Cell(TEXT["task"], rep, "label", f"{m}C", m * c, truth,
                                  tuple(_at(d, m * c) for d in diags),
                                  {v: tuple(_at(d, m * c) for d in ds) for v, ds in var.items()},
                                  tuple(P.seed_differences(rows, where).items())))
    for ds in VISION:
        if ds not in args.parts:
            continue
        rows = _rows(out, ds, {"pool": args.pool, "candidates": VISION[ds]["candidates"], "dataset": ds,
                               "test": VISION[ds]["test"], "pixel_size": PIXEL_SIZE})
        for rep in ("pretrained", "random"):
            for task in ("hard", "smooth"):
                diags = _diags(rows, {"representation": rep, "task": task}, None, args.diagnostic_seeds)
                var = {v: _diags(rows, {"representation": rep, "task": task}, v, args.diagnostic_seeds)
                       for v in VARIANTS}
                c = diags[0]["num_classes"] if diags else 10
                for name, mult in (("tight", 1), ("loose", 6)):
                    where = {"representation": rep, "task": task, "budget": name}
                    truth = P.advantage_stats(rows, where)
                    if not truth.seeds:
                        continue
                    cells.append(Cell(ds, rep, "label" if task == "hard" else "smooth", f"{name} ({mult}C)",
                                      mult * c, truth, tuple(_at(d, mult * c) for d in diags),
                                      {v: tuple(_at(d, mult * c) for d in ds) for v, ds in var.items()},
                                      tuple(P.seed_differences(rows, where).items())))
    return cells


def _at(record: dict[str, Any], k: int) -> dict[str, Any]:
    """The advisor's measurements at budget ``k`` from a diagnostic record (:func:`protocol.advisor_record`)."""
    budget = next((b for b in record["budgets"] if b["k"] == k), None)
    return {"record": {f: record.get(f) for f in ("gap", "gap_se", "misalignment", "r_eff", "r_eff_input",
                                                  "num_classes", "nn_input", "nn_learner")},
            "budget": budget, "seed": record.get("seed")}


def verdicts(cell: Cell, rule: str) -> list[str]:
    """The rule's verdict on each of the cell's advisor pools ("pay", "do-not-pay" or "borderline")."""
    from kcover.advisor.rules import budget_verdict

    out = []
    variant = rule[len("pilot ("):-1] if rule.startswith("pilot (") else None
    for d in (cell.variants.get(variant, ()) if variant else cell.diagnostics):
        r, b = d["record"], d["budget"]
        if b is None:
            out.append("n/a")
        elif rule == "paper":
            out.append("pay" if r["gap"] > PAPER_GAP else "do-not-pay")
        elif rule == "a priori (former)":
            out.append(budget_verdict(b["k"], r["num_classes"], r["gap"], r["gap_se"], r["misalignment"], r["r_eff"],
                                      r["r_eff_input"], b["input_tail"], b["learner_tail"], 0.05, 0.1, 0.1).verdict)
        elif rule == "a priori":
            out.append(budget_verdict(b["k"], r["num_classes"], r["gap"], r["gap_se"], r["misalignment"], r["r_eff"],
                                      r["r_eff_input"], b["input_tail"], b["learner_tail"], 0.05, 0.1, 0.1,
                                      nn_input=r["nn_input"], nn_learner=r["nn_learner"]).verdict)
        elif rule.startswith("pilot"):
            out.append(b["pilot"]["verdict"] if b.get("pilot") else "n/a")
        else:
            raise ValueError(f"rule: unknown {rule!r}")
    return out


def score(cells: Sequence[Cell], rule: str, borderline: str | None = None) -> tuple[int, int, int, int]:
    """(right pairs, pairs, cells right on the majority of their pools, cells) for ``rule``.

    ``borderline`` is read as wrong (None), or as "pay" / "do-not-pay".
    """
    right = pairs = cells_right = n_cells = 0
    for cell in cells:
        want = "pay" if cell.pay else "do-not-pay"
        vs = [borderline if (v == "borderline" and borderline) else v for v in verdicts(cell, rule)]
        vs = [v for v in vs if v != "n/a"]
        if not vs:
            continue
        ok = sum(v == want for v in vs)
        right += ok
        pairs += len(vs)
        cells_right += ok * 2 > len(vs)
        n_cells += 1
    return right, pairs, cells_right, n_cells


def _fraction(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "n/a"


def tables(cells: Sequence[Cell]) -> tuple[str, dict[str, Any], str]:
    """The markdown report, the JSON record and the CSV of the calibration."""
    header = ["cell", "k", "realized ADV (pools > 0)", "truth", "gap", "paper", "a priori (former)", "a priori",
              "pilot (mean ADV, splits > 0)", "pilot right"] + [f"pilot ({v}) right" for v in VARIANTS]
    body, csv_rows, record = [], [], {"cells": [], "scores": {}}
    for cell in cells:
        vs = {rule: verdicts(cell, rule) for rule in RULES}
        d0 = cell.diagnostics[0] if cell.diagnostics else None
        p0 = (d0 or {}).get("budget", {}) or {}
        pilot0 = p0.get("pilot")
        gaps = [d["record"]["gap"] for d in cell.diagnostics]
        want = "pay" if cell.pay else "do-not-pay"
        right = {rule: sum(v == want for v in vals) for rule, vals in vs.items()}
        n = len(cell.diagnostics)
        nv = {v: len(cell.variants.get(v, ())) for v in VARIANTS}
        truth = ("pay" if cell.pay else "do-not-pay") + (" (close)" if cell.close_call else "")

        def show(rule: str, vs: dict = vs, right: dict = right, n: int = n) -> str:
            vals = vs[rule]
            if not vals:
                return "n/a"
            first = vals[0]
            return f"{first} ({right[rule]}/{n})" if n > 1 else first

        pilot_txt = "n/a" if not pilot0 else (f"{pilot0['adv_mean']:+.3f} ± {pilot0['adv_se']:.3f}, "
                                              f"{pilot0['splits_positive']}/{pilot0['splits']}")
        body.append([cell.label, cell.k, cell.truth.text(), truth, f"{np.mean(gaps):+.3f}" if gaps else "n/a",
                     show("paper"), show("a priori (former)"), show("a priori"), pilot_txt, f"{right['pilot']}/{n}"]
                    + [f"{right[f'pilot ({v})']}/{nv[v]}" if nv[v] else "n/a" for v in VARIANTS])
        csv_rows.append([cell.dataset, cell.representation, cell.task, cell.budget, cell.k, cell.truth.mean,
                         cell.truth.std, cell.truth.positive, cell.truth.seeds, want, int(cell.close_call),
                         float(np.mean(gaps)) if gaps else float("nan"), n] + [right[r] for r in RULES])
        record["cells"].append({"dataset": cell.dataset, "representation": cell.representation, "task": cell.task,
                                "budget": cell.budget, "k": cell.k, "truth": cell.truth._asdict(),
                                "truth_verdict": want,
                                "close_call": bool(cell.close_call), "verdicts": vs,
                                "measurements": [{"record": d["record"],
                                                  "budget": {f: v for f, v in (d["budget"] or {}).items()
                                                             if f not in ("reasons", "why", "a_priori_why")},
                                                  "seed": d.get("seed")}
                                                 for d in cell.diagnostics],
                                "pool_adv": [[int(sd), float(a)] for sd, a in cell.pool_adv]})
    score_rows = []
    tuning, held = [c for c in cells if c.dataset in TUNING], [c for c in cells if c.dataset in HELD_OUT]
    groups = {"all": list(cells), "tuning (" + ", ".join(TUNING) + ")": tuning,
              "held out (" + ", ".join(HELD_OUT) + ")": held,
              "clear cells (not close calls)": [c for c in cells if not c.close_call],
              "held out, clear cells": [c for c in held if not c.close_call]}
    for rule in RULES:
        row = [rule]
        for name, group in groups.items():
            r, p, cr, nc = score(group, rule)
            row.append(f"{_fraction(r, p)}; cells {cr}/{nc}")
            record["scores"].setdefault(rule, {})[name] = {"right": r, "pairs": p, "cells_right": cr, "cells": nc}
        score_rows.append(row)
    for reading in ("pay", "do-not-pay"):
        row = [f"a priori (former), borderline as {reading}"]
        for name, group in groups.items():
            r, p, cr, nc = score(group, "a priori (former)", reading)
            row.append(f"{_fraction(r, p)}; cells {cr}/{nc}")
            record["scores"].setdefault(f"a priori (former), borderline as {reading}", {})[name] = {
                "right": r, "pairs": p, "cells_right": cr, "cells": nc}
        score_rows.append(row)
    n_pools = max((len(c.diagnostics) for c in cells), default=0)
    md = [
        f"Ground truth: ADV = acc(learner-FL) - acc(input-FL), mean ± sd over {cells[0].truth.seeds if cells else 0} "
        f"pools (pools with ADV > 0 / pools); truth = pay when the mean exceeds {TRUTH_MARGIN}; (close) marks a mean "
        f"within two standard errors of that margin. The advisor ran on {n_pools} of the pools per cell; each rule's "
        "column shows its verdict on the first pool and (right on k of the pools). gap: the full-budget probe gap, "
        "mean over those pools. pilot: mean ADV ± se over the pilot's splits of the first pool, splits with ADV > 0.",
        "",
        P.study_table(header, body),
        "Right: (cell, pool) pairs where the rule's verdict matches the truth, over all pairs; cells: cells where it "
        "matches on the majority of pools. `borderline` counts as wrong unless read otherwise.",
        "",
        P.study_table(["rule"] + list(groups), score_rows),
        *regret_section(record["cells"], {"tuning": TUNING, "held out": HELD_OUT}, record, TRUTH_MARGIN),
        "",
        *confidence_section({"tuning": tuning, "held out": held}, record),
        "",
        *pool_sections(cells, verdicts, RULES, TRUTH_MARGIN, {"all": list(cells), "tuning": tuning, "held out": held},
                       record),
    ]
    csv_header = ["dataset", "representation", "task", "budget", "k", "adv_mean", "adv_std", "pools_positive", "pools",
                  "truth", "close_call", "gap_mean", "advisor_pools"] + [f"right {r}" for r in RULES]
    return "\n".join(md), record, P.csv_table(csv_header, csv_rows)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the studies, then write the calibration tables."""
    for name, v in (("--seeds", args.seeds), ("--pool", args.pool)):
        if v <= 0:
            raise ValueError(f"{name}: must be positive, got {v}")
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
