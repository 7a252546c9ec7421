"""advise: known-answer synthetic cases, the verdict table, the spectral helpers, the JSON contract,
the module split (rules without JAX or matplotlib) and the one label validator."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kcover.advisor.pilot_rules
import kcover.advisor.rules
from kcover import effective_dimension, gram, gram_eigenvalues, one_hot, tail_energy
from kcover.advisor.entry import Advice, advise
from kcover.advisor.measure import label_tails, neighbour_agreement
from kcover.advisor.options import AdviseOptions
from kcover.advisor.pilot_rules import pilot_verdict
from kcover.advisor.render import plot_sweep
from kcover.advisor.rules import VERDICTS, BudgetAdvice, budget_limit, budget_verdict, default_budgets, with_pilot
from kcover.advisor.sweep import Sweep
from kcover.labels import class_ids, encode_labels, stratified_split, targets
from kcover.learn.probe import labels_array

N, C = 600, 6


def hidden_modes(seed=0):
    """Labels = one of C hidden modes; the same labels for every case (shared compilations)."""
    rng = np.random.default_rng(seed)
    return rng, rng.integers(C, size=N)


def aligned_case():
    """Input geometry clusters by label; the learner is a smooth transform of it."""
    rng, y = hidden_modes()
    mu = rng.normal(size=(C, 20)) * 3
    x = mu[y] + rng.normal(size=(N, 20))
    e = np.tanh(x @ rng.normal(size=(20, 16)) / 4) + 0.05 * rng.normal(size=(N, 16))
    return x.astype(np.float32), e.astype(np.float32), y


def misaligned_case():
    """Each mode sits at +mu or -mu in the input at random (the paper's fold, alpha = 1): no linear
    read-out and twice the input clusters; the learner sees the mode itself."""
    rng, y = hidden_modes()
    mu = rng.normal(size=(C, 20)) * 3
    sign = rng.choice([-1.0, 1.0], size=N)
    x = sign[:, None] * mu[y] + rng.normal(size=(N, 20))
    e = rng.normal(size=(C, 16))[y] * 3 + rng.normal(size=(N, 16))
    return x.astype(np.float32), e.astype(np.float32), y


@pytest.fixture(scope="module")
def aligned():
    """The a-priori rule alone (the pilot's own cases are below)."""
    return advise(*aligned_case(), pilot=False, progress=False)


@pytest.fixture(scope="module")
def misaligned():
    return advise(*misaligned_case(), seeds=2, sweep=True, progress=False)


def test_aligned_input_gives_no_gap_and_do_not_pay(aligned):
    assert abs(aligned.gap) < 0.03
    assert aligned.budgets and all(b.verdict == "do-not-pay" for b in aligned.budgets)
    assert [b.k for b in aligned.budgets] == [6, 12, 24, 48]  # C, 2C, 4C, 8C
    assert all(b.input_tail < 0.1 for b in aligned.budgets)  # the input eigenspace already carries the labels
    assert any("(A) fails" in r for r in aligned.budgets[0].reasons)
    assert any("(B), reported, not deciding" in r for r in aligned.budgets[0].reasons)


def test_misaligned_input_gives_large_gap_and_pay_at_a_tight_budget(misaligned):
    a = misaligned
    assert a.gap > 0.4 and a.input_probe_acc < 0.5 < 0.95 < a.learner_probe_acc
    assert a.misalignment > 0.5
    first = a.budgets[0]
    assert (first.k, first.verdict, first.a_priori) == (C, "pay", "pay")
    assert first.input_tail > 0.5 > 0.1 > first.learner_tail
    assert all(any(f"({c}) holds" in r for r in first.reasons) for c in ("A", "A'", "C"))
    # past the 2C input clusters the budget no longer binds: "do-not-pay" a priori, and the reason says (C)
    for b in a.budgets[1:]:
        assert b.a_priori == "do-not-pay" and any("(C) fails" in r for r in b.reasons)
    former = advise(*misaligned_case(), pilot=False, a_priori="former", progress=False)
    assert [b.verdict for b in former.budgets] == ["pay", "borderline", "borderline", "borderline"]


def test_pilot_measures_the_advantage_and_settles_the_borderline_budgets(misaligned):
    """The pilot: at k = C input-FL misses whole classes on every split; past 2C both cover every mode."""
    p = misaligned.pilot
    assert p is not None and p.points == N and p.selection_points + p.scoring_points == N
    assert p.sweep.selectors == ("input-fl", "learner-fl") and p.budgets == (6, 12, 24, 48)
    first = misaligned.budgets[0].pilot
    assert first.splits >= 10 and first.splits_positive == first.splits and first.adv_mean > 0.15
    assert first.verdict == "pay" and first.confidence > 0.99
    assert first.adv_mean == pytest.approx(p.sweep.advantage[0].mean())
    assert first.adv_se == pytest.approx(p.sweep.advantage[0].std(ddof=1) / np.sqrt(first.splits))
    for b in misaligned.budgets[1:]:
        assert b.pilot.verdict == b.verdict == b.a_priori == "do-not-pay"
        assert any("the a-priori rule agrees" in r for r in b.reasons)


def test_pilot_is_the_realized_sweep_on_two_selectors():
    """One machinery: the two-selector sweep is the three-selector sweep without the random rows."""
    from kcover.advisor.measure import kernel_for
    from kcover.advisor.sweep import realized_sweep

    x, e, y = misaligned_case()
    kernels = (kernel_for("rbf", x), kernel_for("rbf", e))
    both = realized_sweep(x, e, y, C, (6, 12), (3, 4), 0.25, kernels, None, 1e-3, False)
    two = realized_sweep(
        x, e, y, C, (6, 12), (3, 4), 0.25, kernels, None, 1e-3, False, selectors=("learner-fl", "input-fl")
    )
    assert two.selectors == ("input-fl", "learner-fl")
    np.testing.assert_array_equal(two.accuracy, both.accuracy[:2])
    np.testing.assert_array_equal(two.advantage, both.advantage)
    joined = two.joined(two)
    assert joined.seeds == (3, 4, 3, 4) and joined.accuracy.shape == (2, 2, 4)
    with pytest.raises(ValueError, match="^selectors:"):
        realized_sweep(x, e, y, C, (6,), (0,), 0.25, kernels, None, 1e-3, False, selectors=("nope",))


def test_pilot_adds_splits_while_a_budget_is_undecided():
    from kcover.advisor.measure import kernel_for
    from kcover.advisor.sweep import realized_sweep, run_pilot

    x, e, y = aligned_case()
    kernels = (kernel_for("rbf", x), kernel_for("rbf", e))
    kw = dict(test_fraction=0.25, points=N, seed=5, l2=1e-3, dense_limit=8000, full=None, progress=False)
    decided = run_pilot(x, e, y, C, (6,), kernels, splits=3, max_splits=9, margin=0.5, **kw)
    assert decided.sweep.seeds == (5, 6, 7)  # far from the margin: one round
    first = realized_sweep(
        x, e, y, C, (6,), (5, 6, 7), 0.25, kernels, None, 1e-3, False, selectors=("input-fl", "learner-fl")
    )
    np.testing.assert_array_equal(decided.sweep.accuracy, first.accuracy)
    on_edge = float(first.advantage[0].mean())  # exactly on the margin: undecided until the cap
    if first.advantage[0].std() > 0:
        undecided = run_pilot(x, e, y, C, (6,), kernels, splits=3, max_splits=9, margin=on_edge, **kw)
        assert len(undecided.sweep.seeds) > 3
    assert run_pilot(x, e, y, C, (500,), kernels, splits=3, max_splits=9, margin=0.0, **kw) is None


@pytest.mark.parametrize(
    "adv, margin, verdict, positive, conf",
    [
        ([0.1, 0.1, 0.1], 0.02, "pay", 3, 1.0),  # no spread, off the margin: certain
        ([0.02, 0.02], 0.02, "do-not-pay", 2, 0.5),  # on the margin: not above it, a coin flip
        ([0.0, -0.01, 0.01, 0.0], 0.02, "do-not-pay", 1, None),
        ([0.05, 0.03, 0.04, 0.06], 0.02, "pay", 4, None),
        ([0.5], 0.02, "pay", 1, 1.0),  # one split: se 0
    ],
)
def test_pilot_verdict_rule(adv, margin, verdict, positive, conf):
    from math import erf, sqrt

    p = pilot_verdict(np.array(adv), margin)
    a = np.array(adv, np.float64)
    se = a.std(ddof=1) / np.sqrt(a.size) if a.size > 1 else 0.0
    assert (p.verdict, p.splits_positive, p.splits) == (verdict, positive, a.size)
    assert p.adv_mean == pytest.approx(a.mean()) and p.adv_se == pytest.approx(se)
    scale = kcover.advisor.pilot_rules.POOL_SPREAD * a.std(ddof=1) if a.size > 1 else 0.0
    want = conf if conf is not None else 0.5 * (1 + erf(abs(a.mean() - margin) / scale / sqrt(2)))
    assert p.confidence == pytest.approx(want)
    assert 0.5 <= p.confidence <= 1.0


def test_pilot_verdict_rejects_empty_or_nan():
    for bad in ([], [0.1, np.nan]):
        with pytest.raises(ValueError, match="^adv:"):
            pilot_verdict(np.array(bad), 0.02)


def test_pilot_and_a_priori_disagreement_is_said_in_words():
    a = budget_verdict(10, 10, 0.00, 0.01, 0.5, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)  # gap ~0 at k = C
    p = pilot_verdict(np.array([0.08, 0.06, 0.07]), 0.02)
    v = with_pilot(a, p)
    assert (v.verdict, v.a_priori, v.pilot) == ("pay", a.verdict, p)
    assert v.a_priori_why == a.why and v.reasons[2:] == a.reasons
    b = budget_verdict(30, 10, 0.00, 0.01, 0.5, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)  # do-not-pay a priori
    w = with_pilot(b, p)
    assert "they disagree" in w.reasons[1] and "measurement decides" in w.reasons[1]
    assert "agrees" in with_pilot(b, pilot_verdict(np.array([0.0, 0.01]), 0.02)).reasons[1]


def test_no_pilot_keeps_the_a_priori_verdict(aligned):
    a = aligned
    assert a.pilot is None and all(b.pilot is None and b.verdict == b.a_priori for b in a.budgets)
    d = a.to_dict()
    assert d["pilot"] is None and all("pilot" not in b for b in d["budgets"])
    assert all(b["a_priori_verdict"] == b["verdict"] for b in d["budgets"])
    assert "no pilot (--no-pilot)" in a.summary()


def test_pilot_runs_on_a_subsample_and_skips_budgets_it_cannot_hold():
    a = advise(
        *misaligned_case(), budgets=[6, 90], pilot_points=100, pilot_splits=2, pilot_max_splits=2, progress=False
    )
    assert a.pilot.points == 100 and a.pilot.selection_points < 90
    assert a.budgets[0].pilot is not None and a.budgets[1].pilot is None
    assert a.budgets[1].verdict == a.budgets[1].a_priori
    d = a.to_dict()
    assert d["budgets"][1]["pilot"] is None and d["pilot"]["points"] == 100
    assert "not piloted" in a.summary()


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"pilot_splits": 0}, "pilot_splits"),
        ({"pilot_splits": 5, "pilot_max_splits": 3}, "pilot_max_splits"),
        ({"pilot_points": 0}, "pilot_points"),
        ({"pilot_margin": float("nan")}, "pilot_margin"),
    ],
)
def test_bad_pilot_settings_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        advise(*aligned_case(), progress=False, **kw)


