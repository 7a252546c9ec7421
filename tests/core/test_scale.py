"""Selection at scale: matrix-free == dense, the lazy bound cache, compile once, never N x N."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from _reference import fl_greedy
from _reference import gram as ref_gram
from kcover.selection import lazy
from kcover.selection.facility_rules import greedy_jit, greedy_loop
from kcover.selection.lazy import (
    CACHE_CHUNK,
    CACHE_CHUNK_ONE_CORE,
    INFLATE,
    PASS_WIDTH,
    SYMMETRIC_WIDTH,
    cache_bounds,
    round_up_f16,
    symmetric_bound_pass,
    transpose_f16,
)
from kcover.selection.similarity import FeatureSimilarity, feature_source, max_first


def _facility_location(*args, **kwargs):
    """A selection and its work counts (similarity columns, cache rows, rounds)."""
    sel = kcover.facility_location(*args, **kwargs)
    return sel, sel.info


from kcover.kernels import make_kernel


def blobs(n, d=6, c=7, seed=0, dtype=np.float64):
    """A Gaussian mixture without near-ties in the greedy gains."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(c, d)) * 3.0
    return (centers[rng.integers(0, c, n)] + rng.normal(size=(n, d))).astype(dtype)


@pytest.mark.parametrize("method", ["naive", "lazy", "stochastic"])
def test_matrix_free_and_dense_pick_the_same(method, x64):
    x = blobs(240)
    sim = np.asarray(kcover.gram(x, bandwidth=2.0))
    a = kcover.facility_location(x, 25, method=method, bandwidth=2.0, block=16, seed=3, epsilon=0.2)
    b = kcover.facility_location_dense(sim, 25, method=method, block=16, seed=3, epsilon=0.2)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-12)
    np.testing.assert_allclose(a.weights, b.weights)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, width=32), min_size=1, max_size=64))
def test_the_float16_cache_bounds_every_similarity_from_above(values):
    # the cache stores similarities as float16 rounded up: read back, every one must be >= its value
    s = np.asarray(values + [2.0**-20, -(2.0**-20), 2.0**-26, 0.99997, -0.99997, 1.0 - 2.0**-12], np.float32)
    back = np.asarray(round_up_f16(jnp.asarray(s)).astype(jnp.float32))
    assert np.all(back >= s), s[back < s]
    assert np.all(back - s <= np.abs(s) * 2.0**-9 + 2.0**-23)  # and not much more


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([2, 6, 16, 7]), st.integers(0, 2**32 - 1))
def test_the_paired_float16_transpose_is_the_transpose_bit_for_bit(width, seed):
    # every 16-bit pattern (NaNs with payloads, infinities, subnormals, -0) must land where t.T puts it
    bits = np.random.default_rng(seed).integers(0, 2**16, size=(width, width), dtype=np.uint16)
    t = jnp.asarray(bits.view(np.float16))
    got = np.asarray(jax.jit(transpose_f16)(t)).view(np.uint16)
    np.testing.assert_array_equal(got, bits.T)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, -1.0, 2.5, -np.inf, np.inf, np.nan]), min_size=1, max_size=40))
def test_max_first_agrees_with_max_and_argmax(values):
    v = jnp.asarray(np.asarray(values, np.float32))
    top, at = jax.jit(max_first)(v)
    np.testing.assert_array_equal(np.asarray(top), np.asarray(jnp.max(v)))
    assert int(at) == int(jnp.argmax(v))


@pytest.mark.parametrize("blocks", [2, 3])  # 3 and 6 tiles: the loop is unrolled by SYMMETRIC_UNROLL
def test_the_symmetric_pass_cache_is_symmetric_and_bounds_every_similarity(blocks):
    # the lower half of the cache is the upper half transposed: exactly symmetric, and >= float64 truth
    x = blobs((blocks - 1) * PASS_WIDTH + 37, d=5, c=9, seed=3, dtype=np.float32)
    n = x.shape[0]
    kern = make_kernel("rbf", 2.0)
    src = FeatureSimilarity(jnp.asarray(x), jnp.asarray(x), kern, "highest", True)
    w = jnp.ones(n, jnp.float32)
    bounds, q = jax.jit(symmetric_bound_pass, static_argnums=(3, 4))(
        src, w, jnp.zeros(n, jnp.float32), PASS_WIDTH, True
    )
    q = np.asarray(q[:n, :n]).astype(np.float64)
    np.testing.assert_array_equal(q, q.T)
    sim = ref_gram(x.astype(np.float64), x.astype(np.float64), "rbf", 2.0)
    assert np.all(q >= sim)
    assert np.all(q - sim <= np.abs(sim) * 2.0**-9 + 2.0**-23)
    np.testing.assert_allclose(np.asarray(bounds), sim.sum(1) * INFLATE, rtol=1e-4)


