"""The LLM study (paper section 5, Table 2, Fig. 3), resumable cell by cell.

    python -m kcover.experiments.llm --tasks bbc_news --encoder minilm --out runs/llm

Learner geometry: mean-pooled hidden states of a text encoder (``qwen2.5`` as in the paper,
or ``minilm``), pretrained and random-init (condition A's control). Input geometry: lexical
n-gram hashing (:func:`kcover.featurize.hash_text`). Selectors: facility location (cosine
kernel) in each geometry, and random. Budgets k = m x C for m in ``--budgets`` (default
1..12). The fixed probe is fit on the embeddings of each subset and scored on the held-out
split; ``--seeds`` seeds, each drawing a fresh pool of ``--pool`` documents from a fixed
candidate set of ``--candidates`` (default 2 x ``--pool``) documents of the pool split. The
pool is capped at 80% of the candidates (:func:`protocol.pool_size`): with BBC News's 1,780
documents and the default pool of 3,000, each seed draws 1,424 of them, so the spread over
seeds includes the pool's, not only the probe's initialization.

Table 2 is the a-priori diagnostic, computed by :func:`kcover.advisor.entry.advise` on the first
seed's pool (lexical vs embedding probe at full budget, their gap), with the advisor's pilot
and a-priori verdicts at every budget; ``--diagnostic-seeds`` runs it on more seeds' pools.
Each finished cell (task, encoder, representation, budget, selector, seed, and the sizes that
define it; one diagnostic cell per task, representation and diagnostic seed) is appended to
``OUT/results.jsonl`` as it finishes; a rerun skips finished cells, and a cell whose key
changed (an older format, other sizes or budgets) is simply computed again.
Outputs: ``table2.md``/``table2.csv`` (with ADV mean ± sd and the count of seeds with ADV > 0
per budget), ``fig3_<task>.png``, ``llm.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import driver as D
from kcover.experiments import protocol as P
from kcover.experiments.driver import Memo, as_settings, drive, main_with_errors
from kcover.experiments.store import atomic_write_text

REPRESENTATIONS = ("pretrained", "random")
PAPER_TABLE2 = {"amazon_cf": (0.930, 0.938), "banking77": (0.726, 0.788), "sst5": (0.303, 0.362),
                "emotion": (0.610, 0.561), "20newsgroups": (0.407, 0.617)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextStudy(D.StudySettings):
    """The text study's settings (:class:`~kcover.experiments.driver.StudySettings` and these)."""

    tasks: tuple[str, ...]
    encoder: str = "qwen2.5"
    budgets: tuple[int, ...] = tuple(range(1, 13))
    selectors: tuple[str, ...] = P.TEXT_SELECTORS
    max_tokens: int = 256
    hash_dim: int = 4096


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.llm", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", required=True,
                   help="presets (20newsgroups banking77 sst5 emotion amazon_cf bbc_news) or folders under --data-dir")
    p.add_argument("--encoder", default=TextStudy.encoder, choices=["qwen2.5", "minilm"])
    D.add_study_flags(p, TextStudy, "documents", weights_help="the encoder's local Hugging Face directory",
                    data_help="folder of task folders (not needed for bbc_news)")
    p.add_argument("--budgets", nargs="+", type=int, default=TextStudy.budgets, help="k = m x C for each m")
    p.add_argument("--selectors", nargs="+", default=TextStudy.selectors, choices=P.TEXT_SELECTORS)
    p.add_argument("--max-tokens", type=int, default=TextStudy.max_tokens,
                   help="documents are truncated to this many tokens")
    p.add_argument("--hash-dim", type=int, default=TextStudy.hash_dim, help="lexical hashing dimension")
    return p


def check_args(args: TextStudy) -> TextStudy:
    """Validate the settings (ValueError naming the flag); returns them with ``candidates`` filled in."""
    args = D.check_study(args, {"--max-tokens": args.max_tokens, "--hash-dim": args.hash_dim})
    if any(m <= 0 for m in args.budgets):
        raise ValueError(f"--budgets: multipliers must be positive, got {args.budgets}")
    return args


