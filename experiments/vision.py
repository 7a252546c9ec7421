"""The vision study (paper section 4, Table 1, Fig. 2), resumable cell by cell.

    python -m kcover.experiments.vision --datasets mnist5k --backbones efficientnet-lite0 --out runs/vision

For each dataset and backbone, features come from the encoder in two representations,
``pretrained`` (non-local) and ``random`` (a seeded random init of the same architecture:
local). From a pool of ``--pool`` points, ``k`` are selected by facility location in three
geometries, input (pixels downsampled to ``--pixel-size``² per channel, standardized),
embedding (the backbone's features) and gradient (CRAIG's last-layer p - onehot(y), see
:mod:`kcover.experiments.protocol`), plus random; one fixed probe is fit on the *embedding* features
of the subset and scored on the held-out split. The task is ``hard`` (the class label) or
``smooth`` (mean image intensity binned into C equal-frequency classes, interpolable in pixel
space); the budget ``tight`` (k = C) or ``loose`` (k = 6C). ``--seeds`` seeds, each drawing a
fresh pool of ``--pool`` images (at most 80% of the candidates, :func:`protocol.pool_size`) from
a fixed candidate set of ``--candidates`` (default 2 x ``--pool``) images of the pool split, so
the spread over seeds includes the pool's. The advisor (``kcover advise``, pilot and a-priori
verdicts at both budgets, with the study's kernels) runs on the pools of the first
``--diagnostic-seeds`` seeds (default 1; 0 skips it).

Each finished cell (dataset, backbone, representation, task, budget, selector, seed, and the
sizes that define it: pool, candidates, test, pixel size) is appended to ``OUT/results.jsonl``
as it finishes; a rerun skips finished cells; a kill loses none; a cell whose key changed (an
older format, other sizes) is simply computed again.
Outputs: ``table1.md``/``table1.csv`` (ADV = acc(learner-FL) - acc(input-FL), mean ± sd over seeds
and the count of seeds with ADV > 0: conj = pretrained, hard, tight; -C loose; -A random
representation; -B smooth task; and how many seeds put the conjunction ahead of each removal),
``accuracy.md``, ``fig2.png``, ``vision.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import driver as D
from kcover.experiments import protocol as P
from kcover.experiments.driver import Memo, as_settings, drive, main_with_errors
from kcover.experiments.store import atomic_write_text

REPRESENTATIONS = ("pretrained", "random")
TASKS = ("hard", "smooth")
BUDGETS = {"tight": 1, "loose": 6}
COLUMNS = {  # Table 1: column -> (representation, task, budget)
    "conj": ("pretrained", "hard", "tight"),
    "-C (loose)": ("pretrained", "hard", "loose"),
    "-A (rand. rep)": ("random", "hard", "tight"),
    "-B (smooth)": ("pretrained", "smooth", "tight"),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class VisionStudy(D.StudySettings):
    """The vision study's settings (:class:`~kcover.experiments.driver.StudySettings` and these)."""

    datasets: tuple[str, ...]
    backbones: tuple[str, ...] = ("vit-b16", "clip-b32")
    seeds: int = 4
    pixel_size: int = 16
    selectors: tuple[str, ...] = P.SELECTORS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.vision", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", required=True, help="registry names (kcover.experiments.vision_data)")
    p.add_argument("--backbones", nargs="+", default=VisionStudy.backbones, help="encoder names")
    D.add_study_flags(p, VisionStudy, "images",
                    weights_help="folder with one Hugging Face directory per backbone (WEIGHTS/vit-b16, ...)",
                    data_help="local TFDS data_dir (not needed for mnist5k, digits)")
    p.add_argument("--pixel-size", type=int, default=VisionStudy.pixel_size,
                   help="input geometry: pixels downsampled to this size")
    p.add_argument("--selectors", nargs="+", default=VisionStudy.selectors, choices=P.SELECTORS)
    return p


def check_args(args: VisionStudy) -> VisionStudy:
    """Validate the settings (ValueError naming the flag); returns them with ``candidates`` filled in."""
    from kcover.experiments.encoders.registry import ENCODERS, TEXT_ENCODERS
    from kcover.experiments.vision_data import dataset

    for name in args.datasets:
        entry = dataset(name)
        if entry.needs_data_dir and args.data_dir is None:
            raise ValueError(f"--data-dir: {name} is a TFDS dataset; give the local data_dir that holds it")
    for b in args.backbones:
        if b not in ENCODERS or b in TEXT_ENCODERS:
            raise ValueError(f"--backbones: {b!r} is not an image encoder; choose from "
                             f"{', '.join(e for e in ENCODERS if e not in TEXT_ENCODERS)}")
    return D.check_study(args, {"--pixel-size": args.pixel_size})


