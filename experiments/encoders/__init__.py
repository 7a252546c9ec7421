"""Pretrained encoders in JAX and their random-init twins, with a feature cache.

    from kcover.experiments.encoders import get_encoder, embed_dataset

    enc = get_encoder("vit-b16", "/models/vit-base-patch16-224")       # or random_init=True
    feats = enc.encode(images)                                          # (B, 768) float32
    x = embed_dataset(enc, images, cache_dir="cache", dataset="cifar10-v1",
                      split="train", preprocessing="uint8-32px")        # (N, 768), cached

Five encoders (see :data:`ENCODERS`): ``minilm`` (all-MiniLM-L6-v2, shipped), ``qwen2.5``
(Qwen2.5-0.5B, mean-pooled), ``vit-b16``, ``clip-b32`` (vision tower), and
``efficientnet-lite0`` (shipped). Nothing downloads; see :mod:`kcover.experiments.encoders.weights`
for where weights are looked for.
"""

from kcover.experiments.encoders.base import Encoder as Encoder
from kcover.experiments.encoders.base import ImageEncoder as ImageEncoder
from kcover.experiments.encoders.base import ImagePipeline as ImagePipeline
from kcover.experiments.encoders.base import TextEncoder as TextEncoder
from kcover.experiments.encoders.cache import FeatureCacheWarning as FeatureCacheWarning
from kcover.experiments.encoders.cache import cache_key as cache_key
from kcover.experiments.encoders.cache import cache_path as cache_path
from kcover.experiments.encoders.cache import embed_dataset as embed_dataset
from kcover.experiments.encoders.registry import ENCODERS as ENCODERS
from kcover.experiments.encoders.registry import TEXT_ENCODERS as TEXT_ENCODERS
from kcover.experiments.encoders.registry import get_encoder as get_encoder
from kcover.experiments.encoders.weights import WEIGHTS_ENV as WEIGHTS_ENV
from kcover.experiments.encoders.weights import default_dir as default_dir
