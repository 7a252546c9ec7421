"""advise: known-answer synthetic cases, the verdict table, the spectral helpers, the JSON contract,
the module split (rules without JAX or matplotlib) and the one label validator."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kcover.advise_rules
from kcover import effective_dimension, gram, gram_eigenvalues, one_hot, tail_energy
from kcover.advise import (
    VERDICTS,
    Advice,
    BudgetAdvice,
    Sweep,
    _verdict,
    advise,
    budget_limit,
    default_budgets,
    encode_labels,
    label_tails,
    plot_sweep,
    stratified_split,
)
from kcover.advise_rules import budget_verdict
from kcover.labels import class_ids, targets
from kcover.probe import labels_array

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
    b = budget_verdict(k, 10, gap, 0.01, misalign, 40.0, 60.0, tail, 0.02, 0.05, 0.1, 0.1)
    assert b.verdict == expected
    assert any(mentions in r for r in b.reasons)
    assert b.k == k and b.per_class == k / 10


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
spec = importlib.util.spec_from_file_location("advise_rules", sys.argv[1])
rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rules)
b = rules.budget_verdict(10, 10, 0.30, 0.01, 0.50, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "matplotlib", "kcover"))
print(json.dumps({"verdict": b.verdict, "heavy": heavy}))
"""


def test_rules_run_without_jax_or_matplotlib():
    """The verdict rules load and run in a fresh interpreter that never imports JAX, matplotlib or kcover."""
    path = Path(kcover.advise_rules.__file__)
    res = subprocess.run([sys.executable, "-c", _RULES_IN_A_BARE_PROCESS, str(path)], capture_output=True, text=True,
                         check=True)
    out = json.loads(res.stdout)
    assert out == {"verdict": "pay", "heavy": []}


def test_verdict_keeps_its_former_name():
    assert _verdict is budget_verdict


def _hand_advice(with_sweep):
    """An Advice built from numbers alone: rendering it needs no measurement and no plotting."""
    b = budget_verdict(6, 6, 0.3, 0.01, 0.5, 40.0, 60.0, 0.8, 0.02, 0.05, 0.1, 0.1)
    sweep = None
    if with_sweep:
        acc = np.array([[[0.5, 0.6]], [[0.9, 1.0]], [[0.4, 0.4]]])  # (selectors, budgets, seeds)
        sweep = Sweep((6,), (0, 1), ("input-fl", "learner-fl", "random"), acc)
    settings = {"seeds": [0, 1], "lam": 1e-2, "spectral_points": 100}
    return Advice(100, 75, 25, ("a", "b"), 0.5, 0.8, 0.3, 0.01, 0.9, 0.4, 40.0, 60.0, (b,), sweep, settings,
                  {"total_s": 1.234})


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
    res = subprocess.run([sys.executable, "-c", _RENDER_WITHOUT_MATPLOTLIB, str(Path(__file__).parent)],
                         capture_output=True, text=True)
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
    for call, name in ((lambda: labels_array(bad, 3, "y"), "y"), (lambda: one_hot(bad), "labels"),
                       (lambda: encode_labels(bad, 3), "labels")):
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
