"""LoRA (and full) fine-tuning of the Flax text encoders, with a classification head.

    bb = load_backbone("minilm", max_length=128)                      # frozen MiniLM (FlaxBertModel)
    clf = LoraClassifier(bb, num_classes=5, config=LoraConfig(rank=8, alpha=16, top_layers=2))
    ids, mask = bb.tokenize(texts)                                    # (n, T) int32, padded to max_length
    hidden = clf.prefix(ids, mask)                                    # (n, T, H): the frozen part, once
    fit = clf.fit(hidden[picks], mask[picks], labels[picks], seed=0, train=TrainConfig(steps=30))
    pred = clf.predict(fit.trainable, hidden_test, mask_test)         # (n_test,) labels

Two frozen backbones (:mod:`kcover.experiments.lora_backbone`): all-MiniLM-L6-v2 (``minilm``)
and the Flax Qwen2 decoder (``qwen2.5``).

**Adapters.** For each target projection ``W`` (d_in, d_out) of each adapted layer, LoRA adds
``(alpha / rank) * A @ B`` with ``A`` (d_in, rank) ~ N(0, 1/d_in) and ``B`` (rank, d_out) = 0,
so a fresh model computes exactly the base model. The delta is merged into the kernel inside
the jitted forward (``x (W + s A B)`` equals LoRA's ``x W + s (x A) B``; the merge costs
d_in * rank * d_out per projection and step). Targets default to the attention query and value
projections (``query``/``value`` for MiniLM, ``q_proj``/``v_proj`` for Qwen2); see
:data:`TARGETS` for the others. ``full=True`` trains every weight of the adapted layers instead
(embeddings, and Qwen2's final norm, stay frozen).

**Adapted layers.** ``top_layers=n`` adapts only the top ``n`` transformer layers. Nothing below
them changes, so their output (the *prefix*, (n_docs, T, H)) is computed once per document by
:meth:`LoraClassifier.prefix` and training and scoring run only the top ``n`` layers: an exact
shortcut, not an approximation. ``top_layers=None`` adapts every layer (the prefix is then the
embedding output).

**Head.** A linear layer (H, C), zero-initialized, on the mean of the last hidden state over
the attention mask (Qwen2's after its final norm). No dropout.

**Training.** :meth:`LoraClassifier.fit` runs a fixed number of AdamW steps as one jitted
``lax.scan`` (:mod:`kcover.experiments.lora_train`: the step budget, the optax schedule, the
example order).

This module holds the adapters (:class:`LoraConfig`, :class:`LoraClassifier`: initialization,
merging into the frozen kernels, the forward) and re-exports the public names of
:mod:`kcover.experiments.lora_backbone` and :mod:`kcover.experiments.lora_train`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kcover.experiments.encoders.base import DTYPES, masked_mean
from kcover.experiments.lora_backbone import TARGETS, Backbone, check_targets
from kcover.experiments.lora_train import FitResult, TrainConfig, compile_fit, example_order


@dataclasses.dataclass(frozen=True)
class LoraConfig:
    """What is trained.

    rank, alpha: LoRA rank r and scale alpha (the delta is ``alpha / r * A @ B``).
    targets: projections adapted in each adapted layer (None: query and value; see :data:`TARGETS`).
    top_layers: adapt only the top ``top_layers`` layers (None: all); the rest are frozen.
    full: train every weight of the adapted layers instead of low-rank adapters.
    """

    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] | None = None
    top_layers: int | None = None
    full: bool = False

    def describe(self, encoder: str, num_layers: int) -> str:
        """A one-line description, e.g. ``LoRA r=8 alpha=16 on query+value of the top 2 of 6 layers (4-5)``."""
        n = num_layers if self.top_layers is None else self.top_layers
        span = f"{num_layers - n}-{num_layers - 1}" if n > 1 else f"{num_layers - 1}"
        where = (
            f"all {num_layers} layers"
            if n == num_layers
            else f"the top {n} of {num_layers} layers ({span}, "
            "counting from 0; the layers below and the embeddings frozen)"
        )
        if self.full:
            return f"full fine-tuning of every weight of {where}"
        t = "+".join(check_targets(encoder, self.targets))
        return f"LoRA r={self.rank} alpha={self.alpha:g} on {t} of {where}"


def _get(tree: Any, path: Sequence[str]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _replace(tree: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of the nested dict ``tree`` with ``path`` set to ``value`` (other subtrees shared)."""
    if not path:
        return value
    out = dict(tree)
    out[path[0]] = _replace(tree[path[0]], path[1:], value)
    return out


