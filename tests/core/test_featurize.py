"""Featurizers: known-answer hashing, tf weightings, stability across processes, pixels by area."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from kcover.featurize import downsample, hash_text, pixel_features


def bucket_sign(term: str, dim: int, seed: int = 0) -> tuple[int, float]:
    """The documented hash, computed independently: BLAKE2b(seed key, term), 9 bytes."""
    h = hashlib.blake2b(term.encode("utf-8"), digest_size=9, key=int(seed).to_bytes(8, "little", signed=True)).digest()
    return int.from_bytes(h[:8], "little") % dim, (1.0 if h[8] & 1 else -1.0)


WORDS_ONLY = dict(word_ngrams=(1, 1), char_ngrams=None)


def test_single_word_lands_in_its_documented_bucket_with_its_sign():
    dim = 1 << 20
    x = hash_text(["Hello"], dim=dim, **WORDS_ONLY)
    b, s = bucket_sign("w\x00hello", dim)  # lower-cased, word namespace
    assert x.shape == (1, dim) and x.dtype == np.float32
    assert np.flatnonzero(x[0]).tolist() == [b]
    assert x[0, b] == s


def test_sublinear_raw_and_tfidf_weights():
    dim = 1 << 20
    texts = ["a a b", "b c", "b"]
    (ba, sa), (bb, sb), (bc, sc) = (bucket_sign(f"w\x00{t}", dim) for t in "abc")
    assert len({ba, bb, bc}) == 3  # no collision at this dim, so values are readable

    def raw_values(x, row, buckets_signs):
        return np.array([x[row, b] * s for b, s in buckets_signs])

    sub = hash_text(texts, dim=dim, tf="sublinear", **WORDS_ONLY)
    v = raw_values(sub, 0, [(ba, sa), (bb, sb)])
    expected = np.array([1 + np.log(2), 1.0])
    np.testing.assert_allclose(v, expected / np.linalg.norm(expected), rtol=1e-6)

    raw = hash_text(texts, dim=dim, tf="raw", **WORDS_ONLY)
    v = raw_values(raw, 0, [(ba, sa), (bb, sb)])
    np.testing.assert_allclose(v, np.array([2.0, 1.0]) / np.sqrt(5.0), rtol=1e-6)

    tfidf = hash_text(texts, dim=dim, tf="tfidf", **WORDS_ONLY)
    idf = lambda df: np.log((1 + 3) / (1 + df)) + 1
    v = raw_values(tfidf, 1, [(bb, sb), (bc, sc)])  # "b c": b in all 3 texts, c in 1
    expected = np.array([idf(3), idf(1)])
    np.testing.assert_allclose(v, expected / np.linalg.norm(expected), rtol=1e-6)


def test_word_bigrams_and_char_ngrams_are_the_documented_terms():
    dim = 1 << 20
    x = hash_text(["ab cd"], dim=dim, word_ngrams=(2, 2), char_ngrams=None)
    assert np.flatnonzero(x[0]).tolist() == [bucket_sign("w\x00ab cd", dim)[0]]
    x = hash_text(["ab"], dim=dim, word_ngrams=None, char_ngrams=(3, 4))
    terms = {" ab", "ab ", " ab "}  # within the space-padded word
    assert set(np.flatnonzero(x[0]).tolist()) == {bucket_sign("c\x00" + t, dim)[0] for t in terms}


def test_rows_are_unit_norm_empty_text_is_zero_and_related_texts_are_closer():
    texts = ["the hockey game went to overtime", "overtime in the hockey final", "graphics card driver crash", ""]
    x = hash_text(texts, dim=4096)
    norms = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(norms[:3], 1.0, rtol=1e-5)
    assert norms[3] == 0.0
    assert x[0] @ x[1] > x[0] @ x[2] + 0.1


def test_seed_changes_the_projection_and_same_seed_repeats():
    texts = ["alpha beta gamma", "beta gamma delta"]
    a, b, c = hash_text(texts, seed=0), hash_text(texts, seed=0), hash_text(texts, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_hash_is_stable_across_processes_with_different_hash_seeds():
    code = (
        "import hashlib, numpy as np; from kcover.featurize import hash_text; "
        "x = hash_text(['Stable hashing, please!', 'second text'], dim=512); "
        "print(hashlib.sha256(x.tobytes()).hexdigest())"
    )
    digests = set()
    for hs in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hs, JAX_PLATFORMS="cpu")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        digests.add(out.stdout.strip())
    here = hash_text(["Stable hashing, please!", "second text"], dim=512)
    digests.add(hashlib.sha256(here.tobytes()).hexdigest())
    assert len(digests) == 1


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(texts="just one string"), "texts"),
        (dict(texts=["ok", 3]), "texts"),
        (dict(texts=[]), "texts"),
        (dict(texts=["a"], dim=0), "dim"),
        (dict(texts=["a"], tf="bm25"), "tf"),
        (dict(texts=["a"], word_ngrams=(2, 1)), "word_ngrams"),
        (dict(texts=["a"], word_ngrams=None, char_ngrams=None), "word_ngrams"),
    ],
)
def test_bad_text_input_names_the_argument(kwargs, name):
    texts = kwargs.pop("texts")
    with pytest.raises(ValueError, match=f"^{name}:"):
        hash_text(texts, **kwargs)


def test_downsample_is_block_mean_when_divisible():
    img = np.arange(16, dtype=np.float64).reshape(1, 4, 4)
    out = downsample(img, (2, 2))
    expected = img[0].reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out[0, :, :, 0], expected)


def test_downsample_weights_partial_pixels_by_overlap():
    # 3 columns -> 2: the first output covers [0, 1.5): weights 2/3, 1/3, 0; the second 0, 1/3, 2/3.
    img = np.array([[[0.0, 3.0, 6.0]]])  # (1, 1, 3)
    out = downsample(img, (1, 2))[0, 0, :, 0]
    np.testing.assert_allclose(out, [2 / 3 * 0 + 1 / 3 * 3, 1 / 3 * 3 + 2 / 3 * 6], rtol=1e-6)


def test_pixel_features_shape_order_and_standardization():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(10, 16, 12, 3)).astype(np.uint8)
    imgs[:, :, :, 2] = 7  # a constant channel
    f = pixel_features(imgs, size=(4, 3))
    assert f.shape == (10, 4 * 3 * 3) and f.dtype == np.float32
    small = downsample(imgs, (4, 3)).reshape(10, -1)  # (row, column, channel) order
    varying = small.std(axis=0) > 0
    expected = (small - small.mean(0)) / np.where(varying, small.std(0), 1)
    np.testing.assert_allclose(f[:, varying], expected[:, varying], rtol=1e-4, atol=1e-5)
    assert np.all(f[:, ~varying] == 0.0) and (~varying).sum() == 12
    np.testing.assert_allclose(f[:, varying].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(f[:, varying].std(0), 1.0, rtol=1e-4)


@pytest.mark.parametrize(
    "images, size", [(np.zeros((2, 4)), (2, 2)), (np.zeros((2, 4, 4)), (0, 2)), (np.full((1, 2, 2), np.nan), (1, 1))]
)
def test_bad_images_raise(images, size):
    with pytest.raises(ValueError, match="^(images|size):"):
        pixel_features(images, size=size)
