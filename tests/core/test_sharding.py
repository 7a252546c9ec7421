"""Targets sharded over 8 fake CPU devices pick exactly what one device picks.

XLA_FLAGS must be set before JAX starts, so the multi-device checks run in a subprocess.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kcover
from kcover.selection.sharding import facility_location_sharded, target_mesh

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax
    import numpy as np
    import kcover
    from kcover.selection.sharding import facility_location_sharded, target_mesh, _sharded_greedy

    assert jax.device_count() == 8, jax.devices()
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)

    # integer features and the linear kernel: every similarity and every partial sum is an
    # integer in float64, so the psum order cannot change a bit
    xi = rng.integers(0, 4, size=(203, 5)).astype(np.float64)
    # a Gaussian mixture in float64 with an rbf kernel: no near-ties
    xr = rng.normal(size=(203, 5)) + 4.0 * rng.normal(size=(6, 5))[rng.integers(0, 6, 203)]
    w = rng.uniform(0.5, 2.0, size=203)
    eight, three = target_mesh(), target_mesh(jax.devices()[:3])
    cases = [  # (features, options, method, cache, mesh)
        (xi, dict(kernel="linear"), "naive", False, eight),
        (xi, dict(kernel="linear"), "lazy", False, three),
        (xr, dict(bandwidth=2.0, target_weights=w, initial=[3, 50]), "lazy", True, eight),
        (xr, dict(bandwidth=2.0, initial=[3]), "stochastic", False, eight),
    ]
    for x, kw, method, cache, mesh in cases:
        one = kcover.facility_location(x, 10, method=method, block=16, cache=cache, epsilon=0.3, **kw)
        many = facility_location_sharded(x, 10, method=method, block=16, cache=cache, epsilon=0.3, mesh=mesh, **kw)
        assert many.indices.tolist() == one.indices.tolist(), (method, cache, mesh.devices.size)
        np.testing.assert_allclose(many.gains, one.gains, rtol=1e-12)
        np.testing.assert_allclose(many.objective, one.objective, rtol=1e-12)
        np.testing.assert_allclose(many.weights, one.weights, rtol=1e-12)
        np.testing.assert_allclose(many.coverage, one.coverage, rtol=1e-12)
        if kw.get("kernel") == "linear":
            np.testing.assert_array_equal(many.gains, one.gains)

    # a second call with the same shapes compiles nothing new
    mesh = target_mesh()
    facility_location_sharded(xr, 5, mesh=mesh, bandwidth=2.0, block=16, cache=False)
    fn = _sharded_greedy(mesh, "targets", "rbf", "highest", False, (5, "lazy", 16, 1, False, "targets"))
    before = fn._cache_size()
    facility_location_sharded(xr[::-1].copy(), 5, mesh=mesh, bandwidth=3.0, block=16, cache=False)
    assert fn._cache_size() == before == 1
    print("SHARDING OK")
    """
)


def test_sharded_picks_equal_single_device_picks_on_8_devices():
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env["JAX_PLATFORMS"] = "cpu"  # eight fake host devices, also on a machine whose default backend is a GPU
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "SHARDING OK" in out.stdout


def test_one_device_mesh_is_the_plain_path():
    x = np.random.default_rng(1).normal(size=(60, 3)).astype(np.float32)
    a = kcover.facility_location(x, 6, bandwidth=1.0, block=8)
    b = facility_location_sharded(x, 6, bandwidth=1.0, block=8, mesh=target_mesh())
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-6)
    assert b.coverage.shape == (60,)


def test_a_two_dimensional_mesh_is_refused():
    import jax
    from jax.sharding import Mesh

    mesh = Mesh(np.asarray(jax.devices()[:1]).reshape(1, 1), ("a", "b"))
    with pytest.raises(ValueError, match="mesh: must be 1-D"):
        facility_location_sharded(np.ones((4, 2)), 1, mesh=mesh)
