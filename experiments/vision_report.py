"""The vision study's report (:mod:`kcover.experiments.vision`) from its result rows.

Table 1 (``table1.md``/``table1.csv``): per (dataset, backbone) the realized ADV in each of
:data:`COLUMNS` (the conjunction and one condition removed at a time), the advisor beside it, and
how many seeds put the conjunction ahead of each removal; ``accuracy.md`` (mean probe accuracy per
selector), Fig. 2 (``fig2.png``) and everything in ``vision.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import protocol as P
from kcover.experiments.store import atomic_write_text

COLUMNS = {  # Table 1: column -> (representation, task, budget)
    "conj": ("pretrained", "hard", "tight"),
    "-C (loose)": ("pretrained", "hard", "loose"),
    "-A (rand. rep)": ("random", "hard", "tight"),
    "-B (smooth)": ("pretrained", "smooth", "tight"),
}


def advisor(rows: Sequence[dict[str, Any]], where: dict[str, Any], k_name: str) -> dict[str, Any] | None:
    """The advisor's verdicts at budget ``k_name`` ("tight"/"loose"), first diagnostic cell matching ``where``."""
    diags = sorted(
        (
            r
            for r in rows
            if r["key"].get("selector") == "diagnostic" and all(r["key"].get(f) == v for f, v in where.items())
        ),
        key=lambda r: r["key"]["seed"],
    )
    for r in diags:
        v = r["value"]
        for k, name in v.get("budget_names", {}).items():
            if name == k_name and k in v.get("verdicts", {}):
                out = dict(v["verdicts"][k])
                out.update(k=int(k), gap=v.get("gap"), seed=r["key"]["seed"])
                return out
    return None


def separation(rows: Sequence[dict[str, Any]], d: str, b: str) -> dict[str, Any]:
    """Per removal column: conj ADV minus that column's ADV, paired by seed (each seed's pool is shared)."""
    base = {"dataset": d, "backbone": b}
    conj = P.seed_differences(rows, {**base, **dict(zip(("representation", "task", "budget"), COLUMNS["conj"]))})
    out = {}
    for col, cell in COLUMNS.items():
        if col == "conj":
            continue
        other = P.seed_differences(rows, {**base, **dict(zip(("representation", "task", "budget"), cell))})
        seeds = sorted(set(conj) & set(other))
        diff = np.array([conj[s] - other[s] for s in seeds])
        out[col] = {
            "diff_mean": float(diff.mean()) if seeds else float("nan"),
            "diff_std": float(diff.std(ddof=1)) if diff.size > 1 else 0.0,
            "seeds_conj_ahead": int(np.sum(diff > 0)),
            "seeds": len(seeds),
        }
    return out


