"""transformers' Flax models without parameters, and their parameters: from a checkpoint, or a seeded random init.

The encoders built on transformers (:mod:`~kcover.experiments.encoders.vit`,
:mod:`~kcover.experiments.encoders.minilm`) share this. Weights come from a local Hugging Face
directory and are mapped onto the Flax parameter tree by name (PyTorch layout: ``weight`` ->
``kernel`` transposed, ``scale`` or ``embedding``; Flax layout: as stored), optionally under the
checkpoint's base-model prefix (``vit.``, ``bert.``). Every parameter the Flax model needs must be
present with the right shape: an incomplete checkpoint raises instead of being silently filled
with random values. Parameters the encoder does not use (ViT's pooler and classifier, CLIP's text
tower and projections, BERT's pooler) are ignored.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import DTYPES, cast_floats

_PT_NAMES = {
    "kernel": ("weight",),
    "scale": ("weight", "gamma"),
    "embedding": ("weight",),
    "bias": ("bias", "beta"),
    "mean": ("running_mean",),
    "var": ("running_var",),
}


def flax_params(
    tensors: dict[str, np.ndarray], fmt: str, shape_tree: Any, prefix: str, directory: Path
) -> dict[str, Any]:
    """Map checkpoint tensors onto a Flax parameter tree of the shapes in ``shape_tree``.

    Raises ValueError naming ``weights`` if a parameter is missing or has the wrong shape.
    """
    from flax.traverse_util import flatten_dict, unflatten_dict

    out: dict[tuple[str, ...], np.ndarray] = {}
    missing = []
    for path, spec in flatten_dict(shape_tree).items():
        arr, source = _lookup(tensors, fmt, path, prefix)
        if arr is None:
            missing.append(".".join(path))
            continue
        if tuple(arr.shape) != tuple(spec.shape):
            raise ValueError(
                f"weights: tensor {source} in {directory} has shape {tuple(arr.shape)}, "
                f"the model needs {tuple(spec.shape)} for {'.'.join(path)}; does config.json match the weights?"
            )
        out[path] = arr
    if missing:
        raise ValueError(
            f"weights: {directory} is incomplete: {len(missing)} parameters are missing, e.g. {missing[:4]}"
        )
    return unflatten_dict(out)


def _lookup(tensors: dict[str, np.ndarray], fmt: str, path: tuple[str, ...], prefix: str) -> tuple[Any, str]:
    prefixes = ("", f"{prefix}.") if prefix else ("",)
    if fmt == "flax":
        for p in prefixes:
            key = p + ".".join(path)
            if key in tensors:
                return tensors[key], key
        return None, ""
    stem, last = ".".join(path[:-1]), path[-1]
    for p in prefixes:
        for name in _PT_NAMES.get(last, (last,)):
            key = f"{p}{stem}.{name}" if stem else p + name
            if key in tensors:
                arr = tensors[key]
                if last == "kernel":
                    arr = arr.transpose(2, 3, 1, 0) if arr.ndim == 4 else arr.T
                return arr, key
    return None, ""


def _config_dict(config: Any) -> dict[str, Any]:
    d = config.to_dict()
    return {k: v for k, v in sorted(d.items()) if not k.startswith("_") and k != "transformers_version"}


def random_params(shape_tree: Any, std: float, seed: int) -> dict[str, Any]:
    """Seeded random parameters for a transformers Flax model: every weight matrix, convolution,
    embedding and learned token ~ N(0, std^2) (std = the config's initializer_range), biases 0,
    LayerNorm scales 1. This is transformers' PyTorch initialization of ViT and BERT (for CLIP
    it drops the per-layer rescaling). Drawn with ``numpy.random.default_rng(seed)`` in tree
    order without running the model (initializing through Flax compiles every initializer)."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    rng = np.random.default_rng(seed)
    out = {}
    for path, spec in sorted(flatten_dict(shape_tree).items()):
        if path[-1] == "bias":
            out[path] = np.zeros(spec.shape, np.float32)
        elif path[-1] == "scale":
            out[path] = np.ones(spec.shape, np.float32)
        else:
            out[path] = (rng.standard_normal(spec.shape) * std).astype(np.float32)
    return unflatten_dict(out)


def load_params(model: Any, directory: Path | None, random_init: bool, seed: int, prefix: str, dtype: str) -> Any:
    """``model``'s parameter tree in ``dtype``: the checkpoint in ``directory`` (:func:`flax_params`, tensors
    under ``prefix`` too), or with ``random_init`` the seeded :func:`random_params`."""
    if random_init:
        params = random_params(model.params_shape_tree, model.config.initializer_range, seed)
    else:
        tensors, fmt = W.load_tensors(directory)
        params = flax_params(tensors, fmt, model.params_shape_tree, prefix, directory)
    return cast_floats(params, dtype)


@functools.lru_cache(maxsize=16)
def flax_model(kind: str, config_json: str, dtype: str) -> Any:
    """A transformers Flax model without parameters (``vit``, ``clip`` vision or ``bert``)."""
    from transformers import BertConfig, CLIPVisionConfig, FlaxBertModel, FlaxCLIPVisionModel, FlaxViTModel, ViTConfig

    cfg = json.loads(config_json)
    if kind == "vit":
        return FlaxViTModel(ViTConfig.from_dict(cfg), add_pooling_layer=False, dtype=DTYPES[dtype], _do_init=False)
    if kind == "clip":
        return FlaxCLIPVisionModel(CLIPVisionConfig.from_dict(cfg), dtype=DTYPES[dtype], _do_init=False)
    return FlaxBertModel(BertConfig.from_dict(cfg), add_pooling_layer=False, dtype=DTYPES[dtype], _do_init=False)


def fingerprint(name: str, directory: Path | None, random_init: bool, config: Any, seed: int) -> str:
    """The encoder's fingerprint for the feature cache: its checkpoint's files (:func:`weights.fingerprint_dir`),
    or for a random init its architecture config and seed (:func:`weights.fingerprint_random`)."""
    if random_init:
        return W.fingerprint_random(name, _config_dict(config), seed, directory)
    return W.fingerprint_dir(directory, W.weight_files(directory))
