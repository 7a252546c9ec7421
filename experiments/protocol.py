"""The shared protocol of the paper's studies: select in one geometry, score with one fixed probe.

For a pool (features in several geometries, labels) and a held-out test split:

1. select k pool points by greedy facility location (kcover, lazy) in a geometry's features,
   or uniformly at random;
2. fit the **fixed probe** (kcover's multinomial logistic regression) on the *learner
   (embedding) features* of the selected points only, so that only the selection geometry
   varies; the embedding features are standardized once with the whole pool's mean and
   standard deviation (a k-point subset is too small to estimate them);
3. score it on the test split: top-1 accuracy.

The gradient geometry is CRAIG's last-layer approximation (Mirzasoleiman et al. 2020, sec. 3.4):
for a linear softmax probe fit on the whole pool's embeddings and labels, each pool point's
feature is the gradient of its cross-entropy loss with respect to the logits, p(x) - onehot(y)
(C dimensions). Facility location in the gradient geometry uses the rbf kernel on these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

import kcover
from kcover.probe import fit_probe, predict_probe

GEOMETRY_SELECTORS = ("input-FL", "embed-FL", "grad-FL")


class Standardized(NamedTuple):
    """Pool and test embeddings standardized with the pool's statistics."""

    pool: np.ndarray
    test: np.ndarray


def standardize(pool: np.ndarray, test: np.ndarray) -> Standardized:
    """Center and scale both with the pool's column mean and std (std < 1e-6·max set to 1)."""
    mean = pool.mean(0)
    std = pool.std(0)
    std = np.where(std < 1e-6 * max(float(std.max()), 1e-30), 1.0, std)
    return Standardized(((pool - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32))


def gradient_features(embed_pool: np.ndarray, labels: np.ndarray, num_classes: int, *, l2: float = 1e-3,
                      seed: int = 0) -> np.ndarray:
    """CRAIG last-layer gradients p(x) - onehot(y): (n, C) for standardized embeddings (n, D)."""
    probe = fit_probe(embed_pool, labels, num_classes=num_classes, l2=l2, seed=seed, standardize=False)
    logits = embed_pool @ np.asarray(probe.weights) + np.asarray(probe.bias)
    logits = logits - logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(num_classes, dtype=p.dtype)[labels]).astype(np.float32)


def select_indices(selector: str, geometry: np.ndarray | None, k: int, *, seed: int, kernel: str,
                   n: int) -> np.ndarray:
    """Indices (k,) into the pool: facility location on ``geometry`` (n, d) or random."""
    if selector == "random":
        return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))
    return kcover.select(geometry, k, method="lazy", kernel=kernel).indices


def subset_accuracy(embed: Standardized, labels_pool: np.ndarray, labels_test: np.ndarray, picks: np.ndarray,
                    num_classes: int, *, l2: float = 1e-3, seed: int = 0) -> float:
    """Top-1 test accuracy of the fixed probe fit on the embeddings of ``picks`` only."""
    probe = fit_probe(embed.pool[picks], labels_pool[picks], num_classes=num_classes, l2=l2, seed=seed,
                      standardize=False)
    return float(np.mean(predict_probe(probe, embed.test) == labels_test))


def smooth_labels(values_pool: np.ndarray, values_test: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin a scalar (e.g. mean image intensity) into C equal-frequency classes fit on the pool."""
    edges = np.quantile(values_pool, np.linspace(0, 1, num_classes + 1)[1:-1])
    return np.searchsorted(edges, values_pool, side="right"), np.searchsorted(edges, values_test, side="right")


def paired_advantage(rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any], a: str = "embed-FL",
                     b: str = "input-FL") -> tuple[float, float, int]:
    """Mean and std over seeds of acc(a) - acc(b) among result rows matching ``where``.

    Rows are ``{"key": {...}, "value": {"acc": ...}}``; seeds present for both selectors are
    paired. Returns (nan, nan, 0) when no pair exists.
    """
    acc: dict[str, dict[int, float]] = {a: {}, b: {}}
    for row in rows:
        key = row["key"]
        if key.get("selector") in acc and all(key.get(f) == v for f, v in where.items()):
            acc[key["selector"]][key["seed"]] = row["value"]["acc"]
    seeds = sorted(set(acc[a]) & set(acc[b]))
    if not seeds:
        return float("nan"), float("nan"), 0
    d = np.array([acc[a][s] - acc[b][s] for s in seeds])
    return float(d.mean()), float(d.std(ddof=1)) if d.size > 1 else 0.0, len(seeds)


def mean_accuracy(rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any]) -> tuple[float, float, int]:
    """Mean and std of ``acc`` among rows matching ``where``."""
    vals = [r["value"]["acc"] for r in rows if all(r["key"].get(f) == v for f, v in where.items())]
    if not vals:
        return float("nan"), float("nan"), 0
    arr = np.asarray(vals)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, arr.size


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, signed: bool = True) -> str:
    """A GitHub markdown table; floats with 3 decimals (with a sign when ``signed``: differences)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if np.isnan(v) else (f"{v:+.3f}" if signed else f"{v:.3f}")
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table as CSV (floats with 4 decimals)."""
    def fmt(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    return "\n".join([",".join(header)] + [",".join(fmt(v) for v in row) for row in rows]) + "\n"
