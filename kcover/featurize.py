"""Cheap input-geometry features: lexical n-gram hashing for text, pixels for images.

These are the paper's *input* geometries (section 4: downsampled pixels; section 5: lexical
n-gram hashing), against which a learner's embedding is compared.

Text (:func:`hash_text`). Each text is lower-cased and split into word tokens (runs of
letters, digits and underscores, Unicode-aware). Its terms are the word n-grams for n in
``word_ngrams`` (joined by single spaces) and the character n-grams for n in ``char_ngrams``
taken inside each word padded by one space on either side (scikit-learn's ``char_wb``
analyzer). Every distinct term t of a text gets a value

* ``tf="raw"``:        count(t)
* ``tf="sublinear"``:  1 + log(count(t))
* ``tf="tfidf"``:      (1 + log(count(t))) * idf(t),  idf(t) = log((1 + n) / (1 + df(t))) + 1

(df(t): the number of the given texts that contain t, so tf-idf is fit on the texts passed in),
and is added with a sign into one of ``dim`` buckets. Bucket and sign come from a stable hash,
BLAKE2b of the seed and the term (never Python's per-process randomized ``hash()``): the bucket
is the first 8 bytes modulo ``dim``, the sign is the 9th byte's low bit. Word and character
terms are hashed in separate namespaces. Finally each row is L2-normalized (an empty text stays
a zero row). The output is dense float32 (n, dim): 16 KiB a row at the default dim = 4096
(50 MB for 3,000 texts; dim = 2**16 would be 786 MB). Time O(total characters * number of
n-gram lengths) in Python (each distinct word's character n-grams and each distinct term's
hash are computed once per call); about 2-5 s for 3,000 short documents on a busy CPU.

Images (:func:`pixel_features`). Each image (H, W) or (H, W, channels) is downsampled to
``size`` by area averaging (each output pixel is the overlap-weighted mean of the input pixels
its area covers, exact for any H, W), flattened in (row, column, channel) order, and each
column is standardized to zero mean and unit variance over the n images (a constant column
becomes 0).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kcover import checks

TF_MODES = ("raw", "sublinear", "tfidf")
_WORD = re.compile(r"\w+", re.UNICODE)


def _ngram_range(value: Any, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: must be a pair (min_n, max_n) or None, got {value!r}") from err
    if not 1 <= lo <= hi:
        raise ValueError(f"{name}: needs 1 <= min_n <= max_n, got {value!r}")
    return lo, hi


class _Vocabulary:
    """Term ids, assigned in order of first appearance, with a per-word cache of char n-grams."""

    def __init__(self, words: tuple[int, int] | None, chars: tuple[int, int] | None):
        self.words, self.chars = words, chars
        self.ids: dict[str, int] = {}
        self._char_cache: dict[str, np.ndarray] = {}

    def _char_ids(self, token: str) -> np.ndarray:
        found = self._char_cache.get(token)
        if found is None:
            padded = f" {token} "
            assert self.chars is not None  # character n-grams are asked for only when they are on
            grams = [
                padded[i : i + n] for n in range(self.chars[0], self.chars[1] + 1) for i in range(len(padded) - n + 1)
            ]
            ids = self.ids
            found = self._char_cache[token] = np.array([ids.setdefault("c\x00" + g, len(ids)) for g in grams], np.int64)
        return found

    def term_ids(self, text: str) -> np.ndarray:
        """Ids of every term occurrence in ``text`` (with repetition)."""
        tokens = _WORD.findall(text.lower())
        parts = []
        if self.words is not None:
            grams = [
                " ".join(tokens[i : i + n])
                for n in range(self.words[0], self.words[1] + 1)
                for i in range(len(tokens) - n + 1)
            ]
            ids = self.ids
            parts.append(np.array([ids.setdefault("w\x00" + g, len(ids)) for g in grams], np.int64))
        if self.chars is not None:
            parts.extend(self._char_ids(tok) for tok in tokens)
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def hash_text(
    texts: Sequence[str] | Iterable[str],
    *,
    dim: int = 4096,
    word_ngrams: tuple[int, int] | None = (1, 2),
    char_ngrams: tuple[int, int] | None = (3, 5),
    tf: str = "sublinear",
    seed: int = 0,
) -> np.ndarray:
    """Lexical n-gram hashing features (n, dim) float32, rows L2-normalized.

    Args:
      texts: n strings.
      dim: number of hash buckets (columns); memory is 4 * n * dim bytes.
      word_ngrams: (min_n, max_n) word n-gram lengths, or None for no word terms.
      char_ngrams: (min_n, max_n) character n-gram lengths within words, or None.
      tf: "sublinear" (1 + log count, default), "tfidf" (sublinear times smooth idf fit on
        ``texts``) or "raw" (counts).
      seed: salts the hash; a different seed is a different random signed projection.
    """
    if isinstance(texts, (str, bytes)):
        raise ValueError("texts: must be a sequence of strings, not one string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts: is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts: entry {i} is {type(t).__name__}, not a string")
    dim = checks.positive_int(dim, "dim", maximum=1 << 26)
    words = _ngram_range(word_ngrams, "word_ngrams")
    chars = _ngram_range(char_ngrams, "char_ngrams")
    if words is None and chars is None:
        raise ValueError("word_ngrams: word_ngrams and char_ngrams cannot both be None")
    checks.choice(tf, TF_MODES, "tf")
    salt = int(seed).to_bytes(8, "little", signed=True)

    vocab = _Vocabulary(words, chars)
    occurrences = [vocab.term_ids(t) for t in texts]
    n, v = len(texts), max(len(vocab.ids), 1)
    doc_of = np.repeat(np.arange(n, dtype=np.int64), [o.size for o in occurrences])
    pairs, counts = np.unique(doc_of * v + np.concatenate(occurrences), return_counts=True)
    rows, term_ids = pairs // v, pairs % v
    digests = [hashlib.blake2b(term.encode("utf-8"), digest_size=9, key=salt).digest() for term in vocab.ids]
    bucket = np.array([int.from_bytes(h[:8], "little") % dim for h in digests], np.int64)
    sign = np.array([1.0 if h[8] & 1 else -1.0 for h in digests], np.float64)

    values = counts.astype(np.float64) if tf == "raw" else 1.0 + np.log(counts)
    if tf == "tfidf":
        df = np.bincount(term_ids, minlength=v)
        values = values * (np.log((1.0 + n) / (1.0 + df)) + 1.0)[term_ids]
    out = np.bincount(rows * dim + bucket[term_ids], weights=sign[term_ids] * values, minlength=n * dim)
    out = out.reshape(n, dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output cell j averages input cells by their overlap with it."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def downsample(images: Any, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Area-average ``images`` (n, H, W) or (n, H, W, ch) to (n, size[0], size[1], ch) float32."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"images: expected (n, H, W) or (n, H, W, channels), got shape {arr.shape}")
    if arr.shape[0] == 0 or min(arr.shape[1:]) == 0:
        raise ValueError(f"images: is empty, shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"images: must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("images: contains NaN or inf")
    try:
        sh, sw = (int(s) for s in size)
    except (TypeError, ValueError) as err:
        raise ValueError(f"size: must be a pair (height, width), got {size!r}") from err
    if sh < 1 or sw < 1:
        raise ValueError(f"size: must be positive, got {size!r}")
    ah, aw = _area_matrix(arr.shape[1], sh), _area_matrix(arr.shape[2], sw)
    return np.einsum("ih,nhwc,jw->nijc", ah, arr, aw, optimize=True).astype(np.float32)


def pixel_features(images: Any, *, size: tuple[int, int] = (8, 8), standardize: bool = True) -> np.ndarray:
    """Pixel features (n, size[0] * size[1] * channels) float32 from ``images`` (n, H, W[, ch]).

    Downsampled by area averaging (:func:`downsample`), flattened, and (``standardize``) each
    column shifted to mean 0 and scaled to standard deviation 1 over the n images.
    """
    small = downsample(images, size)
    flat = small.reshape(small.shape[0], -1).astype(np.float64)
    if standardize:
        flat = flat - flat.mean(axis=0)
        std = flat.std(axis=0)
        ok = std > 1e-9 * max(1.0, float(np.abs(small).max()))
        flat = np.where(ok, flat / np.where(ok, std, 1.0), 0.0)
    return flat.astype(np.float32)
