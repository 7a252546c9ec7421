"""Budgets: a count or a fraction of the rows, and its split over the classes of a label column."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PER_CLASS_MODES = ("proportional", "equal")


def resolve_budget(value: Any, n: int, name: str = "--k") -> int:
    """The number of rows ``value`` asks for out of ``n``: a count (``1000``), a percentage
    (``"10%"``) or a fraction in (0, 1] (``0.1``, ``"0.1"``; ``1.0`` is every row).

    A fraction f gives floor(f * n) rows, at least 1. Raises ValueError naming ``name``.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name}: must be a count or a fraction, got {value!r}")
    text = str(value).strip()
    fraction: float | None = None
    if isinstance(value, float) or text.endswith("%") or any(c in text for c in ".eE"):
        try:
            fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(
                f"{name}: must be a count (1000), a percentage (10%) or a fraction (0.1), got {value!r}"
            ) from None
        if not (math.isfinite(fraction) and 0 < fraction <= 1):
            raise ValueError(f"{name}: a fraction must lie in (0, 1] (a percentage in (0%, 100%]), got {value!r}")
        return max(1, math.floor(fraction * n + 1e-9))
    try:
        k = int(text)
    except ValueError:
        raise ValueError(
            f"{name}: must be a count (1000), a percentage (10%) or a fraction (0.1), got {value!r}"
        ) from None
    if not 1 <= k <= n:
        raise ValueError(f"{name}: must lie in [1, {n}] (the rows there are), got {k}")
    return k


def class_budgets(counts: Any, k: int, mode: str = "proportional", names: Any = None, name: str = "--k") -> np.ndarray:
    """Split ``k`` over classes of sizes ``counts`` (C,); returns (C,) int64 budgets summing to ``k``.

    ``proportional``: largest remainder on the shares k * n_c / n (ties to the earlier class),
    so each class gets floor or ceil of its share and never more rows than it has. ``equal``:
    k // C each, one more for the first k mod C classes; a class smaller than its budget is an
    error naming it (``names``, else its index).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0 or (counts < 1).any():
        raise ValueError(f"counts: must be a non-empty 1-d array of positive class sizes, got {counts}")
    if mode not in PER_CLASS_MODES:
        raise ValueError(f"--per-class-mode: must be one of {', '.join(PER_CLASS_MODES)}, got {mode!r}")
    n, c = int(counts.sum()), counts.size
    if not 1 <= k <= n:
        raise ValueError(f"{name}: must lie in [1, {n}], got {k}")
    if mode == "proportional":
        share = k * counts / n
        out = np.floor(share + 1e-9).astype(np.int64)
        rest = share - out
    else:
        out = np.full(c, k // c, np.int64)
        rest = -np.arange(c, dtype=np.float64)  # the first classes take the remainder
    extra = k - int(out.sum())
    out[np.argsort(-rest, kind="stable")[:extra]] += 1
    over = np.flatnonzero(out > counts)
    if over.size:
        i = int(over[0])
        label = names[i] if names is not None else i
        raise ValueError(
            f"{name}: class {label!r} has {counts[i]} rows, fewer than its budget of {out[i]} "
            f"(per-class mode {mode}); lower --k or use --per-class-mode proportional"
        )
    return out