@pytest.mark.parametrize("kernel", ["rbf", "cosine"])
def test_lazy_with_cache_picks_exactly_what_naive_picks(kernel, x64):
    x = blobs(300, seed=1)
    bw = dict(bandwidth=2.0) if kernel == "rbf" else {}
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=120)
    kw = dict(kernel=kernel, targets=x[:120], target_weights=w, initial=[4, 9], block=8, **bw)
    naive = kcover.facility_location(x, 15, method="naive", **kw)
    for cache in (False, True):
        lazy = kcover.facility_location(x, 15, method="lazy", cache=cache, **kw)
        np.testing.assert_array_equal(lazy.indices, naive.indices)
        np.testing.assert_allclose(lazy.gains, naive.gains, rtol=1e-12)
        np.testing.assert_allclose(lazy.objective, naive.objective, rtol=1e-12)
    sim = ref_gram(x[:120], x, kernel, 2.0)
    assert naive.indices.tolist() == fl_greedy(
        sim, 15, w=w, floor=make_kernel(kernel, 1.0 if bw else None).floor, initial=[4, 9]
    )


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_cache_bounds_read_in_chunks_match_a_float64_sum(chunks, cores, backend, monkeypatch):
    # on the CPU rows are gathered a chunk at a time (a chunk per core count; a count that is not a
    # multiple of the chunk is padded); elsewhere all at once: all must give the same bounds
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    monkeypatch.setattr(lazy, "cpu_cores", lambda: cores)
    chunk = CACHE_CHUNK if cores > 1 else CACHE_CHUNK_ONE_CORE
    assert lazy.cache_chunk() == chunk
    m = max(1, chunks * chunk + (5 if chunks > 1 else 0))
    rng = np.random.default_rng(m)
    q = rng.uniform(-0.2, 1.0, size=(m + 7, 33)).astype(np.float16)  # 33 columns: 3 zero-weight padding ones
    w, cur = rng.uniform(0.5, 2.0, 30).astype(np.float32), rng.uniform(0.0, 0.8, 30).astype(np.float32)
    idx = rng.choice(m + 7, m, replace=False).astype(np.int32)
    got = np.asarray(cache_bounds(jnp.asarray(q), jnp.asarray(idx), jnp.asarray(w), jnp.asarray(cur), None))
    ref = (np.maximum(q[idx, :30].astype(np.float64) - cur, 0.0) * w).sum(1) * INFLATE
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_lazy_with_cache_on_a_pool_smaller_than_a_cache_round():
    x = blobs(37, d=5, c=4, seed=6, dtype=np.float32)
    naive = kcover.facility_location(x, 9, method="naive", bandwidth=1.5, block=8)
    lazy = kcover.facility_location(x, 9, method="lazy", cache=True, bandwidth=1.5, block=8)
    np.testing.assert_array_equal(lazy.indices, naive.indices)


def test_cache_saves_exact_evaluations_on_float32():
    x = blobs(1000, d=16, c=20, seed=4, dtype=np.float32)
    plain, s0 = _facility_location(x, 25, block=16, cache=False, targets=x)
    cached, s1 = _facility_location(x, 25, block=16, cache=True, targets=x)
    np.testing.assert_array_equal(plain.indices, cached.indices)
    assert s1["cache_rows"] > 0 and s0["cache_rows"] == 0
    assert s1["similarity_columns"] < s0["similarity_columns"]


def test_cache_rejects_unbounded_kernels():
    with pytest.raises(ValueError, match="cache: needs a bounded kernel"):
        kcover.facility_location(np.abs(blobs(20)), 2, kernel="linear", cache=True)
    with pytest.raises(ValueError, match="cache: speeds up lazy greedy only"):
        kcover.facility_location(blobs(20), 2, method="naive", cache=True)
    with pytest.raises(ValueError, match="precision: unknown value"):
        kcover.facility_location(blobs(20), 2, precision="tf32")


def test_the_cosine_source_normalises_once_outside_the_compiled_loop():
    # feature_source normalises the rows once; the loop's products are then plain clipped products
    # (no norm inside the while loop) and equal the float64 cosine
    x = np.random.default_rng(4).normal(size=(200, 7)).astype(np.float32)
    x[3] = 0.0  # a zero row stays at similarity 0
    kern = make_kernel("cosine")
    src = feature_source(jnp.asarray(x), jnp.asarray(x), kern, "highest", True)
    assert (
        src.unit and not feature_source(jnp.asarray(x), jnp.asarray(x), make_kernel("rbf", 1.0), "highest", True).unit
    )
    idx = jnp.arange(0, 200, 9, dtype=jnp.int32)
    np.testing.assert_allclose(np.asarray(src.columns(idx)), ref_gram(x, x[::9], "cosine", 1.0), atol=2e-6)
    np.testing.assert_allclose(np.asarray(src.rows(idx)), ref_gram(x[::9], x, "cosine", 1.0), atol=2e-6)
    args = (src, jnp.ones(200), jnp.float32(-1), jnp.zeros(0, jnp.int32), jnp.zeros(5, jnp.int32), jax.random.key(0))
    lower = jax.jit(greedy_loop, static_argnames=("k", "method", "block", "sample", "cache")).lower
    unit_hlo = lower(*args, k=5, method="lazy", block=16, sample=1, cache=True).as_text()
    plain = FeatureSimilarity(jnp.asarray(x), jnp.asarray(x), kern, "highest", True)
    plain_hlo = lower(plain, *args[1:], k=5, method="lazy", block=16, sample=1, cache=True).as_text()
    assert "sqrt" in plain_hlo and "sqrt" not in unit_hlo


