"""The vision study (paper section 4, Table 1, Fig. 2), resumable cell by cell.

    python -m kcover.experiments.vision --datasets mnist5k --backbones efficientnet-lite0 --out runs/vision

For each dataset and backbone, features come from the encoder in two representations,
``pretrained`` (non-local) and ``random`` (a seeded random init of the same architecture:
local). From a pool of ``--pool`` points, ``k`` are selected by facility location (rbf kernel, or
``--kernel cosine``) in three geometries, input (pixels downsampled to ``--pixel-size``² per channel, standardized),
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
Outputs (:mod:`kcover.experiments.vision_report`): ``table1.md``/``table1.csv`` (ADV =
acc(learner-FL) - acc(input-FL), mean ± sd over seeds and the count of seeds with ADV > 0: conj =
pretrained, hard, tight; -C loose; -A random representation; -B smooth task; and how many seeds put
the conjunction ahead of each removal), ``accuracy.md``, ``fig2.png``, ``vision.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kcover.experiments import driver as D
from kcover.experiments import protocol as P
from kcover.experiments.driver import Memo, as_settings, main_with_errors, run_study
from kcover.experiments.vision_report import report

TASKS = ("hard", "smooth")
BUDGETS = {"tight": 1, "loose": 6}


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
    D.add_study_flags(
        p,
        VisionStudy,
        "images",
        weights_help="folder with one Hugging Face directory per backbone (WEIGHTS/vit-b16, ...)",
        data_help="local TFDS data_dir (not needed for mnist5k, digits)",
    )
    p.add_argument(
        "--pixel-size", type=int, default=VisionStudy.pixel_size, help="input geometry: pixels downsampled to this size"
    )
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
            raise ValueError(
                f"--backbones: {b!r} is not an image encoder; choose from "
                f"{', '.join(e for e in ENCODERS if e not in TEXT_ENCODERS)}"
            )
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
        encoders = {
            rep: get_encoder(
                backbone, weights, random_init=rep == "random", seed=0, dtype=args.dtype, batch_size=args.batch_size
            )
            for rep in P.REPRESENTATIONS
        }
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
            rep: (
                embed_dataset(
                    enc,
                    src.images,
                    cache_dir=cache,
                    dataset=dataset,
                    split="pool",
                    preprocessing=prep,
                    progress=not args.no_progress,
                ),
                embed_dataset(
                    enc,
                    test.images,
                    cache_dir=cache,
                    dataset=dataset,
                    split="test",
                    preprocessing=f"uint8-{size}px-limit{args.test}",
                    progress=not args.no_progress,
                ),
            )
            for rep, enc in encoders.items()
        }
        n = len(self.labels)
        size = P.pool_size(args.pool, n)
        self.pools = {s: P.draw_pool(n, size, s) for s in range(args.seeds)}
        self.kernel = args.kernel

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
            record = P.advisor_record(
                self.pixels[pool],
                emb.pool,
                y,
                [m * c for m in BUDGETS.values()],
                input_kernel=self.kernel,
                learner_kernel=self.kernel,
                seed=seed,
                **P.advisor_options(key),
            )
            record["budget_names"] = {str(m * c): name for name, m in BUDGETS.items()}
            return record
        k = min(BUDGETS[key["budget"]] * c, len(pool))
        if sel == "random":
            picks = P.select_indices("random", None, k, seed=seed, kernel=self.kernel, n=len(pool))
        elif sel == "input-FL":
            picks = self.memo(
                ("input", seed, k),
                lambda: P.select_indices(sel, self.pixels[pool], k, seed=seed, kernel=self.kernel, n=len(pool)),
            )
        elif sel == "learner-FL":
            picks = self.memo(
                ("emb", rep, seed, k),
                lambda: P.select_indices(sel, emb.pool, k, seed=seed, kernel=self.kernel, n=len(pool)),
            )
        else:
            grad = self.memo(("grad", rep, task, seed), lambda: P.gradient_features(emb.pool, y, c, seed=seed))
            picks = P.select_indices(sel, grad, k, seed=seed, kernel=self.kernel, n=len(pool))
        acc = P.subset_accuracy(emb, y, y_test, picks, c, seed=seed)
        return {
            "acc": acc,
            "k": int(k),
            "num_classes": c,
            "n_pool": len(pool),
            "n_test": len(y_test),
            "picks": [int(i) for i in picks],
        }


def group_of(key: dict[str, Any]) -> tuple[str, str]:
    """The group a cell belongs to: (dataset, backbone), whose features are prepared once."""
    return key["dataset"], key["backbone"]


def prepare_group(group: tuple[str, str], args: VisionStudy) -> Prepared:
    """The prepared state of one group (:class:`Prepared`)."""
    return Prepared(*group, args)


def cells(args: VisionStudy) -> list[dict[str, Any]]:
    """Every cell key of the run, in a stable order: per (dataset, backbone) the sweep, then the advisor."""
    sizes = {"pool": args.pool, "candidates": args.candidates, "test": args.test, "pixel_size": args.pixel_size}
    sizes |= D.kernel_field(args.kernel, VisionStudy.kernel)
    out = []
    for d in args.datasets:
        for b in args.backbones:
            out += [
                {
                    "dataset": d,
                    "backbone": b,
                    "representation": r,
                    "task": t,
                    "budget": bu,
                    "selector": s,
                    "seed": seed,
                    **sizes,
                }
                for r in P.REPRESENTATIONS
                for t in TASKS
                for bu in BUDGETS
                for seed in range(args.seeds)
                for s in args.selectors
            ]
            out += [
                {
                    "dataset": d,
                    "backbone": b,
                    "representation": r,
                    "task": t,
                    "budget": "all",
                    "selector": "diagnostic",
                    "seed": seed,
                    **sizes,
                }
                for r in P.REPRESENTATIONS
                for t in TASKS
                for seed in range(args.diagnostic_seeds)
            ]
    return out


def run(args: VisionStudy | argparse.Namespace) -> int:
    """Compute every unfinished cell, then write the tables, figure and JSON."""
    args = check_args(as_settings(VisionStudy, args))
    return run_study(args, cells(args), group_of, prepare_group, report, "vision cells", "table1.md")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.vision``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.vision", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
