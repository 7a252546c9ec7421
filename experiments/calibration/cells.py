"""A calibration cell: one (dataset, encoder, representation, task, budget), read from the study drivers' results.

The cells (:data:`TEXT`, :data:`VISION`): BBC News (part ``text``) and Rotten Tomatoes (part
``rotten_tomatoes``, held out) with all-MiniLM-L6-v2 against lexical hashing at budgets C, 2C, 4C,
8C, 12C; MNIST-5k and scikit-learn digits with EfficientNet-Lite0 against
8x8 pixels, the label and the mean-intensity task at k = C (tight) and 6C (loose); each with the
pretrained and a random-init representation. :func:`collect` reads each cell's truth (the realized
ADV over its pools) and the advisor's records per pool (its default settings, and each of
:data:`VARIANTS`) from the drivers' ``results.jsonl`` files.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kcover.advisor.options import MARGIN
from kcover.experiments import protocol as P
from kcover.experiments.llm import TextStudy
from kcover.experiments.store import ResultStore
from kcover.experiments.vision import VisionStudy

TRUTH_MARGIN = MARGIN
TUNING = ("bbc_news", "mnist5k")
HELD_OUT = ("digits", "rotten_tomatoes")
TEXT_STUDY: dict[str, Any] = {"encoder": "minilm", "max_tokens": 128, "hash_dim": 4096, "budgets": (1, 2, 4, 8, 12)}
"""The text studies' shared settings; :data:`TEXT` maps each text part to its task and split sizes."""
TEXT: dict[str, dict[str, Any]] = {
    "text": {"task": "bbc_news", "candidates": 1780, "test": 445},
    "rotten_tomatoes": {"task": "rotten_tomatoes", "candidates": 3000, "test": 1000},
}
VISION: dict[str, dict[str, int]] = {
    "digits": {"candidates": 1297, "test": 500},
    "mnist5k": {"candidates": 4000, "test": 1000},
}
BACKBONE = "efficientnet-lite0"
PIXEL_SIZE = 8
VARIANTS = {"fraction": {"pilot_budgets": "fraction"}, "score 10%": {"pilot_test_fraction": 0.1}}
"""The advisor's other settings run on the same pools: the pilot's other budget rule, and a scoring share of 10%."""


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
    kernel: str = ""  # the selection kernel, both geometries and the advisor's

    @property
    def label(self) -> str:
        dataset = f"{self.dataset} ({self.kernel})" if self.kernel else self.dataset
        return f"{dataset} / {self.representation} / {self.task} / {self.budget}"

    @property
    def pay(self) -> bool:
        return self.truth.mean > TRUTH_MARGIN

    @property
    def close_call(self) -> bool:
        se = self.truth.std / np.sqrt(max(self.truth.seeds, 1))
        return abs(self.truth.mean - TRUTH_MARGIN) < 2 * se


def _rows(out: Path, part: str, where: dict[str, Any]) -> list[dict[str, Any]]:
    path = out / part / "results.jsonl"
    if not path.exists():
        return []
    return [r for r in ResultStore(path).rows() if all(r["key"].get(f) == v for f, v in where.items())]


def _diags(rows: list[dict[str, Any]], where: dict[str, Any], variant: str | None, limit: int) -> list[dict[str, Any]]:
    options = VARIANTS.get(variant, {}) if variant else {}
    found = sorted(
        (
            r
            for r in rows
            if r["key"]["selector"] == "diagnostic"
            and P.advisor_options(r["key"]) == options
            and all(r["key"].get(f) == v for f, v in where.items())
        ),
        key=lambda r: r["key"]["seed"],
    )
    return [dict(r["value"], seed=r["key"]["seed"]) for r in found][:limit]


def default_kernel(name: str) -> str:
    """The selection kernel a study uses without ``--kernel``, for a part or a dataset name: the
    text study's (:data:`TEXT`'s parts and tasks) or the vision study's."""
    text = set(TEXT) | {t["task"] for t in TEXT.values()}
    return TextStudy.kernel if name in text else VisionStudy.kernel


