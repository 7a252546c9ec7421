"""The approximate paths of issue 26 against brute force: the weighted target sketch (and its
error bound), partitioned greedy (GreeDi), the faiss kNN lists, and the "auto" rule."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from kcover.selection import ann, auto
from kcover.selection.partition import partition_labels
from kcover.selection.sketch import sketch_bound

RNG = np.random.default_rng(0)
CENTRES = 3.0 * RNG.normal(size=(8, 6))
X = (CENTRES[RNG.integers(0, 8, 400)] + RNG.normal(size=(400, 6))).astype(np.float32)


def test_the_sketch_assigns_every_target_to_its_nearest_centre_and_keeps_the_weight():
    w = RNG.uniform(0.5, 2.0, size=X.shape[0])
    sk = kcover.target_sketch(X, 40, target_weights=w, seed=1)
    d2 = ((X[:, None, :].astype(np.float64) - sk.centres[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(sk.labels, d2.argmin(1))
    np.testing.assert_allclose(sk.weights, np.bincount(sk.labels, w, minlength=sk.centres.shape[0]), rtol=1e-5)
    np.testing.assert_allclose(sk.weights.sum(), w.sum(), rtol=1e-5)
    np.testing.assert_allclose(sk.quantization, (w * np.sqrt(d2.min(1))).sum(), rtol=1e-4)


@pytest.mark.parametrize("kernel", ["rbf", "cosine"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_sketch_bound_holds_for_any_subset(kernel, seed):
    """|F(S) - F~(S)| <= E for every S: the Lipschitz bound of kcover.selection.sketch."""
    x = X if kernel == "rbf" else np.abs(X)  # cosine: positive data, similarities above the floor
    kern = kcover.make_kernel(kernel, None, x)
    sk = kcover.target_sketch(x, 30, seed=3, normalize=kernel == "cosine")
    s = np.random.default_rng(seed).choice(x.shape[0], 6, replace=False)  # one size: one compile
    exact = kcover.objective(x, s, kernel=kern)
    sketched = kcover.objective(x, s, kernel=kern, targets=sk.centres, target_weights=sk.weights)
    bound = sketch_bound(sk, kern, x)
    assert abs(exact - sketched) <= bound * (1 + 1e-5) + 1e-3
    assert bound < exact  # not vacuous on clustered data


def test_a_sketch_of_every_target_is_exact_greedy(x64):
    x = X.astype(np.float64)
    ref = kcover.facility_location(x, 15, bandwidth=2.0)
    sel = kcover.select(x, 15, method="lazy", targets_sketch=x.shape[0], bandwidth=2.0)
    np.testing.assert_array_equal(sel.indices, ref.indices)
    assert sel.info["method"] == "lazy+sketch" and sel.info["approximation"]["targets_sketch"] == x.shape[0]
    np.testing.assert_allclose(sel.info["exact_objective"], ref.objective[-1], rtol=1e-9)


def test_the_sketch_path_reaches_99_percent_of_exact_greedy():
    ref = kcover.facility_location(X, 20)
    sel = kcover.select(X, 20, method="lazy", targets_sketch=150)
    assert sel.info["exact_objective"] >= 0.99 * ref.objective[-1]
    np.testing.assert_allclose(sel.info["exact_objective"], kcover.objective(X, sel.indices), rtol=1e-6)
    start = kcover.select(X, 20, method="lazy", targets_sketch=150, initial=[5, 9])  # the initial subset counts
    assert not {5, 9} & set(start.indices.tolist())
    np.testing.assert_allclose(
        start.info["exact_objective"], kcover.objective(X, start.indices, initial=[5, 9]), rtol=1e-6
    )


def greedi_by_hand(x, k, parts, bandwidth):
    picks = [part[kcover.facility_location(x[part], k, bandwidth=bandwidth).indices] for part in parts]
    union = np.unique(np.concatenate(picks))
    return union[kcover.facility_location(x[union], k, targets=x, bandwidth=bandwidth).indices]


@pytest.mark.parametrize("split", ["random", pytest.param("kmeans", marks=pytest.mark.slow)])
def test_partitioned_greedy_is_greedi(split):
    sel = kcover.facility_location_partitioned(X, 12, partitions=2, split=split, bandwidth=2.0, seed=4)
    parts = partition_labels(X, 2, split, 4)  # random: two equal parts, one compile
    assert sorted(np.concatenate(parts).tolist()) == list(range(X.shape[0]))
    np.testing.assert_array_equal(sel.indices, greedi_by_hand(X, 12, parts, 2.0))
    assert sel.info["partitions"] == 2 and sel.info["processes"] == 1
    ref = kcover.facility_location(X, 12, bandwidth=2.0)
    assert kcover.objective(X, sel.indices, bandwidth=2.0) >= 0.97 * ref.objective[-1]


def test_one_partition_is_exact_greedy_and_a_sampled_sketch_runs():
    sel = kcover.facility_location_partitioned(X, 10, partitions=1, bandwidth=2.0)
    np.testing.assert_array_equal(sel.indices, kcover.facility_location(X, 10, bandwidth=2.0).indices)
    sampled = auto.facility_location_scaled(X, 10, targets_sketch=50, sketch_method="sample", bandwidth=2.0)
    assert sampled.info["approximation"]["sketch_method"] == "sample"
    assert sampled.info["exact_objective"] == pytest.approx(kcover.objective(X, sampled.indices, bandwidth=2.0))


def test_auto_keeps_exact_lazy_greedy_bit_for_bit_below_the_budget():
    ref = kcover.facility_location(X, 15)
    sel = kcover.select(X, 15, method="auto")
    for field in ("indices", "gains", "objective", "weights", "coverage"):
        np.testing.assert_array_equal(getattr(sel, field), getattr(ref, field))
    assert sel.info["method"] == "lazy" and sel.info["approximation"] is None
    assert "exact lazy greedy" in sel.info["reason"]


def test_auto_sketches_above_the_budget_and_exact_overrides(monkeypatch):
    monkeypatch.setattr(auto, "EXACT_SECONDS", 1e-9)
    sel = kcover.select(X, 15, method="auto")
    assert sel.info["method"] == "lazy+sketch"
    assert sel.info["approximation"]["targets_sketch"] == auto.sketch_size(X.shape[0], 15) == 100
    assert "> budget" in sel.info["reason"]
    forced = kcover.select(X, 15, method="auto", exact=True)
    np.testing.assert_array_equal(forced.indices, kcover.facility_location(X, 15).indices)
    assert forced.info["approximation"] is None


def test_the_auto_rule():
    budget = auto.exact_budget("cpu")
    assert auto.auto_plan(30_000, 30_000, 128, 500, backend="cpu").targets_sketch is None
    assert 30_000 * 30_000 * 128 <= budget < 100_000 * 100_000 * 128
    big = auto.auto_plan(1_000_000, 1_000_000, 128, 1000, backend="cpu")
    assert big.targets_sketch == 1024 and big.partitions == 1
    assert auto.auto_plan(1_000_000, 1_000_000, 128, 1000, processes=4, backend="cpu").partitions == 4
    assert auto.auto_plan(1_000_000, 1_000_000, 128, 1000, exact=True, backend="cpu").targets_sketch is None
    assert auto.auto_plan(10_000_000, 10_000_000, 128, 1000, backend="gpu").targets_sketch == 1024
    assert auto.auto_plan(1_000_000, 1_000_000, 128, 1000, backend="gpu").targets_sketch is None


FAISS_CHECKS = """
import os, sys
import numpy as np
import kcover
from kcover.selection import ann