def test_neighbour_agreement_against_brute_force():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    y = rng.integers(3, size=40)
    g = -np.square(x[:, None] - x[None]).sum(-1)  # similarity = minus squared distance
    want = np.mean([y[min((j for j in range(40) if j != i), key=lambda j: -g[i, j])] == y[i] for i in range(40)])
    assert neighbour_agreement(g, y) == pytest.approx(want)
    assert neighbour_agreement(np.eye(2) + 1.0, np.array([0, 0])) == 1.0
    with pytest.raises(ValueError, match="^g:"):
        neighbour_agreement(np.ones((3, 2)), np.zeros(3, int))


def test_misaligned_sweep_realizes_the_advantage(misaligned, tmp_path):
    sw = misaligned.sweep
    assert sw.accuracy.shape == (3, 4, 2)
    adv = sw.advantage
    assert adv[0].mean() > 0.15  # learner-FL beats input-FL at k = C on every seed
    assert (adv[0] > 0).all()
    assert sw.mean("learner-fl")[0] > 0.95
    assert abs(adv[-1].mean()) < 0.05  # a loose budget: both cover every mode
    path = plot_sweep(misaligned, str(tmp_path / "sweep.png"))
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_json_contract(misaligned):
    d = json.loads(misaligned.to_json())
    for key in ("input_probe_acc", "learner_probe_acc", "gap", "alignment_gap", "r_eff", "budgets"):
        assert key in d
    assert isinstance(d["gap"], float) and isinstance(d["r_eff"], float)
    assert d["gap"] == pytest.approx(d["learner_probe_acc"] - d["input_probe_acc"], abs=1e-3)
    assert d["alignment_gap"] == pytest.approx(1 - d["alignment"], abs=1e-3)
    assert [b["k"] for b in d["budgets"]] == [6, 12, 24, 48]
    assert all(b["verdict"] in VERDICTS for b in d["budgets"])
    assert set(d["budgets"][0]["realized"]) == {"input-fl", "learner-fl", "random", "adv"}
    # the pilot, per budget and overall
    for b in d["budgets"]:
        assert {"adv_mean", "adv_se", "splits_positive", "splits"} <= set(b["pilot"])
        assert 0 <= b["pilot"]["splits_positive"] <= b["pilot"]["splits"] and b["pilot"]["splits"] >= 10
        assert b["verdict"] == b["pilot"]["verdict"] and b["a_priori_verdict"] in VERDICTS
    assert d["budgets"][0]["pilot"]["adv_mean"] > 0.15
    assert {"splits", "points", "selection_points", "scoring_points", "seconds"} <= set(d["pilot"])
    assert d["settings"]["pilot"] is True and d["settings"]["pilot_margin"] == 0.02
    assert 0.0 <= d["nn_input"] <= 1.0 and 0.0 <= d["nn_learner"] <= 1.0
    summary = misaligned.summary()
    assert "pay" in summary and "realized sweep" in summary


