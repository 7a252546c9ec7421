"""Encoders on tiny random checkpoints saved to disk: parity with transformers' PyTorch models,
round trips, the feature cache, batching without recompilation, the CLI, and input errors.

Everything is offline: the checkpoints and the tokenizer are built here, in tmp directories.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import _tiny
from _jaxtools import count_compiles
from kcover.experiments import embed as embed_cli
from kcover.experiments.encoders import cache as cache_mod
from kcover.experiments.encoders.base import ImagePipeline
from kcover.experiments.encoders.cache import FeatureCacheWarning, cache_key, cache_path, embed_dataset
from kcover.experiments.encoders.registry import get_encoder

DOCS = [
    "the quick brown fox",
    "hello world, how are you? data selection in the learner's geometry, again and again",
    "lazy dog",
    "x",
    "coverage binds",
    "geometry of the learner",
]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest row-wise relative error ||a_i - b_i|| / ||b_i||."""
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))


@pytest.fixture(scope="module")
def qwen_tied(tmp_path_factory):
    d = tmp_path_factory.mktemp("qwen_tied")
    model, tok = _tiny.qwen_dir(d, tied=True, seed=0)
    return d, model, tok


@pytest.fixture(scope="module")
def qwen_enc(qwen_tied):
    return get_encoder("qwen2.5", qwen_tied[0], batch_size=4, max_length=64)


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vit")
    return d, _tiny.vit_dir(d, image_size=32, seed=0)


@pytest.fixture(scope="module")
def vit_enc(vit_dir):
    return get_encoder("vit-b16", vit_dir[0], batch_size=4)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    d = tmp_path_factory.mktemp("clip")
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "vocab_size": 99,
        },
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    _tiny.perturb(model)
    model.save_pretrained(d, safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d)
    return d, model


