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
from kcover.learn.probe import fit_probe, predict_probe
from kcover.theory.report import markdown_table

GEOMETRY_SELECTORS = ("input-FL", "learner-FL", "grad-FL")
SELECTORS = (*GEOMETRY_SELECTORS, "random")
"""Every selector a study can run: facility location in each geometry, and the random baseline."""
TEXT_SELECTORS = ("input-FL", "learner-FL", "random")
"""The text studies' selectors: they select on frozen features, so no gradient geometry."""
REPRESENTATIONS = ("pretrained", "random")
"""The learner's two representations in every study: the pretrained encoder, and a seeded random init of the
same architecture (condition A's control)."""
POOL_SHARE = 0.8  # a seed's pool is at most this share of the candidates, so that every seed draws a fresh one


def pool_size(requested: int, candidates: int) -> int:
    """The pool each seed draws: ``requested``, capped at ``POOL_SHARE`` of the ``candidates``.

    With the pool as large as the candidate set every seed would get the same pool, and the
    spread over seeds would measure only the probe's initialization; the cap keeps each seed's
    pool a fresh draw (two pools of 80% share about 64% of their points).
    """
    if requested <= 0 or candidates <= 0:
        raise ValueError(f"requested: pool and candidates must be positive, got {requested} and {candidates}")
    return max(1, min(int(requested), int(POOL_SHARE * candidates)))


def draw_pool(candidates: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices (size,) of seed ``seed``'s pool among ``candidates`` points (a fresh draw per seed)."""
    if not 0 < size <= candidates:
        raise ValueError(f"size: must lie in [1, {candidates}], got {size}")
    return np.sort(np.random.default_rng(seed).choice(candidates, size, replace=False))


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


def gradient_features(
    embed_pool: np.ndarray, labels: np.ndarray, num_classes: int, *, l2: float = 1e-3, seed: int = 0
) -> np.ndarray:
    """CRAIG last-layer gradients p(x) - onehot(y): (n, C) for standardized embeddings (n, D)."""
    probe = fit_probe(embed_pool, labels, num_classes=num_classes, l2=l2, seed=seed, standardize=False)
    logits = embed_pool @ np.asarray(probe.weights) + np.asarray(probe.bias)
    logits = logits - logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(num_classes, dtype=p.dtype)[labels]).astype(np.float32)


def select_indices(selector: str, geometry: np.ndarray | None, k: int, *, seed: int, kernel: str, n: int) -> np.ndarray:
    """Indices (k,) into the pool: facility location on ``geometry`` (n, d) or random."""
    if selector == "random":
        return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))
    return kcover.select(geometry, k, method="lazy", kernel=kernel).indices


def subset_accuracy(
    embed: Standardized,
    labels_pool: np.ndarray,
    labels_test: np.ndarray,
    picks: np.ndarray,
    num_classes: int,
    *,
    l2: float = 1e-3,
    seed: int = 0,
) -> float:
    """Top-1 test accuracy of the fixed probe fit on the embeddings of ``picks`` only."""
    probe = fit_probe(
        embed.pool[picks], labels_pool[picks], num_classes=num_classes, l2=l2, seed=seed, standardize=False
    )
    return float(np.mean(predict_probe(probe, embed.test) == labels_test))


def advisor_record(
    input_features: np.ndarray,
    learner_features: np.ndarray,
    labels: np.ndarray,
    budgets: Sequence[int],
    *,
    input_kernel: str,
    learner_kernel: str,
    seed: int = 0,
    pilot: bool = True,
    **advise_options: Any,
) -> dict[str, Any]:
    """``kcover advise`` on one pool, as a JSON-ready record for a study's diagnostic cell.

    ``input_features`` (n, d_in), ``learner_features`` (n, d_l), ``labels`` (n,) of the pool; the
    kernels are the study's selection kernels. Budgets larger than the diagnostic's training
    split are dropped; ``advise_options`` go to :func:`kcover.advise`. The record is
    :meth:`kcover.Advice.to_dict` plus ``verdicts``: per budget k, the a-priori and final (pilot)
    verdicts.
    """
    from kcover.advisor.entry import advise
    from kcover.labels import encode_labels, stratified_split

    y, _ = encode_labels(labels, len(labels))
    avail = stratified_split(y, 0.25, seed)[0].size
    ks = sorted({int(k) for k in budgets if 0 < k <= avail})
    if not ks:
        raise ValueError(f"budgets: none of {list(budgets)} fits the {avail} training points of the pool")
    adv = advise(
        input_features,
        learner_features,
        labels,
        budgets=ks,
        input_kernel=input_kernel,
        learner_kernel=learner_kernel,
        seeds=[seed],
        pilot=pilot,
        progress=False,
        **advise_options,
    )
    d = adv.to_dict()
    d["verdicts"] = {
        str(b["k"]): {"verdict": b["verdict"], "a_priori": b["a_priori_verdict"], "pilot": b.get("pilot")}
        for b in d["budgets"]
    }
    return d