assert ann.faiss_module() is not None
RNG = np.random.default_rng(0)
CENTRES = 3.0 * RNG.normal(size=(8, 6))
X = (CENTRES[RNG.integers(0, 8, 400)] + RNG.normal(size=(400, 6))).astype(np.float32)

for kernel in ("rbf", "cosine"):  # flat lists are the exact lists
    x = np.abs(X)
    exact = kcover.knn_similarity(x, 8, kernel=kernel)
    lists, used = kcover.knn_graph(x, 8, kernel=kernel, index="flat")
    assert used == "flat"
    np.testing.assert_allclose(np.sort(lists.values, 1), np.sort(exact.values, 1), atol=2e-5)
    agree = np.mean([np.intersect1d(a, b).size / 8 for a, b in zip(lists.indices, exact.indices)])
    assert agree > 0.99, (kernel, agree)  # ties may go either way

exact = kcover.knn_similarity(X, 8)  # the ivf index finds most neighbours
lists, used = kcover.knn_graph(X, 8, index="ivf")
assert used == "ivf"
assert np.mean([np.intersect1d(a, b).size / 8 for a, b in zip(lists.indices, exact.indices)]) > 0.9
sel = kcover.select(X, 10, method="knn", neighbors=8, index="flat")  # knn select = the kNN selector on the lists
ref = kcover.facility_location_knn(X, 10, similarity=kcover.knn_graph(X, 8, index="flat")[0])
np.testing.assert_array_equal(sel.indices, ref.indices)
assert sel.info["approximation"] == {"neighbors": 8, "index": "flat"}
assert sel.info["exact_objective"] >= 0.95 * kcover.facility_location(X, 10).objective[-1]
print("FAISS OK")
"""


@pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="faiss not installed")
def test_faiss_lists_match_the_exact_lists_and_knn_select_matches_the_knn_selector():
    # in a fresh process with faiss on: the test session keeps faiss out of its own (tests/conftest.py)
    env = {**os.environ, "KCOVER_FAISS": "on"}
    done = subprocess.run([sys.executable, "-c", FAISS_CHECKS], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FAISS OK" in done.stdout


def test_kcover_faiss_off_keeps_faiss_out(monkeypatch):
    monkeypatch.setenv("KCOVER_FAISS", "off")
    assert ann.faiss_module() is None


def test_without_faiss_the_knn_path_falls_back_to_the_exact_jax_lists(monkeypatch):
    monkeypatch.setattr(ann, "faiss_module", lambda: None)
    lists, used = kcover.knn_graph(X, 8)
    assert used == "jax"
    np.testing.assert_array_equal(lists.indices, kcover.knn_similarity(X, 8).indices)
    with pytest.raises(ValueError, match="^index: 'ivf' needs faiss"):
        kcover.knn_graph(X, 8, index="ivf")


def test_import_kcover_does_not_import_faiss():
    code = "import sys, kcover; kcover.select; assert 'faiss' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kcover.target_sketch(X, 0), "targets_sketch:"),
        (lambda: kcover.target_sketch(X, 401), "targets_sketch:"),
        (lambda: kcover.target_sketch(X * np.nan, 5), "targets:"),
        (lambda: kcover.select(X, 5, method="lazy", targets_sketch=0), "targets_sketch:"),
        (lambda: kcover.select(X, 5, method="lazy", partitions=0), "partitions:"),
        (lambda: kcover.select(X, 5, method="lazy", partitions=401), "partitions:"),
        (lambda: kcover.select(X, 5, method="lazy", partitions=2, split="ring"), "split:"),
        (lambda: kcover.select(X, 5, method="auto", exact=True, targets_sketch=10), "exact:"),
        (lambda: kcover.select(X, 5, method="knn", neighbors=0), "neighbors:"),
        (lambda: kcover.select(X, 0, method="auto"), "k:"),
        (lambda: kcover.select(X, 401, method="knn"), "k:"),
        (lambda: kcover.select(X, 5, method="lazy", partitions=2, initial=[1]), "initial:"),
    ],
)
def test_bad_arguments_name_the_argument(call, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        call()
