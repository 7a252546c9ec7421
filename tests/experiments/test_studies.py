"""The vision and LLM study drivers end to end on mock/generated data and tiny random encoders."""

from __future__ import annotations

import dataclasses
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest

pytestmark = pytest.mark.integration  # the study drivers, end to end

pytest.importorskip("torch")
pytest.importorskip("transformers")
tfds = pytest.importorskip("tensorflow_datasets")

import _tiny
from kcover.experiments import llm, vision, vision_report
from kcover.experiments.store import ResultStore


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    _tiny.vit_dir(root / "vit-b16")
    return root


def _vision_args(out, weights, data_dir, seeds=2):
    return [
        "--datasets",
        "cifar10",
        "--backbones",
        "vit-b16",
        "--weights-dir",
        str(weights),
        "--data-dir",
        str(data_dir),
        "--seeds",
        str(seeds),
        "--pool",
        "30",
        "--test",
        "20",
        "--pixel-size",
        "4",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_vision_driver_end_to_end_resumes_and_reports(tmp_path, weights, capsys):
    out = tmp_path / "run"
    out.mkdir()
    # a results file of the former format (no sizes in the key) must not crash the run: its cell recomputes
    old = {
        "dataset": "cifar10",
        "backbone": "vit-b16",
        "representation": "pretrained",
        "task": "hard",
        "budget": "tight",
        "selector": "input-FL",
        "seed": 0,
    }
    (out / "results.jsonl").write_text(json.dumps({"key": old, "value": {"acc": 0.123}}) + "\n")
    with tfds.testing.mock_data(num_examples=40):
        assert vision.main(_vision_args(out, weights, tmp_path, seeds=1)) == 0
        sweep = 2 * 2 * 2 * 4  # representations x tasks x budgets x selectors, one seed
        n1 = sweep + 2 * 2  # and the advisor on the first seed's pool, per representation and task
        assert len(ResultStore(out / "results.jsonl")) == n1 + 1
        # a second run with one more seed computes only the new seed's sweep cells
        assert vision.main(_vision_args(out, weights, tmp_path, seeds=2)) == 0
    text = capsys.readouterr().out
    assert f"{n1} cells computed, 0 reused" in text and f"{sweep} cells computed, {n1} reused" in text
    rows = [r for r in ResultStore(out / "results.jsonl").rows() if "pool" in r["key"]]
    assert len(rows) == n1 + sweep
    for r in rows:
        v = r["value"]
        assert r["key"]["pool"] == 30 and r["key"]["pixel_size"] == 4
        if r["key"]["selector"] == "diagnostic":
            assert r["key"]["seed"] == 0 and v["verdicts"]  # the advisor: pilot and a-priori verdicts per budget
            assert all(b["a_priori_verdict"] in ("pay", "do-not-pay", "borderline") for b in v["budgets"])
            continue
        assert 0.0 <= v["acc"] <= 1.0 and v["k"] == (10 if r["key"]["budget"] == "tight" else 30)
        assert v["n_pool"] == 30 and len(set(v["picks"])) == v["k"]
    payload = json.loads((out / "vision.json").read_text())
    assert payload["table1"]["header"] == ["dataset", "conj", "-C (loose)", "-A (rand. rep)", "-B (smooth)"]
    assert [row[0] for row in payload["table1"]["rows"]] == ["cifar10", "mean"]
    detail = payload["table1"]["detail"]["cifar10"]
    assert detail["conj"]["seeds"] == 2 and 0 <= detail["conj"]["positive"] <= 2
    assert detail["conj"]["advisor"]["a_priori"] in ("pay", "do-not-pay", "borderline")
    assert set(detail["separation"]) == {"-C (loose)", "-A (rand. rep)", "-B (smooth)"}
    assert (out / "fig2.png").stat().st_size > 1000
    table = (out / "table1.md").read_text()
    assert "| cifar10 |" in table and "/2) |" in table and "seeds conj ahead" in table
    assert (out / "table1.csv").read_text().startswith("dataset,conj")


def test_vision_table_is_built_from_the_results_file(tmp_path):
    rows = []
    for seed in range(2):
        for rep, task, budget in vision_report.COLUMNS.values():
            for sel, acc in (
                ("learner-FL", 0.9),
                ("input-FL", 0.5 if (rep, task, budget) == vision_report.COLUMNS["conj"] else 0.9),
            ):
                rows.append(
                    {
                        "key": {
                            "dataset": "d",
                            "backbone": "b",
                            "representation": rep,
                            "task": task,
                            "budget": budget,
                            "selector": sel,
                            "seed": seed,
                        },
                        "value": {"acc": acc},
                    }
                )
    header, body, record = vision_report.table1(rows)
    assert body[0][1:] == pytest.approx([0.4, 0.0, 0.0, 0.0])
    assert body[-1][0] == "mean"
    assert record["d"]["conj"]["positive"] == 2 and record["d"]["-C (loose)"]["positive"] == 0
    assert record["d"]["conj"]["text"] == "+0.400 ± 0.000 (2/2)" and record["d"]["conj"]["advisor"] is None
    sep = record["d"]["separation"]["-B (smooth)"]
    assert sep["diff_mean"] == pytest.approx(0.4) and (sep["seeds_conj_ahead"], sep["seeds"]) == (2, 2)
    paths = vision_report.report(rows, tmp_path)
    assert all(p.exists() for p in paths)


def test_vision_bad_input_exits_2(tmp_path, capsys):
    assert vision.main(["--datasets", "nope", "--backbones", "vit-b16", "--out", str(tmp_path)]) == 2
    assert "--datasets: unknown dataset 'nope'" in capsys.readouterr().err
    assert vision.main(["--datasets", "cifar10", "--backbones", "vit-b16", "--out", str(tmp_path)]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert vision.main(["--datasets", "digits", "--backbones", "minilm", "--out", str(tmp_path)]) == 2
    assert "--backbones: 'minilm' is not an image encoder" in capsys.readouterr().err


TOPICS = {
    "sport": ["the team won the match", "a goal in the final minute", "the coach praised the players"],
    "money": ["the bank raised interest rates", "shares fell on the market", "the company reported profit"],
    "tech": ["the new phone has a faster chip", "software update fixes the bug", "the network was down"],
}


def _corpus(n_per_class, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for label, phrases in TOPICS.items():
        for _ in range(n_per_class):
            rows.append((" and ".join(rng.choice(phrases, size=2)), label))
    return rows


@pytest.fixture(scope="module")
def text_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    corpus = [t for t, _ in _corpus(10, 0)]
    _tiny.qwen_dir(root / "qwen", corpus=corpus)
    task = root / "data" / "toy"
    task.mkdir(parents=True)
    import pandas as pd

    pd.DataFrame(_corpus(12, 1), columns=["text", "label"]).to_csv(task / "train.csv", index=False)
    pd.DataFrame(_corpus(5, 2), columns=["text", "label"]).to_json(task / "test.jsonl", orient="records", lines=True)
    return root


def _llm_args(root, out, seeds=1, budgets=("1", "2")):
    return [
        "--tasks",
        "toy",
        "--encoder",
        "qwen2.5",
        "--weights-dir",
        str(root / "qwen"),
        "--data-dir",
        str(root / "data"),
        "--seeds",
        str(seeds),
        "--pool",
        "30",
        "--budgets",
        *budgets,
        "--max-tokens",
        "16",
        "--hash-dim",
        "64",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_llm_driver_end_to_end_resumes_and_reports(text_setup, tmp_path, capsys):
    out = tmp_path / "llm"
    assert llm.main(_llm_args(text_setup, out)) == 0
    n1 = len(ResultStore(out / "results.jsonl"))
    assert n1 == 2 + 2 * 2 * 3  # diagnostics + representations x budgets x selectors
    # one more budget: its sweep cells, and the diagnostics again (they advise on every budget)
    assert llm.main(_llm_args(text_setup, out, budgets=("1", "2", "3"))) == 0
    assert len(ResultStore(out / "results.jsonl")) == n1 + 2 * 3 + 2
    assert "8 cells computed" in capsys.readouterr().out
    payload = json.loads((out / "llm.json").read_text())
    diag = payload["tasks"]["toy"]["diagnostic"]
    assert set(diag) >= {"input_probe_acc", "learner_probe_acc", "gap"}
    assert diag["gap"] == pytest.approx(diag["learner_probe_acc"] - diag["input_probe_acc"], abs=1e-6)
    curves = payload["tasks"]["toy"]["curves"]["pretrained"]
    assert curves["budget_multiplier"] == [1, 2, 3]
    # greedy picks are nested: the k = C subset is a prefix of the k = 2C one
    rows = ResultStore(out / "results.jsonl").rows()
    picks = {
        r["key"]["budget"]: r["value"]["picks"]
        for r in rows
        if r["key"]["selector"] == "learner-FL" and r["key"]["representation"] == "pretrained"
    }
    assert picks[2][:3] == picks[1]
    assert (out / "fig3_toy.png").stat().st_size > 1000
    assert "| toy | 3 |" in (out / "table2.md").read_text()
    # each seed draws its own pool: 80% of the 36 candidates, not all of them
    assert {r["value"]["n_pool"] for r in rows if r["key"]["selector"] != "diagnostic"} == {28}
    assert curves["adv_seeds"] == [1, 1, 1] and all(0 <= p <= 1 for p in curves["adv_positive"])
    assert [v["a_priori"] in ("pay", "do-not-pay", "borderline") for v in curves["advisor"]] == [True] * 3
    assert "| toy | pretrained | 1C |" in (out / "table2.md").read_text()


def test_llm_driver_with_the_other_kernel_adds_its_own_cells(text_setup, tmp_path):
    # --kernel rbf: new cells keyed by the kernel beside the default (cosine) ones, which keep their keys
    out = tmp_path / "llm"
    assert llm.main(_llm_args(text_setup, out, budgets=("1",))) == 0
    n1 = len(ResultStore(out / "results.jsonl"))
    assert llm.main([*_llm_args(text_setup, out, budgets=("1",)), "--kernel", "rbf"]) == 0
    rows = ResultStore(out / "results.jsonl").rows()
    assert len(rows) == 2 * n1
    assert sorted(r["key"].get("kernel", "-") for r in rows) == ["-"] * n1 + ["rbf"] * n1
    for r in rows:  # the advisor ran with the run's kernel
        if r["key"]["selector"] == "diagnostic":
            kernel = r["key"].get("kernel", "cosine")
            assert f'"input_kernel": "{kernel}"' in json.dumps(r["value"]), kernel


def test_study_cell_keys_carry_a_kernel_only_when_it_is_not_the_default():
    text = llm.TextStudy(tasks=("toy",), out="o", budgets=(1,), candidates=60)
    images = vision.VisionStudy(datasets=("digits",), backbones=("efficientnet-lite0",), out="o", candidates=60)
    assert all("kernel" not in k for k in llm.cells(text) + vision.cells(images))
    assert {k["kernel"] for k in llm.cells(dataclasses.replace(text, kernel="rbf"))} == {"rbf"}
    assert {k["kernel"] for k in vision.cells(dataclasses.replace(images, kernel="cosine"))} == {"cosine"}


def test_llm_bad_input_exits_2(tmp_path, capsys):
    assert llm.main(["--tasks", "toy", "--encoder", "minilm", "--out", str(tmp_path)]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert llm.main(["--tasks", "bbc_news", "--encoder", "minilm", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds: must be positive" in capsys.readouterr().err
