"""Selection over a table's rows, per class if asked, and the selected rows as a table.

:func:`select_rows` runs :func:`kcover.select` on all rows or, given labels, within each class
on its share of the budget (:func:`kcover.data.budget.class_budgets`), in one kernel (one
bandwidth, from all rows). :func:`subset_table` is the output contract of ``kcover select
--data``: the selected rows unchanged, in selection order, plus ``kcover_rank``,
``kcover_index`` (the row in the input), ``kcover_gain`` and ``kcover_weight``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kcover import checks
from kcover.data.budget import class_budgets, resolve_budget
from kcover.kernels import KERNELS, Kernel, make_kernel
from kcover.selection.entry import select
from kcover.selection.kcenter import DEFAULT_KERNEL as KCENTER_KERNEL
from kcover.selection.result import Selection

OUTPUT_COLUMNS = ("kcover_rank", "kcover_index", "kcover_gain", "kcover_weight")


def select_rows(
    features: Any,
    k: Any,
    *,
    labels: Any = None,
    per_class_mode: str = "proportional",
    method: str = "lazy",
    kernel: str | Kernel | None = None,
    bandwidth: float | None = None,
    progress: bool = False,
    **options: Any,
) -> Selection:
    """Select ``k`` (a count, ``"10%"`` or a fraction) of the rows of ``features`` (N, d).

    Without ``labels`` this is :func:`kcover.select`. With ``labels`` (N,) the budget is split
    over the classes (``per_class_mode`` "proportional" or "equal") and each class selects from
    its own rows, covering its own rows. The picks are then ordered by gain, largest first
    (stable), so every prefix is a good smaller subset; ``objective`` is then the running sum
    of the gains (facility location and random: F of the union, since each class covers its
    own rows). ``info["class_budgets"]`` maps class -> budget. Indices are rows of ``features``.
    """
    x = checks.features(features, "features")
    n = x.shape[0]
    k = resolve_budget(k, n, "k")
    if isinstance(kernel, Kernel):
        kern = kernel
    else:
        name = checks.choice(kernel or (KCENTER_KERNEL if method == "kcenter" else "rbf"), KERNELS, "kernel")
        kern = make_kernel(name, bandwidth, x)
    if labels is None:
        return select(x, k, method=method, kernel=kern, **options)
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels: must be (N,) = ({n},), got shape {y.shape}")
    classes, ids = np.unique(y, return_inverse=True)
    names = [str(c) for c in classes]
    budgets = class_budgets(np.bincount(ids, minlength=len(classes)), k, per_class_mode, names)
    from tqdm.auto import tqdm

    parts, coverage = [], np.zeros(n, np.float32)
    for c in tqdm(range(len(classes)), desc="classes", unit="class", disable=not progress or len(classes) < 2):
        rows = np.flatnonzero(ids == c)
        if budgets[c] == 0:
            continue
        sel = select(x[rows], int(budgets[c]), method=method, kernel=kern, **options)
        coverage[rows] = np.asarray(sel.coverage, np.float32)
        parts.append(
            (
                rows[np.asarray(sel.indices)],
                np.asarray(sel.gains, np.float64),
                np.asarray(sel.weights, np.float64),
                np.asarray(sel.objective, np.float64),
            )
        )
    idx, gains, weights, objs = (np.concatenate(p) for p in zip(*parts))
    order = np.argsort(-gains, kind="stable")
    objective = objs[order] if method == "kcenter" else np.cumsum(gains[order])
    info = {"class_budgets": {names[c]: int(budgets[c]) for c in range(len(classes))}, "kernel": kern.name}
    return Selection(idx[order].astype(np.int64), gains[order], objective, weights[order], coverage, method, info)


def subset_table(table: Any, sel: Selection) -> Any:
    """The selected rows of ``table`` (a :class:`datasets.Dataset`) in selection order, through
    ``Dataset.select``, with the columns of :data:`OUTPUT_COLUMNS` added."""
    taken = [c for c in OUTPUT_COLUMNS if c in table.column_names]
    if taken:
        raise ValueError(
            f"--data: already has a column {taken[0]!r} (an earlier output of kcover select?); remove or rename it"
        )
    from kcover.data.tables import quiet_datasets

    idx = np.asarray(sel.indices, np.int64)
    with quiet_datasets():
        out = table.select(idx.tolist())
        out = out.add_column("kcover_rank", np.arange(idx.size, dtype=np.int64).tolist())
        out = out.add_column("kcover_index", idx.tolist())
        out = out.add_column("kcover_gain", np.asarray(sel.gains, np.float64).tolist())
        return out.add_column("kcover_weight", np.asarray(sel.weights, np.float64).tolist())


def select_dataset(
    dataset: Any,
    k: Any,
    *,
    text_column: str | None = None,
    image_column: str | None = None,
    features_column: str | None = None,
    encoder: str | None = None,
    input_features: str | None = None,
    per_class: str | None = None,
    per_class_mode: str = "proportional",
    method: str = "lazy",
    kernel: str | None = None,
    weights: str | None = None,
    max_length: int | None = None,
    cache_dir: str | None = None,
    progress: bool = False,
    **options: Any,
) -> Any:
    """Select ``k`` rows (a count, ``"10%"`` or a fraction) of a :class:`datasets.Dataset`.

    The features come from exactly one of ``encoder`` (on ``text_column`` or ``image_column``),
    ``features_column`` (vectors in the dataset), or ``input_features`` ("lexical" on a text
    column, "pixels" on an image column); ``per_class`` names a label column whose classes split
    the budget (see :func:`select_rows`). Returns ``dataset.select(picks)`` (k rows, selection
    order) with ``kcover_rank``, ``kcover_index``, ``kcover_gain``, ``kcover_weight`` added.
    ``cache_dir``: the embedding cache (None: off).
    """
    from kcover.data.columns import FeatureSpec, table_features
    from kcover.data.columns import labels as label_values

    spec = FeatureSpec(
        text_column=text_column,
        image_column=image_column,
        features_column=features_column,
        encoder=encoder,
        input_features=input_features,
        weights=weights,
        max_length=max_length,
        cache_dir=cache_dir,
    )
    if not hasattr(dataset, "select") or not hasattr(dataset, "column_names"):
        raise ValueError(f"dataset: must be a datasets.Dataset, got {type(dataset).__name__}")
    x, _ = table_features(dataset, spec, progress)
    y = None if per_class is None else label_values(dataset, per_class)
    sel = select_rows(
        x, k, labels=y, per_class_mode=per_class_mode, method=method, kernel=kernel, progress=progress, **options
    )
    return subset_table(dataset, sel)