class LoraClassifier:
    """A frozen :class:`Backbone` with LoRA adapters (or fully trained top layers) and a linear head.

    ``num_classes`` C >= 2. The trainable parameters are a pytree
    ``{"adapters": {"<layer>.<target>": {"a": (d_in, r), "b": (r, d_out)}}, "head": {"kernel": (H, C), "bias": (C,)}}``
    (with ``full``: ``{"layers": {"<layer>": layer subtree}, "head": ...}``). The backbone's
    parameters are never modified.
    """

    def __init__(self, backbone: Backbone, num_classes: int, config: LoraConfig = LoraConfig()) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(f"num_classes: must be an integer >= 2, got {num_classes!r}")
        if isinstance(config.rank, bool) or not isinstance(config.rank, (int, np.integer)) or config.rank < 1:
            raise ValueError(f"rank: must be a positive integer, got {config.rank!r}")
        if not (np.isfinite(config.alpha) and config.alpha > 0):
            raise ValueError(f"alpha: must be positive, got {config.alpha!r}")
        n = backbone.num_layers
        top = n if config.top_layers is None else config.top_layers
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= n:
            raise ValueError(f"top_layers: must be an integer in 1..{n}, got {config.top_layers!r}")
        self.backbone = backbone
        self.num_classes = int(num_classes)
        self.config = config
        self.targets = check_targets(backbone.name, config.targets)
        self.start = n - int(top)
        self.scale = float(config.alpha) / int(config.rank)
        self._fits: dict[TrainConfig, Any] = {}
        self._prefix = jax.jit(self._prefix_fn)
        self._features = jax.jit(self._features_fn)
        self._logits = jax.jit(self._logits_fn)

    def __repr__(self) -> str:
        return (
            f"LoraClassifier({self.config.describe(self.backbone.name, self.backbone.num_layers)}, "
            f"C={self.num_classes})"
        )

    def describe(self) -> str:
        """What is trained, in words (see :meth:`LoraConfig.describe`), with the head."""
        return (
            f"{self.config.describe(self.backbone.name, self.backbone.num_layers)}, plus a linear head on the "
            "mean-pooled last hidden state"
        )

    # -- parameters --

    def init(self, seed: int) -> dict[str, Any]:
        """Fresh trainable parameters: A ~ N(0, 1/d_in) from ``seed``, B = 0, head = 0 (so the
        model computes the base features exactly); with ``full``, copies of the adapted layers."""
        bb, c = self.backbone, self.num_classes
        head = {"kernel": jnp.zeros((bb.hidden_size, c), jnp.float32), "bias": jnp.zeros((c,), jnp.float32)}
        if self.config.full:
            layers = {
                str(i): jax.tree_util.tree_map(jnp.array, _get(bb.params, bb.layer_path(i)))
                for i in range(self.start, bb.num_layers)
            }
            return {"layers": layers, "head": head}
        rng = np.random.default_rng(seed)
        adapters = {}
        for i in range(self.start, bb.num_layers):
            for t in self.targets:
                d_in, d_out = _get(bb.params, bb.layer_path(i) + TARGETS[bb.name][t])["kernel"].shape
                a = rng.standard_normal((d_in, self.config.rank)) / np.sqrt(d_in)
                adapters[f"{i}.{t}"] = {
                    "a": jnp.asarray(a, jnp.float32),
                    "b": jnp.zeros((self.config.rank, d_out), jnp.float32),
                }
        return {"adapters": adapters, "head": head}

    def merged(self, base: Any, trainable: dict[str, Any]) -> Any:
        """The backbone parameters with the adapters merged (or the trained layers swapped in). Traceable."""
        bb = self.backbone
        params = base
        if "layers" in trainable:
            for i, sub in trainable["layers"].items():
                params = _replace(params, bb.layer_path(int(i)), sub)
            return params
        for name, ab in trainable["adapters"].items():
            i, t = name.split(".", 1)
            path = bb.layer_path(int(i)) + TARGETS[bb.name][t] + ("kernel",)
            kernel = _get(params, path)
            delta = (self.scale * ab["a"]) @ ab["b"]
            params = _replace(params, path, kernel + delta.astype(kernel.dtype))
        return params

    def count(self, trainable: dict[str, Any]) -> int:
        """Number of trainable scalars."""
        return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(trainable)))

    # -- forward --

    def _prefix_fn(self, base: Any, ids: jax.Array, mask: jax.Array) -> jax.Array:
        bb = self.backbone
        return bb.layers(base, bb.embed(base, ids, mask), mask, 0, self.start)

    def prefix(self, ids: np.ndarray, mask: np.ndarray, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """The frozen part for every document: ids, mask (n, T) -> hidden (n, T, H) float32 numpy,
        the input of layer ``start`` (computed in fixed-size batches: one compilation)."""
        return self._batched(
            lambda i, m: self._prefix(self.backbone.params, i, m), ids, mask, batch_size, progress, "frozen layers"
        )

    def _features_fn(self, base: Any, trainable: dict[str, Any], hidden: jax.Array, mask: jax.Array) -> jax.Array:
        bb = self.backbone
        params = self.merged(base, trainable)
        x = bb.layers(params, hidden.astype(DTYPES[bb.dtype]), mask, self.start, bb.num_layers)
        return masked_mean(bb.finish(params, x), mask)

    def _logits_fn(self, base: Any, trainable: dict[str, Any], hidden: jax.Array, mask: jax.Array) -> jax.Array:
        feats = self._features_fn(base, trainable, hidden, mask)
        return feats @ trainable["head"]["kernel"] + trainable["head"]["bias"]

    def features(
        self,
        trainable: dict[str, Any],
        hidden: np.ndarray,
        mask: np.ndarray,
        *,
        batch_size: int = 32,
        normalize: bool = False,
    ) -> np.ndarray:
        """Mean-pooled last hidden state (n, H) from the prefix (n, T, H) and mask (n, T);
        L2-normalized when ``normalize`` (the encoder's features, for MiniLM)."""
        out = self._batched(
            lambda h, m: self._features(self.backbone.params, trainable, h, m), hidden, mask, batch_size, False, ""
        )
        if normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def logits(
        self, trainable: dict[str, Any], hidden: np.ndarray, mask: np.ndarray, *, batch_size: int = 32
    ) -> np.ndarray:
        """Class scores (n, C) from the prefix (n, T, H) and mask (n, T)."""
        return self._batched(
            lambda h, m: self._logits(self.backbone.params, trainable, h, m), hidden, mask, batch_size, False, ""
        )

    def predict(
        self, trainable: dict[str, Any], hidden: np.ndarray, mask: np.ndarray, *, batch_size: int = 32
    ) -> np.ndarray:
        """Predicted labels (n,) int64."""
        return self.logits(trainable, hidden, mask, batch_size=batch_size).argmax(1).astype(np.int64)

    def _batched(
        self, fn: Any, x: np.ndarray, mask: np.ndarray, batch_size: int, progress: bool, desc: str
    ) -> np.ndarray:
        from tqdm.auto import tqdm

        n = len(x)
        if n == 0:
            raise ValueError("hidden: is empty (no documents)")
        if len(mask) != n:
            raise ValueError(f"mask: expected {n} rows matching the inputs, got {len(mask)}")
        outs = []
        with tqdm(total=n, desc=desc, unit="doc", disable=not progress) as bar:
            for s in range(0, n, batch_size):
                xb, mb = np.asarray(x[s : s + batch_size]), np.asarray(mask[s : s + batch_size])
                m = len(xb)
                if m < batch_size:  # pad to the fixed batch shape; padding rows attend to one token
                    xb = np.concatenate([xb, np.zeros((batch_size - m,) + xb.shape[1:], xb.dtype)])
                    pad = np.zeros((batch_size - m, mb.shape[1]), mb.dtype)
                    pad[:, 0] = 1
                    mb = np.concatenate([mb, pad])
                outs.append(np.asarray(fn(xb, mb), np.float32)[:m])
                bar.update(m)
        return np.concatenate(outs)

    # -- training --

    def _loss(
        self, trainable: dict[str, Any], base: Any, hidden: jax.Array, mask: jax.Array, labels: jax.Array
    ) -> jax.Array:
        logits = self._logits_fn(base, trainable, hidden, mask)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    def _fit_fn(self, train: TrainConfig) -> Any:
        if train not in self._fits:
            self._fits[train] = compile_fit(self._loss, train)
        return self._fits[train]

    def fit(
        self,
        hidden: np.ndarray,
        mask: np.ndarray,
        labels: np.ndarray,
        *,
        seed: int,
        train: TrainConfig = TrainConfig(),
        init: dict[str, Any] | None = None,
    ) -> FitResult:
        """Train on k examples: prefix ``hidden`` (k, T, H), ``mask`` (k, T), ``labels`` (k,) in [0, C).

        ``seed`` fixes the adapter init and the example order; ``init`` (default :meth:`init`)
        starts from given trainable parameters instead. Runs ``train.steps`` steps of
        ``min(train.batch_size, k)`` examples; returns the trained parameters and the losses.
        """
        train.check()
        hidden, mask, labels = np.asarray(hidden), np.asarray(mask), np.asarray(labels)
        k = len(labels)
        if k == 0:
            raise ValueError("labels: is empty (k = 0)")
        if hidden.shape[:2] != mask.shape or len(hidden) != k or hidden.shape[-1] != self.backbone.hidden_size:
            raise ValueError(
                f"hidden: expected (k, T, {self.backbone.hidden_size}) matching mask {mask.shape} and "
                f"{k} labels, got {hidden.shape}"
            )
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels: must lie in [0, {self.num_classes}), got [{labels.min()}, {labels.max()}]")
        if not np.all(np.isfinite(hidden)):
            raise ValueError("hidden: contains NaN or inf")
        order = example_order(k, train.steps, train.batch_size, seed)
        trainable = self.init(seed) if init is None else init
        out, losses = self._fit_fn(train)(
            self.backbone.params,
            trainable,
            jnp.asarray(hidden),
            jnp.asarray(mask),
            jnp.asarray(labels, jnp.int32),
            jnp.asarray(order),
        )
        return FitResult(out, np.asarray(losses))
