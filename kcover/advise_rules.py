"""The verdict rules of :func:`kcover.advise`: numbers in, a verdict and its reasons in words out.

Pure Python and numpy (no JAX, no matplotlib), so every rule is tested on its own; the
measurements come from :mod:`kcover.advise_measure`.

The advantage of selecting in the learner's geometry over the cheap input geometry is a
*product* of three conditions (paper, section 3, Eq. 2), and is ~0 when any one fails. We
measure each on the data, before selecting anything:

* (A) representation non-locality: the learner kernel differs from the input kernel. Reported:
  the alignment A(K_learner, K_input) and the paper's g = 1 - A, and the centered alignment A_c.
  The verdict uses the misalignment 1 - A_c: uncentered alignment of two rbf kernels is close
  to 1 for almost any pair of views, because every entry is positive.
* (B) non-interpolability in the input geometry: as in section 5 / Table 2, the **gap** =
  held-out accuracy of the probe (:mod:`kcover.probe`) on learner features minus that on input
  features, both trained on the full training split; its standard error is paired over the
  test points.
* (C) a binding budget, per k. The learner kernel's effective dimension r_eff (the paper's
  number of modes; :func:`kcover.effective_dimension` of the Gram eigenvalues with ridge
  ``lam`` times trace(K / m)) and the number of classes C are reported against k. The budget
  binds when both
  (i) k < r_eff ln r_eff: picks made in a geometry blind to the learner's r_eff modes need
  about r ln r of them to cover every mode (coupon collector), past which the paper's wasted
  slots delta(Delta, k) vanish; and
  (ii) the input tail rho_in(k) >= ``tail_threshold`` (0.1): the fraction of the (centered,
  one-hot) label energy outside the top-k eigenspace of the input kernel (the paper's
  rho_tail(k) in the input geometry, :func:`kcover.tail_energy`). When the input kernel's top
  k directions already carry the labels, k input-geometry picks reach them too.

Verdict per budget k (thresholds are arguments):

1. (A) fails, 1 - A_c < ``misalignment_threshold`` (0.1): **do-not-pay**; both selectors cover
   the same structure.
2. (B) large, gap >= ``gap_threshold`` (0.05) and gap > 2 standard errors: **pay** if the budget
   binds, else **borderline** (the advantage shrinks with a loose budget but need not vanish;
   section 4 still saw +0.10 at k = 6C).
3. (B) moderate, neither large nor small: **borderline** if the budget binds, else **do-not-pay**.
4. (B) small, gap < ``gap_threshold`` / 2 (~0 or negative): **do-not-pay**, except
   **borderline** when the budget binds and is extremely tight, k <= 2C: the paper's Amazon-CF
   (gap +0.009) still gained +0.32 at k = 2C, condition (C) in extreme form, which a
   full-budget diagnostic cannot see.

Each verdict carries its reasons in words, naming the conditions that hold and fail.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

VERDICTS = ("pay", "do-not-pay", "borderline")


class BudgetAdvice(NamedTuple):
    """The verdict at one budget ``k``; ``reasons`` in words, one condition each."""

    k: int
    per_class: float
    binds: bool
    very_tight: bool
    input_tail: float
    learner_tail: float
    verdict: str
    why: str
    reasons: tuple[str, ...]


def default_budgets(num_classes: int, available: int) -> tuple[int, ...]:
    """C, 2C, 4C, 8C, capped by ``available`` (deduplicated)."""
    return tuple(sorted({min(m * num_classes, available) for m in (1, 2, 4, 8)}))


def budget_limit(r_eff: float) -> float:
    """r_eff * max(1, ln r_eff): picks blind to r equal modes need about r ln r to cover them all."""
    return float(r_eff * max(1.0, np.log(max(r_eff, 1.0))))


def budget_verdict(k: int, c: int, gap: float, se: float, misalign: float, r_eff: float, r_in: float,
                   input_tail: float, learner_tail: float, gap_threshold: float, misalignment_threshold: float,
                   tail_threshold: float) -> BudgetAdvice:
    """The verdict at budget ``k`` with ``c`` classes from the measured conditions (module docstring).

    (B): ``gap`` and its standard error ``se``; (A): ``misalign`` = 1 - centered alignment;
    (C): learner and input effective dimensions ``r_eff``, ``r_in`` and the label tails outside
    the top-k eigenspaces, ``input_tail`` and ``learner_tail`` (fractions in [0, 1]).
    """
    limit = budget_limit(r_eff)
    below = k < limit
    reach = input_tail >= tail_threshold
    binds = below and reach
    very_tight = k <= 2 * c
    if gap >= gap_threshold and gap > 2 * se:
        b_state = "large"
        b_text = (f"(B) holds: the learner probe beats the input probe by {gap:+.3f} (se {se:.3f}) at full budget, "
                  "so the input geometry misses label structure the learner sees")
    elif gap < gap_threshold / 2:
        b_state = "small"
        b_text = (f"(B) fails: gap {gap:+.3f} (se {se:.3f}) is below {gap_threshold / 2:.3f}, i.e. ~0 or negative; "
                  "the labels are already readable from the input features")
    else:
        b_state = "moderate"
        b_text = (f"(B) is uncertain: gap {gap:+.3f} (se {se:.3f}) is positive but below the {gap_threshold:.2f} "
                  "threshold or within two standard errors")
    a_ok = misalign >= misalignment_threshold
    a_text = (f"(A) holds: the kernels differ (centered alignment {1 - misalign:.3f}, misalignment {misalign:.3f})"
              if a_ok else
              f"(A) fails: the two kernels nearly agree (misalignment {misalign:.3f} < {misalignment_threshold:.2f}), "
              "so both selectors cover the same structure")
    tails = (f"the input kernel's top-{k} eigenspace leaves {input_tail:.0%} of the label energy out "
             f"(learner's: {learner_tail:.0%})")
    if binds:
        c_text = (f"(C) holds: k = {k} < r_eff ln r_eff = {limit:.0f} (learner r_eff {r_eff:.1f}; picks blind to its "
                  f"modes need about that many to cover them), and {tails}")
    elif not below:
        c_text = (f"(C) fails: k = {k} >= r_eff ln r_eff = {limit:.0f} (learner r_eff {r_eff:.1f}, input {r_in:.1f}); "
                  "even picks blind to the learner's modes cover them, and the advantage shrinks")
    else:
        c_text = (f"(C) fails: {tails}, below {tail_threshold:.0%}; k points in the input geometry already "
                  "reach the labels")
    reasons = [b_text, a_text, c_text]
    b_short = {"large": "gap large (B)", "moderate": "gap uncertain (B)", "small": "gap ~0 (B fails)"}[b_state]
    a_short = "kernels differ (A)" if a_ok else "kernels agree (A fails)"
    c_short = "budget binds (C)" if binds else ("k >= r_eff ln r_eff (C fails)" if not below
                                                 else "input top-k reaches labels (C fails)")
    why = f"{b_short}, {a_short}, {c_short}"
    if not a_ok:
        verdict = "do-not-pay"
    elif b_state == "large":
        verdict = "pay" if binds else "borderline"
    elif b_state == "moderate":
        verdict = "borderline" if binds else "do-not-pay"
    elif binds and very_tight:
        verdict = "borderline"
        why += "; but k <= 2C is extremely tight (Amazon-CF caveat)"
        reasons.append(f"k = {k} <= 2 x {c} classes is an extremely tight budget: the paper's Amazon-CF "
                       "(gap +0.009) still gained +0.32 at k = 2C, so run the realized sweep (--sweep) to check")
    else:
        verdict = "do-not-pay"
    return BudgetAdvice(k, k / c, bool(binds), bool(very_tight), float(input_tail), float(learner_tail), verdict,
                        why, tuple(reasons))


def with_realized(v: BudgetAdvice, learner_acc: float, input_acc: float, random_acc: float,
                  adv: np.ndarray) -> BudgetAdvice:
    """``v`` with one more reason: the realized accuracies at its budget and ADV (seeds,) over seeds."""
    text = (f"realized: learner-FL {learner_acc:.3f} vs input-FL {input_acc:.3f} "
            f"(random {random_acc:.3f}), ADV {adv.mean():+.3f} +- {adv.std():.3f} over {adv.size} seeds")
    return v._replace(reasons=v.reasons + (text,))
