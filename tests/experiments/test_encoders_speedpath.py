"""The fast EfficientNet-Lite0 path computes the reference network's function.

Batch norm folded into the convolutions at load time (float64, rounded once), depthwise
convolutions as shifted multiply-adds, 1x1 convolutions as products over channels, the batch
walked in micro-batches: checked against brute-force numpy, the Flax reference (float32 and
float64) and the encoder's own reference forward; plus the benchmark script's smoke run.
Random weights only (batch norms moved off the identity so that folding mistakes show).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict, unflatten_dict

from _jaxtools import count_compiles
from kcover.experiments.encoders import efficientnet as E
from kcover.experiments.encoders import efficientnet_folded as EF
from kcover.experiments.encoders import efficientnet_reference as ER
from kcover.experiments.encoders.registry import get_encoder

ROOT = Path(__file__).resolve().parents[2]


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))


def perturbed_variables(seed: int) -> dict:
    """Seeded random variables whose batch norms are far from the identity."""
    rng = np.random.default_rng(seed + 100)
    flat = flatten_dict(ER.init_variables(seed))
    for path, v in flat.items():
        if path[-1] == "scale":
            flat[path] = rng.uniform(0.5, 1.5, v.shape).astype(np.float32)
        elif path[-1] == "var":
            flat[path] = rng.uniform(0.2, 3.0, v.shape).astype(np.float32)
        elif path[-1] in ("bias", "mean"):
            flat[path] = (0.3 * rng.standard_normal(v.shape)).astype(np.float32)
    return unflatten_dict(flat)


@pytest.fixture(scope="module")
def variables():
    return perturbed_variables(0)


@pytest.fixture(scope="module")
def folded(variables):
    return EF.fold_batch_norm(variables)


def normalized_images(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, h, w, 3)).astype(np.float32)


def test_folding_is_the_float64_formula_rounded_once(variables, folded):
    p, s = variables["params"], variables["batch_stats"]
    assert set(folded) == set(p)  # stem, head and every block; no batch_stats left
    for name, conv in [("stem", None), ("blocks_3", "expand"), ("blocks_7", "depthwise"), ("head", None)]:
        pp, ss = (p[name], s[name]) if conv is None else (p[name][conv], s[name][conv])
        ff = folded[name] if conv is None else folded[name][conv]
        g = pp["bn"]["scale"].astype(np.float64) / np.sqrt(ss["bn"]["var"].astype(np.float64) + 1e-3)
        want_k = (pp["conv"]["kernel"].astype(np.float64) * g).astype(np.float32)
        want_b = (pp["bn"]["bias"] - ss["bn"]["mean"].astype(np.float64) * g).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(ff["kernel"]), want_k)
        np.testing.assert_array_equal(np.asarray(ff["bias"]), want_b)
        assert ff["kernel"].dtype == jnp.float32 and ff["kernel"].shape == pp["conv"]["kernel"].shape


def depthwise_brute_force(x: np.ndarray, k: np.ndarray, s: int) -> np.ndarray:
    """Float64 loops with TF SAME padding (the extra pixel at the bottom/right)."""
    b, h, w, c = x.shape
    kk = k.shape[0]
    oh, ow = -(-h // s), -(-w // s)
    ph, pw = max((oh - 1) * s + kk - h, 0), max((ow - 1) * s + kk - w, 0)
    xp = np.zeros((b, h + ph, w + pw, c))
    xp[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w] = x
    out = np.zeros((b, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = np.einsum("bhwc,hwc->bc", xp[:, i * s : i * s + kk, j * s : j * s + kk], k[:, :, 0])
    return out


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("s", [1, 2])
@pytest.mark.parametrize("hw", [(7, 7), (8, 5), (1, 4), (12, 9)])
def test_depthwise_conv_matches_brute_force_and_grouped_conv(k, s, hw):
    rng = np.random.default_rng(k * 10 + s)
    x = rng.standard_normal((2, *hw, 6)).astype(np.float32)
    w = rng.standard_normal((k, k, 1, 6)).astype(np.float32)
    ours = np.asarray(EF.depthwise_conv(jnp.asarray(x), jnp.asarray(w), s))
    want = depthwise_brute_force(x.astype(np.float64), w.astype(np.float64), s)
    assert ours.shape == want.shape
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)
    grouped = jax.lax.conv_general_dilated(
        x, w, (s, s), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=6
    )
    np.testing.assert_allclose(ours, np.asarray(grouped), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 64, 64), (1, 57, 45)])  # odd sizes: asymmetric SAME padding
def test_folded_network_matches_the_flax_reference(variables, folded, shape, x64):
    x = normalized_images(*shape)
    ours = np.asarray(jax.jit(EF.lite0_features)(folded, jnp.asarray(x)))
    assert ours.shape == (shape[0], ER.HEAD) and ours.dtype == np.float32
    ref32 = np.asarray(jax.jit(ER.EfficientNetLite().apply)(jax.tree_util.tree_map(jnp.asarray, variables), x))
    v64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), variables)
    ref64 = np.asarray(jax.jit(ER.EfficientNetLite(dtype=jnp.float64).apply)(v64, jnp.asarray(x, jnp.float64)))
    assert rel_err(ref32, ref64) < 1e-5  # the float32 reference itself
    assert rel_err(ours, ref64) < 1e-5  # folding and the rewritten convolutions cost no accuracy
    assert rel_err(ours, ref64) < 10 * rel_err(ref32, ref64) + 1e-7


def test_micro_batches_give_the_same_features_and_compile_once(folded):
    imgs = np.random.default_rng(1).uniform(0, 1, (6, 28, 28, 3)).astype(np.float32)
    whole = np.asarray(EF.compiled_folded_forward(0)(folded, imgs))
    for m in (1, 4, 6):  # 4 does not divide 6: steps of 3
        fwd = EF.compiled_folded_forward(m)
        np.testing.assert_allclose(np.asarray(fwd(folded, imgs)), whole, rtol=1e-5, atol=1e-6)
        with count_compiles() as compiles:
            fwd(folded, imgs[::-1].copy())
        assert compiles == []
    assert EF.compiled_folded_forward(4) is EF.compiled_folded_forward(4)


def test_encoder_runs_the_folded_network_and_matches_its_reference():
    enc = get_encoder("efficientnet-lite0", random_init=True, seed=3, batch_size=3)
    assert "batch_stats" not in enc.params and set(enc.params["stem"]) == {"kernel", "bias"}
    imgs = np.random.default_rng(2).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)  # two chunks, one padded
    ours = enc.encode(imgs)
    x = np.repeat(imgs.astype(np.float32) / 255.0, 3, axis=-1)
    variables = jax.tree_util.tree_map(jnp.asarray, ER.init_variables(3))
    ref = np.asarray(ER.compiled_forward("float32")(variables, x))
    assert ours.shape == (4, ER.HEAD) and ours.dtype == np.float32
    assert rel_err(ours, ref) < 1e-5


def test_bfloat16_folds_and_stays_close(variables, folded):
    f16 = EF.fold_batch_norm(variables, "bfloat16")
    assert {a.dtype for a in jax.tree_util.tree_leaves(f16)} == {jnp.dtype(jnp.bfloat16)}
    x = jnp.asarray(normalized_images(2, 32, 32, seed=4))
    lo = np.asarray(jax.jit(EF.lite0_features)(f16, x))
    hi = np.asarray(jax.jit(EF.lite0_features)(folded, x))
    assert lo.dtype == np.float32 and 0.0 < rel_err(lo, hi) < 0.1


def test_bad_arguments_name_the_argument(variables):
    with pytest.raises(ValueError, match="^micro_batch"):
        EF.compiled_folded_forward(-1)
    with pytest.raises(ValueError, match="^micro_batch"):
        E.efficientnet_lite0(random_init=True, micro_batch=2.5)
    with pytest.raises(ValueError, match="^variables"):
        EF.fold_batch_norm({"params": variables["params"]})
    with pytest.raises(ValueError, match="^dtype"):
        EF.fold_batch_norm(variables, "float16")


@pytest.mark.integration
@pytest.mark.slow  # 47 s: the benchmark script end to end; its kernels are tested above
def test_the_benchmark_runs_quick_offline(tmp_path):
    """``bench_encoders.py --quick``: tiny random models, both parts, all rows, the files written."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("XLA_FLAGS", None)
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_encoders.py"),
        "--quick",
        "--out",
        str(tmp_path / "enc"),
        "--threads",
        "1",
        "2",
        "--devices",
        "2",
        "--dtypes",
        "float32",
        "bfloat16",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "enc.json").read_text())
    images, text = result["images"], result["text"]
    assert {r["row"] for r in images["rows"]} == {
        "kcover",
        "kcover-bfloat16",
        "kcover-split",
        "kcover-reference",
        "torch-1",
        "torch-2",
    }
    assert {r["row"] for r in text["rows"]} == {"kcover", "kcover-bfloat16", "torch-1", "torch-2"}
    assert images["feature_rel_err"] < 1e-4 and text["feature_rel_err"] < 1e-4  # same weights, same features
    assert 1e-4 < images["feature_rel_err_bfloat16"] < 0.2 and text["feature_rel_err_bfloat16"] < 0.2
    for part in (images, text):
        for r in part["rows"]:
            assert len(r["passes_s"]) == 1 and r["median_per_s"] > 0
        assert set(part["ratios"]) >= {"torch-1", "torch-2"}
        by = {r["row"]: r["median_per_s"] for r in part["rows"]}
        assert part["ratios"]["torch-2"] == pytest.approx(by["kcover"] / by["torch-2"])
    md = (tmp_path / "enc.md").read_text()
    assert "## EfficientNet-Lite0" in md and "## all-MiniLM-L6-v2" in md and "| kcover-split |" in md
