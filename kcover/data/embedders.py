"""The learner's embedding of a column, through the encoders registered as plugins.

The core never imports the encoders: they register under the entry-point group
``kcover.embedders`` (see pyproject.toml; ``kcover[experiments]`` ships the five JAX encoders
minilm, qwen2.5, vit-b16, clip-b32, efficientnet-lite0). An entry point names a function

    embed(name, values, *, kind, weights, max_length, content, column, cache_dir, progress) -> (N, D)

where ``values`` are N strings (``kind="text"``) or N image paths (``kind="image"``),
``content`` is :func:`content_digest` of the values and ``column`` the column's name. It caches
the features under ``cache_dir`` (None: no cache) keyed by content, column, encoder, the
weights' fingerprint and the maximum length, resuming a killed run from its finished chunks.

The cache folder: ``--embed-cache DIR``, else ``$KCOVER_EMBED_CACHE``, else
``$XDG_CACHE_HOME/kcover/embeddings`` (``~/.cache/kcover/embeddings``); ``off`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
from importlib.metadata import entry_points
from typing import Any

import numpy as np

GROUP = "kcover.embedders"
CACHE_ENV = "KCOVER_EMBED_CACHE"
OFF = ("off", "none", "0", "false")


def embedding_cache_dir(value: str | None = None) -> str | None:
    """The embedding cache folder (see the module note), or None when it is off."""
    chosen = value if value is not None else os.environ.get(CACHE_ENV, "").strip()
    if chosen and chosen.lower() in OFF:
        return None
    if chosen:
        return os.path.expanduser(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kcover", "embeddings")


def content_digest(values: list[str], kind: str) -> str:
    """SHA-256 of a column's contents: the strings (text), or each file's path, size and
    modification time (images)."""
    h = hashlib.sha256(kind.encode())
    for v in values:
        if kind == "image":
            st = os.stat(v)
            v = f"{os.path.abspath(v)}\0{st.st_size}\0{st.st_mtime_ns}"
        b = v.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def embedder_names() -> tuple[str, ...]:
    """The encoders installed under the ``kcover.embedders`` entry-point group, sorted."""
    return tuple(sorted({e.name for e in entry_points(group=GROUP)}))


def embed_values(
    encoder: str,
    values: list[str],
    *,
    kind: str,
    column: str,
    weights: str | None = None,
    max_length: int | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """(N, D) float32 features of ``values`` (N strings or image paths) under ``encoder``."""
    found = {e.name: e for e in entry_points(group=GROUP)}
    if encoder not in found:
        have = ", ".join(sorted(found)) or "none"
        raise ValueError(
            f"--encoder: unknown encoder {encoder!r} (installed: {have}; the JAX encoders come with "
            "pip install 'kcover[experiments]')"
        )
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2):
        raise ValueError(f"--max-length: must be an integer >= 2, got {max_length!r}")
    fn: Any = found[encoder].load()
    cache_dir = None if cache_dir is None else os.path.expanduser(str(cache_dir))
    where = dict(content=content_digest(values, kind), column=column, cache_dir=cache_dir)  # the cache's key
    x = fn(encoder, list(values), kind=kind, weights=weights, max_length=max_length, progress=progress, **where)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != len(values) or not np.isfinite(x).all():
        raise ValueError(
            f"--encoder: {encoder} returned {x.shape} features with non-finite values or the wrong "
            f"number of rows (expected {len(values)})"
        )
    return x
