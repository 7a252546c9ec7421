"""Two more readings of the calibration (:mod:`kcover.experiments.calibrate`): per pool, and the reach gap.

* :func:`pool_scores` -- each rule scored against the realized ADV of *the same pool* it ran on
  (the user's question: does learner geometry pay on my pool?), and the ceiling of any rule that
  sees one pool when it is scored against the cell's mean over pools (that pool's own realized
  ADV, used as the verdict).
* :func:`reach_ranking` -- how well the advisor's reach gap D(k) (``kcover advise``'s
  ``reach_gap``, mean over the advisor's pools) ranks cells by their realized mean ADV: Spearman
  rank correlation per dataset, over representations, tasks and budgets; beside it the label-tail
  difference and the pilot's measured ADV (:data:`PREDICTORS`).
* :func:`plot_reach` -- the same as a figure: realized ADV against the reach gap, per dataset.
* :func:`pool_sections` -- both readings as markdown, recorded into the calibration's JSON.
* :func:`confidence_section` -- is the pilot's stated confidence right as often as it says?

Cells are :class:`kcover.experiments.calibration.cells.Cell` (read by attribute only: ``dataset``,
``representation``, ``task``, ``k``, ``truth``, ``pay``, ``pool_adv``, ``diagnostics``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kcover.advisor.pilot_rules import pilot_confidence
from kcover.experiments import protocol as P


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of ``a`` (n,), ties sharing their mean rank."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, np.float64)
    ranks[order] = np.arange(a.size, dtype=np.float64)
    for v in np.unique(a):
        tie = a == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation of two equal-length sequences (NaN with fewer than 3 pairs or a constant one)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"a, b: must be 1-d and of equal length, got {x.shape} and {y.shape}")
    if x.size < 3:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def pool_scores(
    cells: Sequence[Any], verdicts: Callable[[Any, str], list[str]], rules: Sequence[str], margin: float
) -> dict[str, tuple[int, int]]:
    """Per rule, (right, pairs) against each pool's own realized ADV (pay when it exceeds ``margin``).

    Also ``"own pool's realized ADV (ceiling)"``: that pool's realized ADV as the verdict, scored
    against the cell's truth (mean over all pools), the best a rule that sees one pool can expect.
    ``verdicts(cell, rule)`` gives the rule's verdict per advisor pool, in the order of ``cell.diagnostics``.
    """
    out: dict[str, tuple[int, int]] = {}
    for rule in rules:
        right = pairs = 0
        for cell in cells:
            adv = dict(cell.pool_adv)
            for d, v in zip(cell.diagnostics, verdicts(cell, rule)):
                if v == "n/a" or d.get("seed") not in adv:
                    continue
                pairs += 1
                right += v == ("pay" if adv[d["seed"]] > margin else "do-not-pay")
        out[rule] = (right, pairs)
    right = pairs = 0
    for cell in cells:
        for _, a in cell.pool_adv:
            pairs += 1
            right += (a > margin) == cell.pay
    out["own pool's realized ADV (ceiling)"] = (right, pairs)
    return out


PREDICTORS = {
    "reach gap": lambda b: b.get("reach_gap"),
    "tail difference": lambda b: (
        None if b.get("input_tail") is None or b.get("learner_tail") is None else b["input_tail"] - b["learner_tail"]
    ),
    "pilot ADV": lambda b: (b.get("pilot") or {}).get("adv_mean"),
}
"""Per-budget numbers of an advisor record that may rank cells by realized ADV: the reach gap D(k),
the label energy the input kernel's top k leaves out minus the learner kernel's (``input_tail -
learner_tail``, both a priori), and the pilot's measured mean ADV (for comparison)."""


def reach_points(cells: Sequence[Any], predictor: str = "reach gap") -> list[tuple[Any, float]]:
    """(cell, mean of ``predictor`` over its advisor pools) for cells whose advisor recorded it."""
    get = PREDICTORS[predictor]
    out = []
    for cell in cells:
        vals = [get(d["budget"]) for d in cell.diagnostics if d.get("budget")]
        vals = [v for v in vals if v is not None]
        if vals:
            out.append((cell, float(np.mean(vals))))
    return out


def reach_ranking(cells: Sequence[Any]) -> list[dict[str, Any]]:
    """Spearman(mean predictor, realized mean ADV) per predictor and dataset, over all its cells and per task."""
    rows = []
    for predictor in PREDICTORS:
        pts = reach_points(cells, predictor)
        for ds in sorted({c.dataset for c, _ in pts}):
            groups = {"all cells": [(c, g) for c, g in pts if c.dataset == ds]}
            for task in sorted({c.task for c, _ in groups["all cells"]}):
                if len(groups["all cells"]) > sum(c.task == task for c, _ in groups["all cells"]):
                    groups[f"{task} task"] = [(c, g) for c, g in groups["all cells"] if c.task == task]
            for name, grp in groups.items():
                rows.append(
                    {
                        "predictor": predictor,
                        "dataset": ds,
                        "cells": name,
                        "n": len(grp),
                        "spearman": spearman([g for _, g in grp], [c.truth.mean for c, _ in grp]),
                        "sign_agreement": int(sum((g > 0) == (c.truth.mean > 0) for c, g in grp)),
                    }
                )
    return rows


