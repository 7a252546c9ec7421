"""LoRA fine-tuning (kcover.experiments.lora) and its study driver (kcover.experiments.finetune),
offline on tiny random MiniLM-shaped (BERT) and Qwen2 checkpoints."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import jax
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("optax")

import _tiny
from _jaxtools import count_compiles
from kcover.experiments import finetune
from kcover.experiments.encoders.registry import get_encoder
from kcover.experiments.finetune_report import paired_diffs
from kcover.experiments.lora import LoraClassifier, LoraConfig
from kcover.experiments.lora_backbone import check_targets, load_backbone
from kcover.experiments.lora_train import TrainConfig
from kcover.experiments.store import ResultStore

TOPICS = {
    "sport": ["the team won the match", "a goal in the final minute", "the coach praised the players"],
    "money": ["the bank raised interest rates", "shares fell on the market", "the company reported profit"],
    "tech": ["the new phone has a faster chip", "software update fixes the bug", "the network was down"],
}


def _corpus(n_per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    return [
        (" and ".join(rng.choice(phrases, size=2)), label)
        for label, phrases in TOPICS.items()
        for _ in range(n_per_class)
    ]


def bert_dir(directory, seed: int = 0) -> None:
    """A 2-layer BERT (hidden 32, 4 heads) with a word-level vocabulary of the topics, in MiniLM's layout,
    its biases and norms moved off their init values."""
    words = sorted({w for phrases in TOPICS.values() for p in phrases for w in p.split()} | {"and"})
    model = _tiny.bert_dir(directory, words, seed=seed, pooler=False)
    _tiny.perturb(model)
    model.save_pretrained(directory, safe_serialization=True)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft-weights")
    bert_dir(root / "bert")
    _tiny.qwen_dir(root / "qwen", corpus=[t for t, _ in _corpus(10, 0)])
    return root


@pytest.fixture(scope="module")
def backbones(weights):
    return {
        "minilm": load_backbone("minilm", weights / "bert", max_length=16),
        "qwen2.5": load_backbone("qwen2.5", weights / "qwen", max_length=16),
    }


@pytest.fixture(scope="module")
def toy():
    rows = _corpus(8, 1)
    names = sorted(TOPICS)
    return [t for t, _ in rows], np.array([names.index(lab) for _, lab in rows])


def _tree_equal(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def _copy(tree):
    return jax.tree_util.tree_map(lambda x: np.array(x, copy=True), tree)


@pytest.mark.parametrize("name", ["minilm", "qwen2.5"])
@pytest.mark.parametrize("top", [None, 1])
def test_zero_init_adapters_give_the_base_model_exactly(name, top, backbones, weights, toy):
    bb = backbones[name]
    clf = LoraClassifier(bb, 3, LoraConfig(rank=4, alpha=8.0, top_layers=top))
    init = clf.init(seed=3)
    assert all(np.any(np.asarray(ab["a"]) != 0) for ab in init["adapters"].values())  # A is random, B zero
    # the merged parameters are bit-identical to the base ones
    assert _tree_equal(clf.merged(bb.params, init), bb.params)
    ids, mask = bb.tokenize(toy[0][:10])
    hidden = clf.prefix(ids, mask, batch_size=4)
    feats = clf.features(init, hidden, mask, batch_size=4)
    bare = clf.features({"adapters": {}, "head": init["head"]}, hidden, mask, batch_size=4)
    np.testing.assert_array_equal(feats, bare)
    np.testing.assert_array_equal(clf.logits(init, hidden, mask, batch_size=4), 0.0)
    # and they are the encoder's own features (mean-pooled last hidden state; a separate compilation)
    enc = get_encoder(name, weights / ("bert" if name == "minilm" else "qwen"), max_length=16, batch_size=4)
    np.testing.assert_allclose(feats, enc.encode(toy[0][:10]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["minilm", "qwen2.5"])
@pytest.mark.parametrize("full", [False, True])
def test_only_adapters_and_head_change_base_is_bit_identical(name, full, backbones, toy):
    bb = backbones[name]
    before = _copy(bb.params)
    clf = LoraClassifier(bb, 3, LoraConfig(rank=2, top_layers=1, full=full))
    ids, mask = bb.tokenize(toy[0][:6])
    hidden = clf.prefix(ids, mask, batch_size=6)
    init = clf.init(seed=0)
    start = _copy(init)
    fit = clf.fit(hidden, mask, toy[1][:6], seed=0, train=TrainConfig(steps=3, batch_size=6, learning_rate=1e-2))
    assert _tree_equal(bb.params, before)  # the frozen weights never move
    assert set(fit.trainable) == set(start)
    moved = [
        not np.array_equal(np.asarray(x), y)
        for x, y in zip(jax.tree_util.tree_leaves(fit.trainable), jax.tree_util.tree_leaves(start))
    ]
    assert all(moved) if not full else any(moved)
    assert np.any(np.asarray(fit.trainable["head"]["kernel"]) != 0)
    if full:
        assert set(fit.trainable["layers"]) == {str(bb.num_layers - 1)}  # only the top layer is trained
    else:
        assert set(fit.trainable["adapters"]) == {f"{bb.num_layers - 1}.{t}" for t in clf.targets}
        assert all(np.any(np.asarray(ab["b"]) != 0) for ab in fit.trainable["adapters"].values())
    # the merged model differs from the base only in the trained layer
    merged = clf.merged(bb.params, fit.trainable)
    lower = bb.layer_path(0)
    node_m, node_b = merged, bb.params
    for p in lower:
        node_m, node_b = node_m[p], node_b[p]
    assert _tree_equal(node_m, node_b)


@pytest.mark.parametrize("name", ["minilm", "qwen2.5"])
def test_loss_falls_on_a_separable_toy_task(name, backbones, toy):
    bb = backbones[name]
    clf = LoraClassifier(bb, 3, LoraConfig(rank=4, alpha=8.0))
    ids, mask = bb.tokenize(toy[0])
    hidden = clf.prefix(ids, mask, batch_size=8)
    fit = clf.fit(hidden, mask, toy[1], seed=0, train=TrainConfig(steps=40, batch_size=8, learning_rate=2e-2))
    assert fit.losses.shape == (40,)
    assert fit.losses[0] == pytest.approx(np.log(3), rel=1e-5)  # zero head: uniform predictions
    assert fit.losses[-5:].mean() < 0.5 * fit.losses[0]
    assert np.mean(clf.predict(fit.trainable, hidden, mask, batch_size=8) == toy[1]) >= 0.9


def test_one_compilation_serves_every_seed_of_a_budget(backbones, toy):
    bb = backbones["minilm"]
    clf = LoraClassifier(bb, 3, LoraConfig(rank=2, top_layers=1))
    ids, mask = bb.tokenize(toy[0])
    hidden = clf.prefix(ids, mask, batch_size=8)
    train = TrainConfig(steps=4, batch_size=4)
    rng = np.random.default_rng(0)

    def one(seed):
        picks = rng.choice(len(ids), 6, replace=False)  # other documents each seed, same k
        fit = clf.fit(hidden[picks], mask[picks], toy[1][picks], seed=seed, train=train)
        return clf.predict(fit.trainable, hidden, mask, batch_size=8), fit.losses

    with count_compiles() as first:
        one(0)
    assert len(first) >= 1
    with count_compiles() as later:
        results = [one(s) for s in (1, 2, 3)]
    assert later == []
    assert not np.array_equal(results[0][1], results[1][1])  # the seeds really differ


def test_bad_arguments_name_themselves(backbones):
    with pytest.raises(ValueError, match=r"^targets: unknown module 'dense' for minilm"):
        check_targets("minilm", ["query", "dense"])
    with pytest.raises(ValueError, match=r"^--targets: unknown module 'query' for qwen2.5"):
        check_targets("qwen2.5", ["query"], name="--targets")
    assert check_targets("qwen2.5", None) == ("q_proj", "v_proj")
    bb = backbones["minilm"]
    with pytest.raises(ValueError, match=r"^top_layers:"):
        LoraClassifier(bb, 3, LoraConfig(top_layers=3))
    with pytest.raises(ValueError, match=r"^rank:"):
        LoraClassifier(bb, 3, LoraConfig(rank=0))
    with pytest.raises(ValueError, match=r"^num_classes:"):
        LoraClassifier(bb, 1)
    with pytest.raises(ValueError, match=r"^steps:"):
        TrainConfig(steps=0).check()
    clf = LoraClassifier(bb, 3)
    ids, mask = bb.tokenize(["the team won the match"] * 2)
    hidden = clf.prefix(ids, mask, batch_size=2)
    with pytest.raises(ValueError, match=r"^labels:"):
        clf.fit(hidden, mask, np.array([0, 3]), seed=0)
    with pytest.raises(ValueError, match=r"^hidden:"):
        clf.fit(hidden[:1], mask, np.array([0, 1]), seed=0)


# --- the driver ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    import pandas as pd

    root = tmp_path_factory.mktemp("ft-data")
    (root / "toy").mkdir()
    pd.DataFrame(_corpus(12, 1), columns=["text", "label"]).to_csv(root / "toy" / "train.csv", index=False)
    pd.DataFrame(_corpus(5, 2), columns=["text", "label"]).to_csv(root / "toy" / "test.csv", index=False)
    return root


def _args(weights, data_dir, out, *extra):
    return [
        "--tasks",
        "toy",
        "--encoder",
        "minilm",
        "--weights",
        str(weights / "bert"),
        "--data-dir",
        str(data_dir),
        "--seeds",
        "2",
        "--pool",
        "24",
        "--candidates",
        "30",
        "--test",
        "12",
        "--budgets",
        "1",
        "2",
        "--max-tokens",
        "16",
        "--hash-dim",
        "64",
        "--rank",
        "2",
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--encode-batch",
        "8",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


@pytest.mark.integration
def test_killed_run_resumes_without_losing_or_redoing_a_cell(weights, data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    total = 2 * 2 * 3  # seeds x budgets x selectors
    real = LoraClassifier.fit
    fits = []

    def dying(self, *args, **kwargs):
        if len(fits) == 5:
            raise KeyboardInterrupt  # killed while the sixth cell fine-tunes
        fits.append(kwargs["seed"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LoraClassifier, "fit", dying)
    with pytest.raises(KeyboardInterrupt):
        finetune.main(_args(weights, data_dir, out))
    kept = ResultStore(out / "results.jsonl").rows()
    assert len(kept) == 5
    assert [r["key"] for r in kept] == finetune.cells(
        finetune.build_parser().parse_args(_args(weights, data_dir, out))
    )[:5]

    monkeypatch.setattr(LoraClassifier, "fit", real)
    assert finetune.main(_args(weights, data_dir, out)) == 0
    assert f"{total - 5} cells computed, 5 reused" in capsys.readouterr().out
    rows = ResultStore(out / "results.jsonl").rows()
    assert len(rows) == total
    assert len((out / "results.jsonl").read_text().splitlines()) == total  # one line per cell: nothing redone
    assert rows[:5] == kept  # nothing lost or rewritten
    for r in rows:
        v = r["value"]
        assert v["k"] == 3 * r["key"]["budget"] and len(set(v["picks"])) == v["k"]
        assert 0.0 <= v["acc"] <= 1.0 and 0.0 <= v["probe_acc"] <= 1.0 and v["n_test"] == 12
    # greedy picks are nested across budgets, as in the LLM study
    picks = {
        (r["key"]["seed"], r["key"]["budget"]): r["value"]["picks"]
        for r in rows
        if r["key"]["selector"] == "learner-FL"
    }
    assert picks[(0, 2)][:3] == picks[(0, 1)]
    # a finished study reruns without computing anything
    assert finetune.main(_args(weights, data_dir, out)) == 0
    assert f"0 cells computed, {total} reused" in capsys.readouterr().out
    payload = json.loads((out / "finetune.json").read_text())
    s = payload["tasks"]["toy"]
    assert s["budget_multiplier"] == [1, 2] and s["k"] == [3, 6]
    for learner, field in (("finetune", "acc"), ("probe", "probe_acc")):
        diffs = paired_diffs(rows, {"task": "toy", "budget": 1}, field)
        assert s[learner]["adv"][0]["mean"] == pytest.approx(diffs.mean())
        assert s[learner]["adv"][0]["positive"] == int((diffs > 0).sum()) and s[learner]["adv"][0]["n"] == 2
    log = payload["invocations"]
    assert [i["cells_computed"] for i in log] == [None, total - 5, 0]  # the killed one is not timed
    assert "plus 1 interrupted, not timed" in (out / "finetune.md").read_text()
    assert (out / "fig_finetune_toy.png").stat().st_size > 1000
    md = (out / "finetune.md").read_text()
    assert "| toy | 1 | 3 |" in md and "LoRA r=2" in md


@pytest.mark.integration
def test_bad_input_gives_a_one_line_error(weights, data_dir, tmp_path, capsys):
    def err(*extra, out="x"):
        assert finetune.main(_args(weights, data_dir, tmp_path / out, *extra)) == 2
        text = capsys.readouterr().err.strip()
        assert "\n" not in text
        return text

    assert "--budgets: k = 9 x C = 27 exceeds the pool of 24" in err("--budgets", "1", "9", out="big")
    assert "--targets: unknown module 'mlp' for minilm" in err("--targets", "query", "mlp")
    assert f"--weights: directory {tmp_path / 'nowhere'} does not exist" in err("--weights", str(tmp_path / "nowhere"))
    assert "--seeds: must be positive" in err("--seeds", "0")
    assert "--top-layers: minilm has 2 layers, got 5" in err("--top-layers", "5", out="top")
    finetune.main(_args(weights, data_dir, tmp_path / "same", "--seeds", "1", "--budgets", "1"))
    capsys.readouterr()
    assert "--out:" in err("--steps", "4", "--seeds", "1", "--budgets", "1", out="same")


@pytest.mark.integration
def test_driver_runs_the_qwen2_decoder(weights, data_dir, tmp_path, capsys):
    args = _args(
        weights, data_dir, tmp_path / "qwen", "--seeds", "1", "--budgets", "1", "--targets", "q_proj", "k_proj"
    )
    args[args.index("minilm")] = "qwen2.5"
    args[args.index(str(weights / "bert"))] = str(weights / "qwen")
    assert finetune.main(args) == 0
    rows = ResultStore(tmp_path / "qwen" / "results.jsonl").rows()
    assert len(rows) == 3 and {r["key"]["encoder"] for r in rows} == {"qwen2.5"}
    assert "LoRA r=2 alpha=16 on q_proj+k_proj of all 2 layers" in (tmp_path / "qwen" / "finetune.md").read_text()
