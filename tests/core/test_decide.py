"""advise's decision (issue 28): either, the gain interval, regret, the pool extrapolation, and the
user's selection settings reaching the pilot's selector."""

import math

import numpy as np
import pytest

import kcover.advisor.sweep
from kcover.advisor.decide import RESIDUAL, decide, extrapolate, gain_interval, mean_regret, regret
from kcover.advisor.entry import advise
from kcover.advisor.options import AdviseOptions

M = 0.02


@pytest.mark.parametrize(
    "mean, sd, conf, local, verdict",
    [
        (0.02, 0.01, 0.5, None, "either"),  # interval 0.015-0.025 inside (0, 0.04): either costs < margin
        (0.03, 0.01, 0.9, None, "either"),  # above the margin but still inside the band
        (0.03, 0.04, 0.6, None, "pay"),  # interval 0.01-0.05 leaves the band: the mean decides
        (0.03, 0.04, 0.6, False, "do-not-pay"),  # a marginal pay with (A') failing is overruled
        (0.03, 0.04, 0.9, False, "pay"),  # a confident pay is not
        (0.10, 0.02, 1.0, None, "pay"),
        (0.00, 0.00, 0.5, None, "do-not-pay"),  # no gain at all: the band is open at 0
        (-0.05, 0.02, 1.0, None, "do-not-pay"),
        (0.01, 0.04, 0.6, True, "do-not-pay"),
    ],
)
def test_decide_either_pay_and_overrule(mean, sd, conf, local, verdict):
    d = decide(mean, sd, M, conf, local)
    assert d.verdict == verdict
    assert (d.low, d.high) == pytest.approx((mean - RESIDUAL * sd, mean + RESIDUAL * sd))
    assert d.gain == pytest.approx(mean)
    assert (d.note != "") == (verdict == "either" or (local is False and verdict == "do-not-pay"))


def test_gain_interval_rejects_bad_spread():
    assert gain_interval(0.1, 0.0) == (0.1, 0.1)
    with pytest.raises(ValueError, match="^sd:"):
        gain_interval(0.1, -1.0)
    with pytest.raises(ValueError, match="^sd:"):
        gain_interval(float("nan"), 0.1)


def test_regret_hand_worked():
    # truth 0.05: paying is right (regret 0); not paying or either loses 0.05 - 0.02
    assert regret(0.05, "pay", M) == pytest.approx(0.0)
    assert regret(0.05, "do-not-pay", M) == pytest.approx(0.03)
    assert regret(0.05, "either", M) == pytest.approx(0.03)
    # truth 0.00: paying costs the margin, not paying nothing
    assert regret(0.0, "pay", M) == pytest.approx(0.02)
    assert regret(0.0, "do-not-pay", M) == 0.0
    # truth -0.03: paying costs 0.05
    assert regret(-0.03, "pay", M) == pytest.approx(0.05)
    assert mean_regret([0.05, 0.0, -0.03], ["do-not-pay", "pay", "pay"], M) == pytest.approx((0.03 + 0.02 + 0.05) / 3)
    assert math.isnan(mean_regret([], [], M))
    with pytest.raises(ValueError, match="^verdicts:"):
        mean_regret([0.1], [], M)


def test_extrapolation_recovers_a_known_log_law():
    sizes = [100, 200, 300, 400]
    means = [0.01 + 0.02 * math.log(n) for n in sizes]
    fit = extrapolate(sizes, means, [0.01] * 4, 1600)
    assert fit.gain == pytest.approx(0.01 + 0.02 * math.log(1600), abs=1e-9)
    assert fit.slope == pytest.approx(0.02, abs=1e-9)
    assert fit.se > 0 and fit.slope_se > 0
    # noisier points: a larger error; farther targets: a larger error too
    noisy = extrapolate(sizes, means, [0.03] * 4, 1600)
    assert noisy.se == pytest.approx(3 * fit.se)
    assert extrapolate(sizes, means, [0.01] * 4, 6400).se > fit.se
    with pytest.raises(ValueError, match="^sizes:"):
        extrapolate([100, 100], [0.1, 0.2], [0.01, 0.01], 400)