def table1(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """Table 1 from result rows: per (dataset, backbone) the mean ADV in each column, and the mean row.

    ``record[run][column]`` holds ``adv_mean``, ``adv_std``, ``seeds``, ``positive`` (seeds with ADV
    > 0), ``text`` and ``advisor`` (the diagnostic's verdicts, or None); ``record[run]["separation"]``
    the conjunction against each removal (:func:`separation`).
    """
    runs = sorted({(r["key"]["dataset"], r["key"]["backbone"]) for r in rows})
    multi = len({b for _, b in runs}) > 1
    header = ["dataset"] + list(COLUMNS)
    body, record = [], {}
    for d, b in runs:
        label = f"{b}/{d}" if multi else d
        vals = []
        for col, (rep, task, budget) in COLUMNS.items():
            where = {"dataset": d, "backbone": b, "representation": rep, "task": task}
            st = P.advantage_stats(rows, {**where, "budget": budget})
            vals.append(st.mean)
            record.setdefault(label, {})[col] = {
                "adv_mean": st.mean,
                "adv_std": st.std,
                "seeds": st.seeds,
                "positive": st.positive,
                "text": st.text(),
                "advisor": advisor(rows, where, budget),
            }
        record[label]["separation"] = separation(rows, d, b)
        body.append([label] + vals)
    if body:
        means = [
            float(np.nanmean([row[i] for row in body])) if any(not np.isnan(row[i]) for row in body) else float("nan")
            for i in range(1, len(header))
        ]
        body.append(["mean"] + means)
        record["mean"] = dict(zip(COLUMNS, means))
    return header, body, record


def accuracy_table(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Mean accuracy per (dataset, backbone, representation, task, budget) and selector."""
    groups = sorted(
        {
            tuple(r["key"][f] for f in ("dataset", "backbone", "representation", "task", "budget"))
            for r in rows
            if r["key"].get("selector") != "diagnostic"
        }
    )
    sels = [s for s in P.SELECTORS if any(r["key"].get("selector") == s for r in rows)]
    body = []
    for g in groups:
        where = dict(zip(("dataset", "backbone", "representation", "task", "budget"), g))
        body.append(list(g) + [P.mean_accuracy(rows, {**where, "selector": s})[0] for s in sels])
    return ["dataset", "backbone", "representation", "task", "budget"] + sels, body


def figure2(header: list[str], body: list[list[Any]], path: Path, record: dict[str, Any]) -> None:
    """Fig. 2: grouped bars of the advantage per dataset, conj against each removal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [row[0] for row in body if row[0] != "mean"]
    colors = {"conj": "#2ca02c", "-C (loose)": "#7f7f7f", "-A (rand. rep)": "#9ecae1", "-B (smooth)": "#ff7f0e"}
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(runs) + 2), 3.8))
    width = 0.8 / len(COLUMNS)
    x = np.arange(len(runs))
    for j, col in enumerate(COLUMNS):
        means = [record[r][col]["adv_mean"] for r in runs]
        stds = [record[r][col]["adv_std"] for r in runs]
        ax.bar(
            x + (j - (len(COLUMNS) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=col, color=colors[col]
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, runs, rotation=20, ha="right")
    ax.set_ylabel("ADV = acc(learner-FL) - acc(input-FL)")
    ax.set_title("Learner-geometry advantage: conjunction vs. one condition removed", fontsize=10)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table1_markdown(header: list[str], body: list[list[Any]], record: dict[str, Any]) -> str:
    """table1.md: ADV mean ± sd (seeds > 0 / seeds) per cell, the advisor beside it, the separation."""
    lines = [
        "ADV = acc(learner-FL) - acc(input-FL): mean ± sd over seeds (seeds with ADV > 0 / seeds); "
        "each seed draws its own pool.",
        "",
    ]
    text_body = [
        [row[0]] + [record[row[0]][col]["text"] for col in COLUMNS] if row[0] != "mean" else row for row in body
    ]
    lines.append(P.study_table(header, text_body))
    runs = [row[0] for row in body if row[0] != "mean"]
    adv_rows, sep_rows = [], []
    for run in runs:
        for col in COLUMNS:
            rec = record[run][col]
            a_priori, pilot = P.verdict_texts(rec["advisor"])
            adv_rows.append([run, col, rec["text"], a_priori, pilot])
        for col, sep in record[run]["separation"].items():
            sep_rows.append([run, col, sep["diff_mean"], f"{sep['seeds_conj_ahead']}/{sep['seeds']}"])
    if any(r[3] != "n/a" for r in adv_rows):
        lines += [
            "The advisor on the first seed's pool (`kcover advise`; pilot: mean ADV ± se over its splits, "
            "splits with ADV > 0 / splits) beside the realized ADV:",
            "",
            P.study_table(["dataset", "cell", "realized ADV", "a priori", "pilot"], adv_rows),
        ]
    if sep_rows:
        lines += [
            "The conjunction against each removal, paired by seed (conj ADV - removal ADV; seeds where the "
            "conjunction is ahead / seeds):",
            "",
            P.study_table(["dataset", "removal", "conj - removal", "seeds conj ahead"], sep_rows),
        ]
    return "\n".join(lines)


def report(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """Write table1.md/.csv, accuracy.md, fig2.png and vision.json from result rows."""
    out.mkdir(parents=True, exist_ok=True)
    header, body, record = table1(rows)
    acc_header, acc_body = accuracy_table(rows)
    atomic_write_text(out / "table1.md", table1_markdown(header, body, record))
    extra = [f"{col} {what}" for col in COLUMNS for what in ("sd", "seeds>0", "seeds")]
    csv_body = [
        row + [record[row[0]][col][f] for col in COLUMNS for f in ("adv_std", "positive", "seeds")]
        if row[0] in record and row[0] != "mean"
        else row + [""] * len(extra)
        for row in body
    ]
    atomic_write_text(out / "table1.csv", P.csv_table(header + extra, csv_body))
    accuracy = P.study_table(acc_header, acc_body, signed=False)
    atomic_write_text(out / "accuracy.md", "Mean probe accuracy over seeds\n\n" + accuracy)
    if any(row[0] != "mean" for row in body):
        figure2(header, body, out / "fig2.png", record)
    payload = {
        "table1": {"header": header, "rows": body, "detail": record},
        "accuracy": {"header": acc_header, "rows": acc_body},
        "cells": [
            {**r["key"], **{k: v for k, v in r["value"].items() if k != "picks"}}
            for r in rows
            if r["key"].get("selector") != "diagnostic"
        ],
    }
    atomic_write_text(out / "vision.json", json.dumps(payload, indent=1, default=float))
    return [out / "table1.md", out / "table1.csv", out / "fig2.png", out / "vision.json"]