def _images(n: int, h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def _torch_pixels(images: np.ndarray, mean, std) -> torch.Tensor:
    x = (images.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.tensor(x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- Qwen2 in Flax


def _torch_mean_pooled(model, tok, texts):
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    hidden = out.hidden_states[-1]
    mask = batch["attention_mask"][..., None].float()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy(), hidden.numpy(), out.logits.numpy(), batch


@pytest.mark.integration
def test_qwen2_matches_torch_float32(qwen_tied, qwen_enc):
    """Mean-pooled features, per-token hidden states and tied-embedding logits against
    transformers' Qwen2ForCausalLM (GQA 4/2 heads, biases, rope_theta=12345, padded batch)."""
    from kcover.experiments.encoders.qwen2 import Qwen2

    _, model, tok = qwen_tied
    ref, hidden, logits, batch = _torch_mean_pooled(model, tok, DOCS)
    ours = qwen_enc.encode(DOCS)
    assert ours.shape == (len(DOCS), 64) and ours.dtype == np.float32
    assert rel_err(ours, ref) <= 1e-4

    module = Qwen2(qwen_enc_config(qwen_tied[0]))
    ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
    both = jax.jit(lambda p, i, k: module.apply({"params": p}, i, k, method=_hidden_and_logits))
    h, lo = (np.asarray(a) for a in both(qwen_enc.params, ids, mask))
    m = mask.astype(bool)
    assert rel_err(h[m], hidden[m]) <= 1e-4
    assert rel_err(lo[m], logits[m]) <= 1e-4


def _hidden_and_logits(module, ids, mask):
    hidden = module(ids, mask)
    return hidden, module.logits(hidden)


def qwen_enc_config(directory: Path):
    from kcover.experiments.encoders.qwen2 import Qwen2Config

    return Qwen2Config.from_dict(json.loads((directory / "config.json").read_text()))


@pytest.mark.integration
def test_qwen2_sharded_untied_checkpoint(tmp_path):
    """A sharded safetensors checkpoint with an untied lm_head loads and matches torch."""
    from kcover.experiments.encoders.qwen2 import Qwen2, _call_and_logits

    model, tok = _tiny.qwen_dir(tmp_path, tied=False, shard="40KB", seed=1)
    assert (tmp_path / "model.safetensors.index.json").is_file()
    enc = get_encoder("qwen2.5", tmp_path, batch_size=4, max_length=64)
    ref, _, logits, batch = _torch_mean_pooled(model, tok, DOCS[:3])
    assert rel_err(enc.encode(DOCS[:3]), ref) <= 1e-4
    ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
    module = Qwen2(qwen_enc_config(tmp_path))
    lo = np.asarray(jax.jit(lambda p: module.apply({"params": p}, ids, mask, method=_call_and_logits))(enc.params))
    m = mask.astype(bool)
    assert rel_err(lo[m], logits[m]) <= 1e-4


def test_qwen2_bfloat16_close_to_float32(qwen_tied, qwen_enc):
    enc = get_encoder("qwen2.5", qwen_tied[0], batch_size=4, max_length=64, dtype="bfloat16")
    out = enc.encode(DOCS[:4])
    assert out.dtype == np.float32 and enc.dtype == "bfloat16"
    assert jax.tree_util.tree_leaves(enc.params)[0].dtype == np.dtype("bfloat16")
    assert rel_err(out, qwen_enc.encode(DOCS[:4])) < 3e-2


def test_qwen2_truncates_to_max_length(qwen_tied):
    enc = get_encoder("qwen2.5", qwen_tied[0], batch_size=2, max_length=8)
    long = " ".join(_tiny.CORPUS)
    truncated = qwen_tied[2].decode(qwen_tied[2](long)["input_ids"][:8])
    np.testing.assert_allclose(enc.encode([long]), enc.encode([truncated]), rtol=1e-5, atol=1e-6)


def test_qwen2_random_init_is_seeded(qwen_tied, qwen_enc):
    a = get_encoder("qwen2.5", qwen_tied[0], random_init=True, seed=3, batch_size=4, max_length=64)
    b = get_encoder("qwen2.5", qwen_tied[0], random_init=True, seed=3, batch_size=4, max_length=64)
    c = get_encoder("qwen2.5", qwen_tied[0], random_init=True, seed=4, batch_size=4, max_length=64)
    assert a.fingerprint == b.fingerprint != c.fingerprint != qwen_enc.fingerprint
    assert a.random_init and a.seed == 3 and a.dim == qwen_enc.dim
    fa = a.encode(DOCS[:4])
    np.testing.assert_array_equal(fa, b.encode(DOCS[:4]))
    assert rel_err(fa, c.encode(DOCS[:4])) > 1e-2
    assert rel_err(fa, qwen_enc.encode(DOCS[:4])) > 1e-2


# ---------------------------------------------------------------- batching and compilation


def test_text_batches_do_not_recompile(qwen_enc):
    qwen_enc.encode(DOCS[:3])  # compiles the 16-token bucket
    with count_compiles() as compiles:
        qwen_enc.encode(DOCS[2:5])  # same size, same bucket
        qwen_enc.encode(DOCS[:6])  # two chunks of the fixed batch size
    assert compiles == []
    with count_compiles() as compiles:
        qwen_enc.encode(["word " * 40])  # a longer bucket compiles once
        qwen_enc.encode(["other " * 40])
    assert len(compiles) == 1


def test_image_batches_do_not_recompile(vit_enc):
    vit_enc.encode(_images(3))
    with count_compiles() as compiles:
        vit_enc.encode(_images(3, seed=1))
        vit_enc.encode(_images(7, seed=2))
    assert compiles == []


def test_padding_rows_do_not_change_features(qwen_enc, vit_enc):
    whole = qwen_enc.encode(DOCS)
    parts = np.concatenate([qwen_enc.encode(DOCS[:1]), qwen_enc.encode(DOCS[1:])])
    np.testing.assert_allclose(whole, parts, rtol=1e-5, atol=1e-6)
    imgs = _images(6)
    parts = np.concatenate([vit_enc.encode(imgs[:1]), vit_enc.encode(imgs[1:])])
    np.testing.assert_allclose(vit_enc.encode(imgs), parts, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- ViT and CLIP


@pytest.mark.integration
def test_vit_matches_torch(vit_dir, vit_enc):
    """32x32 inputs need no resize, so the features must match torch's ViTModel [CLS] exactly."""
    _, model = vit_dir
    imgs = _images(5)
    with torch.no_grad():
        ref = model(pixel_values=_torch_pixels(imgs, [0.5] * 3, [0.5] * 3)).last_hidden_state[:, 0].numpy()
    ours = vit_enc.encode(imgs)
    assert ours.shape == (5, 32)
    assert rel_err(ours, ref) <= 1e-4
    np.testing.assert_allclose(vit_enc.encode(imgs.astype(np.float32) / 255.0), ours, rtol=1e-5, atol=1e-6)


def test_vit_bfloat16_close_to_float32(vit_dir, vit_enc):
    enc = get_encoder("vit-b16", vit_dir[0], batch_size=4, dtype="bfloat16")
    imgs = _images(3)
    out = enc.encode(imgs)
    assert out.dtype == np.float32 and rel_err(out, vit_enc.encode(imgs)) < 5e-2


@pytest.mark.integration
def test_clip_vision_tower_from_full_checkpoint(clip_dir):
    _, model = clip_dir
    enc = get_encoder("clip-b32", clip_dir[0], batch_size=4)
    imgs = _images(3, seed=5)
    from kcover.experiments.encoders.vit import CLIP_MEAN, CLIP_STD

    with torch.no_grad():
        ref = model.vision_model(pixel_values=_torch_pixels(imgs, CLIP_MEAN, CLIP_STD)).pooler_output.numpy()
    assert rel_err(enc.encode(imgs), ref) <= 1e-4


@pytest.mark.parametrize("safe", [False, True], ids=["msgpack", "flax-safetensors"])
def test_vit_flax_checkpoint_round_trip(tmp_path, vit_dir, vit_enc, safe):
    """Parameters saved by transformers' Flax ViT (msgpack or Flax safetensors) load back exactly."""
    from transformers import FlaxViTModel, ViTConfig

    model = FlaxViTModel(ViTConfig.from_pretrained(vit_dir[0]), add_pooling_layer=False, _do_init=False)
    model.save_pretrained(tmp_path, params=vit_enc.params, safe_serialization=safe)
    shutil.copy(vit_dir[0] / "preprocessor_config.json", tmp_path)
    assert (tmp_path / ("model.safetensors" if safe else "flax_model.msgpack")).is_file()
    again = get_encoder("vit-b16", tmp_path, batch_size=4)
    for a, b in zip(jax.tree_util.tree_leaves(again.params), jax.tree_util.tree_leaves(vit_enc.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    imgs = _images(3)
    np.testing.assert_allclose(again.encode(imgs), vit_enc.encode(imgs), rtol=1e-6, atol=1e-7)


@pytest.mark.integration
def test_image_pipelines_match_hf_processors():
    """Resize and crop geometry agrees with the transformers processors (up to resampling)."""
    from transformers import CLIPImageProcessor, ViTImageProcessor

    from kcover.experiments.encoders.vit import CLIP_MEAN, CLIP_STD

    yy, xx = np.mgrid[0:60, 0:90]
    smooth = np.stack([xx * 2.5, yy * 3.0, (xx + yy) * 1.5], -1).clip(0, 255).astype(np.uint8)[None]
    cases = [
        (
            ImagePipeline("squash", (32, 32), "linear", (0.5,) * 3, (0.5,) * 3),
            ViTImageProcessor(size={"height": 32, "width": 32}),
        ),
        (
            ImagePipeline("shortest", (32, 32), "cubic", CLIP_MEAN, CLIP_STD, shortest_edge=40),
            CLIPImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}),
        ),
    ]
    for pipeline, processor in cases:
        ours = np.asarray(pipeline.apply(smooth.astype(np.float32) / 255.0))
        ref = processor(images=list(smooth), return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
        assert ours.shape == ref.shape
        assert np.mean(np.abs(ours - ref)) < 0.05, pipeline.mode


def test_vision_random_init_is_seeded(vit_dir, vit_enc):
    twin = get_encoder("vit-b16", vit_dir[0], random_init=True, seed=1, batch_size=4)
    again = get_encoder("vit-b16", vit_dir[0], random_init=True, seed=1, batch_size=4)
    other = get_encoder("vit-b16", vit_dir[0], random_init=True, seed=2, batch_size=4)
    imgs = _images(2)
    np.testing.assert_array_equal(twin.encode(imgs), again.encode(imgs))
    assert rel_err(twin.encode(imgs), vit_enc.encode(imgs)) > 1e-2
    assert rel_err(twin.encode(imgs), other.encode(imgs)) > 1e-2
    assert twin.fingerprint == again.fingerprint != other.fingerprint != vit_enc.fingerprint
    assert twin.dim == vit_enc.dim and twin.random_init and not vit_enc.random_init


@pytest.mark.slow
def test_canonical_random_twins_need_no_weights(tmp_path, monkeypatch):
    """Without a directory, the random twins use the canonical ViT-B/16 and CLIP B/32 towers."""
    monkeypatch.setenv("KCOVER_WEIGHTS_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(FileNotFoundError, match="weights: none given"):
        get_encoder("vit-b16")
    vit = get_encoder("vit-b16", random_init=True)
    clip = get_encoder("clip-b32", random_init=True)
    assert (vit.dim, vit.image_size, clip.dim, clip.image_size) == (768, (224, 224), 768, (224, 224))
    shapes = {tuple(x.shape) for x in jax.tree_util.tree_leaves(vit.params)}
    assert (16, 16, 3, 768) in shapes  # 16x16 patches
    shapes = {tuple(x.shape) for x in jax.tree_util.tree_leaves(clip.params)}
    assert (32, 32, 3, 768) in shapes  # 32x32 patches


# ---------------------------------------------------------------- feature cache


def _embed(enc, items, cache_dir, **kw):
    args = {"dataset": "toy-v1", "split": "train", "preprocessing": "uint8-32px", "progress": False, **kw}
    return embed_dataset(enc, items, cache_dir=cache_dir, **args)


def _only_file(cache_dir: Path) -> Path:
    files = sorted(cache_dir.iterdir())
    assert len(files) == 1, files
    return files[0]


def test_cache_miss_then_hit(tmp_path, vit_enc, monkeypatch):
    imgs = _images(6)
    first = _embed(vit_enc, imgs, tmp_path, batch_size=4)
    np.testing.assert_allclose(first, vit_enc.encode(imgs), rtol=1e-6, atol=1e-7)
    path = _only_file(tmp_path)
    key = cache_key(vit_enc, dataset="toy-v1", split="train", preprocessing="uint8-32px", n_items=6)
    assert path == cache_path(tmp_path, key)

    def no_encode(batch):
        raise AssertionError("a cache hit must not run the encoder")

    monkeypatch.setattr(vit_enc, "encode", no_encode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_embed(vit_enc, imgs, tmp_path), first)


def test_cache_key_separates_split_preprocessing_weights_and_size(tmp_path, vit_enc, vit_dir):
    imgs = _images(4)
    _embed(vit_enc, imgs, tmp_path)
    _embed(vit_enc, imgs, tmp_path, split="test")
    _embed(vit_enc, imgs, tmp_path, preprocessing="uint8-32px-flipped")
    _embed(vit_enc, imgs[:3], tmp_path)
    twin = get_encoder("vit-b16", vit_dir[0], random_init=True, seed=0, batch_size=4)
    _embed(twin, imgs, tmp_path)
    assert len(list(tmp_path.iterdir())) == 5


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, vit_enc, damage):
    imgs = _images(5)
    good = _embed(vit_enc, imgs, tmp_path)
    path = _only_file(tmp_path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a cache file at all")
    else:  # a valid file whose features no longer match their checksum
        with np.load(path) as z:
            feats, meta = z["features"].copy(), z["meta"]
        feats[0, 0] += 1.0
        np.savez(path, features=feats, meta=meta)
    with pytest.warns(FeatureCacheWarning, match="recomputing"):
        again = _embed(vit_enc, imgs, tmp_path)
    np.testing.assert_array_equal(again, good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file is valid
        np.testing.assert_array_equal(_embed(vit_enc, imgs, tmp_path), good)


def test_cache_file_of_another_key_is_not_used(tmp_path, vit_enc):
    imgs = _images(4)
    _embed(vit_enc, imgs, tmp_path, split="train")
    train_file = _only_file(tmp_path)
    key = cache_key(vit_enc, dataset="toy-v1", split="test", preprocessing="uint8-32px", n_items=4)
    test_file = cache_path(tmp_path, key)
    shutil.copy(train_file, test_file)  # the test split's slot now holds train features
    other = _images(4, seed=9)
    with pytest.warns(FeatureCacheWarning, match=r"another key \(differs in \['split'\]\)"):
        feats = _embed(vit_enc, other, tmp_path, split="test")
    np.testing.assert_allclose(feats, vit_enc.encode(other), rtol=1e-6, atol=1e-7)


def test_cache_write_is_atomic(tmp_path, vit_enc, monkeypatch):
    imgs = _images(3)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        _embed(vit_enc, imgs, tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither a final file nor a temporary one


def test_embed_dataset_without_cache_and_bad_items(vit_enc):
    imgs = _images(3)
    np.testing.assert_allclose(_embed(vit_enc, imgs, None), vit_enc.encode(imgs), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="items: is empty"):
        _embed(vit_enc, imgs[:0], None)
    with pytest.raises(ValueError, match="items: must be a sequence"):
        _embed(vit_enc, (x for x in imgs), None)
    with pytest.raises(ValueError, match="split"):
        _embed(vit_enc, imgs, None, split="")


# ---------------------------------------------------------------- input errors


def test_bad_batches_name_the_argument(vit_enc, qwen_enc):
    with pytest.raises(ValueError, match="batch: expected images"):
        vit_enc.encode(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="batch: expected images"):
        vit_enc.encode(np.zeros((2, 32, 32, 4), np.uint8))
    with pytest.raises(ValueError, match="batch: is empty"):
        vit_enc.encode(np.zeros((0, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"batch: float images must lie in \[0, 1\]"):
        vit_enc.encode(np.full((1, 32, 32, 3), 255.0, np.float32))
    with pytest.raises(ValueError, match="batch: images must be uint8 or float"):
        vit_enc.encode(np.zeros((1, 32, 32, 3), np.int64))
    with pytest.raises(ValueError, match="batch: is empty"):
        qwen_enc.encode([])
    with pytest.raises(ValueError, match="single string"):
        qwen_enc.encode("one document")
    with pytest.raises(ValueError, match="batch: item 1"):
        qwen_enc.encode(["fine", 3])
    with pytest.raises(ValueError, match="document 1 has no tokens"):
        qwen_enc.encode(["fine", ""])
    gray = vit_enc.encode(np.full((1, 32, 32, 1), 7, np.uint8))
    np.testing.assert_allclose(gray, vit_enc.encode(np.full((1, 32, 32, 3), 7, np.uint8)), rtol=1e-6)


def test_bad_arguments_name_the_argument(vit_dir):
    with pytest.raises(ValueError, match="name: unknown encoder"):
        get_encoder("resnet50")
    with pytest.raises(ValueError, match="dtype"):
        get_encoder("vit-b16", vit_dir[0], dtype="float16")
    with pytest.raises(ValueError, match="batch_size"):
        get_encoder("vit-b16", vit_dir[0], batch_size=0)
    with pytest.raises(ValueError, match="max_length: only text encoders"):
        get_encoder("vit-b16", vit_dir[0], max_length=16)


def _copy_without(src: Path, dst: Path, *drop: str) -> Path:
    shutil.copytree(src, dst)
    for name in drop:
        (dst / name).unlink()
    return dst


def test_missing_or_incomplete_weights_directory(tmp_path, vit_dir, qwen_tied):
    with pytest.raises(FileNotFoundError, match="weights: directory .* does not exist"):
        get_encoder("vit-b16", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        get_encoder("vit-b16", _copy_without(vit_dir[0], tmp_path / "a", "config.json"))
    with pytest.raises(FileNotFoundError, match="incomplete: it has none of model.safetensors"):
        get_encoder("vit-b16", _copy_without(vit_dir[0], tmp_path / "b", "model.safetensors"))
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        get_encoder("qwen2.5", _copy_without(qwen_tied[0], tmp_path / "c", "tokenizer.json"))
    with pytest.raises(ValueError, match=r"weights: .* is not a directory"):
        get_encoder("qwen2.5", qwen_tied[0] / "config.json")


def test_checkpoint_missing_tensors_or_shards(tmp_path, qwen_tied, vit_dir):
    from safetensors.numpy import load_file, save_file

    d = _copy_without(qwen_tied[0], tmp_path / "q", "model.safetensors")
    tensors = load_file(str(qwen_tied[0] / "model.safetensors"))
    dropped = {k: v for k, v in tensors.items() if "layers.1.self_attn.k_proj.bias" not in k}
    save_file(dropped, str(d / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"incomplete: 1 tensors are missing.*layers.1.self_attn.k_proj.bias"):
        get_encoder("qwen2.5", d)

    v = _copy_without(vit_dir[0], tmp_path / "v", "model.safetensors")
    tensors = load_file(str(vit_dir[0] / "model.safetensors"))
    save_file(
        {k: v_ for k, v_ in tensors.items() if "layernorm" not in k},
        str(v / "model.safetensors"),
        metadata={"format": "pt"},
    )
    with pytest.raises(ValueError, match="incomplete: 10 parameters are missing"):
        get_encoder("vit-b16", v)
    tensors["embeddings.cls_token"] = np.zeros((1, 1, 7), np.float32)
    save_file(tensors, str(v / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="embeddings.cls_token .* has shape"):
        get_encoder("vit-b16", v)

    s = tmp_path / "s"
    s.mkdir()
    shutil.copy(vit_dir[0] / "config.json", s)
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors"}}
    (s / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(FileNotFoundError, match="shards .* are missing"):
        get_encoder("vit-b16", s)


# ---------------------------------------------------------------- command line


def test_cli_text_formats(tmp_path, qwen_tied, qwen_enc):
    docs = DOCS[:5]
    (tmp_path / "docs.txt").write_text("\n".join(docs) + "\n")
    with open(tmp_path / "docs.csv", "w") as f:
        f.write("id,body\n" + "".join(f'{i},"{d}"\n' for i, d in enumerate(docs)))
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    expected = qwen_enc.encode(docs)
    common = [
        "--encoder",
        "qwen2.5",
        "--weights",
        str(qwen_tied[0]),
        "--batch-size",
        "4",
        "--max-length",
        "64",
        "--no-progress",
    ]
    for name, extra in (("docs.txt", []), ("docs.csv", ["--text-column", "body"]), ("docs.jsonl", [])):
        out = tmp_path / f"{name}.npy"
        assert embed_cli.main(common + ["--input", str(tmp_path / name), "--out", str(out)] + extra) == 0
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)


def test_cli_image_folder(tmp_path, vit_dir, vit_enc):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    imgs = _images(3)
    for i, img in enumerate(imgs[::-1]):
        Image.fromarray(img).save(folder / f"img{2 - i}.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "E.npy"
    args = [
        "--encoder",
        "vit-b16",
        "--weights",
        str(vit_dir[0]),
        "--input",
        str(folder),
        "--out",
        str(out),
        "--no-progress",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert embed_cli.main(args) == 0
    np.testing.assert_allclose(np.load(out), vit_enc.encode(imgs), rtol=1e-5, atol=1e-6)
    assert (tmp_path / "E.files.txt").read_text().split() == ["img0.png", "img1.png", "img2.png"]
    assert len(list((tmp_path / "cache").iterdir())) == 1


@pytest.mark.slow
def test_cli_runs_as_a_module(tmp_path, qwen_tied, qwen_enc):
    """``python -m kcover.experiments.embed`` in a fresh process (slow: a second interpreter's imports)."""
    import subprocess
    import sys

    (tmp_path / "docs.txt").write_text("\n".join(DOCS) + "\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "kcover.experiments.embed",
        "--encoder",
        "qwen2.5",
        "--weights",
        str(qwen_tied[0]),
        "--input",
        str(tmp_path / "docs.txt"),
        "--out",
        str(tmp_path / "E.npy"),
        "--batch-size",
        "4",
        "--max-length",
        "64",
    ]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "E.npy"), qwen_enc.encode(DOCS), rtol=1e-5, atol=1e-6)


def test_cli_errors(tmp_path, qwen_tied, vit_dir, capsys):
    (tmp_path / "blank.txt").write_text("one\n\nthree\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "docs.csv").write_text("id,body\n1,hello\n")
    q = ["--encoder", "qwen2.5", "--weights", str(qwen_tied[0]), "--out", str(tmp_path / "E.npy")]
    assert embed_cli.main(q + ["--input", str(tmp_path / "blank.txt")]) == 2
    assert "blank lines [2]" in capsys.readouterr().err
    assert embed_cli.main(q + ["--input", str(tmp_path / "empty.txt")]) == 2
    assert "no documents" in capsys.readouterr().err
    assert embed_cli.main(q + ["--input", str(tmp_path / "docs.csv")]) == 2
    assert "--text-column: no column 'text'" in capsys.readouterr().err
    assert embed_cli.main(q + ["--input", str(tmp_path)]) == 2
    assert "embeds text" in capsys.readouterr().err
    v = ["--encoder", "vit-b16", "--weights", str(vit_dir[0]), "--out", str(tmp_path / "E.npy")]
    assert embed_cli.main(v + ["--input", str(tmp_path / "absent")]) == 2
    assert "--input" in capsys.readouterr().err
    assert embed_cli.main(v + ["--input", str(tmp_path)]) == 2
    assert "no image files" in capsys.readouterr().err
    assert not (tmp_path / "E.npy").exists()


def test_every_encoder_constructor_takes_the_registry_keywords():
    # get_encoder calls each constructor as (weights, random_init=, seed=, dtype=, batch_size=[, max_length=]):
    # the constructors share that signature on purpose; this keeps it one contract
    import inspect

    from kcover.experiments.encoders.registry import DEFAULT_BATCH, ENCODERS, TEXT_ENCODERS, _constructor

    for name in ENCODERS:
        params = inspect.signature(_constructor(name)).parameters
        assert list(params)[0] == "weights" and params["weights"].default is None, name
        for key, default in (("random_init", False), ("seed", 0), ("dtype", "float32")):
            assert params[key].kind is inspect.Parameter.KEYWORD_ONLY and params[key].default == default, (name, key)
        assert params["batch_size"].default == DEFAULT_BATCH[name], name
        assert ("max_length" in params) == (name in TEXT_ENCODERS), name
