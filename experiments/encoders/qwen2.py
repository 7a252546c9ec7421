"""Qwen2 / Qwen2.5 decoder in Flax, loaded from a local Hugging Face directory without torch.

transformers has no Flax Qwen2 (and FlaxLlama hard-codes the RoPE base), so the decoder is
written here, following transformers' PyTorch ``Qwen2Model``:

* token embedding (tied to the output head when ``tie_word_embeddings``; see :meth:`Qwen2.logits`);
* per layer: RMSNorm -> grouped-query self-attention (q/k/v projections with biases, o
  without; ``num_attention_heads`` query heads share ``num_key_value_heads`` key/value heads;
  rotary position embeddings with base ``rope_theta`` on the rotate-half convention; causal
  and key-padding mask; softmax in float32) -> residual -> RMSNorm -> SwiGLU MLP
  (down(silu(gate(x)) * up(x)), no biases) -> residual;
* a final RMSNorm. RMSNorm computes in float32: w * x / sqrt(mean(x^2) + eps).

Positions are 0..T-1 in every row, so documents are padded on the right. The encoder's feature
is the mean of the last hidden state over the attention mask, (B, hidden_size).

Cost per forward of B x T tokens with L layers, hidden H, MLP width I: O(B T L (4 H^2 + 3 H I)
+ B L T^2 H) time; the attention scores take B * heads * T^2 floats per layer.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import DTYPES, TextEncoder, cast_floats, masked_mean, resolve_dtype, run_settings


@dataclasses.dataclass(frozen=True)
class Qwen2Config:
    """The architecture fields of a Qwen2 ``config.json`` that the forward pass uses."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    initializer_range: float = 0.02

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> Qwen2Config:
        """Read a transformers Qwen2 config dict; raise ValueError for what is not implemented."""
        need = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        missing = [k for k in need if k not in cfg]
        if missing:
            raise ValueError(f"weights: config.json lacks {missing}")
        scaling = cfg.get("rope_scaling") or {}
        if scaling.get("rope_type", scaling.get("type", "default")) != "default":
            raise ValueError(f"weights: config.json asks for rope_scaling {scaling}, which is not implemented")
        if cfg.get("use_sliding_window", False):
            raise ValueError("weights: config.json sets use_sliding_window, which is not implemented")
        if cfg.get("hidden_act", "silu") != "silu":
            act = cfg["hidden_act"]
            raise ValueError(f"weights: config.json asks for hidden_act {act!r}; only silu is implemented")
        heads = int(cfg["num_attention_heads"])
        kv = int(cfg.get("num_key_value_heads") or heads)
        if heads % kv:
            raise ValueError(f"weights: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}")
        head_dim = cfg.get("head_dim") or int(cfg["hidden_size"]) // heads
        return cls(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=kv,
            head_dim=int(head_dim),
            rope_theta=float(cfg.get("rope_theta", 10000.0)),
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            initializer_range=float(cfg.get("initializer_range", 0.02)),
        )


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32, returned in ``dtype``."""

    eps: float
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        weight = self.param("weight", nn.initializers.ones, (x.shape[-1],))
        xf = x.astype(jnp.float32)
        xf = xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + self.eps)
        return weight.astype(self.dtype) * xf.astype(self.dtype)


def rope_tables(length: int, head_dim: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """cos and sin (length, head_dim) for positions 0..length-1, float32, rotate-half layout."""
    inv_freq = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
    freqs = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    return jnp.cos(emb), jnp.sin(emb)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate ``x`` (B, T, heads, head_dim) by the tables (T, head_dim)."""
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    cos, sin = cos[None, :, None, :].astype(x.dtype), sin[None, :, None, :].astype(x.dtype)
    return x * cos + rotated * sin


