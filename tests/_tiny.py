"""Tiny random checkpoints and tokenizers built on disk for offline tests (shared by test modules and by
benchmarks/bench_encoders.py's dry run)."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "data selection in the learner's geometry",
    "hello world, how are you today?",
    "coverage beats random when the budget binds",
]


def perturb(model, scale: float = 0.1) -> None:
    """Move biases and norm weights off their init values, so loading mistakes show."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name or "norm" in name or "class_embedding" in name:
                p.add_(scale * torch.randn(p.shape, generator=gen))


def tokenizer(directory: Path, corpus: list[str] | None = None, vocab_size: int = 300):
    """A byte-level BPE tokenizer trained on ``corpus``, saved to ``directory``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator((corpus or CORPUS) * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(directory)
    return fast


def bert_dir(directory: Path, words: list[str], *, max_positions: int = 64, seed: int = 0, pooler: bool = True):
    """A 2-layer BERT (hidden 32, 4 heads) and a WordPiece vocabulary of ``words`` (plus the special
    tokens) saved to ``directory`` in MiniLM's layout; returns the model (in eval mode)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt"), do_lower_case=True).save_pretrained(directory)
    sizes = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    config = BertConfig(vocab_size=len(vocab), max_position_embeddings=max_positions, **sizes)
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=pooler).eval()
    model.save_pretrained(directory, safe_serialization=True)
    return model


def qwen_dir(
    directory: Path, *, tied: bool = True, shard: str | None = None, corpus: list[str] | None = None, seed: int = 0
):
    """A 2-layer Qwen2 (hidden 64, GQA 4/2 heads, rope theta 12345) and its tokenizer in ``directory``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = tokenizer(directory, corpus)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        rope_theta=12345.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tied,
        max_position_embeddings=256,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    perturb(model)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(directory, safe_serialization=True, **kwargs)
    return model, tok


def vit_dir(directory: Path, image_size: int = 32, seed: int = 0):
    """A 2-layer ViT (hidden 32, patch 8) and its image processor in ``directory``."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=image_size,
        patch_size=8,
    )
    torch.manual_seed(seed)
    model = ViTModel(config, add_pooling_layer=False).eval()
    perturb(model)
    model.save_pretrained(directory, safe_serialization=True)
    ViTImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(directory)
    return model
