"""The LLM study's report (:mod:`kcover.experiments.llm`) from its result rows.

Table 2 (``table2.md``/``table2.csv``): per task, the full-budget probe accuracies of the
advisor's diagnostic (lexical vs embedding, their gap, the paper's gap beside it) and the mean
ADV over the budget sweep; below it the realized ADV per budget with the advisor's verdicts.
Fig. 3 per task (``fig3_<task>.png``), and everything in ``llm.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import protocol as P
from kcover.experiments.store import atomic_write_text

PAPER_TABLE2 = {
    "amazon_cf": (0.930, 0.938),
    "banking77": (0.726, 0.788),
    "sst5": (0.303, 0.362),
    "emotion": (0.610, 0.561),
    "20newsgroups": (0.407, 0.617),
}


def _diagnostic(rows, task, rep):
    """The diagnostic record of the lowest diagnostic seed for ``task`` and ``rep``, or None."""
    found = sorted(
        (
            r
            for r in rows
            if r["key"]["task"] == task and r["key"]["representation"] == rep and r["key"]["selector"] == "diagnostic"
        ),
        key=lambda r: r["key"]["seed"],
    )
    return found[0]["value"] if found else None


def sweep_curves(rows: Sequence[dict[str, Any]], task: str) -> dict[str, Any]:
    """Per representation: budgets, ADV mean/std/seeds positive, per-selector accuracy, the advisor's verdicts."""
    out: dict[str, Any] = {}
    for rep in P.REPRESENTATIONS:
        ms = sorted(
            {
                r["key"]["budget"]
                for r in rows
                if r["key"]["task"] == task
                and r["key"]["representation"] == rep
                and r["key"]["selector"] != "diagnostic"
            }
        )
        where = lambda m, rep=rep: {"task": task, "representation": rep, "budget": m}
        adv = [P.advantage_stats(rows, where(m)) for m in ms]
        acc = {s: [P.mean_accuracy(rows, {**where(m), "selector": s}) for m in ms] for s in P.TEXT_SELECTORS}
        diag = _diagnostic(rows, task, rep) or {}
        mult = {int(m): k for k, m in diag.get("budget_multipliers", {}).items()}
        verdicts = [diag.get("verdicts", {}).get(mult[m]) if m in mult else None for m in ms]
        out[rep] = {
            "budget_multiplier": ms,
            "adv_mean": [a.mean for a in adv],
            "adv_std": [a.std for a in adv],
            "adv_seeds": [a.seeds for a in adv],
            "adv_positive": [a.positive for a in adv],
            "acc_mean": {s: [a[0] for a in v] for s, v in acc.items()},
            "acc_std": {s: [a[1] for a in v] for s, v in acc.items()},
            "advisor": verdicts,
        }
    return out


def figure3(curves: dict[str, Any], task: str, path: Path) -> None:
    """Fig. 3: left ADV vs budget (pretrained, random-init); right per-selector accuracy (pretrained)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for rep, color in (("pretrained", "#2ca02c"), ("random", "#9ecae1")):
        c = curves[rep]
        m, mu, sd = np.array(c["budget_multiplier"]), np.array(c["adv_mean"]), np.array(c["adv_std"])
        left.plot(m, mu, "o-", color=color, label=f"{rep} representation")
        left.fill_between(m, mu - sd, mu + sd, color=color, alpha=0.2)
    left.axhline(0, color="black", lw=0.8)
    left.set_xlabel("budget k / C")
    left.set_ylabel("ADV = acc(learner-FL) - acc(input-FL)")
    left.set_title(f"{task}: learner-geometry advantage")
    left.legend(fontsize=8)
    c = curves["pretrained"]
    for s, color in zip(P.TEXT_SELECTORS, ("#ff7f0e", "#2ca02c", "#7f7f7f")):
        mu, sd = np.array(c["acc_mean"][s]), np.array(c["acc_std"][s])
        right.plot(c["budget_multiplier"], mu, "o-", color=color, label=s)
        right.fill_between(c["budget_multiplier"], mu - sd, mu + sd, color=color, alpha=0.2)
    right.set_xlabel("budget k / C")
    right.set_ylabel("probe accuracy")
    right.set_title(f"{task}: accuracy per selector (pretrained)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _acc(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def budget_table(record: dict[str, Any]) -> str:
    """Per task, representation and budget: realized ADV mean ± sd (seeds > 0 / seeds) and the advisor's verdicts."""
    rows = []
    for task, rec in record.items():
        for rep in P.REPRESENTATIONS:
            c = rec["curves"][rep]
            for i, m in enumerate(c["budget_multiplier"]):
                st = P.AdvantageStats(c["adv_mean"][i], c["adv_std"][i], c["adv_seeds"][i], c["adv_positive"][i])
                a_priori, pilot = P.verdict_texts(c["advisor"][i])
                rows.append([task, rep, f"{m}C", st.text(), a_priori, pilot])
    if not rows:
        return ""
    return (
        "ADV = acc(learner-FL) - acc(input-FL) per budget: mean ± sd over seeds (seeds with ADV > 0 / seeds; "
        "each seed draws its own pool), and the advisor on the first seed's pool (pilot: mean ADV ± se over "
        "its splits, splits with ADV > 0 / splits).\n\n"
        + P.study_table(["task", "representation", "budget", "realized ADV", "a priori", "pilot"], rows)
    )


def report(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """Write table2.md/.csv, fig3_<task>.png and llm.json from result rows."""
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(dict.fromkeys(r["key"]["task"] for r in rows))
    header = ["task", "C", "lexical", "embed", "gap", "gap (random rep)", "mean ADV", "ADV at k=C", "paper gap"]
    body, record, paths = [], {}, [out / "table2.md", out / "table2.csv"]
    for t in tasks:
        d = _diagnostic(rows, t, "pretrained") or {}
        dr = _diagnostic(rows, t, "random") or {}
        curves = sweep_curves(rows, t)
        pre = curves["pretrained"]
        mean_adv = float(np.nanmean(pre["adv_mean"])) if pre["adv_mean"] else float("nan")
        at_c = pre["adv_mean"][pre["budget_multiplier"].index(1)] if 1 in pre["budget_multiplier"] else float("nan")
        paper = PAPER_TABLE2.get(t)
        body.append(
            [
                t,
                d.get("num_classes", "?"),
                _acc(d.get("input_probe_acc")),
                _acc(d.get("learner_probe_acc")),
                d.get("gap", float("nan")),
                dr.get("gap", float("nan")),
                mean_adv,
                at_c,
                paper[1] - paper[0] if paper else "n/a",
            ]
        )
        record[t] = {"diagnostic": d, "diagnostic_random": dr, "curves": curves}
        if pre["budget_multiplier"]:
            figure3(curves, t, out / f"fig3_{t}.png")
            paths.append(out / f"fig3_{t}.png")
    note = (
        "Full-budget probe accuracies (kcover advise on the first seed's pool): lexical vs embedding, gap = "
        "embed - lexical; mean ADV over the budget sweep (pretrained).\n\n"
    )
    atomic_write_text(out / "table2.md", note + P.study_table(header, body) + "\n" + budget_table(record))
    atomic_write_text(out / "table2.csv", P.csv_table(header, body))
    payload = {
        "table2": {"header": header, "rows": body},
        "tasks": record,
        "cells": [
            {**r["key"], **{k: v for k, v in r["value"].items() if k != "picks"}}
            for r in rows
            if r["key"].get("selector") != "diagnostic"
        ],
    }
    atomic_write_text(out / "llm.json", json.dumps(payload, indent=1, default=float))
    paths.append(out / "llm.json")
    return paths