@pytest.mark.parametrize("precision", ["highest", "default"])
def test_precision_reaches_every_similarity_product(precision):
    # the compiled loop's matrix products carry the precision asked for: HIGHEST only when asked,
    # so "default" can use TF32/bf16 on a GPU (on the CPU both give the same picks)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(300, 5)), jnp.float32)
    src = FeatureSimilarity(x, x, make_kernel("rbf", 2.0), precision, True)
    args = (src, jnp.ones(300), jnp.float32(0), jnp.zeros(0, jnp.int32), jnp.zeros(5, jnp.int32), jax.random.key(0))
    hlo = (
        jax.jit(greedy_loop, static_argnames=("k", "method", "block", "sample", "cache"))
        .lower(*args, k=5, method="lazy", block=16, sample=1, cache=False)
        .as_text()
    )
    products = re.findall(r"stablehlo\.dot_general[^\n]*", hlo)
    assert products
    similarity = [p for p in products if re.search(r"x5xf32>, tensor<5x", p)]  # over the 5 features: x y^T
    assert similarity
    assert all(("HIGHEST" in p) == (precision == "highest") for p in similarity)
    xs = np.asarray(x)
    a = kcover.facility_location(xs, 10, bandwidth=2.0, precision="highest")
    b = kcover.facility_location(xs, 10, bandwidth=2.0, precision=precision)
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("cache", [False, True])
def test_a_second_call_with_the_same_shapes_compiles_nothing(cache):
    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(size=(2, 150, 4)).astype(np.float32)
    kcover.facility_location(x1, 7, bandwidth=1.0, block=16, cache=cache)
    before = greedy_jit._cache_size()
    with jax.log_compiles(False):
        kcover.facility_location(x2, 7, bandwidth=1.5, block=16, cache=cache, seed=1)
    assert greedy_jit._cache_size() == before


@pytest.mark.parametrize(
    "method, cache, symmetric",
    [
        ("lazy", False, False),
        ("lazy", True, False),
        ("lazy", True, True),
        ("naive", False, False),
        ("stochastic", False, False),
    ],
)
def test_the_compiled_loop_never_holds_an_n_by_n_array(method, cache, symmetric):
    # at N = T = 1000 the largest float32 array may be a (PASS_WIDTH, 1000) block, a symmetric pass's
    # (SYMMETRIC_WIDTH, SYMMETRIC_WIDTH) tile, or the float16 cache
    n, d = 1000, 8
    x = jnp.zeros((n, d), jnp.float32)
    src = FeatureSimilarity(x, x, make_kernel("rbf", 1.0), "highest", symmetric)
    args = (src, jnp.ones(n), jnp.float32(0), jnp.zeros(0, jnp.int32), jnp.zeros(5, jnp.int32), jax.random.key(0))
    hlo = (
        jax.jit(greedy_loop, static_argnames=("k", "method", "block", "sample", "cache"))
        .lower(*args, k=5, method=method, block=32, sample=40, cache=cache)
        .as_text()
    )

    def sizes(dtype):
        return [
            int(np.prod([int(v) for v in m.rstrip("x").split("x")]))
            for m in re.findall(rf"tensor<((?:\d+x)+){dtype}>", hlo)
        ]

    assert max(sizes("f32")) <= max(n * PASS_WIDTH, SYMMETRIC_WIDTH**2) < n * n  # one block or tile at most
    f16 = [s for s in sizes("f16") if s >= n * n]
    assert bool(f16) == cache  # the cache, N x T float16, only when asked for


def test_work_counts_follow_the_method():
    x = blobs(500, dtype=np.float32)
    _, naive = _facility_location(x, 5, method="naive", block=50)
    _, lazy = _facility_location(x, 5, method="lazy", block=50)
    assert naive["similarity_columns"] == 5 * (500 + 50)
    assert lazy["similarity_columns"] < naive["similarity_columns"]
    assert lazy["rounds"] >= 5


def test_the_symmetric_first_pass_changes_no_pick():
    # N > PASS_WIDTH: targets = the pool takes the pass over pairs of blocks, with and without the cache
    x = blobs(700, d=5, c=9, seed=6, dtype=np.float32)
    naive = kcover.facility_location(x, 10, method="naive", bandwidth=2.0, block=16)
    for cache in (False, True):
        sym = kcover.facility_location(x, 10, bandwidth=2.0, block=16, cache=cache)
        full = kcover.facility_location(x, 10, bandwidth=2.0, block=16, cache=cache, targets=x)
        np.testing.assert_array_equal(sym.indices, naive.indices)
        np.testing.assert_array_equal(full.indices, naive.indices)
        np.testing.assert_allclose(sym.objective, naive.objective, rtol=1e-6)
