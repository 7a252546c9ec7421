"""The training of :class:`kcover.experiments.lora.LoraClassifier`: a fixed step budget, the
optax schedule, the seeded example order and the jitted ``lax.scan`` over the steps.

Each run takes a fixed number of AdamW steps (optax: global-norm gradient clipping, then AdamW
with a linear warmup and cosine decay to zero); each step takes ``min(batch_size, k)`` examples
from a seeded stream of permutations of the k training examples. The shapes depend only on k, T
and the step count, so one compilation serves every seed of a budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
import optax


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A fixed step budget: AdamW (optax) after global-norm clipping, warmup then cosine decay.

    steps: optimizer steps; batch_size: examples per step (``min(batch_size, k)``);
    learning_rate: peak; warmup: fraction of the steps spent warming up linearly from 0;
    weight_decay: AdamW's decoupled decay; clip_norm: global gradient-norm clip.
    """

    steps: int = 30
    batch_size: int = 8
    learning_rate: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0

    def check(self) -> None:
        """ValueError naming the first bad field."""
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps: must be a positive integer, got {self.steps!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size: must be a positive integer, got {self.batch_size!r}")
        for name in ("learning_rate", "clip_norm"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be positive, got {v!r}")
        if not (0.0 <= self.warmup < 1.0):
            raise ValueError(f"warmup: must be a fraction in [0, 1), got {self.warmup!r}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay!r}")


def optimizer(train: TrainConfig) -> optax.GradientTransformation:
    """Clip by global norm, then AdamW with a linear warmup from 0 and a cosine decay to 0."""
    train.check()
    warm = int(round(train.warmup * train.steps))
    if warm > 0 and train.steps > warm:
        schedule = optax.warmup_cosine_decay_schedule(0.0, train.learning_rate, warm, train.steps, end_value=0.0)
    else:
        schedule = optax.cosine_decay_schedule(train.learning_rate, max(train.steps, 1))
    return optax.chain(
        optax.clip_by_global_norm(train.clip_norm), optax.adamw(schedule, weight_decay=train.weight_decay)
    )


class FitResult(NamedTuple):
    """trainable: the trained adapters (or layers) and head; losses: (steps,) training loss per step."""

    trainable: Any
    losses: np.ndarray


def example_order(k: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """The examples each step trains on: (steps, min(batch_size, k)) int32 indices into k examples,
    read in order from a stream of permutations of range(k) drawn with ``default_rng([seed, 1])``."""
    b = min(batch_size, k)
    rng = np.random.default_rng([seed, 1])
    stream = np.concatenate([rng.permutation(k) for _ in range(-(-steps * b // k))])
    return stream[: steps * b].reshape(steps, b).astype(np.int32)


def compile_fit(loss: Callable[..., jax.Array], train: TrainConfig) -> Any:
    """Jitted ``(base, trainable, hidden (k, T, H), mask (k, T), labels (k,), order (steps, b))
    -> (trainable, losses (steps,))``: ``train.steps`` steps of :func:`optimizer` as one ``lax.scan``,
    step i on the examples ``order[i]``. ``loss(trainable, base, hidden, mask, labels)`` is the
    scalar training loss of a batch."""
    opt = optimizer(train)

    def run(base, trainable, hidden, mask, labels, order):
        def step(carry, idx):
            tr, st = carry
            value, grads = jax.value_and_grad(loss)(tr, base, hidden[idx], mask[idx], labels[idx])
            updates, st = opt.update(grads, st, tr)
            return (optax.apply_updates(tr, updates), st), value

        (trainable, _), losses = jax.lax.scan(step, (trainable, opt.init(trainable)), order)
        return trainable, losses

    return jax.jit(run)
