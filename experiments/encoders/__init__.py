"""Pretrained encoders in JAX and their random-init twins, with a feature cache.

    from kcover.experiments.encoders.cache import embed_dataset
    from kcover.experiments.encoders.registry import get_encoder

    enc = get_encoder("vit-b16", "/models/vit-base-patch16-224")       # or random_init=True
    feats = enc.encode(images)                                          # (B, 768) float32
    x = embed_dataset(enc, images, cache_dir="cache", dataset="cifar10-v1",
                      split="train", preprocessing="uint8-32px")        # (N, 768), cached

Five encoders (see :data:`ENCODERS`): ``minilm`` (all-MiniLM-L6-v2, shipped), ``qwen2.5``
(Qwen2.5-0.5B, mean-pooled), ``vit-b16``, ``clip-b32`` (vision tower), and
``efficientnet-lite0`` (shipped). Each name has one home: the encoder classes in
:mod:`~kcover.experiments.encoders.base`, the registry in :mod:`~kcover.experiments.encoders.registry`,
the cache in :mod:`~kcover.experiments.encoders.cache`. Nothing downloads; see
:mod:`kcover.experiments.encoders.weights` for where weights are looked for.
"""
