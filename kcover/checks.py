"""Input validation shared by the public functions.

Every check raises ``ValueError`` whose message starts with the offending argument's name,
so a user reading one line knows what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def features(x: Any, name: str, *, ndim: int = 2, dtype: Any = None) -> np.ndarray:
    """Return ``x`` as a finite floating array of rank ``ndim``, or raise naming ``name``."""
    try:
        arr = np.asarray(x)
    except Exception as err:  # pragma: no cover - numpy's own message is kept
        raise ValueError(f"{name}: cannot be read as an array ({err})") from err
    if arr.dtype == object:
        raise ValueError(f"{name}: must be a numeric array, got objects")
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: is empty (0 rows)")
    if ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name}: has 0 columns")
    if not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{name}: must be numeric, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    if dtype is not None:
        arr = arr.astype(dtype)
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{name}: contains NaN or inf (first at row {row})")
    return arr


def same_width(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise if two feature matrices have a different number of columns."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_b}: has {b.shape[1]} columns but {name_a} has {a.shape[1]}; "
            "they must live in the same feature space"
        )


def budget(k: Any, available: int, name: str = "k") -> int:
    """Return ``k`` as an int in ``[1, available]``, or raise naming ``name``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name}: must be an integer, got {k!r}")
    k = int(k)
    if k <= 0:
        raise ValueError(f"{name}: must be positive, got {k}")
    if k > available:
        raise ValueError(f"{name}: asks for {k} points but only {available} candidates are available")
    return k


def budget_list(values: Any, available: int, name: str = "budgets") -> np.ndarray:
    """Return one budget or a list of them as a 1-d int array (order kept), each in ``[1, available]``."""
    vals = [values] if isinstance(values, (int, np.integer)) else values
    try:
        arr = np.asarray(list(vals) if not isinstance(vals, np.ndarray) else vals)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be integers, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: must be a non-empty list of integer budgets, got {values!r}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: must be integers, got {values!r}")
    bad = arr[(arr < 1) | (arr > available)]
    if bad.size:
        raise ValueError(
            f"{name}: {int(bad[0])} is out of range; budgets must lie in [1, {available}] "
            f"(the pool has {available} points)"
        )
    return arr.astype(np.int64)


def positive_int(value: Any, name: str, *, maximum: int | None = None) -> int:
    """Return a size that is not a budget (a block, a dimension, a step count) as a positive int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    value = int(value)
    if value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: must be at most {maximum}, got {value}")
    return value


def choice(value: Any, allowed: Sequence[str], name: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming ``name``."""
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; choose one of {', '.join(allowed)}")
    return value


def weights(w: Any, n: int, name: str) -> np.ndarray:
    """Return non-negative finite weights of length ``n`` (ones when ``w`` is None)."""
    if w is None:
        return np.ones(n, np.float32)
    arr = features(w, name, ndim=1)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: has {arr.shape[0]} entries but there are {n} targets")
    if (arr < 0).any():
        raise ValueError(f"{name}: must be non-negative")
    return arr


def indices(idx: Any, n: int, name: str) -> np.ndarray:
    """Return distinct integer indices in ``[0, n)`` (empty when ``idx`` is None)."""
    if idx is None:
        return np.zeros(0, np.int32)
    arr = np.asarray(idx)
    if arr.size == 0:
        return np.zeros(0, np.int32)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: must be a 1-d array of integer indices")
    if (arr < 0).any() or (arr >= n).any():
        raise ValueError(f"{name}: indices must lie in [0, {n})")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name}: contains repeated indices")
    return arr.astype(np.int32)


def positive(x: Any, name: str) -> float:
    """Return ``x`` as a positive finite float."""
    try:
        val = float(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: must be a number, got {x!r}") from err
    if not np.isfinite(val) or val <= 0:
        raise ValueError(f"{name}: must be positive and finite, got {x!r}")
    return val
