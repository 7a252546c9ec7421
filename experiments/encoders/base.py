"""The encoder interface: ``encoder.encode(batch) -> (B, D)`` float32 features.

An :class:`Encoder` holds its parameters and one jit-compiled forward function
``forward(params, *arrays) -> (batch_size, D)``, shared by every encoder of the same
architecture and dtype (a pretrained encoder and its random twin compile once).
:meth:`Encoder.encode` cuts a batch of any size into chunks of ``batch_size`` and pads the
last one, so every call of the compiled function has the same static shape and nothing
recompiles from one batch to the next.

* :class:`TextEncoder`: the batch is a sequence of strings. Each is tokenized with the
  checkpoint's tokenizer (special tokens added, truncated to ``max_length`` tokens), padded on
  the right to a length bucket (the smallest power of two >= 16 that holds the longest
  document, capped at ``max_length``), so at most log2(max_length) - 3 shapes are compiled.
* :class:`ImageEncoder`: the batch is an array (N, H, W, C), C in {1, 3}, uint8 in [0, 255]
  or float in [0, 1]. Resizing, cropping and normalization happen inside the compiled
  function, as described by the encoder's :class:`ImagePipeline`.

In float32 the forward runs with ``jax.default_matmul_precision("highest")`` (no TF32 or
bf16 passes on GPU/TPU); in bfloat16 with the backend default. Outputs are always float32.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
MIN_BUCKET = 16


def resolve_dtype(dtype: Any) -> str:
    """``dtype`` (a name or a jnp dtype) as ``"float32"`` or ``"bfloat16"``."""
    name = dtype if isinstance(dtype, str) else jnp.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError(f"dtype: must be one of {sorted(DTYPES)}, got {dtype!r}")
    return name


def cast_floats(tree: Any, dtype: str) -> Any:
    """Cast every floating leaf of a parameter tree to ``dtype`` (as jnp arrays)."""
    target = DTYPES[dtype]

    def cast(x: Any) -> Any:
        x = jnp.asarray(x)
        return x.astype(target) if jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree_util.tree_map(cast, tree)


def masked_mean(hidden: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of ``hidden`` (B, T, D) over the tokens where ``mask`` (B, T) is 1: (B, D) float32."""
    m = mask.astype(jnp.float32)[..., None]
    total = jnp.sum(hidden.astype(jnp.float32) * m, axis=1)
    return total / jnp.maximum(jnp.sum(m, axis=1), 1e-9)