class Prepared(Memo):
    """One task: texts, lexical features and both representations' embeddings."""

    def __init__(self, task: str, args: TextStudy):
        super().__init__()
        from kcover.experiments.encoders.cache import embed_dataset
        from kcover.experiments.encoders.registry import get_encoder
        from kcover.experiments.text_data import load_text
        from kcover.featurize import hash_text

        pool_src = load_text(task, "pool", data_dir=args.data_dir)
        test = load_text(task, "test", data_dir=args.data_dir)
        src_rows = P.subsample(len(pool_src.texts), args.candidates, 0)
        test_rows = P.subsample(len(test.texts), args.test, 0)
        texts = [pool_src.texts[i] for i in src_rows]
        texts_test = [test.texts[i] for i in test_rows]
        self.labels, self.labels_test = pool_src.labels[src_rows], test.labels[test_rows]
        self.num_classes = pool_src.num_classes
        self.lexical = hash_text(texts, dim=args.hash_dim)
        cache = args.cache_dir or os.path.join(args.out, "cache")
        self.embed = {}
        for rep in REPRESENTATIONS:
            enc = get_encoder(args.encoder, args.weights_dir, random_init=rep == "random", seed=0, dtype=args.dtype,
                              batch_size=args.batch_size, max_length=args.max_tokens)
            prep = f"text-max{args.max_tokens}"
            self.embed[rep] = (
                embed_dataset(enc, texts, cache_dir=cache, dataset=task, split=f"pool{len(texts)}",
                              preprocessing=prep, progress=not args.no_progress),
                embed_dataset(enc, texts_test, cache_dir=cache, dataset=task, split=f"test{len(texts_test)}",
                              preprocessing=prep, progress=not args.no_progress),
            )
        n = len(texts)
        size = P.pool_size(args.pool, n)
        self.pools = {s: P.draw_pool(n, size, s) for s in range(args.seeds)}
        self.progress = not args.no_progress

    def cell(self, key: dict[str, Any]) -> dict[str, Any]:
        rep, seed, sel = key["representation"], key["seed"], key["selector"]
        pool = self.pools[seed]
        c = self.num_classes
        if sel == "diagnostic":
            record = P.advisor_record(self.lexical[pool], self.embed[rep][0][pool], self.labels[pool],
                                      [m * c for m in key["budgets"]], input_kernel="cosine",
                                      learner_kernel="cosine", seed=seed,
                                      **P.advisor_options(key))
            record["num_classes"] = c
            record["verdict_at_C"] = record["verdicts"].get(str(c), {}).get("verdict")
            record["budget_multipliers"] = {str(m * c): m for m in key["budgets"]}
            return record
        y = self.labels[pool]
        k = min(key["budget"] * c, len(pool))
        emb = self.memo(("embed", rep, seed), lambda: P.standardize(self.embed[rep][0][pool], self.embed[rep][1]))
        # greedy picks are nested: the largest budget's run gives every smaller one as a prefix
        if sel == "random":
            picks = P.select_indices("random", None, k, seed=seed, kernel="cosine", n=len(pool))
        else:
            geom = self.lexical[pool] if sel == "input-FL" else self.embed[rep][0][pool]
            kmax = min(max(self.budget_multipliers) * c, len(pool))
            order = self.memo((sel, rep if sel == "learner-FL" else "", seed), lambda: P.select_indices(
                sel, geom, kmax, seed=seed, kernel="cosine", n=len(pool)))
            picks = order[:k]
        acc = P.subset_accuracy(emb, y, self.labels_test, picks, c, seed=seed)
        return {"acc": acc, "k": int(k), "num_classes": c, "n_pool": len(pool), "n_test": len(self.labels_test),
                "picks": [int(i) for i in picks]}




def group_of(key: dict[str, Any]) -> str:
    """The group a cell belongs to: its task, whose texts and features are prepared once."""
    return key["task"]


def prepare_group(task: str, args: TextStudy) -> Prepared:
    """The prepared state of one task (:class:`Prepared`)."""
    st = Prepared(task, args)
    st.budget_multipliers = args.budgets
    return st


def cells(args: TextStudy) -> list[dict[str, Any]]:
    """Every cell key of the run: diagnostics first, then the sweep, grouped by task."""
    out = []
    sizes = {"pool": args.pool, "candidates": args.candidates, "test": args.test, "max_tokens": args.max_tokens,
             "hash_dim": args.hash_dim}
    for t in args.tasks:
        base = {"task": t, "encoder": args.encoder, **sizes}
        out += [{**base, "representation": r, "budget": 0, "selector": "diagnostic", "seed": seed,
                 "budgets": sorted(args.budgets)} for r in REPRESENTATIONS for seed in range(args.diagnostic_seeds)]
        out += [{**base, "representation": r, "budget": m, "selector": s, "seed": seed}
                for r in REPRESENTATIONS for seed in range(args.seeds) for m in args.budgets
                for s in P.TEXT_SELECTORS if s in args.selectors]
    return out