@pytest.mark.parametrize(
    "gap, misalign, k, tail, expected, mentions",
    [
        (0.30, 0.05, 10, 0.8, "do-not-pay", "(A) fails"),  # kernels agree: nothing to gain
        (0.30, 0.50, 10, 0.8, "pay", "(C) holds"),
        (0.30, 0.50, 10, 0.05, "borderline", "(C) fails"),  # input top-k already reaches the labels
        (0.30, 0.50, 500, 0.8, "borderline", "(C) fails"),  # k past r_eff ln r_eff
        (0.04, 0.50, 30, 0.8, "borderline", "(B) is uncertain"),
        (0.04, 0.50, 500, 0.8, "do-not-pay", "(B) is uncertain"),
        (0.00, 0.50, 30, 0.8, "do-not-pay", "(B) fails"),  # k = 3C: not extremely tight
        (0.00, 0.50, 20, 0.8, "borderline", "Amazon-CF"),  # k = 2C: extremely tight
        (-0.10, 0.50, 20, 0.05, "do-not-pay", "(B) fails"),
    ],
)
def test_verdict_rule_table(gap, misalign, k, tail, expected, mentions):
    b = budget_verdict(k, 10, gap, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1)
    assert b.verdict == expected
    assert any(mentions in r for r in b.reasons)
    assert b.k == k and b.per_class == k / 10


