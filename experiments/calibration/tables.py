"""The calibration's report: the markdown tables, the JSON record and the CSV, from its cells.

Per cell the realized ADV, the truth and each rule's verdicts; each rule's score over all cells,
the tuning and the held-out datasets and the clear cells; then the regret table
(:mod:`~kcover.experiments.calibration.regret`), the pilot's confidence and the per-pool and
reach-gap readings (:mod:`~kcover.experiments.calibration.pools`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kcover.experiments import protocol as P
from kcover.experiments.calibration.cells import HELD_OUT, TRUTH_MARGIN, TUNING, VARIANTS, Cell
from kcover.experiments.calibration.pools import confidence_section, pool_sections
from kcover.experiments.calibration.regret import floor_section, regret_section
from kcover.experiments.calibration.scoring import RULES, score, verdicts


def _fraction(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "n/a"


def tables(cells: Sequence[Cell]) -> tuple[str, dict[str, Any], str]:
    """The markdown report, the JSON record and the CSV of the calibration."""
    header = [
        "cell",
        "k",
        "realized ADV (pools > 0)",
        "truth",
        "gap",
        "paper",
        "a priori (former)",
        "a priori",
        "pilot (mean ADV, splits > 0)",
        "pilot right",
    ] + [f"pilot ({v}) right" for v in VARIANTS]
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

        pilot_txt = (
            "n/a"
            if not pilot0
            else (f"{pilot0['adv_mean']:+.3f} ± {pilot0['adv_se']:.3f}, {pilot0['splits_positive']}/{pilot0['splits']}")
        )
        body.append(
            [
                cell.label,
                cell.k,
                cell.truth.text(),
                truth,
                f"{np.mean(gaps):+.3f}" if gaps else "n/a",
                show("paper"),
                show("a priori (former)"),
                show("a priori"),
                pilot_txt,
                f"{right['pilot']}/{n}",
            ]
            + [f"{right[f'pilot ({v})']}/{nv[v]}" if nv[v] else "n/a" for v in VARIANTS]
        )
        csv_rows.append(
            [
                cell.dataset,
                cell.kernel,
                cell.representation,
                cell.task,
                cell.budget,
                cell.k,
                cell.truth.mean,
                cell.truth.std,
                cell.truth.positive,
                cell.truth.seeds,
                want,
                int(cell.close_call),
                float(np.mean(gaps)) if gaps else float("nan"),
                n,
            ]
            + [right[r] for r in RULES]
        )
        record["cells"].append(
            {
                "dataset": cell.dataset,
                "kernel": cell.kernel,
                "representation": cell.representation,
                "task": cell.task,
                "budget": cell.budget,
                "k": cell.k,
                "truth": cell.truth._asdict(),
                "truth_verdict": want,
                "close_call": bool(cell.close_call),
                "verdicts": vs,
                "measurements": [
                    {
                        "record": d["record"],
                        "budget": {
                            f: v for f, v in (d["budget"] or {}).items() if f not in ("reasons", "why", "a_priori_why")
                        },
                        "seed": d.get("seed"),
                    }
                    for d in cell.diagnostics
                ],
                "pool_adv": [[int(sd), float(a)] for sd, a in cell.pool_adv],
            }
        )
    score_rows = []
    tuning, held = [c for c in cells if c.dataset in TUNING], [c for c in cells if c.dataset in HELD_OUT]
    groups = {
        "all": list(cells),
        "tuning (" + ", ".join(TUNING) + ")": tuning,
        "held out (" + ", ".join(HELD_OUT) + ")": held,
        "clear cells (not close calls)": [c for c in cells if not c.close_call],
        "held out, clear cells": [c for c in held if not c.close_call],
    }
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
                "right": r,
                "pairs": p,
                "cells_right": cr,
                "cells": nc,
            }
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
        *floor_section(record["cells"], {"tuning": TUNING, "held out": HELD_OUT}, record, TRUTH_MARGIN),
        "",
        *confidence_section({"tuning": tuning, "held out": held}, record),
        "",
        *pool_sections(
            cells, verdicts, RULES, TRUTH_MARGIN, {"all": list(cells), "tuning": tuning, "held out": held}, record
        ),
    ]
    csv_header = [
        "dataset",
        "kernel",
        "representation",
        "task",
        "budget",
        "k",
        "adv_mean",
        "adv_std",
        "pools_positive",
        "pools",
        "truth",
        "close_call",
        "gap_mean",
        "advisor_pools",
    ] + [f"right {r}" for r in RULES]
    return "\n".join(md), record, P.csv_table(csv_header, csv_rows)
