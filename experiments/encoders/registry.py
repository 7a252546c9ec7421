"""The five encoders by name, and :func:`get_encoder`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from kcover.experiments.encoders.base import Encoder

ENCODERS = ("minilm", "qwen2.5", "vit-b16", "clip-b32", "efficientnet-lite0")
TEXT_ENCODERS = ("minilm", "qwen2.5")
DEFAULT_BATCH = {"minilm": 32, "qwen2.5": 8, "vit-b16": 32, "clip-b32": 32, "efficientnet-lite0": 32}


def _constructor(name: str) -> Callable[..., Encoder]:
    if name == "minilm":
        from kcover.experiments.encoders.minilm import minilm

        return minilm
    if name == "qwen2.5":
        from kcover.experiments.encoders.qwen2 import qwen2

        return qwen2
    if name == "vit-b16":
        from kcover.experiments.encoders.vit import vit_b16

        return vit_b16
    if name == "clip-b32":
        from kcover.experiments.encoders.vit import clip_b32

        return clip_b32
    from kcover.experiments.encoders.efficientnet import efficientnet_lite0

    return efficientnet_lite0


def get_encoder(
    name: str,
    weights: str | os.PathLike | None = None,
    *,
    random_init: bool = False,
    seed: int = 0,
    dtype: str = "float32",
    batch_size: int | None = None,
    max_length: int | None = None,
) -> Encoder:
    """The encoder ``name`` (one of :data:`ENCODERS`), pretrained or a seeded random init.

    ``weights`` is a local directory (Hugging Face format; for efficientnet-lite0 also a
    ``.pth``/safetensors file); without it the shipped package (minilm, efficientnet-lite0) or
    the default directory under ``$KCOVER_WEIGHTS_DIR`` (qwen2.5, vit-b16, clip-b32) is used.
    ``random_init=True`` builds the same architecture with weights drawn from ``seed``.
    ``dtype`` is ``"float32"`` or ``"bfloat16"``; ``batch_size`` rows per compiled call;
    ``max_length`` caps tokens per document (text encoders only). ``encode`` returns (B, D).
    """
    if name not in ENCODERS:
        raise ValueError(f"name: unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    if not isinstance(random_init, bool):
        raise ValueError(f"random_init: must be a bool, got {random_init!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: must be an integer, got {seed!r}")
    kwargs: dict[str, Any] = {
        "random_init": random_init,
        "seed": seed,
        "dtype": dtype,
        "batch_size": DEFAULT_BATCH[name] if batch_size is None else batch_size,
    }
    if max_length is not None:
        if name not in TEXT_ENCODERS:
            raise ValueError(f"max_length: only text encoders ({', '.join(TEXT_ENCODERS)}) take one, not {name!r}")
        kwargs["max_length"] = max_length
    return _constructor(name)(weights, **kwargs)