class Prepared(Memo):
    """Everything one (dataset, backbone) needs, loaded once and kept for its cells."""

    def __init__(self, dataset: str, backbone: str, args: VisionStudy):
        super().__init__()
        from kcover.experiments.encoders.cache import embed_dataset
        from kcover.experiments.encoders.registry import get_encoder
        from kcover.experiments.vision_data import load_images
        from kcover.featurize import pixel_features

        weights = None
        if args.weights_dir is not None and (Path(args.weights_dir) / backbone).exists():
            weights = Path(args.weights_dir) / backbone
        encoders = {rep: get_encoder(backbone, weights, random_init=rep == "random", seed=0, dtype=args.dtype,
                                     batch_size=args.batch_size) for rep in REPRESENTATIONS}
        size = max(encoders["pretrained"].image_size)
        src = load_images(dataset, "pool", size=size, data_dir=args.data_dir, limit=args.candidates, seed=0)
        test = load_images(dataset, "test", size=size, data_dir=args.data_dir, limit=args.test, seed=0)
        self.num_classes = src.num_classes
        self.labels, self.labels_test = src.labels, test.labels
        px = (args.pixel_size, args.pixel_size)
        self.pixels = pixel_features(src.images, size=px)
        self.intensity = src.images.reshape(len(src.labels), -1).mean(1)
        self.intensity_test = test.images.reshape(len(test.labels), -1).mean(1)
        cache = args.cache_dir or os.path.join(args.out, "cache")
        prep = f"uint8-{size}px-limit{args.candidates}"
        self.embed = {
            rep: (embed_dataset(enc, src.images, cache_dir=cache, dataset=dataset, split="pool", preprocessing=prep,
                                progress=not args.no_progress),
                  embed_dataset(enc, test.images, cache_dir=cache, dataset=dataset, split="test",
                                preprocessing=f"uint8-{size}px-limit{args.test}", progress=not args.no_progress))
            for rep, enc in encoders.items()
        }
        n = len(self.labels)
        size = P.pool_size(args.pool, n)
        self.pools = {s: P.draw_pool(n, size, s) for s in range(args.seeds)}

    def cell(self, key: dict[str, Any]) -> dict[str, Any]:
        rep, task, seed, sel = key["representation"], key["task"], key["seed"], key["selector"]
        pool = self.pools[seed]
        c = self.num_classes
        if task == "hard":
            y, y_test = self.labels[pool], self.labels_test
        else:
            y, y_test = P.smooth_labels(self.intensity[pool], self.intensity_test, c)
        emb = self.memo(("embed", rep, seed), lambda: P.standardize(self.embed[rep][0][pool], self.embed[rep][1]))
        if sel == "diagnostic":
            record = P.advisor_record(self.pixels[pool], emb.pool, y, [m * c for m in BUDGETS.values()],
                                      input_kernel="rbf", learner_kernel="rbf", seed=seed,
                                      **P.advisor_options(key))
            record["budget_names"] = {str(m * c): name for name, m in BUDGETS.items()}
            return record
        k = min(BUDGETS[key["budget"]] * c, len(pool))
        if sel == "random":
            picks = P.select_indices("random", None, k, seed=seed, kernel="rbf", n=len(pool))
        elif sel == "input-FL":
            picks = self.memo(("input", seed, k), lambda: P.select_indices(
                sel, self.pixels[pool], k, seed=seed, kernel="rbf", n=len(pool)))
        elif sel == "learner-FL":
            picks = self.memo(("emb", rep, seed, k), lambda: P.select_indices(
                sel, emb.pool, k, seed=seed, kernel="rbf", n=len(pool)))
        else:
            grad = self.memo(("grad", rep, task, seed), lambda: P.gradient_features(emb.pool, y, c, seed=seed))
            picks = P.select_indices(sel, grad, k, seed=seed, kernel="rbf", n=len(pool))
        acc = P.subset_accuracy(emb, y, y_test, picks, c, seed=seed)
        return {"acc": acc, "k": int(k), "num_classes": c, "n_pool": len(pool), "n_test": len(y_test),
                "picks": [int(i) for i in picks]}




def group_of(key: dict[str, Any]) -> tuple[str, str]:
    """The group a cell belongs to: (dataset, backbone), whose features are prepared once."""
    return key["dataset"], key["backbone"]


def prepare_group(group: tuple[str, str], args: VisionStudy) -> Prepared:
    """The prepared state of one group (:class:`Prepared`)."""
    return Prepared(*group, args)


def cells(args: VisionStudy) -> list[dict[str, Any]]:
    """Every cell key of the run, in a stable order: per (dataset, backbone) the sweep, then the advisor."""
    sizes = {"pool": args.pool, "candidates": args.candidates, "test": args.test, "pixel_size": args.pixel_size}
    out = []
    for d in args.datasets:
        for b in args.backbones:
            out += [{"dataset": d, "backbone": b, "representation": r, "task": t, "budget": bu, "selector": s,
                     "seed": seed, **sizes}
                    for r in REPRESENTATIONS for t in TASKS for bu in BUDGETS for seed in range(args.seeds)
                    for s in args.selectors]
            out += [{"dataset": d, "backbone": b, "representation": r, "task": t, "budget": "all",
                     "selector": "diagnostic", "seed": seed, **sizes}
                    for r in REPRESENTATIONS for t in TASKS for seed in range(args.diagnostic_seeds)]
    return out


