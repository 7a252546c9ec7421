"""advise: known-answer synthetic cases, the verdict table, the spectral helpers, the JSON contract."""

import json

import numpy as np
import pytest

from kcover import effective_dimension, gram, gram_eigenvalues, tail_energy
from kcover.advise import (
    VERDICTS,
    _verdict,
    advise,
    budget_limit,
    default_budgets,
    encode_labels,
    label_tails,
    plot_sweep,
    stratified_split,
)

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
    return advise(*aligned_case(), progress=False)


@pytest.fixture(scope="module")
def misaligned():
    return advise(*misaligned_case(), seeds=2, sweep=True, progress=False)


def test_aligned_input_gives_no_gap_and_do_not_pay(aligned):
    assert abs(aligned.gap) < 0.03
    assert aligned.budgets and all(b.verdict == "do-not-pay" for b in aligned.budgets)
    assert [b.k for b in aligned.budgets] == [6, 12, 24, 48]  # C, 2C, 4C, 8C
    assert all(b.input_tail < 0.1 for b in aligned.budgets)  # the input eigenspace already carries the labels
    assert any("(B) fails" in r for r in aligned.budgets[0].reasons)


def test_misaligned_input_gives_large_gap_and_pay_at_a_tight_budget(misaligned):
    a = misaligned
    assert a.gap > 0.4 and a.input_probe_acc < 0.5 < 0.95 < a.learner_probe_acc
    assert a.misalignment > 0.5
    first = a.budgets[0]
    assert (first.k, first.verdict) == (C, "pay")
    assert first.input_tail > 0.5 > 0.1 > first.learner_tail
    assert all(any(f"({c}) holds" in r for r in first.reasons) for c in "ABC")
    # past the 2C input clusters the budget no longer binds: never "pay", and the reason says (C)
    for b in a.budgets[1:]:
        assert b.verdict == "borderline" and any("(C) fails" in r for r in b.reasons)


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
    b = _verdict(k, 10, gap, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1)
    assert b.verdict == expected
    assert any(mentions in r for r in b.reasons)
    assert b.k == k and b.per_class == k / 10


def test_large_gap_needs_two_standard_errors():
    assert _verdict(10, 10, 0.06, 0.01, 0.5, 40.0, 60.0, 0.8, 0.0, 0.05, 0.1, 0.1).verdict == "pay"
    assert _verdict(10, 10, 0.06, 0.04, 0.5, 40.0, 60.0, 0.8, 0.0, 0.05, 0.1, 0.1).verdict == "borderline"


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