class Attention(nn.Module):
    """Grouped-query causal self-attention with RoPE; q/k/v biases, no o bias."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array, allowed: jax.Array) -> jax.Array:
        c = self.config
        b, t, _ = x.shape
        nh, nkv, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        init = nn.initializers.normal(c.initializer_range)

        def dense(features: int, bias: bool, name: str) -> nn.Dense:
            return nn.Dense(features, use_bias=bias, dtype=self.dtype, kernel_init=init, name=name)

        q = dense(nh * hd, True, "q_proj")(x).reshape(b, t, nh, hd)
        k = dense(nkv * hd, True, "k_proj")(x).reshape(b, t, nkv, hd)
        v = dense(nkv * hd, True, "v_proj")(x).reshape(b, t, nkv, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q = q.reshape(b, t, nkv, nh // nkv, hd)  # query head h uses key/value head h // (nh // nkv)
        scores = jnp.einsum("btkgd,bskd->bkgts", q, k, preferred_element_type=jnp.float32) * (hd**-0.5)
        scores = jnp.where(allowed[:, None, None, :, :], scores, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(scores, axis=-1).astype(self.dtype)
        out = jnp.einsum("bkgts,bskd->btkgd", probs, v).reshape(b, t, nh * hd)
        return dense(c.hidden_size, False, "o_proj")(out)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), no biases."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = self.config
        init = nn.initializers.normal(c.initializer_range)
        gate = nn.Dense(c.intermediate_size, use_bias=False, dtype=self.dtype, kernel_init=init, name="gate_proj")(x)
        up = nn.Dense(c.intermediate_size, use_bias=False, dtype=self.dtype, kernel_init=init, name="up_proj")(x)
        return nn.Dense(c.hidden_size, use_bias=False, dtype=self.dtype, kernel_init=init, name="down_proj")(
            nn.silu(gate) * up
        )


class DecoderLayer(nn.Module):
    """Pre-norm attention and MLP blocks with residuals."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array, allowed: jax.Array) -> jax.Array:
        eps = self.config.rms_norm_eps
        h = RMSNorm(eps, self.dtype, name="input_layernorm")(x)
        x = x + Attention(self.config, self.dtype, name="self_attn")(h, cos, sin, allowed)
        h = RMSNorm(eps, self.dtype, name="post_attention_layernorm")(x)
        return x + MLP(self.config, self.dtype, name="mlp")(h)


class Qwen2(nn.Module):
    """The Qwen2 decoder: token ids (B, T) and mask (B, T) -> last hidden state (B, T, H)."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        c = self.config
        self.embed_tokens = nn.Embed(
            c.vocab_size, c.hidden_size, dtype=self.dtype, embedding_init=nn.initializers.normal(c.initializer_range)
        )
        self.layers = [DecoderLayer(c, self.dtype, name=f"layers_{i}") for i in range(c.num_hidden_layers)]
        self.norm = RMSNorm(c.rms_norm_eps, self.dtype)
        if not c.tie_word_embeddings:
            self.lm_head = nn.Dense(
                c.vocab_size, use_bias=False, dtype=self.dtype, kernel_init=nn.initializers.normal(c.initializer_range)
            )

    def __call__(self, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
        t = input_ids.shape[1]
        valid = attention_mask.astype(bool)
        allowed = jnp.tril(jnp.ones((t, t), bool))[None] & valid[:, None, :]  # (B, query, key)
        cos, sin = rope_tables(t, self.config.head_dim, self.config.rope_theta)
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, allowed)
        return self.norm(x)

    def logits(self, hidden: jax.Array) -> jax.Array:
        """Next-token logits (B, T, vocab) from the last hidden state, through the tied embedding
        (or ``lm_head`` when the embeddings are not tied)."""
        if self.config.tie_word_embeddings:
            return self.embed_tokens.attend(hidden)
        return self.lm_head(hidden)


def _call_and_logits(module: Qwen2, ids: jax.Array, mask: jax.Array) -> jax.Array:
    return module.logits(module(ids, mask))


def _init(config: Qwen2Config, seed: int) -> Any:
    ids, mask = jnp.zeros((1, 2), jnp.int32), jnp.ones((1, 2), jnp.int32)
    return Qwen2(config).init(jax.random.PRNGKey(seed), ids, mask, method=_call_and_logits)["params"]


def param_shapes(config: Qwen2Config) -> dict[str, Any]:
    """The parameter tree's shapes (jax.ShapeDtypeStruct leaves), from tracing only."""
    return dict(jax.eval_shape(lambda: _init(config, 0)))