@pytest.mark.parametrize(
    "misalign, nn_in, nn_l, k, tail, expected, mentions",
    [
        (0.05, 0.9, 0.95, 10, 0.8, "do-not-pay", "(A) fails"),
        (0.50, 0.91, 0.61, 10, 0.8, "do-not-pay", "(A') fails"),  # random-init: different, not better
        (0.50, 0.91, 0.78, 10, 0.8, "pay", "(A') holds"),  # within the 0.15 margin
        (0.50, 0.91, 0.93, 40, 0.8, "pay", "(C) holds"),  # k = 4C: still tight, whatever the gap
        (0.50, 0.91, 0.93, 41, 0.8, "do-not-pay", "(A') holds"),  # past 4C
        (0.50, 0.91, 0.93, 10, 0.05, "do-not-pay", "(C) fails"),  # the input top-k reaches the labels
        (0.50, 0.91, 0.93, 200, 0.8, "do-not-pay", "(C) fails"),  # k >= r_eff ln r_eff
    ],
)
def test_repaired_rule_table(misalign, nn_in, nn_l, k, tail, expected, mentions):
    for gap in (-0.2, 0.0, 0.3):  # the gap is reported, not deciding
        b = budget_verdict(
            k, 10, gap, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1, nn_input=nn_in, nn_learner=nn_l
        )
        assert b.verdict == expected and b.verdict != "borderline"
        assert any(mentions in r for r in b.reasons) and "(B), reported" in b.reasons[0]
    # NaN agreements (not measured) fall back to the former rule
    former = budget_verdict(
        k, 10, 0.0, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1, nn_input=float("nan"), nn_learner=nn_l
    )
    assert former == budget_verdict(k, 10, 0.0, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1)


