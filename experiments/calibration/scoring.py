"""Each rule's verdicts on a calibration cell's advisor pools, and its score against the cell's truth.

The rules (:data:`RULES`): the paper's probe-gap rule (pay when the full-budget gap exceeds
:data:`PAPER_GAP`), the a-priori rule before its repair and the repaired one
(:func:`kcover.advisor.rules.budget_verdict`), and the pilot's measured verdict with the advisor's
default settings and with each of :data:`~kcover.experiments.calibration.cells.VARIANTS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kcover.experiments.calibration.cells import Cell

PAPER_GAP = 0.05
RULES = ("paper", "a priori (former)", "a priori", "pilot", "pilot (fraction)", "pilot (score 10%)")


def verdicts(cell: Cell, rule: str) -> list[str]:
    """The rule's verdict on each of the cell's advisor pools ("pay", "do-not-pay" or "borderline")."""
    from kcover.advisor.rules import budget_verdict

    out = []
    variant = rule[len("pilot (") : -1] if rule.startswith("pilot (") else None
    for d in cell.variants.get(variant, ()) if variant else cell.diagnostics:
        r, b = d["record"], d["budget"]
        if b is None:
            out.append("n/a")
        elif rule == "paper":
            out.append("pay" if r["gap"] > PAPER_GAP else "do-not-pay")
        elif rule in ("a priori (former)", "a priori"):
            measured = (r["num_classes"], r["gap"], r["gap_se"], r["misalignment"], r["r_eff"], r["r_eff_input"])
            tails = (b["input_tail"], b["learner_tail"], 0.05, 0.1, 0.1)
            # the former rule, before the repair, did not see the neighbour agreements
            nn = {} if rule == "a priori (former)" else {"nn_input": r["nn_input"], "nn_learner": r["nn_learner"]}
            out.append(budget_verdict(b["k"], *measured, *tails, **nn).verdict)
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