def init_params(config: Qwen2Config, seed: int) -> dict[str, Any]:
    """Seeded random parameters as transformers initializes Qwen2: weights and embeddings
    normal(0, initializer_range), biases zero, norm weights one (``lm_head`` too when the
    embeddings are not tied). Drawn with ``numpy.random.default_rng(seed)`` in tree order,
    without running the model, so it is fast and identical on every platform."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    rng = np.random.default_rng(seed)
    out = {}
    for path, spec in sorted(flatten_dict(param_shapes(config)).items()):
        if path[-1] in ("kernel", "embedding"):
            out[path] = (rng.standard_normal(spec.shape) * config.initializer_range).astype(np.float32)
        elif path[-1] == "bias":
            out[path] = np.zeros(spec.shape, np.float32)
        else:  # RMSNorm weight
            out[path] = np.ones(spec.shape, np.float32)
    return unflatten_dict(out)


@functools.lru_cache(maxsize=16)
def compiled_forward(config: Qwen2Config, dtype: str) -> Any:
    """The jit-compiled encoder forward ``(params, input_ids (B, T), mask (B, T)) -> (B, H)``,
    one per architecture and dtype, shared by pretrained encoders and their random twins."""
    module = Qwen2(config, DTYPES[dtype])

    def forward(params: Any, input_ids: jax.Array, mask: jax.Array) -> jax.Array:
        return masked_mean(module.apply({"params": params}, input_ids, mask), mask)

    return jax.jit(forward)


def _torch_name(path: tuple[str, ...]) -> tuple[str, str]:
    """A Flax parameter path -> (torch-style name without the ``model.`` prefix, how to convert)."""
    *mods, leaf = path
    names = []
    for m in mods:
        names.extend(m.split("_", 1) if m.startswith("layers_") else [m])
    if leaf == "kernel":
        return ".".join(names + ["weight"]), "transpose"
    if leaf == "embedding":
        return ".".join(names + ["weight"]), "copy"
    return ".".join(names + [leaf]), "copy"


def load_params(directory: Path, config: Qwen2Config) -> dict[str, Any]:
    """Read the safetensors of a Qwen2 checkpoint into this module's parameter tree (numpy).

    Accepts ``Qwen2ForCausalLM`` names (``model.layers.0...``, ``lm_head.weight``) and bare
    ``Qwen2Model`` names (``layers.0...``). Missing or mis-shaped tensors raise ValueError.
    """
    from flax.traverse_util import flatten_dict, unflatten_dict

    files = W.weight_files(directory)
    if files[0].name == W.MSGPACK:
        raise ValueError(f"weights: {directory} holds only {W.MSGPACK}; a Qwen2 checkpoint needs safetensors")
    tensors, _ = W.load_tensors(directory)
    shapes = param_shapes(config)
    out, missing = {}, []
    for path, spec in flatten_dict(dict(shapes)).items():
        name, how = _torch_name(path)
        key = name if name.startswith("lm_head") else next((k for k in (f"model.{name}", name) if k in tensors), None)
        if key is None or key not in tensors:
            missing.append(f"model.{name}" if not name.startswith("lm_head") else name)
            continue
        arr = tensors[key]
        if how == "transpose":
            arr = arr.T
        if tuple(arr.shape) != tuple(spec.shape):
            raise ValueError(
                f"weights: tensor {key} in {directory} has shape {tuple(arr.shape)}, expected {tuple(spec.shape)}"
            )
        out[path] = arr
    if missing:
        raise ValueError(f"weights: {directory} is incomplete: {len(missing)} tensors are missing, e.g. {missing[:4]}")
    return unflatten_dict(out)


def qwen2(
    weights: Any = None,
    *,
    random_init: bool = False,
    seed: int = 0,
    dtype: str = "float32",
    batch_size: int = 8,
    max_length: int = 512,
) -> TextEncoder:
    """Qwen2.5 (default Qwen2.5-0.5B) as an encoder: documents -> mean-pooled last hidden state (B, H).

    ``weights`` is a Hugging Face directory with config.json, model.safetensors (or a sharded
    index) and the tokenizer; without it the default directory is used (see
    :mod:`kcover.experiments.encoders.weights`). A random init still reads config.json and the
    tokenizer from that directory, but not the weights. Documents are truncated to
    ``max_length`` tokens (default 512).
    """
    dtype = resolve_dtype(dtype)
    directory = W.resolve_dir("qwen2.5", weights)
    raw = W.read_config(directory)
    config = Qwen2Config.from_dict(raw)
    tokenizer = W.load_tokenizer(directory)
    tokenizer.padding_side = "right"
    if random_init:
        params = init_params(config, seed)
        fingerprint = W.fingerprint_random("qwen2.5", dataclasses.asdict(config), seed, directory)
    else:
        params = load_params(directory, config)
        fingerprint = W.fingerprint_dir(directory, W.weight_files(directory))
    params = cast_floats(params, dtype)
    return TextEncoder(
        name="qwen2.5",
        dim=config.hidden_size,
        fingerprint=fingerprint,
        params=params,
        forward=compiled_forward(config, dtype),
        **run_settings(batch_size, dtype, random_init, seed),
        preprocessing=f"tokens<={max_length}:right-pad:mean",
        tokenizer=tokenizer,
        max_length=max_length,
    )
