"""A table's columns as what selection needs: texts, image paths, vectors, labels, features.

Each function takes a :class:`datasets.Dataset` and a column name and raises ValueError naming
the flag and the column (and the row, 1-based, where one is at fault).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kcover import checks

INPUT_FEATURES = ("lexical", "pixels")
PIXEL_SIDE = 32  # images are read at PIXEL_SIDE x PIXEL_SIDE for --input-features pixels


@dataclass(frozen=True)
class FeatureSpec:
    """Where a table's features come from: exactly one of ``encoder`` (with ``text_column`` or
    ``image_column``), ``features_column``, or ``input_features`` ("lexical" on ``text_column``,
    "pixels" on ``image_column``). ``weights``, ``max_length``, ``cache_dir``: the encoder's."""

    text_column: str | None = None
    image_column: str | None = None
    features_column: str | None = None
    encoder: str | None = None
    input_features: str | None = None
    weights: str | None = None
    max_length: int | None = None
    cache_dir: str | None = None
    base_dir: str = "."  # relative image paths are relative to this folder (the data file's)


def column(table: Any, name: str, flag: str) -> Any:
    """The pyarrow ChunkedArray of column ``name``, or an error listing the columns there are."""
    if name not in table.column_names:
        raise ValueError(f"{flag}: no column {name!r} (columns: {', '.join(table.column_names)})")
    return table.data.column(name)


def _first_null(col: Any) -> int | None:
    if col.null_count == 0:
        return None
    import pyarrow.compute as pc

    return int(np.flatnonzero(pc.is_null(col).to_numpy(zero_copy_only=False))[0])


def texts(table: Any, name: str, flag: str = "--text-column") -> list[str]:
    """The strings of a text column (N,); numbers, nulls and blank strings are errors naming the row."""
    import pyarrow as pa

    col = column(table, name, flag)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise ValueError(f"{flag}: column {name!r} holds {col.type} values, not text")
    row = _first_null(col)
    if row is not None:
        raise ValueError(f"{flag}: column {name!r} is null at row {row + 1}")
    values = col.to_pylist()
    blank = next((i for i, v in enumerate(values) if not v.strip()), None)
    if blank is not None:
        raise ValueError(f"{flag}: column {name!r} is blank at row {blank + 1}")
    return values


def image_paths(table: Any, name: str, base_dir: str, flag: str = "--image-column") -> list[str]:
    """The image files a column names (N,), relative paths taken from ``base_dir``; each must exist."""
    paths = [p if os.path.isabs(p) else os.path.join(base_dir, p) for p in texts(table, name, flag)]
    missing = next((i for i, p in enumerate(paths) if not os.path.isfile(p)), None)
    if missing is not None:
        raise ValueError(f"{flag}: row {missing + 1} of column {name!r} names no file: {paths[missing]}")
    return paths


def vectors(table: Any, name: str, flag: str = "--features-column") -> np.ndarray:
    """(N, d) float32 from a column of equal-length number lists."""
    col = column(table, name, flag)
    row = _first_null(col)
    if row is not None:
        raise ValueError(f"{flag}: column {name!r} is null at row {row + 1}")
    try:
        x = np.asarray(col.to_pylist(), dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{flag}: column {name!r} must hold lists of numbers of one length (vectors)") from None
    if x.ndim != 2:
        raise ValueError(f"{flag}: column {name!r} must hold lists of numbers of one length, got shape {x.shape}")
    return checks.features(x, flag)


def labels(table: Any, name: str, flag: str = "--per-class") -> np.ndarray:
    """(N,) the values of a label column (any scalar type; nulls are an error)."""
    col = column(table, name, flag)
    row = _first_null(col)
    if row is not None:
        raise ValueError(f"{flag}: column {name!r} is null at row {row + 1}")
    values = col.to_pylist()
    if any(isinstance(v, (list, dict)) for v in values[:1]):
        raise ValueError(f"{flag}: column {name!r} must hold class labels (strings or integers), not {col.type}")
    return np.asarray(values)


def read_pixels(paths: list[str], flag: str = "--image-column") -> np.ndarray:
    """uint8 (N, PIXEL_SIDE, PIXEL_SIDE, 3) from image files, resized with PIL."""
    from PIL import Image

    out = np.empty((len(paths), PIXEL_SIDE, PIXEL_SIDE, 3), np.uint8)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                out[i] = np.asarray(im.convert("RGB").resize((PIXEL_SIDE, PIXEL_SIDE), Image.Resampling.BILINEAR))
        except (OSError, ValueError) as err:
            raise ValueError(f"{flag}: cannot read image {p} (row {i + 1}: {err})") from None
    return out


def check_columns(table: Any, spec: FeatureSpec) -> None:
    """Fail fast, before any embedding: every column ``spec`` names exists, and text holds text."""
    if spec.text_column is not None:
        texts(table, spec.text_column)
    if spec.image_column is not None:
        column(table, spec.image_column, "--image-column")
    if spec.features_column is not None:
        column(table, spec.features_column, "--features-column")


def table_features(table: Any, spec: FeatureSpec, progress: bool = True) -> tuple[np.ndarray, str]:
    """((N, d) float32 features of the table's rows, a description of the geometry) per ``spec``."""
    from kcover.data.embedders import embed_values
    from kcover.featurize import hash_text, pixel_features

    chosen = [
        f
        for f, v in (
            ("--encoder", spec.encoder),
            ("--features-column", spec.features_column),
            ("--input-features", spec.input_features),
        )
        if v is not None
    ]
    if len(chosen) != 1:
        raise ValueError(
            f"{chosen[1] if len(chosen) > 1 else '--encoder'}: give exactly one of --encoder NAME, "
            "--features-column COL or --input-features lexical|pixels"
        )
    if spec.features_column is not None:
        return vectors(table, spec.features_column), f"vectors of column {spec.features_column!r}"
    if (spec.text_column is None) == (spec.image_column is None):
        raise ValueError("--text-column: name exactly one of --text-column or --image-column")
    kind = "text" if spec.text_column is not None else "image"
    name: str = spec.text_column if spec.text_column is not None else spec.image_column  # type: ignore[assignment]
    flag = "--text-column" if kind == "text" else "--image-column"
    values = texts(table, name, flag) if kind == "text" else image_paths(table, name, spec.base_dir)
    if spec.input_features is not None:
        mode = checks.choice(spec.input_features, INPUT_FEATURES, "--input-features")
        if mode == "lexical":
            if kind != "text":
                raise ValueError("--input-features: lexical hashes text; name the column with --text-column")
            return hash_text(values), f"lexical n-gram hashing of column {name!r}"
        if kind != "image":
            raise ValueError("--input-features: pixels reads images; name the column with --image-column")
        return pixel_features(read_pixels(values), size=(8, 8)), f"pixels of column {name!r}"
    assert spec.encoder is not None  # exactly one source was named, and it is neither of the others
    x = embed_values(
        spec.encoder,
        values,
        kind=kind,
        column=name,
        weights=spec.weights,
        max_length=spec.max_length,
        cache_dir=spec.cache_dir,
        progress=progress,
    )
    return x, f"{spec.encoder} embedding of column {name!r}"
