"""EfficientNet-Lite0's fast forward: batch norm folded into the convolutions, depthwise
convolutions rewritten as shifted multiply-adds.

:func:`lite0_features` on :func:`fold_batch_norm`'s parameters computes the same function as the
Flax reference (:class:`kcover.experiments.encoders.efficientnet_reference.EfficientNetLite`)
and is what the encoder runs: batch norm folded into each convolution's kernel and bias at load
time (in float64, rounded once to float32), 1x1 convolutions as matrix products over the channel
axis, depthwise convolutions as k x k shifted multiply-adds (XLA's CPU backend runs grouped
convolutions with one group per channel an order of magnitude slower), and on the CPU the batch
walked in micro-batches of :data:`MICRO_BATCH` images so that the activations stay in cache.
Features agree with the reference to float32 rounding (relative error about 1e-6).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover.experiments.encoders.base import DTYPES, resolve_dtype
from kcover.experiments.encoders.efficientnet_reference import BN_EPS, HEAD, LITE0_STAGES, PIPELINE, blocks


def fold_batch_norm(variables: Any, dtype: str = "float32") -> dict[str, Any]:
    """Flax variables (``{"params", "batch_stats"}``, as :func:`load_variables` returns) -> the
    same network with every batch norm folded into its convolution.

    For a convolution W followed by batch norm (scale g, bias b, running mean m and variance v):
    ``kernel = W * g / sqrt(v + eps)`` (per output channel) and ``bias = b - m * g / sqrt(v + eps)``,
    computed in float64 and rounded once to ``dtype``. Returns ``{"stem": {"kernel", "bias"},
    "blocks_0": {"depthwise": {...}, "project": {...}}, ..., "head": {...}}`` with kernels in
    HWIO, (k, k, C_in / groups, C_out), and biases (C_out,), as jnp arrays.
    """
    target = DTYPES[resolve_dtype(dtype)]
    try:
        params, stats = variables["params"], variables["batch_stats"]
    except (KeyError, TypeError) as err:
        raise ValueError("variables: expected Flax variables with 'params' and 'batch_stats'") from err

    def fold(p: Any, s: Any) -> dict[str, jax.Array]:
        kernel = np.asarray(p["conv"]["kernel"], np.float64)
        gain = np.asarray(p["bn"]["scale"], np.float64) / np.sqrt(np.asarray(s["bn"]["var"], np.float64) + BN_EPS)
        bias = np.asarray(p["bn"]["bias"], np.float64) - np.asarray(s["bn"]["mean"], np.float64) * gain
        return {"kernel": jnp.asarray(kernel * gain, target), "bias": jnp.asarray(bias, target)}

    out: dict[str, Any] = {}
    for name in params:
        if name.startswith("blocks_"):
            out[name] = {conv: fold(params[name][conv], stats[name][conv]) for conv in params[name]}
        else:
            out[name] = fold(params[name], stats[name])
    return out


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF "SAME" padding along one axis: (output size, pixels before, pixels after)."""
    out = -(-size // stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return out, pad // 2, pad - pad // 2


def depthwise_conv(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Depthwise convolution with TF "SAME" padding, as k x k shifted multiply-adds.

    ``x`` (B, H, W, C), ``kernel`` (k, k, 1, C) -> (B, ceil(H / stride), ceil(W / stride), C).
    The same function as ``conv_general_dilated(..., feature_group_count=C)``; XLA compiles it
    to one padded copy of ``x`` and one fused loop over the output.
    """
    b, h, w, c = x.shape
    k = kernel.shape[0]
    oh, top, bottom = same_padding(h, k, stride)
    ow, left, right = same_padding(w, k, stride)
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = None
    for i in range(k):
        for j in range(k):
            window = jax.lax.slice(
                xp, (0, i, j, 0), (b, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, c), (1, stride, stride, 1)
            )
            term = window * kernel[i, j, 0]
            out = term if out is None else out + term
    return out


def _pointwise(x: jax.Array, conv: dict[str, jax.Array]) -> jax.Array:
    """A 1x1 convolution (kernel (1, 1, C_in, C_out)) plus bias, as a product over channels."""
    return jnp.dot(x, conv["kernel"][0, 0]) + conv["bias"]


def _relu6(x: jax.Array) -> jax.Array:
    return jnp.clip(x, 0.0, 6.0)


def lite0_features(
    folded: dict[str, Any], x: jax.Array, stages: tuple[tuple[int, ...], ...] = LITE0_STAGES
) -> jax.Array:
    """Normalized images (B, H, W, 3) -> pooled head features (B, 1280) float32, on
    :func:`fold_batch_norm`'s parameters; computes in the parameters' dtype. Traceable."""
    dtype = folded["stem"]["kernel"].dtype
    stem = folded["stem"]
    x = jax.lax.conv_general_dilated(
        x.astype(dtype), stem["kernel"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    x = _relu6(x + stem["bias"])
    for i, (_, stride, expand, cin, cout) in enumerate(blocks(stages)):
        p = folded[f"blocks_{i}"]
        h = _relu6(_pointwise(x, p["expand"])) if expand != 1 else x
        h = _relu6(depthwise_conv(h, p["depthwise"]["kernel"], stride) + p["depthwise"]["bias"])
        h = _pointwise(h, p["project"])
        x = h + x if stride == 1 and cin == cout else h
    x = _relu6(_pointwise(x, folded["head"]))
    return jnp.mean(x.astype(jnp.float32), axis=(1, 2))


MICRO_BATCH = 4


def default_micro_batch() -> int:
    """Images per step of the folded forward: :data:`MICRO_BATCH` on the CPU (activations stay in
    cache), 0 (the whole batch at once) on accelerators."""
    return MICRO_BATCH if jax.default_backend() == "cpu" else 0


def _step(batch: int, micro_batch: int) -> int:
    """The largest divisor of ``batch`` that is at most ``micro_batch`` (``batch`` if 0)."""
    if micro_batch <= 0 or micro_batch >= batch:
        return batch
    return max(d for d in range(1, micro_batch + 1) if batch % d == 0)


def compiled_folded_forward(micro_batch: int = MICRO_BATCH) -> Any:
    """Jitted ``(folded, images (B, H, W, 3) in [0, 1]) -> (B, 1280)`` float32 through
    :data:`PIPELINE` and :func:`lite0_features`; what the encoder runs.

    ``micro_batch`` > 0 walks the batch in steps of that many images (of the largest divisor of
    B not above it) with ``lax.map``; 0 runs the whole batch at once. Compute dtype: the dtype
    of ``folded``. One compilation per batch shape and dtype.
    """
    if isinstance(micro_batch, bool) or not isinstance(micro_batch, int) or micro_batch < 0:
        raise ValueError(f"micro_batch: must be an integer >= 0, got {micro_batch!r}")
    return _folded_forward(micro_batch)


@functools.lru_cache(maxsize=8)
def _folded_forward(micro_batch: int) -> Any:
    def forward(folded: Any, images: jax.Array) -> jax.Array:
        b = images.shape[0]
        step = _step(b, micro_batch)
        if step == b:
            return lite0_features(folded, PIPELINE.apply(images))
        chunks = images.reshape(b // step, step, *images.shape[1:])
        feats = jax.lax.map(lambda c: lite0_features(folded, PIPELINE.apply(c)), chunks)
        return feats.reshape(b, HEAD)

    return jax.jit(forward)
