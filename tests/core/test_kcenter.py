import numpy as np
import pytest

import kcover
from _reference import kcenter_optimum


@pytest.mark.parametrize("seed", range(6))
def test_radius_within_twice_the_brute_force_optimum(seed, x64):
    x = np.random.default_rng(seed).normal(size=(9, 2))
    for k in (1, 2, 3, 4):
        sel = kcover.k_center(x, k, seed=seed)
        opt = kcenter_optimum(x, k)
        assert sel.objective[-1] <= 2 * opt + 1e-12
        assert sel.objective[-1] >= opt - 1e-12


def test_kcenter_trajectory_matches_reference(x64):
    x = np.random.default_rng(1).normal(size=(40, 3))
    sel = kcover.k_center(x, 6, seed=0)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    centers = [int(np.random.default_rng(0).integers(40))]
    for _ in range(5):
        mind = d[:, centers].min(1)
        centers.append(int(np.argmax(mind)))
    assert sel.indices.tolist() == centers
    radii = [d[:, centers[: i + 1]].min(1).max() for i in range(6)]
    np.testing.assert_allclose(sel.objective, radii, rtol=1e-12)
    assert np.isinf(sel.gains[0]) and np.all(np.diff(sel.gains[1:]) <= 1e-12)
    assert sel.weights.sum() == 40
    np.testing.assert_allclose(sel.coverage, d[:, centers].min(1), atol=1e-12)


def test_kcenter_initial_subset_and_kernels():
    x = np.random.default_rng(2).normal(size=(30, 4)).astype(np.float32)
    sel = kcover.select(x, 5, method="kcenter", initial=[0, 1])
    assert not {0, 1} & set(sel.indices.tolist())
    assert np.isfinite(sel.gains).all()
    for kernel in ("rbf", "cosine"):
        s = kcover.select(x, 5, method="kcenter", kernel=kernel)
        assert len(set(s.indices.tolist())) == 5


def test_kcenter_rejects_targets():
    with pytest.raises(ValueError, match="targets: k-center"):
        kcover.select(np.ones((5, 2)), 2, method="kcenter", targets=np.ones((3, 2)))
