"""The decision per budget (issue 28): pay, do-not-pay or either, with the expected gain and its interval.

Pure Python and numpy (no JAX), like :mod:`kcover.advisor.rules`.

The pilot measures ADV on S splits of one labelled pool: mean m and spread sd over the splits.
The quantity that decides is the mean ADV of *pools like this one* (the calibration's truth).
Over the 180 tuning (cell, pool) pairs of the calibration, (truth - m) / sd had a spread of
:data:`RESIDUAL` = 0.50 (held-out digits: 0.67), so the **expected gain** is m and its
**interval** m -+ RESIDUAL sd (about 68% on the tuning pairs, 55% on the held-out ones).

The verdict (:func:`decide`):

* **either** when the interval lies inside the margin band (0, 2 margin): paying costs at most
  ``margin`` against not paying there and not paying at most ``margin`` against paying, so
  either choice costs under the margin (the cheaper input geometry is the one suggested);
* else **pay** when m > margin, **do-not-pay** otherwise (the choice that minimizes the expected
  regret :func:`regret`, which is linear in the truth);
* the one combination with the a-priori checks measured to help on the tuning cells: a marginal
  pilot ``pay`` (confidence below :data:`kcover.advisor.pilot_rules.CLOSE_CALL`) is overruled to
  ``do-not-pay`` when (A') fails, i.e. the learner's nearest neighbours share labels far less
  often than the input's (a random-init encoder). On the tuning pairs the pilot's regret fell
  from 0.17 to 0.13 accuracy points; on the held-out digits pairs it rose from 0.39 to 0.43.

The score of a rule (:func:`regret`): regret against the oracle in accuracy, per (cell, pool)
max(truth - margin, 0) - (truth - margin if the verdict pays else 0); ``either`` counts as not
paying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from kcover.advisor.rules import BudgetAdvice

RESIDUAL = 0.50
"""Spread of (truth - pilot mean) / pilot sd over the calibration's tuning pairs (held out: 0.67)."""

DECISIONS = ("pay", "do-not-pay", "either")


class Decision(NamedTuple):
    """A budget's verdict with the expected gain ``gain`` and its interval [``low``, ``high``] (fractions)."""

    verdict: str
    gain: float
    low: float
    high: float
    note: str = ""


def gain_interval(mean: float, sd: float, residual: float = RESIDUAL) -> tuple[float, float]:
    """(low, high) = mean -+ residual sd: where the mean ADV of pools like this one lies (module docstring)."""
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd < 0:
        raise ValueError(f"sd: mean and sd must be finite and sd >= 0, got {mean!r}, {sd!r}")
    return float(mean - residual * sd), float(mean + residual * sd)


def decide(
    mean: float,
    sd: float,
    margin: float,
    confidence: float = 1.0,
    label_local: bool | None = None,
    close_call: float = 0.7,
    residual: float = RESIDUAL,
) -> Decision:
    """The verdict from the pilot's ``mean`` and ``sd`` of ADV over its splits (module docstring).

    ``confidence``: the pilot's (:func:`kcover.advisor.pilot_rules.pilot_confidence`); ``label_local``:
    whether (A') holds (None: not measured, nothing is overruled); ``close_call``: the confidence
    below which a ``pay`` counts as marginal.
    """
    low, high = gain_interval(mean, sd, residual)
    if low > 0.0 and high < 2.0 * margin:
        return Decision(
            "either",
            float(mean),
            low,
            high,
            f"either: the expected gain {100 * mean:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}] "
            f"lies inside the band (0, {200 * margin:.0f}) points, so either choice costs under the "
            f"{100 * margin:.0f}-point margin; the cheaper input geometry is suggested",
        )
    if mean > margin:
        if label_local is False and confidence < close_call:
            return Decision(
                "do-not-pay",
                float(mean),
                low,
                high,
                f"overruled: the pilot's pay is marginal (confidence {confidence:.2f} < {close_call}) "
                "and (A') fails (the learner's neighbours share labels far less often than the input's)",
            )
        return Decision("pay", float(mean), low, high)
    return Decision("do-not-pay", float(mean), low, high)


def regret(truth: float, verdict: str, margin: float) -> float:
    """The verdict's regret against the oracle: max(t - margin, 0) - (t - margin if it pays else 0).

    ``verdict`` "pay" pays; "do-not-pay", "either" and anything else do not.
    """
    gain = truth - margin
    return max(gain, 0.0) - (gain if verdict == "pay" else 0.0)