def plot_reach(cells: Sequence[Any], path: str) -> str | None:
    """Realized mean ADV (± sd over pools) against the mean reach gap, one panel per dataset; None if no reach."""
    pts = reach_points(cells)
    if not pts:
        return None
    from matplotlib.figure import Figure

    datasets = sorted({c.dataset for c, _ in pts})
    fig = Figure(figsize=(4.2 * len(datasets), 3.8), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, len(datasets)))
    marks = {
        ("pretrained", "label"): ("o", "tab:green"),
        ("random", "label"): ("o", "tab:red"),
        ("pretrained", "smooth"): ("s", "tab:green"),
        ("random", "smooth"): ("s", "tab:red"),
    }
    for ax, ds in zip(axes, datasets):
        for (rep, task), (m, col) in marks.items():
            grp = [(c, g) for c, g in pts if c.dataset == ds and c.representation == rep and c.task == task]
            if grp:
                ax.errorbar(
                    [g for _, g in grp],
                    [c.truth.mean for c, _ in grp],
                    yerr=[c.truth.std for c, _ in grp],
                    fmt=m,
                    color=col,
                    ms=5,
                    capsize=2,
                    label=f"{rep}, {task}",
                )
                for c, g in grp:
                    ax.annotate(str(c.k), (g, c.truth.mean), textcoords="offset points", xytext=(4, 3), fontsize=7)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.axvline(0.0, color="gray", lw=0.6, ls=":")
        rho = spearman([g for c, g in pts if c.dataset == ds], [c.truth.mean for c, _ in pts if c.dataset == ds])
        ax.set_title(f"{ds}: Spearman {rho:+.2f}")
        ax.set_xlabel("reach gap D(k) / label energy (advise)")
        ax.set_ylabel("realized ADV, mean ± sd over pools")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _fraction(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "n/a"


def pool_sections(
    cells: Sequence[Any],
    verdicts: Callable[[Any, str], list[str]],
    rules: Sequence[str],
    margin: float,
    groups: dict[str, Sequence[Any]],
    record: dict[str, Any],
) -> list[str]:
    """Markdown lines for the per-pool scores (per group of cells) and the reach ranking; both go into ``record``."""
    pool_rows = []
    for name, group in groups.items():
        for rule, (right, pairs) in pool_scores(group, verdicts, rules, margin).items():
            pool_rows.append([rule, name, _fraction(right, pairs)])
            record["scores"].setdefault("per pool", {}).setdefault(rule, {})[name] = {"right": right, "pairs": pairs}
    ranking = reach_ranking(cells)
    record["reach_ranking"] = ranking
    reach_rows = [
        [r["predictor"], r["dataset"], r["cells"], r["n"], f"{r['spearman']:+.2f}", f"{r['sign_agreement']}/{r['n']}"]
        for r in ranking
    ]
    return [
        "Per pool: each rule against the realized ADV of the pool it ran on (pay when that pool's ADV exceeds "
        f"{margin}), right / (cell, pool) pairs. The last rule uses that realized ADV itself as the verdict and "
        "is scored against the cell's truth above (mean over pools): the ceiling of any rule that sees one pool.",
        "",
        P.study_table(["rule", "cells", "right"], pool_rows),
        "",
        "Ranking cells: Spearman rank correlation of each advisor number (mean over the advisor's pools) with the "
        "realized mean ADV over each dataset's cells (representations x tasks x budgets), and the cells where the "
        "two agree in sign. reach gap: D(k) of `kcover advise` (`reach_gap`); tail difference: `input_tail - "
        "learner_tail`; pilot ADV: the pilot's measured mean, for comparison. Figure: reach.png.",
        "",
        P.study_table(["predictor", "dataset", "cells", "n", "Spearman", "same sign"], reach_rows)
        if reach_rows
        else "(no reach gap recorded: the advisor ran without it)",
    ]


CONFIDENCE_BINS = ((0.5, 0.7), (0.7, 0.9), (0.9, 1.01))


def confidence_section(groups: dict[str, Sequence[Any]], record: dict[str, Any]) -> list[str]:
    """The pilot's verdicts binned by their confidence, against how often they were right, per group of cells.

    The confidence is recomputed from each record's mean, standard error and split count with
    :func:`kcover.advisor.pilot_rules.pilot_confidence`, so records written under an earlier rule are
    read with the current one.
    """
    rows = []
    for lo, hi in CONFIDENCE_BINS:
        for name, group in groups.items():
            confs, right = [], 0
            for cell in group:
                want = "pay" if cell.pay else "do-not-pay"
                for d in cell.diagnostics:
                    p = (d.get("budget") or {}).get("pilot")
                    if not p:
                        continue
                    conf = pilot_confidence(p["adv_mean"], p["adv_se"] * np.sqrt(p["splits"]), p["margin"])
                    if lo <= conf < hi:
                        confs.append(conf)
                        right += p["verdict"] == want
            label = f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}"
            rows.append([label, name, f"{np.mean(confs):.2f}" if confs else "n/a", _fraction(right, len(confs))])
            record["scores"].setdefault("pilot by confidence", {})[f"{lo}-{hi} {name}"] = {
                "right": right,
                "pairs": len(confs),
                "mean_confidence": float(np.mean(confs)) if confs else None,
            }
    return [
        "The pilot's verdicts by their confidence (`kcover.advisor.pilot_rules.pilot_confidence`: the probability "
        "that the mean ADV of pools like this one lies on the verdict's side of the margin, from the spread "
        "over the pilot's splits), against how often they matched the truth, (cell, pool) pairs:",
        "",
        P.study_table(["confidence", "cells", "mean confidence", "right"], rows),
    ]