def test_large_gap_needs_two_standard_errors():
    assert budget_verdict(10, 10, 0.06, 0.01, 0.5, 40.0, 60.0, 0.8, 0.0, 0.05, 0.1, 0.1).verdict == "pay"
    assert budget_verdict(10, 10, 0.06, 0.04, 0.5, 40.0, 60.0, 0.8, 0.0, 0.05, 0.1, 0.1).verdict == "borderline"


def test_label_tails_and_r_eff_agree_with_core_functions():
    x, _, y = misaligned_case()
    g = np.asarray(gram(x[:200], kernel="rbf"), np.float64)
    vals, tails = label_tails(g, y[:200], C)
    np.testing.assert_allclose(vals, np.asarray(gram_eigenvalues(g)), rtol=1e-3, atol=1e-6)
    onehot = np.eye(C)[y[:200]]
    yc = onehot - onehot.mean(0)
    for k in (0, 3, 12, 50):
        assert tails[k] == pytest.approx(tail_energy(g, yc, k) / tail_energy(g, yc, 0), rel=1e-3, abs=1e-4)
    assert tails[0] == 1.0 and tails[-1] == 0.0 and np.all(np.diff(tails) <= 0.0)  # exact, even in float32
    lam = 1e-2 * vals.sum()
    assert effective_dimension(vals, lam) == pytest.approx(effective_dimension(gram_eigenvalues(g), lam), rel=1e-3)
    assert budget_limit(10.0) == pytest.approx(10 * np.log(10)) and budget_limit(2.0) == 2.0


def test_stratified_split_is_seeded_disjoint_and_proportional():
    y = np.r_[np.zeros(40, int), np.ones(20, int), 2 * np.ones(1, int)]
    tr, te = stratified_split(y, 0.25, 0)
    tr2, te2 = stratified_split(y, 0.25, 0)
    np.testing.assert_array_equal(te, te2)
    assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == y.size
    assert np.bincount(y[te], minlength=3).tolist() == [10, 5, 0]  # the singleton stays in train
    assert not np.array_equal(te, stratified_split(y, 0.25, 1)[1])


def test_default_budgets_and_label_encoding():
    assert default_budgets(10, 1000) == (10, 20, 40, 80)
    assert default_budgets(10, 30) == (10, 20, 30)
    ids, names = encode_labels(np.array(["b", "a", "c", "a"]), 4)
    assert names == ("a", "b", "c") and ids.tolist() == [1, 0, 2, 0]


