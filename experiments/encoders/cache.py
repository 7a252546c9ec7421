"""Embedding a dataset, with an on-disk feature cache.

A cache file holds the features (N, D) float32 and the key they were computed under: the
encoder (name, weights fingerprint, random init, dtype, dimension, its own preprocessing),
the dataset, split and the caller's preprocessing, and N. The file name is derived from a
hash of the key, and the key is stored inside the file too, so a file renamed, copied or
written under another key is detected. Files are written atomically (a temporary file in the
same directory, fsynced, then ``os.replace``), so a crash never leaves a half-written cache
under the final name.

On load, a file that cannot be read, holds a different key, has the wrong shape or dtype, or
whose features do not match the stored SHA-256 is never used: a :class:`FeatureCacheWarning`
names the file and the reason, and the features are recomputed and the file rewritten.

``dataset`` must identify the data's contents (include a version or a content hash if the
data can change under the same name): the cache checks N, not every item.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments.encoders.base import Encoder, check_batch_size

CACHE_FORMAT = 1


class FeatureCacheWarning(UserWarning):
    """A feature cache file was unusable (corrupt or written under another key) and is rebuilt."""


def cache_key(encoder: Encoder, *, dataset: str, split: str, preprocessing: str, n_items: int) -> dict[str, Any]:
    """The full key of a dataset's features under ``encoder``."""
    for value, name in ((dataset, "dataset"), (split, "split"), (preprocessing, "preprocessing")):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: must be a non-empty string, got {value!r}")
    return {
        "format": CACHE_FORMAT,
        **encoder.identity,
        "dataset": dataset,
        "split": split,
        "preprocessing": preprocessing,
        "n_items": int(n_items),
    }


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: str | os.PathLike, key: dict[str, Any]) -> Path:
    """Where the features of ``key`` are cached: ``<encoder>-<dataset>-<split>-<hash16>.npz``."""
    slug = "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", str(key[f]))[:40] for f in ("encoder", "dataset", "split"))
    return Path(cache_dir) / f"{slug}-{_digest(key)[:16]}.npz"


def _features_sha(features: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()


def save_features(path: str | os.PathLike, key: dict[str, Any], features: np.ndarray) -> None:
    """Write ``features`` (N, D) float32 with ``key`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    features = np.ascontiguousarray(features, dtype=np.float32)
    meta = {"key": key, "shape": list(features.shape), "sha256": _features_sha(features)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, features=features, meta=np.array(json.dumps(meta, sort_keys=True)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_features(path: str | os.PathLike, key: dict[str, Any], dim: int) -> np.ndarray | None:
    """The cached features at ``path`` if they are valid for ``key``, else None.

    Returns None silently when there is no file; warns (:class:`FeatureCacheWarning`) and
    returns None when a file exists but must not be used.
    """
    path = Path(path)
    if not path.exists():
        return None
    reason = None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            features = z["features"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        reason = f"it cannot be read ({type(err).__name__}: {err})"
    else:
        stored = meta.get("key") if isinstance(meta, dict) else None
        if stored != key:
            fields = sorted(k for k in set(key) | set(stored or {}) if (stored or {}).get(k) != key.get(k))
            reason = f"it was written under another key (differs in {fields})"
        elif features.dtype != np.float32 or features.shape != (key["n_items"], dim):
            reason = f"it holds {features.dtype} {features.shape}, expected float32 ({key['n_items']}, {dim})"
        elif meta.get("sha256") != _features_sha(features):
            reason = "its features do not match their stored checksum"
    if reason is None:
        return features
    warnings.warn(f"feature cache {path}: {reason}; recomputing", FeatureCacheWarning, stacklevel=3)
    return None


def embed_dataset(
    encoder: Encoder,
    items: Any,
    *,
    cache_dir: str | os.PathLike | None,
    dataset: str,
    split: str,
    preprocessing: str,
    batch_size: int | None = None,
    progress: bool = True,
    chunk_rows: int | None = None,
) -> np.ndarray:
    """Features of every item: (N, D) float32, row i for ``items[i]``, cached on disk.

    ``items`` is a sequence with ``len`` and slicing (a list of strings for a text encoder, an
    array (N, H, W, C) or a lazy sequence returning such arrays for an image encoder). It is
    read ``batch_size`` items at a time (default ``encoder.batch_size``) under a tqdm progress
    bar. ``cache_dir=None`` disables the cache. ``dataset``, ``split`` and ``preprocessing``
    (the caller's own preprocessing of the items, e.g. ``"uint8-32px"``) are part of the key.

    ``chunk_rows`` (with a cache) makes the work resumable: every ``chunk_rows`` rows are saved
    as their own checked file in ``<cache file>.parts/`` (atomically, like the final file), a
    later call with the same key reuses the chunks already there (an unusable chunk is
    recomputed with a :class:`FeatureCacheWarning`), and the folder is removed once the whole
    cache file is written.
    """
    try:
        n = len(items)
        items[0:0]
    except TypeError as err:
        raise ValueError(f"items: must be a sequence with len() and slicing, got {type(items).__name__}") from err
    if n == 0:
        raise ValueError("items: is empty")
    step = encoder.batch_size if batch_size is None else check_batch_size(batch_size)
    key = cache_key(encoder, dataset=dataset, split=split, preprocessing=preprocessing, n_items=n)
    path = None
    if cache_dir is not None:
        path = cache_path(cache_dir, key)
        cached = load_features(path, key, encoder.dim)
        if cached is not None:
            return cached
    from tqdm.auto import tqdm

    out = np.empty((n, encoder.dim), np.float32)
    if chunk_rows is None or path is None:
        spans = [(0, n)]
    else:
        chunk_rows = check_batch_size(chunk_rows)
        spans = [(a, min(a + chunk_rows, n)) for a in range(0, n, chunk_rows)]
    parts = None if len(spans) == 1 else path.with_suffix(".parts")
    with tqdm(
        total=n, desc=f"{encoder.name} {dataset}/{split}", unit="row", disable=not progress, file=sys.stderr
    ) as bar:
        for lo, hi in spans:
            part_key = {**key, "chunk": [lo, hi], "n_items": hi - lo}
            part = None if parts is None else parts / f"{lo:012d}-{hi:012d}.npz"
            done = None if part is None else load_features(part, part_key, encoder.dim)
            if done is not None:
                out[lo:hi] = done
                bar.update(hi - lo)
                continue
            for start in range(lo, hi, step):
                stop = min(start + step, hi)
                out[start:stop] = encoder.encode(items[start:stop])
                bar.update(stop - start)
            if part is not None:
                save_features(part, part_key, out[lo:hi])
    if path is not None:
        save_features(path, key, out)
        if parts is not None:
            shutil.rmtree(parts, ignore_errors=True)
    return out