def verdict_texts(v: Mapping[str, Any] | None) -> tuple[str, str]:
    """(a-priori verdict, pilot verdict with mean ADV ± se and splits > 0) of one ``verdicts`` entry, or n/a."""
    if not v:
        return "n/a", "n/a"
    p = v.get("pilot")
    pilot = (
        "n/a"
        if not p
        else (f"{p['verdict']} ({p['adv_mean']:+.3f} ± {p['adv_se']:.3f}, {p['splits_positive']}/{p['splits']})")
    )
    return v.get("a_priori", "n/a"), pilot


ADVISOR_OPTIONS = ("pilot_budgets", "pilot_test_fraction")  # advise() options a diagnostic cell's key may carry


def advisor_options(key: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`ADVISOR_OPTIONS` present in a diagnostic cell's key (variants run by the calibration)."""
    return {f: key[f] for f in ADVISOR_OPTIONS if f in key}


def smooth_labels(values_pool: np.ndarray, values_test: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin a scalar (e.g. mean image intensity) into C equal-frequency classes fit on the pool."""
    edges = np.quantile(values_pool, np.linspace(0, 1, num_classes + 1)[1:-1])
    return np.searchsorted(edges, values_pool, side="right"), np.searchsorted(edges, values_test, side="right")


def seed_differences(
    rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any], a: str = "learner-FL", b: str = "input-FL"
) -> dict[int, float]:
    """acc(a) - acc(b) per seed among result rows matching ``where`` (seeds present for both)."""
    acc: dict[str, dict[int, float]] = {a: {}, b: {}}
    for row in rows:
        key = row["key"]
        if key.get("selector") in acc and all(key.get(f) == v for f, v in where.items()):
            acc[key["selector"]][key["seed"]] = row["value"]["acc"]
    return {s: acc[a][s] - acc[b][s] for s in sorted(set(acc[a]) & set(acc[b]))}


class AdvantageStats(NamedTuple):
    """ADV over seeds: mean, sample std, number of paired seeds and of seeds where ADV > 0."""

    mean: float
    std: float
    seeds: int
    positive: int

    def text(self) -> str:
        """``+0.080 ± 0.043 (4/4)``: mean ± std (seeds with ADV > 0 / seeds); ``n/a`` when empty."""
        if not self.seeds:
            return "n/a"
        return f"{self.mean:+.3f} ± {self.std:.3f} ({self.positive}/{self.seeds})"


def advantage_stats(
    rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any], a: str = "learner-FL", b: str = "input-FL"
) -> AdvantageStats:
    """:class:`AdvantageStats` of acc(a) - acc(b) over the seeds paired by :func:`seed_differences`."""
    d = np.array(list(seed_differences(rows, where, a, b).values()))
    if d.size == 0:
        return AdvantageStats(float("nan"), float("nan"), 0, 0)
    return AdvantageStats(float(d.mean()), float(d.std(ddof=1)) if d.size > 1 else 0.0, int(d.size), int(np.sum(d > 0)))


def paired_advantage(
    rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any], a: str = "learner-FL", b: str = "input-FL"
) -> tuple[float, float, int]:
    """Mean and std over seeds of acc(a) - acc(b) among result rows matching ``where``.

    Rows are ``{"key": {...}, "value": {"acc": ...}}``; seeds present for both selectors are
    paired. Returns (nan, nan, 0) when no pair exists.
    """
    st = advantage_stats(rows, where, a, b)
    return st.mean, st.std, st.seeds


def mean_accuracy(rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any]) -> tuple[float, float, int]:
    """Mean and std of ``acc`` among rows matching ``where``."""
    vals = [r["value"]["acc"] for r in rows if all(r["key"].get(f) == v for f, v in where.items())]
    if not vals:
        return float("nan"), float("nan"), 0
    arr = np.asarray(vals)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, arr.size


def study_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, signed: bool = True) -> str:
    """A study's markdown table: floats with 3 decimals (with a sign when ``signed``: differences)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if np.isnan(v) else (f"{v:+.3f}" if signed else f"{v:.3f}")
        return str(v)

    return markdown_table(list(header), [list(r) for r in rows], cell=fmt) + "\n"


def subsample(n: int, limit: int, seed: int) -> np.ndarray:
    """All of ``range(n)`` when n <= limit, else ``limit`` of them drawn without replacement (sorted)."""
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def csv_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table as CSV (floats with 4 decimals)."""

    def fmt(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    return "\n".join([",".join(header)] + [",".join(fmt(v) for v in row) for row in rows]) + "\n"
