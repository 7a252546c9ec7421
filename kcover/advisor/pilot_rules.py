"""The pilot's verdict rules: the measured advantages in, a verdict, its confidence and words out.

Pure Python and numpy (no JAX, no matplotlib), like :mod:`kcover.advisor.rules`; the pilot's
selections and probe fits run in :mod:`kcover.advisor.sweep`.

The pilot (:func:`pilot_verdict`) measures instead of predicting: the advantage ADV = acc(learner-FL)
- acc(input-FL) on S repeated stratified splits of the labelled pool. Its verdict at budget k is
**pay** when the mean ADV exceeds ``margin`` and **do-not-pay** otherwise; the confidence
(:func:`pilot_confidence`) is the normal-approximation probability that the ADV of pools like
this one lies on that side of the margin on average, Phi(|mean - margin| / (POOL_SPREAD sd)), sd
the spread of ADV over the splits: the pool-to-pool spread, not the standard error of this
pool's mean, is what decides whether the verdict carries over to the pool you will select from.
:func:`kcover.advisor.rules.with_pilot` makes the pilot's verdict the budget's verdict and keeps
the a-priori one beside it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# The truth's sd over 10 fresh pools per cell divided by the pilot's sd over its splits of one pool:
# median 1 / 1.26 over the 18 tuning cells of docs/advise.md (held-out digits: 1 / 1.56).
POOL_SPREAD = 0.79


class PilotBudget(NamedTuple):
    """The pilot at one budget: ADV over ``splits`` splits, its mean, standard error and sign count.

    ``verdict`` is "pay" or "do-not-pay" (mean against ``margin``); ``confidence`` in [0.5, 1];
    ``k`` the budget the pilot ran on its selection part (:func:`pilot_budget`; 0 when not set).
    """

    adv_mean: float
    adv_se: float
    splits_positive: int
    splits: int
    margin: float
    verdict: str
    confidence: float
    k: int = 0


PILOT_BUDGET_RULES = ("same", "fraction")


def pilot_budget(k: int, num_classes: int, selection_points: int, pool_size: int, rule: str = "same") -> int:
    """The pilot's budget for the user's budget ``k`` of ``pool_size`` points, on ``selection_points``.

    ``rule`` "same": k itself (the advantage is governed by k against the number of classes and
    modes). "fraction": the same fraction of the pool, round(k * selection_points / pool_size),
    never below min(k, C): below C points the probe cannot see every class.
    """
    if pool_size < 1 or selection_points < 1:
        raise ValueError(f"pool_size: pool and selection part must be positive, got {pool_size}, {selection_points}")
    if rule == "same":
        return int(k)
    if rule == "fraction":
        return max(min(int(k), int(num_classes)), int(round(k * selection_points / pool_size)))
    raise ValueError(f"rule: must be one of {PILOT_BUDGET_RULES}, got {rule!r}")


def pilot_verdict(adv: np.ndarray, margin: float) -> PilotBudget:
    """The pilot's verdict from the advantages ``adv`` (splits,) at one budget (module docstring).

    se = std(adv, ddof=1) / sqrt(splits) (0 for one split); confidence: :func:`pilot_confidence`
    of the mean and std(adv, ddof=1).
    """
    adv = np.asarray(adv, np.float64).ravel()
    if adv.size == 0 or not np.all(np.isfinite(adv)):
        raise ValueError(f"adv: must be a non-empty finite array, got {adv!r}")
    mean = float(adv.mean())
    sd = float(adv.std(ddof=1)) if adv.size > 1 else 0.0
    verdict = "pay" if mean > margin else "do-not-pay"
    return PilotBudget(
        mean,
        sd / math.sqrt(adv.size),
        int(np.sum(adv > 0)),
        int(adv.size),
        float(margin),
        verdict,
        pilot_confidence(mean, sd, margin),
    )


def pilot_confidence(mean: float, sd: float, margin: float) -> float:
    """Phi(|mean - margin| / (POOL_SPREAD sd)) in [0.5, 1]: how sure the verdict is for pools like this one.

    ``mean`` and ``sd`` of the ADV over the pilot's splits. A pool is one draw; the realized ADV of
    another pool of the same size moves by about POOL_SPREAD times the spread over splits (measured
    on the calibration's tuning cells), so that, not the standard error of this pool's mean, is the
    scale. 1 when sd is 0 and the mean is off the margin, 0.5 on it.
    """
    dist, scale = abs(mean - margin), POOL_SPREAD * sd
    if scale > 0.0:
        return float(0.5 * (1.0 + math.erf(dist / scale / math.sqrt(2.0))))
    return 1.0 if dist > 0.0 else 0.5


CLOSE_CALL = 0.7  # a pilot verdict below this confidence is reported as a close call


def close_call_text(p: PilotBudget) -> str | None:
    """Words for a verdict whose confidence is below :data:`CLOSE_CALL`, else None.

    A close call is a budget where pools like this one land on either side of the margin: the
    verdict is a lean, and the two geometries are near each other there, so either choice costs
    little (about |mean - margin| plus the margin).
    """
    if p.confidence >= CLOSE_CALL:
        return None
    return (
        f"a close call (confidence {p.confidence:.2f}): pools like this one land on the other side of the "
        f"{p.margin:.2f} margin about {1.0 - p.confidence:.0%} of the time; the geometries differ by about "
        f"{p.adv_mean:+.3f} here, so either choice costs little"
    )


def pilot_undecided(p: PilotBudget, z: float = 2.0) -> bool:
    """True when the pilot's mean lies within ``z`` standard errors of its margin (more splits would help)."""
    return abs(p.adv_mean - p.margin) < z * p.adv_se