def study_kernel(part: str, kernel: str | None) -> tuple[str, dict[str, str | None]]:
    """The selection kernel of ``part``'s cells (``kernel``, or the study's default) and how the
    drivers' cell keys record it (only when it is not the default, see
    :func:`kcover.experiments.driver.kernel_field`)."""
    default = default_kernel(part)
    kernel = kernel or default
    return kernel, {"kernel": None if kernel == default else kernel}


def candidates(part: str, args: argparse.Namespace) -> int:
    """Rows each of ``part``'s pools is drawn from: ``args.candidates`` when given, else the part's own."""
    given = getattr(args, "candidates", None)
    own = TEXT[part]["candidates"] if part in TEXT else VISION[part]["candidates"]
    return int(given) if given else int(own)


def collect(out: Path, args: argparse.Namespace) -> list[Cell]:
    """Every cell with results under ``out``: truth from the sweep rows, advisor records from the diagnostics."""
    cells: list[Cell] = []
    for part, t in TEXT.items():
        if part in args.parts:
            kernel, kf = study_kernel(part, args.kernel)
            where: dict[str, Any] = {
                "pool": args.pool,
                **t,
                "candidates": candidates(part, args),
                "max_tokens": TEXT_STUDY["max_tokens"],
            }
            rows = _rows(out, part, where | kf)
            budgets = [(f"{m}C", m, m) for m in TEXT_STUDY["budgets"]]
            for rep in P.REPRESENTATIONS:
                cells += _cells(rows, args, (t["task"], rep, "label"), {"representation": rep}, budgets, 5, kernel)
    for ds, v in VISION.items():
        if ds in args.parts:
            kernel, kf = study_kernel(ds, args.kernel)
            where = {"pool": args.pool, "candidates": candidates(ds, args), "dataset": ds, "test": v["test"]}
            rows = _rows(out, ds, where | {"pixel_size": PIXEL_SIZE} | kf)
            budgets = [(f"{name} ({mult}C)", name, mult) for name, mult in (("tight", 1), ("loose", 6))]
            for rep in P.REPRESENTATIONS:
                for task in ("hard", "smooth"):
                    coords = (ds, rep, "label" if task == "hard" else "smooth")
                    cells += _cells(rows, args, coords, {"representation": rep, "task": task}, budgets, 10, kernel)
    return cells


def _cells(
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    coords: tuple[str, str, str],
    where: dict[str, Any],
    budgets: list[tuple[str, Any, int]],
    default_c: int,
    kernel: str,
) -> list[Cell]:
    """The cells of one (dataset, representation, task) = ``coords`` whose rows match ``where``: one per
    (budget label, budget key in the rows, multiple of C) in ``budgets`` that has a truth."""
    diags = _diags(rows, where, None, args.diagnostic_seeds)
    var = {v: _diags(rows, where, v, args.diagnostic_seeds) for v in VARIANTS}
    c = diags[0]["num_classes"] if diags else default_c
    out = []
    for label, key, mult in budgets:
        at = where | {"budget": key}
        truth = P.advantage_stats(rows, at)
        if truth.seeds:
            k = mult * c
            records = tuple(_at(d, k) for d in diags)
            variants = {v: tuple(_at(d, k) for d in ds) for v, ds in var.items()}
            pool_adv = tuple(P.seed_differences(rows, at).items())
            out.append(Cell(*coords, label, k, truth, records, variants, pool_adv, kernel))
    return out


def _at(record: dict[str, Any], k: int) -> dict[str, Any]:
    """The advisor's measurements at budget ``k`` from a diagnostic record (:func:`protocol.advisor_record`)."""
    budget = next((b for b in record["budgets"] if b["k"] == k), None)
    return {
        "record": {
            f: record.get(f)
            for f in ("gap", "gap_se", "misalignment", "r_eff", "r_eff_input", "num_classes", "nn_input", "nn_learner")
        },
        "budget": budget,
        "seed": record.get("seed"),
    }