@pytest.mark.parametrize(
    "mutate, name",
    [
        (lambda x, e, y: (x, e[:-1], y), "learner_features"),
        (lambda x, e, y: (x, e, y[:-1]), "labels"),
        (lambda x, e, y: (x, e, y[:, None]), "labels"),
        (lambda x, e, y: (x[:, 0], e, y), "input_features"),
        (lambda x, e, y: (np.where(np.arange(N)[:, None] == 3, np.nan, x), e, y), "input_features"),
        (lambda x, e, y: (x, e, np.zeros(N, int)), "labels"),
        (lambda x, e, y: (x, e, np.where(np.arange(N) == 4, np.nan, y.astype(float))), "labels"),
    ],
)
def test_bad_input_names_the_argument(mutate, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        advise(*mutate(*aligned_case()), progress=False)


@pytest.mark.parametrize("budgets", [[0], [100_000], [3.5]])
def test_bad_budgets(budgets):
    with pytest.raises(ValueError, match="^budgets:"):
        advise(*aligned_case(), budgets, progress=False)


# ------------------------------------------------------------------------------- the module split
_RULES_IN_A_BARE_PROCESS = """
import importlib.util, json, sys
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
rules, pilot = load("advise_rules", sys.argv[1]), load("pilot_rules", sys.argv[2])
b = rules.budget_verdict(10, 10, 0.30, 0.01, 0.50, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)
p = pilot.pilot_verdict([0.10, 0.20, 0.15], 0.02)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "matplotlib", "kcover"))
print(json.dumps({"verdict": b.verdict, "pilot": rules.with_pilot(b, p).verdict, "heavy": heavy}))
"""


def test_rules_run_without_jax_or_matplotlib():
    """The verdict rules (a-priori and the pilot's) load and run in a fresh interpreter that never imports
    JAX, matplotlib or kcover."""
    paths = [str(Path(m.__file__)) for m in (kcover.advisor.rules, kcover.advisor.pilot_rules)]
    res = subprocess.run(
        [sys.executable, "-c", _RULES_IN_A_BARE_PROCESS, *paths], capture_output=True, text=True, check=True
    )
    out = json.loads(res.stdout)
    assert out == {"verdict": "pay", "pilot": "pay", "heavy": []}


def test_options_are_checked_once_and_name_the_field():
    opts = AdviseOptions(pilot_splits=4)
    assert opts.max_splits == 12 and opts.replace(pilot_splits=5).max_splits == 15
    assert opts.replace(pilot_max_splits=7).max_splits == 7
    assert AdviseOptions(seeds=2).seeds == (0, 1) and AdviseOptions(seeds=[5, 7]).seeds == (5, 7)
    for bad, field in [
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"input_kernel": "poly"}, "input_kernel"),
        ({"pilot_splits": 0}, "pilot_splits"),
        ({"pilot_splits": 5, "pilot_max_splits": 4}, "pilot_max_splits"),
        ({"pilot_margin": float("nan")}, "pilot_margin"),
        ({"seeds": 0}, "seeds"),
        ({"a_priori": "x"}, "a_priori"),
        ({"pilot_budgets": "x"}, "pilot_budgets"),
        ({"l2": "a"}, "l2"),
        ({"pool_size": -1}, "pool_size"),
    ]:
        with pytest.raises(ValueError, match=f"^{field}:"):
            AdviseOptions(**bad)
    with pytest.raises(ValueError, match="^options: unknown"):
        opts.replace(pilot_spilts=3)


def test_advise_takes_an_options_object_and_keyword_changes():
    x_in, x_l, y = aligned_case()
    a = advise(x_in, x_l, y, [5], AdviseOptions(pilot=False, progress=False, seeds=1))
    b = advise(x_in, x_l, y, [5], pilot=False, progress=False, seeds=1)
    assert a.to_dict()["budgets"] == b.to_dict()["budgets"] and a.settings == b.settings
    assert a.settings["pilot"] is False and a.settings["seeds"] == [0]