def mean_regret(truths: Sequence[float], verdicts: Sequence[str], margin: float) -> float:
    """Mean :func:`regret` over paired ``truths`` and ``verdicts`` (NaN when empty)."""
    if len(truths) != len(verdicts):
        raise ValueError(f"verdicts: {len(verdicts)} verdicts for {len(truths)} truths")
    if not truths:
        return float("nan")
    return float(np.mean([regret(t, v, margin) for t, v in zip(truths, verdicts)]))


class PoolFit(NamedTuple):
    """ADV against the log of the selection pool: ADV(n) = a + b ln n, fitted by weighted least squares.

    ``gain`` and ``se`` at ``n_target``; ``slope`` b and its standard error; the points used.
    """

    gain: float
    se: float
    slope: float
    slope_se: float
    n_target: int
    sizes: tuple[int, ...]
    means: tuple[float, ...]


def extrapolate(sizes: Sequence[int], means: Sequence[float], ses: Sequence[float], n_target: int) -> PoolFit:
    """Fit ADV(n) = a + b ln n to the mean ADV ``means`` on sub-pools of ``sizes`` points (standard errors ``ses``).

    Weighted least squares (weights 1 / se^2, a floor of 1e-4 on se), and the prediction at
    ``n_target`` with its standard error from the fit's covariance. At least two distinct sizes.
    """
    n = np.asarray(sizes, np.float64)
    m = np.asarray(means, np.float64)
    s = np.maximum(np.asarray(ses, np.float64), 1e-4)
    if not (n.shape == m.shape == s.shape) or n.ndim != 1:
        raise ValueError("sizes: sizes, means and ses must be 1-d of one length")
    if np.unique(n).size < 2 or np.any(n < 1) or not np.all(np.isfinite(m)):
        raise ValueError(f"sizes: need at least two distinct positive sizes and finite means, got {list(sizes)}")
    design = np.stack([np.ones_like(n), np.log(n)], 1)
    w = 1.0 / s**2
    cov = np.linalg.inv(design.T @ (design * w[:, None]))
    coef = cov @ (design.T @ (w * m))
    row = np.array([1.0, math.log(n_target)])
    return PoolFit(
        float(row @ coef),
        float(math.sqrt(max(row @ cov @ row, 0.0))),
        float(coef[1]),
        float(math.sqrt(cov[1, 1])),
        int(n_target),
        tuple(int(v) for v in n),
        tuple(float(v) for v in m),
    )


def with_decision(v: BudgetAdvice, margin: float, label_local: bool | None, fit: PoolFit | None = None) -> BudgetAdvice:
    """``v`` (with its pilot) carrying :func:`decide`'s verdict, the expected gain and its interval.

    With ``fit`` (the pilot's ADV extrapolated to the user's pool, :func:`extrapolate`) the gain is
    the fit's prediction and the interval widens by its error: half-width sqrt((RESIDUAL sd)^2 + se^2).
    """
    p = v.pilot
    if p is None:
        return v
    sd = p.adv_se * math.sqrt(p.splits)
    mean = p.adv_mean
    if fit is not None:
        mean, sd = fit.gain, math.sqrt(sd**2 + (fit.se / RESIDUAL) ** 2)
    d = decide(mean, sd, margin, p.confidence, label_local)
    notes = [d.note] if d.note else []
    if fit is not None:
        notes.append(
            f"extrapolated: ADV on sub-pools of {', '.join(map(str, fit.sizes))} points "
            f"({', '.join(f'{100 * m:+.1f}' for m in fit.means)} points) fits a + b ln n with b = "
            f"{100 * fit.slope:+.1f} +- {100 * fit.slope_se:.1f} points; at your pool of {fit.n_target}: "
            f"{100 * fit.gain:+.1f} +- {100 * fit.se:.1f} points"
        )
    reasons = (v.reasons[0], *notes) + v.reasons[1:]
    why = v.why if d.verdict == p.verdict else f"{d.verdict} ({d.note.split(':')[0]}); {v.why}"
    return v._replace(
        verdict=d.verdict, why=why, reasons=reasons, gain=d.gain, gain_low=d.low, gain_high=d.high, extrapolation=fit
    )
