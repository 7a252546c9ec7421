"""The fine-tuning study's summary and outputs (:mod:`kcover.experiments.finetune` computes the
cells): per task and budget, fine-tuned and fixed-probe accuracy per selector and the paired
ADV = acc(learner-FL) - acc(input-FL) over seeds; written as ``finetune.md``/``finetune.csv``,
``fig_finetune_<task>.png`` and ``finetune.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import protocol as P
from kcover.experiments.store import atomic_write_text


def paired_diffs(
    rows: Sequence[dict[str, Any]],
    where: dict[str, Any],
    field: str = "acc",
    a: str = "learner-FL",
    b: str = "input-FL",
) -> np.ndarray:
    """Per-seed ``field``(a) - ``field``(b) among rows matching ``where``, over seeds present for both (sorted)."""
    got: dict[str, dict[int, float]] = {a: {}, b: {}}
    for r in rows:
        key = r["key"]
        if key.get("selector") in got and all(key.get(f) == v for f, v in where.items()):
            got[key["selector"]][key["seed"]] = r["value"][field]
    seeds = sorted(set(got[a]) & set(got[b]))
    return np.array([got[a][s] - got[b][s] for s in seeds], dtype=float)


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, float)
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "n": 0, "positive": 0}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "n": int(v.size),
        "positive": int((v > 0).sum()),
    }


def summarize(rows: Sequence[dict[str, Any]], task: str) -> dict[str, Any]:
    """Per budget multiplier: fine-tuned and probe accuracy per selector, both ADVs (mean, std, n, positive),
    and ``adv_corr``, the Pearson correlation over seeds of the fine-tuned ADV with the probe ADV."""
    mine = [r for r in rows if r["key"]["task"] == task]
    ms = sorted({r["key"]["budget"] for r in mine})
    per_selector = lambda: {s: [] for s in P.TEXT_SELECTORS}
    out: dict[str, Any] = {
        "budget_multiplier": ms,
        "k": [],
        "finetune": {"adv": [], "acc": per_selector()},
        "probe": {"adv": [], "acc": per_selector()},
        "classes_covered": per_selector(),
        "train_acc": per_selector(),
        "adv_corr": [],
    }
    for m in ms:
        at = [r for r in mine if r["key"]["budget"] == m]
        out["k"].append(at[0]["value"]["k"])
        diffs = {}
        for learner, field in (("finetune", "acc"), ("probe", "probe_acc")):
            diffs[learner] = paired_diffs(at, {"budget": m}, field)
            out[learner]["adv"].append(_stats(diffs[learner]))
            for s in P.TEXT_SELECTORS:
                out[learner]["acc"][s].append(_stats([r["value"][field] for r in at if r["key"]["selector"] == s]))
        for s in P.TEXT_SELECTORS:
            out["classes_covered"][s].append(
                _stats([r["value"]["classes_covered"] for r in at if r["key"]["selector"] == s])
            )
            out["train_acc"][s].append(_stats([r["value"]["train_acc"] for r in at if r["key"]["selector"] == s]))
        a, b = diffs["finetune"], diffs["probe"]
        ok = a.size > 2 and a.std() > 0 and b.std() > 0
        out["adv_corr"].append(float(np.corrcoef(a, b)[0, 1]) if ok else float("nan"))
    return out


def _pm(s: dict[str, Any], signed: bool = True) -> str:
    if s["n"] == 0:
        return "n/a"
    return f"{s['mean']:+.3f} ± {s['std']:.3f}" if signed else f"{s['mean']:.3f} ± {s['std']:.3f}"


def figure(summary: dict[str, Any], task: str, path: Path) -> None:
    """Left: ADV vs budget, fine-tuned and fixed probe (mean ± sd over seeds); right: accuracy per selector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array(summary["budget_multiplier"], float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for learner, color, label in (("finetune", "#d62728", "fine-tuned (LoRA)"), ("probe", "#1f77b4", "fixed probe")):
        mu = np.array([s["mean"] for s in summary[learner]["adv"]])
        sd = np.array([s["std"] for s in summary[learner]["adv"]])
        left.plot(m, mu, "o-", color=color, label=label)
        left.fill_between(m, mu - sd, mu + sd, color=color, alpha=0.2)
    left.axhline(0, color="black", lw=0.8)
    left.set_xscale("log", base=2)
    left.set_xticks(m, [f"{int(v)}" for v in m])
    left.set_xlabel("budget k / C")
    left.set_ylabel("ADV = acc(learner-FL) - acc(input-FL)")
    left.set_title(f"{task}: advantage, same pools and picks")
    left.legend(fontsize=8)
    for s, color in zip(P.TEXT_SELECTORS, ("#ff7f0e", "#2ca02c", "#7f7f7f")):
        mu = np.array([v["mean"] for v in summary["finetune"]["acc"][s]])
        sd = np.array([v["std"] for v in summary["finetune"]["acc"][s]])
        right.plot(m, mu, "o-", color=color, label=f"{s} fine-tuned")
        right.fill_between(m, mu - sd, mu + sd, color=color, alpha=0.15)
        right.plot(m, [v["mean"] for v in summary["probe"]["acc"][s]], "--", color=color, lw=1, label=f"{s} probe")
    right.set_xscale("log", base=2)
    right.set_xticks(m, [f"{int(v)}" for v in m])
    right.set_xlabel("budget k / C")
    right.set_ylabel("test accuracy")
    right.set_title(f"{task}: accuracy per selector")
    right.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(
    rows: Sequence[dict[str, Any]], out: Path, *, settings: dict[str, Any] | None = None, learner: str | None = None
) -> list[Path]:
    """Write finetune.md/.csv, fig_finetune_<task>.png and finetune.json from result rows."""
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(dict.fromkeys(r["key"]["task"] for r in rows))
    header = [
        "task",
        "k/C",
        "k",
        "FT input-FL",
        "FT learner-FL",
        "FT random",
        "FT ADV",
        "FT ADV>0",
        "probe ADV",
        "probe ADV>0",
        "corr",
    ]
    body, csv_body, record, paths = [], [], {}, [out / "finetune.md", out / "finetune.csv"]
    for t in tasks:
        s = summarize(rows, t)
        record[t] = s
        for i, m in enumerate(s["budget_multiplier"]):
            ft, pr = s["finetune"]["adv"][i], s["probe"]["adv"][i]
            acc = [s["finetune"]["acc"][sel][i] for sel in P.TEXT_SELECTORS]
            body.append(
                [
                    t,
                    m,
                    s["k"][i],
                    *[_pm(a, False) for a in acc],
                    _pm(ft),
                    f"{ft['positive']}/{ft['n']}",
                    _pm(pr),
                    f"{pr['positive']}/{pr['n']}",
                    s["adv_corr"][i],
                ]
            )
            csv_body.append(
                [
                    t,
                    m,
                    s["k"][i],
                    *[a["mean"] for a in acc],
                    ft["mean"],
                    ft["positive"],
                    pr["mean"],
                    pr["positive"],
                    s["adv_corr"][i],
                ]
            )
        if s["budget_multiplier"]:
            figure(s, t, out / f"fig_finetune_{t}.png")
            paths.append(out / f"fig_finetune_{t}.png")
    log_path = out / "invocations.json"
    invocations = json.loads(log_path.read_text()) if log_path.exists() else []
    wall = sum(i["wall_seconds"] or 0.0 for i in invocations)
    killed = sum(i["wall_seconds"] is None for i in invocations)
    cell_seconds = sum(r["value"].get("seconds", 0.0) for r in rows)
    st = settings or {}
    lines = [
        "Fine-tuned (FT) test accuracy per selector and ADV = acc(learner-FL) - acc(input-FL), mean ± sd over "
        "seeds, with the number of seeds where ADV > 0; the fixed-probe ADV on the same pools and picks "
        "beside it; corr: Pearson correlation over seeds of the fine-tuned ADV with the probe ADV.",
        "",
    ]
    if learner:
        lines.append(
            f"Learner: {learner}; {st.get('steps')} AdamW steps of min({st.get('batch_size')}, k) examples, "
            f"peak lr {st.get('lr')}, warmup {st.get('warmup')}, cosine decay, weight decay "
            f"{st.get('weight_decay')}, clip {st.get('clip_norm')}; no early stopping."
        )
    if st:
        lines.append(
            f"Data: pool {st.get('pool')} documents per seed from {st.get('candidates')} candidates; test: a "
            f"fixed subsample of {st.get('test')} held-out documents; {st.get('max_tokens')} tokens; "
            f"encoder {st.get('encoder')}; selection by facility location (cosine) on n-gram hashing "
            f"({st.get('hash_dim')} dims, input-FL) or on the frozen encoder's embeddings (learner-FL)."
        )
    lines.append(
        f"Compute: {len(rows)} cells, {cell_seconds / 60:.1f} min in cells; wall time of all invocations "
        f"{wall / 60:.1f} min" + (f" (plus {killed} interrupted, not timed)." if killed else ".")
    )
    note = "\n".join(lines) + "\n\n"
    atomic_write_text(out / "finetune.md", note + P.study_table(header, body))
    atomic_write_text(
        out / "finetune.csv",
        P.csv_table(
            [
                "task",
                "budget",
                "k",
                "ft_input_fl",
                "ft_embed_fl",
                "ft_random",
                "ft_adv",
                "ft_adv_positive",
                "probe_adv",
                "probe_adv_positive",
                "adv_corr",
            ],
            csv_body,
        ),
    )
    payload = {
        "settings": settings,
        "learner": learner,
        "invocations": invocations,
        "tasks": record,
        "cells": [{**r["key"], **{k: v for k, v in r["value"].items() if k != "picks"}} for r in rows],
    }
    atomic_write_text(out / "finetune.json", json.dumps(payload, indent=1, default=float))
    paths.append(out / "finetune.json")
    return paths