def _hand_advice(with_sweep):
    """An Advice built from numbers alone: rendering it needs no measurement and no plotting."""
    b = budget_verdict(6, 6, 0.3, 0.01, 0.5, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)
    sweep = None
    if with_sweep:
        acc = np.array([[[0.5, 0.6]], [[0.9, 1.0]], [[0.4, 0.4]]])  # (selectors, budgets, seeds)
        sweep = Sweep((6,), (0, 1), ("input-fl", "learner-fl", "random"), acc)
    settings = {"seeds": [0, 1], "lam": 1e-2, "spectral_points": 100}
    return Advice(
        100, 75, 25, ("a", "b"), 0.5, 0.8, 0.3, 0.01, 0.9, 0.4, 40.0, 60.0, (b,), sweep, settings, {"total_s": 1.234}
    )


_RENDER_WITHOUT_MATPLOTLIB = """
import sys
sys.path.insert(0, sys.argv[1])
from test_advise import _hand_advice
a = _hand_advice(True)
text, js = a.summary(verbose=True), a.to_json()
assert "realized sweep" in text and '"verdict": "pay"' in js, (text, js)
print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
"""


def test_text_and_json_render_without_matplotlib():
    res = subprocess.run(
        [sys.executable, "-c", _RENDER_WITHOUT_MATPLOTLIB, str(Path(__file__).parent)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def test_hand_built_advice_renders_the_contract():
    a = _hand_advice(True)
    d = a.to_dict()
    assert d["gap"] == 0.3 and d["misalignment"] == pytest.approx(0.6)
    assert d["budgets"][0]["verdict"] == "pay" and isinstance(a.budgets[0], BudgetAdvice)
    assert d["budgets"][0]["realized"]["adv"] == {"mean": 0.4, "std": 0.0}
    assert d["sweep"]["accuracy"] == [[[0.5, 0.6]], [[0.9, 1.0]], [[0.4, 0.4]]]
    assert "do-not-pay" not in a.summary() and "realized sweep" not in _hand_advice(False).summary()
    with pytest.raises(ValueError, match="^advice: has no sweep"):
        plot_sweep(_hand_advice(False), "unused.png")


# ----------------------------------------------------------------------------- the label validator
@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((3, 2), int), "must be a 1-d array of integer class ids, got shape"),
        (np.array([], int), "is empty"),
        (np.array([0.0, np.nan, 1.0]), "contains NaN or inf (first at row 1)"),
        (np.array([0.0, 0.5]), "must be a 1-d array of integer class ids, got non-integer floats"),
        (np.array(["a", "b"]), "must be a 1-d array of integer class ids, got dtype"),
        (np.array([0, -1]), "class ids must be non-negative"),
        (np.array([0, 1, 2, 3]), "has 4 entries but the features have 3 rows"),
        (np.array([0, 5, 1]), "has class id 5 but num_classes=3"),
        (np.array([0, None, 1], dtype=object), "must be numbers or strings, got objects"),
    ],
)
def test_class_ids_errors_name_the_argument(y, message):
    n = 3 if y.ndim == 1 and y.size == 4 else None
    with pytest.raises(ValueError) as err:
        class_ids(y, "y_train", n=n, num_classes=3)
    assert str(err.value).startswith("y_train: ") and message in str(err.value)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array(["a", "a", "a"]), "has only 1 class; need at least 2"),
        (np.array([1.0, 2.0, np.inf]), "contains NaN or inf"),
        (np.array([1.5, 2.0, 3.0]), "got non-integer floats"),
        (np.array(["a", "b"]), "has 2 entries but the features have 3 rows"),
        (np.array([["a"], ["b"], ["c"]]), "must be a 1-d array of class labels"),
        (np.array([{}, {}, {}], dtype=object), "must be numbers or strings, got objects"),
    ],
)
def test_encode_labels_errors_name_the_argument(labels, message):
    with pytest.raises(ValueError) as err:
        encode_labels(labels, 3, "--labels")
    assert str(err.value).startswith("--labels: ") and message in str(err.value)