def run(args: TextStudy | argparse.Namespace) -> int:
    """Compute every unfinished cell, then write Table 2, Fig. 3 and the JSON."""
    args = check_args(as_settings(TextStudy, args))
    rows, ran = drive(args.out, cells(args), group=group_of, prepare=lambda t: prepare_group(t, args),
                      compute=lambda st, k: st.cell(dict(k)), desc="llm cells", progress=not args.no_progress)
    paths = report(rows, Path(args.out))
    print(f"{ran} cells computed, {len(rows) - ran} reused; wrote {', '.join(str(p) for p in paths)}")
    print((Path(args.out) / "table2.md").read_text())
    return 0


def _diagnostic(rows, task, rep):
    """The diagnostic record of the lowest diagnostic seed for ``task`` and ``rep``, or None."""
    found = sorted((r for r in rows if r["key"]["task"] == task and r["key"]["representation"] == rep
                    and r["key"]["selector"] == "diagnostic"), key=lambda r: r["key"]["seed"])
    return found[0]["value"] if found else None


def sweep_curves(rows: Sequence[dict[str, Any]], task: str) -> dict[str, Any]:
    """Per representation: budgets, ADV mean/std/seeds positive, per-selector accuracy, the advisor's verdicts."""
    out: dict[str, Any] = {}
    for rep in REPRESENTATIONS:
        ms = sorted({r["key"]["budget"] for r in rows if r["key"]["task"] == task
                     and r["key"]["representation"] == rep and r["key"]["selector"] != "diagnostic"})
        where = lambda m, rep=rep: {"task": task, "representation": rep, "budget": m}
        adv = [P.advantage_stats(rows, where(m)) for m in ms]
        acc = {s: [P.mean_accuracy(rows, {**where(m), "selector": s}) for m in ms] for s in P.TEXT_SELECTORS}
        diag = _diagnostic(rows, task, rep) or {}
        mult = {int(m): k for k, m in diag.get("budget_multipliers", {}).items()}
        verdicts = [diag.get("verdicts", {}).get(mult[m]) if m in mult else None for m in ms]
        out[rep] = {"budget_multiplier": ms, "adv_mean": [a.mean for a in adv], "adv_std": [a.std for a in adv],
                    "adv_seeds": [a.seeds for a in adv], "adv_positive": [a.positive for a in adv],
                    "acc_mean": {s: [a[0] for a in v] for s, v in acc.items()},
                    "acc_std": {s: [a[1] for a in v] for s, v in acc.items()},
                    "advisor": verdicts}
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
        for rep in REPRESENTATIONS:
            c = rec["curves"][rep]
            for i, m in enumerate(c["budget_multiplier"]):
                st = P.AdvantageStats(c["adv_mean"][i], c["adv_std"][i], c["adv_seeds"][i], c["adv_positive"][i])
                a_priori, pilot = P.verdict_texts(c["advisor"][i])
                rows.append([task, rep, f"{m}C", st.text(), a_priori, pilot])
    if not rows:
        return ""
    return ("ADV = acc(learner-FL) - acc(input-FL) per budget: mean ± sd over seeds (seeds with ADV > 0 / seeds; "
            "each seed draws its own pool), and the advisor on the first seed's pool (pilot: mean ADV ± se over "
            "its splits, splits with ADV > 0 / splits).\n\n"
            + P.study_table(["task", "representation", "budget", "realized ADV", "a priori", "pilot"], rows))


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
        body.append([t, d.get("num_classes", "?"), _acc(d.get("input_probe_acc")),
                     _acc(d.get("learner_probe_acc")), d.get("gap", float("nan")), dr.get("gap", float("nan")),
                     mean_adv, at_c, paper[1] - paper[0] if paper else "n/a"])
        record[t] = {"diagnostic": d, "diagnostic_random": dr, "curves": curves}
        if pre["budget_multiplier"]:
            figure3(curves, t, out / f"fig3_{t}.png")
            paths.append(out / f"fig3_{t}.png")
    note = ("Full-budget probe accuracies (kcover advise on the first seed's pool): lexical vs embedding, gap = "
            "embed - lexical; mean ADV over the budget sweep (pretrained).\n\n")
    atomic_write_text(out / "table2.md", note + P.study_table(header, body) + "\n" + budget_table(record))
    atomic_write_text(out / "table2.csv", P.csv_table(header, body))
    payload = {"table2": {"header": header, "rows": body}, "tasks": record,
               "cells": [{**r["key"], **{k: v for k, v in r["value"].items() if k != "picks"}} for r in rows
                         if r["key"].get("selector") != "diagnostic"]}
    atomic_write_text(out / "llm.json", json.dumps(payload, indent=1, default=float))
    paths.append(out / "llm.json")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.llm``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.llm", build_parser(), run, argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