class Encoder:
    """A frozen feature extractor with a fixed batch shape.

    Attributes:
      name: the registry name (``minilm``, ``qwen2.5``, ``vit-b16``, ``clip-b32``,
        ``efficientnet-lite0``).
      modality: ``"text"`` or ``"image"``.
      dim: D, the feature dimension.
      fingerprint: SHA-256 of the weight files (pretrained) or of architecture and seed
        (random init); part of every cache key.
      random_init: whether the weights are a seeded random initialization.
      seed: the seed of the random initialization (None when pretrained).
      dtype: ``"float32"`` or ``"bfloat16"``, the compute dtype.
      batch_size: rows per compiled call.
      preprocessing: a description of the encoder's own input pipeline (part of cache keys).
    """

    modality: ClassVar[str] = ""

    def __init__(
        self,
        *,
        name: str,
        dim: int,
        fingerprint: str,
        params: Any,
        forward: Callable[..., jax.Array],
        batch_size: int,
        dtype: str,
        random_init: bool,
        seed: int | None,
        preprocessing: str,
    ) -> None:
        self.name = name
        self.dim = int(dim)
        self.fingerprint = fingerprint
        self.batch_size = check_batch_size(batch_size)
        self.dtype = resolve_dtype(dtype)
        self.random_init = random_init
        self.seed = seed
        self.preprocessing = preprocessing
        self.params = params
        self._forward = forward if hasattr(forward, "lower") else jax.jit(forward)
        self._precision = "highest" if self.dtype == "float32" else "default"

    def __repr__(self) -> str:
        init = f"random_init(seed={self.seed})" if self.random_init else "pretrained"
        return f"{type(self).__name__}({self.name!r}, {init}, dim={self.dim}, dtype={self.dtype})"

    @property
    def identity(self) -> dict[str, Any]:
        """Everything about the encoder that determines its features (part of cache keys)."""
        return {
            "encoder": self.name,
            "fingerprint": self.fingerprint,
            "random_init": self.random_init,
            "dtype": self.dtype,
            "dim": self.dim,
            "encoder_preprocessing": self.preprocessing,
        }

    def encode(self, batch: Any) -> np.ndarray:
        """Features of a batch: (B, D) float32 numpy, one row per input, in order.

        Text encoders take a sequence of B strings; image encoders an array (B, H, W, C).
        """
        batch = self._check_batch(batch)
        n = len(batch)
        outs = []
        with jax.default_matmul_precision(self._precision):
            for start in range(0, n, self.batch_size):
                chunk = batch[start : start + self.batch_size]
                arrays = self._prepare(chunk, start)
                outs.append((len(chunk), self._forward(self.params, *arrays)))
        return np.concatenate([np.asarray(y[:m], dtype=np.float32) for m, y in outs], axis=0)

    def _check_batch(self, batch: Any) -> Any:
        raise NotImplementedError

    def _prepare(self, chunk: Any, offset: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class TextEncoder(Encoder):
    """An encoder of documents (strings). ``max_length`` caps the tokens per document."""

    modality = "text"

    def __init__(self, *, tokenizer: Any, max_length: int, **kwargs: Any) -> None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise ValueError(f"max_length: must be an integer >= 2, got {max_length!r}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0
        super().__init__(**kwargs)

    def _check_batch(self, batch: Any) -> list[str]:
        if isinstance(batch, str):
            raise ValueError("batch: expected a sequence of strings, got a single string")
        try:
            texts = list(batch)
        except TypeError as err:
            raise ValueError(f"batch: expected a sequence of strings, got {type(batch).__name__}") from err
        if not texts:
            raise ValueError("batch: is empty")
        for i, t in enumerate(texts):
            if not isinstance(t, (str, np.str_)):
                raise ValueError(f"batch: item {i} is {type(t).__name__}, not a string")
        return [str(t) for t in texts]

    def bucket(self, length: int) -> int:
        """The padded sequence length for a longest document of ``length`` tokens."""
        b = MIN_BUCKET
        while b < length:
            b *= 2
        return min(b, self.max_length)

    def _prepare(self, chunk: list[str], offset: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self.tokenizer(
            chunk, add_special_tokens=True, truncation=True, max_length=self.max_length, padding=False
        )["input_ids"]
        for i, row in enumerate(ids):
            if len(row) == 0:
                raise ValueError(f"batch: document {offset + i} has no tokens (empty text?)")
        length = self.bucket(max(len(r) for r in ids))
        input_ids = np.full((self.batch_size, length), self.pad_id, dtype=np.int32)
        mask = np.zeros((self.batch_size, length), dtype=np.int32)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        mask[len(ids) :, 0] = 1  # padding rows attend to one token, so no row is fully masked
        return input_ids, mask


@dataclasses.dataclass(frozen=True)
class ImagePipeline:
    """How a checkpoint expects its images, applied inside the compiled forward.

    ``mode``:
      * ``"squash"``: resize to ``size`` (h, w), ignoring the aspect ratio (ViT).
      * ``"shortest"``: resize the shorter side to ``shortest_edge`` keeping the aspect ratio
        (the longer side rounds down), then center-crop ``size`` (CLIP).
      * ``"crop_fraction"``: center-crop a square of ``int(crop_fraction * min(H, W))`` pixels,
        then resize it to ``size`` (EfficientNet's TF evaluation pipeline).
    Resampling is ``jax.image.resize`` with ``method`` (``"linear"`` or ``"cubic"``) and
    antialiasing when downsampling, close to but not bit-identical with PIL's. Pixels in
    [0, 1] are then normalized per channel: (x - mean) / std. The output is (B, h, w, 3).
    """

    mode: str
    size: tuple[int, int]
    method: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    shortest_edge: int | None = None
    crop_fraction: float | None = None

    def describe(self) -> str:
        """A one-line description, part of cache keys."""
        return (
            f"{self.mode}:size={self.size[0]}x{self.size[1]}:short={self.shortest_edge}:frac={self.crop_fraction}"
            f":{self.method}:mean={list(self.mean)}:std={list(self.std)}"
        )

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
        """For an input (height, width): the resize target and the crop (top, left, h, w) after it.

        For ``crop_fraction`` the crop comes first and the resize target is ``size``.
        """
        th, tw = self.size
        if self.mode == "squash":
            return (th, tw), (0, 0, th, tw)
        if self.mode == "shortest":
            s = self.shortest_edge
            rh, rw = (s, int(s * width / height)) if height <= width else (int(s * height / width), s)
            if rh < th or rw < tw:
                raise ValueError(
                    f"batch: images of {height}x{width} resize to {rh}x{rw}, smaller than the crop {th}x{tw}"
                )
            return (rh, rw), ((rh - th) // 2, (rw - tw) // 2, th, tw)
        if self.mode == "crop_fraction":
            side = max(1, int(self.crop_fraction * min(height, width)))
            return (th, tw), ((height - side + 1) // 2, (width - side + 1) // 2, side, side)
        raise ValueError(f"mode: unknown image pipeline mode {self.mode!r}")

    def apply(self, x: jax.Array) -> jax.Array:
        """Images (B, H, W, 3) float in [0, 1] -> normalized (B, h, w, 3) float32. Traceable."""
        b, h, w, c = x.shape
        x = x.astype(jnp.float32)
        (rh, rw), (top, left, ch, cw) = self.geometry(h, w)
        if self.mode == "crop_fraction":
            x = x[:, top : top + ch, left : left + cw]
            if (ch, cw) != (rh, rw):
                x = jax.image.resize(x, (b, rh, rw, c), method=self.method, antialias=True)
        else:
            if (h, w) != (rh, rw):
                x = jax.image.resize(x, (b, rh, rw, c), method=self.method, antialias=True)
            x = x[:, top : top + ch, left : left + cw]
        mean = jnp.asarray(self.mean, jnp.float32)
        std = jnp.asarray(self.std, jnp.float32)
        return (x - mean) / std

    def canvas(self, image: Any) -> np.ndarray:
        """A PIL image -> uint8 (S, S', 3) that :meth:`apply` maps as the checkpoint expects.

        Used to bring a folder of images of different sizes to one shape: ``squash`` and
        ``shortest`` do their whole resize and crop here with PIL (``apply`` is then the
        identity up to normalization); ``crop_fraction`` crops the center square and resizes
        it to ``size / crop_fraction``, so ``apply``'s crop takes the same central region.
        """
        from PIL import Image

        resample = Image.BICUBIC if self.method == "cubic" else Image.BILINEAR
        image = image.convert("RGB")
        w, h = image.size
        th, tw = self.size
        if self.mode == "squash":
            image = image.resize((tw, th), resample)
        elif self.mode == "shortest":
            (rh, rw), (top, left, ch, cw) = self.geometry(h, w)
            image = image.resize((rw, rh), resample).crop((left, top, left + cw, top + ch))
        else:
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            big = int(round(th / self.crop_fraction))
            image = image.crop((left, top, left + side, top + side)).resize((big, big), resample)
        return np.asarray(image, dtype=np.uint8)


class ImageEncoder(Encoder):
    """An encoder of images (N, H, W, C), C in {1, 3}, uint8 or float in [0, 1]."""

    modality = "image"

    def __init__(self, *, pipeline: ImagePipeline, **kwargs: Any) -> None:
        self.pipeline = pipeline
        super().__init__(**kwargs)

    @property
    def image_size(self) -> tuple[int, int]:
        """(h, w) the network sees after preprocessing."""
        return self.pipeline.size

    def load_image(self, path: Any) -> np.ndarray:
        """Read an image file as uint8 (S, S', 3) ready for :meth:`encode` (see ImagePipeline.canvas)."""
        from PIL import Image

        with Image.open(path) as im:
            return self.pipeline.canvas(im)

    def _check_batch(self, batch: Any) -> np.ndarray:
        x = np.asarray(batch)
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"batch: expected images (N, H, W, C) with C in {{1, 3}}, got shape {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(f"batch: is empty (shape {x.shape})")
        if x.dtype == np.uint8:
            return x
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"batch: images must be uint8 or float in [0, 1], got dtype {x.dtype}")
        if not np.all(np.isfinite(x)):
            raise ValueError("batch: contains NaN or inf")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"batch: float images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]")
        return x

    def _prepare(self, chunk: np.ndarray, offset: int) -> tuple[np.ndarray]:
        x = chunk.astype(np.float32)
        if chunk.dtype == np.uint8:
            x /= 255.0
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if x.shape[0] < self.batch_size:
            pad = np.zeros((self.batch_size - x.shape[0],) + x.shape[1:], np.float32)
            x = np.concatenate([x, pad], axis=0)
        return (x,)


def run_settings(batch_size: int, dtype: str, random_init: bool, seed: int) -> dict[str, Any]:
    """An encoder's batch size, dtype and weights origin as :class:`Encoder` fields: the seed is recorded
    only for a random init (pretrained weights do not depend on it)."""
    return dict(batch_size=batch_size, dtype=dtype, random_init=random_init, seed=seed if random_init else None)


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as a positive int, or ValueError naming it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size: must be a positive integer, got {batch_size!r}")
    return int(batch_size)
