"""ViT-B/16 and CLIP ViT-B/32 (vision tower) through transformers' Flax models (:mod:`~kcover.experiments.encoders.hf`).

Features:

* ``vit-b16``: the final-layer-normed [CLS] token, (B, 768) (what the ImageNet classifier
  and timm's token pooling read; ViT's tanh pooler is not used, since fine-tuned checkpoints
  do not train it).
* ``clip-b32``: the vision tower's pooled output, the post-layer-normed [CLS] token,
  (B, 768), before the projection to the joint space.

Images are preprocessed as the directory's ``preprocessor_config.json`` says (defaults: ViT
squash to 224 bilinear, mean = std = 0.5; CLIP shortest side to 224 bicubic, center crop
224, CLIP mean/std); see :class:`kcover.experiments.encoders.base.ImagePipeline`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import DTYPES, ImageEncoder, ImagePipeline, resolve_dtype, run_settings
from kcover.experiments.encoders.hf import fingerprint, flax_model, load_params

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_RESAMPLE = {0: "nearest", 1: "lanczos3", 2: "linear", 3: "cubic"}


def _optional_dir(name: str, weights: Any, random_init: bool) -> Path | None:
    """The weights directory; for a random init of a vision model it may be absent."""
    if weights is not None:
        return W.require_dir(weights)
    if random_init and not W.default_dir(name).is_dir():
        return None
    return W.resolve_dir(name, None)


def image_pipeline(directory: Path | None, default: ImagePipeline) -> ImagePipeline:
    """The pipeline described by ``preprocessor_config.json`` in ``directory``, else ``default``."""
    path = None if directory is None else directory / W.PREPROCESSOR
    if path is None or not path.is_file():
        return default
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"weights: {path} is not valid JSON ({err})") from err
    method = _RESAMPLE.get(cfg.get("resample", 2), "linear")
    if cfg.get("do_normalize", True):
        mean = tuple(float(v) for v in cfg.get("image_mean", default.mean))
        std = tuple(float(v) for v in cfg.get("image_std", default.std))
    else:
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    if cfg.get("do_rescale", True) is False or abs(float(cfg.get("rescale_factor", 1 / 255)) - 1 / 255) > 1e-9:
        raise ValueError(f"weights: {path}: only rescaling by 1/255 is supported")
    size, crop = cfg.get("size", default.size[0]), cfg.get("crop_size")
    do_crop = bool(cfg.get("do_center_crop", False))

    def pair(v: Any) -> tuple[int, int]:
        return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v["height"]), int(v["width"]))

    if isinstance(size, dict) and "shortest_edge" in size:
        short = int(size["shortest_edge"])
    elif isinstance(size, (int, float)) and do_crop:
        short = int(size)  # the legacy feature-extractor format: an int size is the shorter side
    else:
        if do_crop:
            raise ValueError(f"weights: {path}: resizing to a fixed size and then cropping is not supported")
        return ImagePipeline("squash", pair(size), method, mean, std)
    if not do_crop or crop is None:
        raise ValueError(f"weights: {path}: a shortest-edge resize needs a center crop for a fixed input shape")
    return ImagePipeline("shortest", pair(crop), method, mean, std, shortest_edge=short)


def vit_b16(
    weights: Any = None, *, random_init: bool = False, seed: int = 0, dtype: str = "float32", batch_size: int = 32
) -> ImageEncoder:
    """ViT-B/16 (FlaxViTModel): images (B, H, W, C) -> final-layer-normed [CLS] features (B, 768).

    The architecture comes from ``weights``/config.json; a random init without a directory
    uses the canonical ViT-B/16 at 224 px (transformers' ViTConfig defaults).
    """
    from transformers import ViTConfig

    dtype = resolve_dtype(dtype)
    directory = _optional_dir("vit-b16", weights, random_init)
    config = ViTConfig() if directory is None else ViTConfig.from_dict(W.read_config(directory))
    s = config.image_size
    default = ImagePipeline("squash", (s, s), "linear", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    settings = dict(random_init=random_init, seed=seed, dtype=dtype, batch_size=batch_size)
    return _image_encoder("vit-b16", "vit", "vit", config, directory, default, **settings)


def clip_b32(
    weights: Any = None, *, random_init: bool = False, seed: int = 0, dtype: str = "float32", batch_size: int = 32
) -> ImageEncoder:
    """CLIP ViT-B/32 vision tower (FlaxCLIPVisionModel): images -> pooled [CLS] features (B, 768).

    ``weights`` may hold a full CLIP checkpoint (its ``vision_config`` and ``vision_model.*``
    tensors are used) or a vision-only one. A random init without a directory uses the
    canonical ViT-B/32 tower at 224 px (transformers' CLIPVisionConfig defaults).
    """
    from transformers import CLIPVisionConfig

    dtype = resolve_dtype(dtype)
    directory = _optional_dir("clip-b32", weights, random_init)
    if directory is None:
        config = CLIPVisionConfig()
    else:
        cfg = W.read_config(directory)
        if cfg.get("model_type") == "clip":
            if "vision_config" not in cfg:
                raise ValueError(f"weights: {directory}/config.json is a CLIP config without a vision_config")
            cfg = cfg["vision_config"]
        config = CLIPVisionConfig.from_dict(cfg)
    s = config.image_size
    default = ImagePipeline("shortest", (s, s), "cubic", CLIP_MEAN, CLIP_STD, shortest_edge=s)
    settings = dict(random_init=random_init, seed=seed, dtype=dtype, batch_size=batch_size)
    return _image_encoder("clip-b32", "clip", "", config, directory, default, **settings)


def _image_encoder(
    name: str,
    kind: str,
    prefix: str,
    config: Any,
    directory: Path | None,
    default: ImagePipeline,
    *,
    random_init: bool,
    seed: int,
    dtype: str,
    batch_size: int,
) -> ImageEncoder:
    """An :class:`ImageEncoder` for a transformers Flax vision model (``kind`` "vit" or "clip")."""
    model = flax_model(kind, config.to_json_string(), dtype)
    params = load_params(model, directory, random_init, seed, prefix, dtype)
    pipeline = image_pipeline(directory, default)
    return ImageEncoder(
        name=name,
        dim=config.hidden_size,
        fingerprint=fingerprint(name, directory, random_init, config, seed),
        params=params,
        forward=_image_forward(kind, config.to_json_string(), dtype, pipeline),
        **run_settings(batch_size, dtype, random_init, seed),
        preprocessing=pipeline.describe(),
        pipeline=pipeline,
    )


@functools.lru_cache(maxsize=16)
def _image_forward(kind: str, config_json: str, dtype: str, pipeline: ImagePipeline) -> Any:
    """Jitted ``(params, images (B, H, W, 3) in [0, 1]) -> (B, D)``, one per architecture."""
    model = flax_model(kind, config_json, dtype)

    def forward(params: Any, images: jax.Array) -> jax.Array:
        x = jnp.transpose(pipeline.apply(images), (0, 3, 1, 2)).astype(DTYPES[dtype])
        out = model(x, params=params, train=False)
        return out.last_hidden_state[:, 0] if kind == "vit" else out.pooler_output

    return jax.jit(forward)