def run(args: VisionStudy | argparse.Namespace) -> int:
    """Compute every unfinished cell, then write the tables, figure and JSON."""
    args = check_args(as_settings(VisionStudy, args))
    rows, ran = drive(args.out, cells(args), group=group_of,
                      prepare=lambda g: prepare_group(g, args), compute=lambda st, k: st.cell(dict(k)),
                      desc="vision cells", progress=not args.no_progress)
    paths = report(rows, Path(args.out))
    print(f"{ran} cells computed, {len(rows) - ran} reused; wrote {', '.join(str(p) for p in paths)}")
    print((Path(args.out) / "table1.md").read_text())
    return 0


def advisor(rows: Sequence[dict[str, Any]], where: dict[str, Any], k_name: str) -> dict[str, Any] | None:
    """The advisor's verdicts at budget ``k_name`` ("tight"/"loose"), first diagnostic cell matching ``where``."""
    diags = sorted((r for r in rows if r["key"].get("selector") == "diagnostic"
                    and all(r["key"].get(f) == v for f, v in where.items())), key=lambda r: r["key"]["seed"])
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
        out[col] = {"diff_mean": float(diff.mean()) if seeds else float("nan"),
                    "diff_std": float(diff.std(ddof=1)) if diff.size > 1 else 0.0,
                    "seeds_conj_ahead": int(np.sum(diff > 0)), "seeds": len(seeds)}
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
            record.setdefault(label, {})[col] = {"adv_mean": st.mean, "adv_std": st.std, "seeds": st.seeds,
                                                 "positive": st.positive, "text": st.text(),
                                                 "advisor": advisor(rows, where, budget)}
        record[label]["separation"] = separation(rows, d, b)
        body.append([label] + vals)
    if body:
        means = [float(np.nanmean([row[i] for row in body])) if any(not np.isnan(row[i]) for row in body)
                 else float("nan") for i in range(1, len(header))]
        body.append(["mean"] + means)
        record["mean"] = dict(zip(COLUMNS, means))
    return header, body, record


def accuracy_table(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Mean accuracy per (dataset, backbone, representation, task, budget) and selector."""
    groups = sorted({tuple(r["key"][f] for f in ("dataset", "backbone", "representation", "task", "budget"))
                     for r in rows if r["key"].get("selector") != "diagnostic"})
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
        ax.bar(x + (j - (len(COLUMNS) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=col,
               color=colors[col])
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
    lines = ["ADV = acc(learner-FL) - acc(input-FL): mean ± sd over seeds (seeds with ADV > 0 / seeds); "
             "each seed draws its own pool.", ""]
    text_body = [[row[0]] + [record[row[0]][col]["text"] for col in COLUMNS] if row[0] != "mean" else row
                 for row in body]
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
        lines += ["The advisor on the first seed's pool (`kcover advise`; pilot: mean ADV ± se over its splits, "
                  "splits with ADV > 0 / splits) beside the realized ADV:", "",
                  P.study_table(["dataset", "cell", "realized ADV", "a priori", "pilot"], adv_rows)]
    if sep_rows:
        lines += ["The conjunction against each removal, paired by seed (conj ADV - removal ADV; seeds where the "
                  "conjunction is ahead / seeds):", "",
                  P.study_table(["dataset", "removal", "conj - removal", "seeds conj ahead"], sep_rows)]
    return "\n".join(lines)


def report(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """Write table1.md/.csv, accuracy.md, fig2.png and vision.json from result rows."""
    out.mkdir(parents=True, exist_ok=True)
    header, body, record = table1(rows)
    acc_header, acc_body = accuracy_table(rows)
    atomic_write_text(out / "table1.md", table1_markdown(header, body, record))
    extra = [f"{col} {what}" for col in COLUMNS for what in ("sd", "seeds>0", "seeds")]
    csv_body = [row + [record[row[0]][col][f] for col in COLUMNS for f in ("adv_std", "positive", "seeds")]
                if row[0] in record and row[0] != "mean" else row + [""] * len(extra) for row in body]
    atomic_write_text(out / "table1.csv", P.csv_table(header + extra, csv_body))
    accuracy = P.study_table(acc_header, acc_body, signed=False)
    atomic_write_text(out / "accuracy.md", "Mean probe accuracy over seeds\n\n" + accuracy)
    if any(row[0] != "mean" for row in body):
        figure2(header, body, out / "fig2.png", record)
    payload = {"table1": {"header": header, "rows": body, "detail": record},
               "accuracy": {"header": acc_header, "rows": acc_body},
               "cells": [{**r["key"], **{k: v for k, v in r["value"].items() if k != "picks"}} for r in rows
                         if r["key"].get("selector") != "diagnostic"]}
    atomic_write_text(out / "vision.json", json.dumps(payload, indent=1, default=float))
    return [out / "table1.md", out / "table1.csv", out / "fig2.png", out / "vision.json"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.vision``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.vision", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