def test_one_validator_behind_probe_krr_and_advise():
    """labels_array (probe), one_hot (krr) and encode_labels (advise) accept and reject the same ids."""
    y = np.array([2, 0, 1, 2, 0])
    np.testing.assert_array_equal(labels_array(y, 5, "y"), class_ids(y, "y", n=5))
    np.testing.assert_array_equal(one_hot(y.astype(float)), np.eye(3, dtype=np.float32)[y])  # integer floats
    np.testing.assert_array_equal(encode_labels(y, 5)[0], y)
    bad = np.array([0.0, np.nan, 1.0])
    for call, name in (
        (lambda: labels_array(bad, 3, "y"), "y"),
        (lambda: one_hot(bad), "labels"),
        (lambda: encode_labels(bad, 3), "labels"),
    ):
        with pytest.raises(ValueError, match=rf"^{name}: contains NaN or inf \(first at row 1\)"):
            call()


def test_targets_one_validator_for_krr_and_spectral():
    assert targets(np.arange(4.0), 4).shape == (4, 1) and targets(np.ones((4, 2)), 4).shape == (4, 2)
    with pytest.raises(ValueError, match="^y: has 3 rows but there are 4 points"):
        targets(np.arange(3.0), 4)
    with pytest.raises(ValueError, match="^y: has 3 rows but there are 4 points"):
        tail_energy(np.eye(4), np.arange(3.0), 1)
    with pytest.raises(ValueError, match="^y:"):
        targets(np.array([0.0, np.nan, 1.0, 2.0]), 4)


def test_reach_gap_per_budget_is_the_law_module_on_the_same_grams():
    """advise's reach fields are kcover.reach_gap on the pool's Gram matrices (linear kernels, so
    the Grams are X X^T and E E^T with no bandwidth), against a float64 computation; the learner
    that sees the hidden modes reaches the labels better than the folded input (gap > 0)."""
    from kcover.law import reach_gap

    x, e, y = misaligned_case()
    a = advise(x, e, y, [C, 2 * C], input_kernel="linear", learner_kernel="linear", pilot=False, progress=False)
    yc = one_hot(y, C) - one_hot(y, C).mean(axis=0)
    xd, ed = x.astype(np.float64), e.astype(np.float64)
    ref = reach_gap(xd @ xd.T, ed @ ed.T, yc, [C, 2 * C], float64=True)
    got = np.array([[b.reach_input, b.reach_learner, b.reach_gap] for b in a.budgets]).T
    want = np.stack([ref.reach_input, ref.tail_learner, ref.gap]) / ref.energy
    np.testing.assert_allclose(got, want, atol=5e-3)
    assert all(b.reach_gap > 0.1 for b in a.budgets)
    d = a.to_dict()["budgets"][0]
    assert d["reach_gap"] == pytest.approx(a.budgets[0].reach_gap, abs=1e-4)
    assert d["reach_input"] - d["reach_learner"] == pytest.approx(d["reach_gap"], abs=2e-4)
    assert "reach" in a.summary()


def test_reach_gap_can_be_switched_off():
    x, e, y = aligned_case()
    a = advise(x, e, y, [C], pilot=False, reach=False, progress=False)
    assert np.isnan(a.budgets[0].reach_gap) and "reach_gap" not in a.to_dict()["budgets"][0]
    assert "reach:" not in a.summary()


def test_close_calls_are_named_below_the_confidence_bar():
    from kcover.advisor.pilot_rules import CLOSE_CALL, close_call_text

    near = pilot_verdict(np.array([0.05, -0.02, 0.04, 0.0, 0.03]), 0.02)  # mean 0.02: on the margin
    far = pilot_verdict(np.array([0.20, 0.22, 0.19, 0.21]), 0.02)
    assert near.confidence < CLOSE_CALL <= far.confidence
    assert close_call_text(far) is None
    text = close_call_text(near)
    assert text.startswith("a close call (confidence") and f"{1 - near.confidence:.0%}" in text
