"""Labels and regression targets: the one place they are validated, encoded and split.

* :func:`class_ids` -- non-negative integer class ids (n,) as int32 (the probe, :func:`kcover.one_hot`).
* :func:`encode_labels` -- any 1-d labels (ints, integer floats, strings) -> ids 0..C-1 in sorted
  order and the class names (:func:`kcover.advise`, ``kcover advise``).
* :func:`targets` -- regression targets (n,) or (n, c) as a finite float array (n, c)
  (:func:`kcover.krr_fit`, :func:`kcover.tail_energy`, :func:`kcover.target_alignment`).
* :func:`stratified_split` -- a seeded per-class train/test split of class ids.

Every check raises ``ValueError`` whose message starts with the argument's name. numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kcover import checks


def _one_d(y: Any, name: str, n: int | None, kind: str) -> np.ndarray:
    """The checks every kind of label shares: 1-d, not empty, ``n`` entries, finite integer floats."""
    arr = np.asarray(y)
    if arr.dtype == object:
        raise ValueError(f"{name}: must be numbers or strings, got objects")
    if arr.ndim != 1:
        raise ValueError(f"{name}: must be a 1-d array of {kind}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: has {arr.shape[0]} entries but the features have {n} rows")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or inf (first at row {int(np.argmin(np.isfinite(arr)))})")
        if (arr != np.round(arr)).any():
            raise ValueError(f"{name}: must be a 1-d array of {kind}, got non-integer floats")
    return arr


def class_ids(y: Any, name: str = "labels", *, n: int | None = None, num_classes: int | None = None) -> np.ndarray:
    """``y`` (n,) as non-negative int32 class ids, each < ``num_classes`` when given, or raise naming ``name``.

    Integer-valued floats and bools are accepted; ``n`` (when given) is the required length.
    """
    arr = _one_d(y, name, n, "integer class ids")
    if np.issubdtype(arr.dtype, np.floating) or arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: must be a 1-d array of integer class ids, got dtype {arr.dtype}")
    if (arr < 0).any():
        raise ValueError(f"{name}: class ids must be non-negative")
    if num_classes is not None and (arr >= num_classes).any():
        raise ValueError(f"{name}: has class id {int(arr.max())} but num_classes={num_classes}")
    return arr.astype(np.int32)


def encode_labels(labels: Any, n: int, name: str = "labels") -> tuple[np.ndarray, tuple[str, ...]]:
    """Map any 1-d labels (ints, strings) to ids 0..C-1 in sorted order; returns (ids (n,), names).

    Raises naming ``name`` unless ``labels`` has ``n`` finite entries of at least 2 classes.
    """
    arr = _one_d(labels, name, n, "class labels (integers or strings)")
    classes, ids = np.unique(arr, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{name}: has only {classes.size} class; need at least 2")
    names = tuple(str(c.item() if hasattr(c, "item") else c) for c in classes)
    return ids.astype(np.int32).reshape(-1), names


def targets(y: Any, n: int, name: str = "y") -> np.ndarray:
    """Regression targets ``y`` (n,) or (n, c) as a finite float array (n, c), or raise naming ``name``."""
    arr = np.asarray(y)
    arr = checks.features(arr[:, None] if arr.ndim == 1 else arr, name)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: has {arr.shape[0]} rows but there are {n} points")
    return arr


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ids (n,) into sorted (train, test) indices.

    Each class with n_c >= 2 points puts clip(round(test_fraction n_c), 1, n_c - 1) of them in
    test; a class with one point stays in train.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        m = 0 if idx.size < 2 else int(np.clip(round(test_fraction * idx.size), 1, idx.size - 1))
        test.append(idx[:m])
        train.append(idx[m:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
