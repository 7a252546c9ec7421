"""The frozen text transformers that :mod:`kcover.experiments.lora` adapts, callable layer range
by layer range, and the projections that LoRA may target in each.

Two backbones: all-MiniLM-L6-v2 through transformers' ``FlaxBertModel`` (``minilm``) and the
Flax Qwen2 decoder of :mod:`kcover.experiments.encoders.qwen2` (``qwen2.5``). Their weights are
loaded by :func:`kcover.experiments.encoders.registry.get_encoder` and stay frozen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import DTYPES, resolve_dtype

TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "minilm": {
        "query": ("attention", "self", "query"),
        "key": ("attention", "self", "key"),
        "value": ("attention", "self", "value"),
        "attention_output": ("attention", "output", "dense"),
        "intermediate": ("intermediate", "dense"),
        "output": ("output", "dense"),
    },
    "qwen2.5": {
        "q_proj": ("self_attn", "q_proj"),
        "k_proj": ("self_attn", "k_proj"),
        "v_proj": ("self_attn", "v_proj"),
        "o_proj": ("self_attn", "o_proj"),
        "gate_proj": ("mlp", "gate_proj"),
        "up_proj": ("mlp", "up_proj"),
        "down_proj": ("mlp", "down_proj"),
    },
}
DEFAULT_TARGETS = {"minilm": ("query", "value"), "qwen2.5": ("q_proj", "v_proj")}


def check_targets(encoder: str, targets: Sequence[str] | None, *, name: str = "targets") -> tuple[str, ...]:
    """The target projections of ``encoder`` (defaults when None); ValueError naming ``name``."""
    if encoder not in TARGETS:
        raise ValueError(f"encoder: no LoRA support for {encoder!r}; choose one of {', '.join(TARGETS)}")
    if targets is None:
        return DEFAULT_TARGETS[encoder]
    if isinstance(targets, str):
        targets = [targets]
    targets = tuple(dict.fromkeys(targets))
    if not targets:
        raise ValueError(f"{name}: is empty")
    unknown = [t for t in targets if t not in TARGETS[encoder]]
    if unknown:
        raise ValueError(
            f"{name}: unknown module {unknown[0]!r} for {encoder}; choose from {', '.join(TARGETS[encoder])}"
        )
    return targets


def _bert_embed(m: Any, ids: jax.Array, mask: jax.Array) -> jax.Array:
    pos = jnp.broadcast_to(jnp.arange(ids.shape[1]), ids.shape)
    return m.embeddings(ids, jnp.zeros_like(ids), pos, mask, deterministic=True)


def _bert_layers(m: Any, x: jax.Array, mask: jax.Array, start: int, stop: int) -> jax.Array:
    for layer in m.encoder.layer.layers[start:stop]:
        x = layer(x, mask, None, deterministic=True)[0]
    return x


def _qwen_embed(m: Any, ids: jax.Array, mask: jax.Array) -> jax.Array:
    return m.embed_tokens(ids)


def _qwen_layers(m: Any, x: jax.Array, mask: jax.Array, start: int, stop: int) -> jax.Array:
    from kcover.experiments.encoders.qwen2 import rope_tables

    t = x.shape[1]
    allowed = jnp.tril(jnp.ones((t, t), bool))[None] & mask.astype(bool)[:, None, :]
    cos, sin = rope_tables(t, m.config.head_dim, m.config.rope_theta)
    for layer in m.layers[start:stop]:
        x = layer(x, cos, sin, allowed)
    return x


def _qwen_finish(m: Any, x: jax.Array) -> jax.Array:
    return m.norm(x)


class Backbone:
    """A frozen text transformer, callable layer range by layer range.

    Attributes: ``name`` (``minilm`` or ``qwen2.5``), ``params`` (the frozen parameter tree),
    ``num_layers``, ``hidden_size``, ``max_length`` (T), ``tokenizer``, ``normalize`` (whether
    the encoder's features are L2-normalized, as sentence-transformers' all-MiniLM-L6-v2 is).
    """

    def __init__(
        self,
        *,
        name: str,
        module: Any,
        params: Any,
        num_layers: int,
        hidden_size: int,
        tokenizer: Any,
        max_length: int,
        pad_id: int,
        normalize: bool,
        dtype: str,
    ) -> None:
        self.name = name
        self.module = module
        self.params = params
        self.num_layers = int(num_layers)
        self.hidden_size = int(hidden_size)
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.pad_id = int(pad_id)
        self.normalize = normalize
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, layers={self.num_layers}, hidden={self.hidden_size}, T={self.max_length})"

    def layer_path(self, i: int) -> tuple[str, ...]:
        """The path of layer ``i``'s subtree in :attr:`params`."""
        return ("encoder", "layer", str(i)) if self.name == "minilm" else (f"layers_{i}",)

    def embed(self, params: Any, ids: jax.Array, mask: jax.Array) -> jax.Array:
        """Token ids and mask (B, T) -> embedding output (B, T, H). Traceable."""
        fn = _bert_embed if self.name == "minilm" else _qwen_embed
        return self.module.apply({"params": params}, ids, mask, method=fn)

    def layers(self, params: Any, x: jax.Array, mask: jax.Array, start: int, stop: int) -> jax.Array:
        """Hidden states (B, T, H) before layer ``start`` -> after layer ``stop - 1``. Traceable."""
        fn = _bert_layers if self.name == "minilm" else _qwen_layers
        return self.module.apply({"params": params}, x, mask, start, stop, method=fn)

    def finish(self, params: Any, x: jax.Array) -> jax.Array:
        """The last hidden state from the last layer's output (Qwen2's final RMSNorm). Traceable."""
        if self.name == "minilm":
            return x
        return self.module.apply({"params": params}, x, method=_qwen_finish)

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Documents -> ids and mask (n, max_length) int32, truncated and right-padded."""
        if isinstance(texts, str) or len(texts) == 0:
            raise ValueError("texts: expected a non-empty sequence of strings")
        rows = self.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=self.max_length, padding=False
        )["input_ids"]
        ids = np.full((len(rows), self.max_length), self.pad_id, np.int32)
        mask = np.zeros((len(rows), self.max_length), np.int32)
        for i, r in enumerate(rows):
            if not r:
                raise ValueError(f"texts: document {i} has no tokens (empty text?)")
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return ids, mask


def load_backbone(
    encoder: str,
    weights: str | Path | None = None,
    *,
    max_length: int = 128,
    dtype: str = "float32",
    random_init: bool = False,
    seed: int = 0,
) -> Backbone:
    """The frozen ``minilm`` or ``qwen2.5`` backbone with its tokenizer, documents cut to ``max_length``.

    ``weights`` is the local Hugging Face directory (default: the shipped MiniLM; for qwen2.5
    ``$KCOVER_WEIGHTS_DIR/Qwen2.5-0.5B``). A missing directory raises FileNotFoundError naming
    ``weights``.
    """
    from kcover.experiments.encoders.registry import get_encoder

    if encoder not in TARGETS:
        raise ValueError(f"encoder: no LoRA support for {encoder!r}; choose one of {', '.join(TARGETS)}")
    dtype = resolve_dtype(dtype)
    enc = get_encoder(encoder, weights, random_init=random_init, seed=seed, dtype=dtype, max_length=max_length)
    if encoder == "minilm":
        from transformers import BertConfig, FlaxBertModel

        directory = W.shipped_minilm_dir() if weights is None else W.require_dir(weights)
        config = BertConfig.from_dict(W.read_config(directory))
        module = FlaxBertModel(config, add_pooling_layer=False, dtype=DTYPES[dtype], _do_init=False).module
        modules = directory / "modules.json"
        normalize = modules.is_file() and any(
            m.get("type", "").endswith("Normalize") for m in json.loads(modules.read_text())
        )
        layers, hidden = config.num_hidden_layers, config.hidden_size
    else:
        from kcover.experiments.encoders.qwen2 import Qwen2, Qwen2Config

        config = Qwen2Config.from_dict(W.read_config(W.resolve_dir("qwen2.5", weights)))
        module = Qwen2(config, DTYPES[dtype])
        normalize = False
        layers, hidden = config.num_hidden_layers, config.hidden_size
    from_encoder = {f: getattr(enc, f) for f in ("params", "tokenizer", "max_length", "pad_id")}
    sizes = dict(num_layers=layers, hidden_size=hidden)
    return Backbone(name=encoder, module=module, normalize=normalize, dtype=dtype, **sizes, **from_encoder)