def _case(seed=0, n=240, c=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(c, size=n)
    x = (rng.normal(size=(c, 8)) * 3)[y] + rng.normal(size=(n, 8))
    e = (rng.normal(size=(c, 6)) * 3)[y] + rng.normal(size=(n, 6))
    return x.astype(np.float32), e.astype(np.float32), y


def test_the_users_selection_settings_reach_the_pilots_selector(monkeypatch):
    x, e, y = _case()
    calls = []
    real_select = kcover.advisor.sweep.select

    def spy(features, k, **kw):
        calls.append((features.shape[1], kw["method"], kw["kernel"].name, float(kw["kernel"].bandwidth)))
        return real_select(features, k, **kw)

    monkeypatch.setattr(kcover.advisor.sweep, "select", spy)
    opts = AdviseOptions(
        method="kcenter",
        input_kernel="rbf",
        learner_kernel="cosine",
        input_bandwidth=2.5,
        pilot_splits=2,
        pilot_max_splits=2,
        reach=False,
        progress=False,
    )
    adv = advise(x, e, y, [4, 8], opts)
    # every pilot selection ran k-center with the user's kernel per geometry and the given bandwidth
    assert {(d, m, name) for d, m, name, _ in calls} == {(8, "kcenter", "rbf"), (6, "kcenter", "cosine")}
    assert {bw for d, _, _, bw in calls if d == 8} == {2.5}
    s = adv.to_dict()["settings"]
    assert (s["method"], s["input_kernel"], s["input_bandwidth"], s["input_bandwidth_source"]) == (
        "kcenter",
        "rbf",
        2.5,
        "given",
    )
    assert (s["learner_kernel"], s["learner_bandwidth"]) == ("cosine", None)
    for b in adv.to_dict(("in.npy", "emb.npy"))["budgets"]:
        cmd = b["select_command"]
        assert f"--k {b['k']} --method kcenter" in cmd
        if b["verdict"] == "pay":
            assert cmd.startswith("kcover select --features emb.npy") and "--kernel cosine" in cmd
        else:
            assert cmd.startswith("kcover select --features in.npy") and "--kernel rbf --bandwidth 2.5" in cmd
        lo, hi = b["gain_interval"]
        assert lo <= b["expected_gain"] <= hi and b["verdict"] in ("pay", "do-not-pay", "either")


def test_selection_defaults_follow_kcover_select_and_are_checked():
    assert (*AdviseOptions().kernel_names, AdviseOptions().method) == ("rbf", "rbf", "lazy")
    assert AdviseOptions(method="kcenter").kernel_names == ("linear", "linear")  # kcover select's k-center default
    assert AdviseOptions().replace(method="kcenter").kernel_names == ("linear", "linear")  # resolved when used
    assert AdviseOptions(input_kernel="cosine").replace(method="kcenter").kernel_names == ("cosine", "linear")
    with pytest.raises(ValueError, match="^input_bandwidth:"):
        AdviseOptions(input_kernel="cosine", input_bandwidth=1.0)
    with pytest.raises(ValueError, match="^learner_bandwidth:"):
        AdviseOptions(learner_bandwidth=-1.0)
    with pytest.raises(ValueError, match="^method:"):
        AdviseOptions(method="random")


def test_pilot_extrapolates_from_sub_pools_to_the_users_pool():
    x, e, y = _case(1)
    adv = advise(
        x,
        e,
        y,
        [4, 50],
        pilot_splits=2,
        pilot_max_splits=2,
        reach=False,
        progress=False,
        pilot_extrapolate=True,
        pool_size=960,
    )
    p = adv.pilot
    sizes = [size for size, _ in p.subpools]
    assert sizes == [round(f * p.selection_points) for f in (0.25, 0.5, 0.75)]
    small, large = adv.budgets
    fit = small.extrapolation
    assert fit is not None and fit.sizes == (*sizes, p.selection_points) and fit.n_target == 960
    assert fit.means[-1] == pytest.approx(small.pilot.adv_mean)  # the full selection part is the last point
    assert small.gain == pytest.approx(fit.gain)
    assert large.extrapolation.sizes == (sizes[1], sizes[2], p.selection_points)  # k = 50 does not fit in 1/4 (45)
    d = adv.to_dict()["budgets"][0]["pilot"]["extrapolation"]
    assert d["pool_size"] == 960 and len(d["means"]) == 4
    assert any(r.startswith("extrapolated:") for r in small.reasons) and "extrapolated:" in adv.summary()
