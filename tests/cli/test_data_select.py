"""``kcover select --data`` / ``advise --data`` / ``embed`` / ``example-data`` on real files in tmp_path:
every input and output format, every bad input of issue 25, and the embedding cache with a tiny encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kcover.data.tables import read_table

WORDS = ["market", "shares", "film", "actor", "vote", "minister", "match", "goal", "phone", "software"]


def _rows(n=36):
    rng = np.random.default_rng(0)
    labels = ["business", "film", "sport"]
    return [
        {"text": " ".join(rng.choice(WORDS, 6)) + f" doc{i}", "label": labels[i % 3] if i < 30 else "sport", "id": i}
        for i in range(n)
    ]


def _write(path, rows):
    """rows written as .jsonl, .csv, .parquet, or a save_to_disk folder (no extension)."""
    import datasets

    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        ds = datasets.Dataset.from_list(rows)
        {
            ".csv": lambda: ds.to_csv(str(path), index=False),
            ".parquet": lambda: ds.to_parquet(str(path)),
            "": lambda: ds.save_to_disk(str(path)),
        }[path.suffix]()
    return path


def _check_output(out, rows, k, per_class=None):
    got = read_table(str(out)).to_list()
    assert len(got) == k
    assert [r["kcover_rank"] for r in got] == list(range(k))
    assert len({r["kcover_index"] for r in got}) == k
    for r in got:
        assert {c: v for c, v in r.items() if not c.startswith("kcover_")} == rows[r["kcover_index"]]
    if per_class:
        classes = sorted({r[per_class] for r in rows})
        for c in classes:
            share = k * sum(r[per_class] == c for r in rows) / len(rows)
            assert abs(sum(r[per_class] == c for r in got) - share) < 1, (c, share)
    return got


@pytest.mark.parametrize(
    ("src", "out"),
    [
        ("in.jsonl", "out.parquet"),
        ("in.csv", "out.jsonl"),
        ("in.parquet", "out.csv"),
        ("in", "out.jsonl"),
        ("in.jsonl", "out"),
    ],
)
def test_every_input_and_output_format(tmp_path, make_run, src, out):
    rows = _rows()
    run = make_run("select")
    code, stdout, err = run(
        "select",
        "--data",
        _write(tmp_path / src, rows),
        "--text-column",
        "text",
        "--input-features",
        "lexical",
        "--k",
        "25%",
        "--per-class",
        "label",
        "--out",
        tmp_path / out,
        "--json",
    )
    assert code == 0, err
    report = json.loads(stdout)
    assert report["rows"] == 9 and report["class_budgets"] == {
        "business": 3,
        "film": 2,
        "sport": 4,
    }  # shares 2.5, 2.5, 4
    _check_output(tmp_path / out, rows, 9, per_class="label")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers


def test_features_column_equal_mode_and_image_folder(tmp_path, make_run):
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = [{"vec": rng.normal(size=4).round(4).tolist(), "label": i % 2} for i in range(20)]
    run = make_run("select")
    code, _, err = run(
        "select",
        "--data",
        _write(tmp_path / "v.jsonl", rows),
        "--features-column",
        "vec",
        "--k",
        "6",
        "--per-class",
        "label",
        "--per-class-mode",
        "equal",
        "--out",
        tmp_path / "v.csv",
    )
    assert code == 0, err
    got = read_table(str(tmp_path / "v.csv")).to_list()
    assert sorted(r["label"] for r in got) == [0, 0, 0, 1, 1, 1]
    assert [json.loads(r["vec"]) if isinstance(r["vec"], str) else r["vec"] for r in got] == [
        rows[r["kcover_index"]]["vec"] for r in got
    ]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    code, _, err = run(
        "select", "--data", folder, "--input-features", "pixels", "--k", "0.5", "--out", tmp_path / "picked.jsonl"
    )
    assert code == 0, err
    got = read_table(str(tmp_path / "picked.jsonl")).to_list()
    assert len(got) == 4 and all(r["file"] == f"{r['kcover_index']}.png" for r in got)


BAD = {  # name: (file name, file bytes, extra flags, what the one-line error must say)
    "missing column": ("a.jsonl", b'{"body": "x"}\n', [], r"--text-column: no column 'text' \(columns: body\)"),
    "empty file": ("a.jsonl", b"", [], r"--data: .*a.jsonl is empty"),
    "not JSON": ("a.jsonl", b'{"text": "a", "label": "x"}\n{"text": oops}\n', [], r"--data: line 2 of .* is not JSON"),
    "not UTF-8": ("a.csv", b"text,label\nok,x\n\xff\xfe bad,y\n", [], r"--data: line 3 of .* is not UTF-8"),
    "numbers": (
        "a.jsonl",
        b'{"text": "a", "label": "x"}\n{"text": 5, "label": "y"}\n',
        [],
        r"--data: line 2 of .*column 'text' holds a int where earlier lines hold a str",
    ),
    "only numbers": (
        "a.jsonl",
        b'{"text": 4, "label": "x"}\n{"text": 5, "label": "y"}\n',
        [],
        r"--text-column: column 'text' holds int64 values, not text",
    ),
    "nulls": (
        "a.jsonl",
        b'{"text": "a", "label": "x"}\n{"text": null, "label": "y"}\n',
        [],
        r"--text-column: column 'text' is null at row 2",
    ),
    "fraction 0": ("a.jsonl", None, ["--k", "0.0"], r"--k: a fraction must lie in \(0, 1\]"),
    "fraction > 1": ("a.jsonl", None, ["--k", "1.5"], r"--k: a fraction must lie in \(0, 1\]"),
    "k above a class": (
        "a.jsonl",
        None,
        ["--k", "33", "--per-class", "label", "--per-class-mode", "equal"],
        r"--k: class 'business' has 10 rows, fewer than its budget of 11",
    ),
    "no output folder": ("a.jsonl", None, ["--out", "{tmp}/nowhere/x.jsonl"], r"--out: directory does not exist"),
    "output is input": ("a.jsonl", None, ["--out", "{tmp}/a.jsonl"], r"--out: is the input"),
    "missing label column": ("a.jsonl", None, ["--per-class", "topic"], r"--per-class: no column 'topic'"),
    "unknown encoder": (
        "a.jsonl",
        None,
        ["--encoder", "bert-9000", "--input-features", None],
        r"--encoder: unknown encoder 'bert-9000' \(installed: clip-b32",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line(tmp_path, make_run, case):
    name, content, extra, message = BAD[case]
    src = tmp_path / name
    if content is None:
        _write(src, _rows())
    else:
        src.write_bytes(content)
    before = src.read_bytes()
    argv = {
        "--data": str(src),
        "--text-column": "text",
        "--input-features": "lexical",
        "--k": "3",
        "--out": str(tmp_path / "out.parquet"),
    }
    for flag, value in zip(extra[::2], extra[1::2]):
        argv[flag] = value.format(tmp=tmp_path) if value is not None else None
    code, out, err = make_run("select")("select", *[a for f, v in argv.items() if v is not None for a in (f, v)])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("kcover select: error: ")
    import re

    assert re.search(message, err), err
    assert src.read_bytes() == before and not (tmp_path / "out.parquet").exists()


def test_example_data_writes_the_bbc_corpus(tmp_path, make_run):
    code, _, err = make_run("example-data")("example-data", "bbc-news", "--out", tmp_path / "bbc.jsonl")
    assert code == 0, err
    table = read_table(str(tmp_path / "bbc.jsonl"))
    assert table.num_rows == 2225 and table.column_names == ["text", "label"]
    counts = {c: table["label"].count(c) for c in set(table["label"])}
    assert counts == {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    from _tiny import qwen_dir

    directory = tmp_path_factory.mktemp("qwen")
    qwen_dir(directory, corpus=WORDS)
    return directory


@pytest.mark.integration  # builds a tiny Qwen2 with torch and compiles it: about a minute on 2 busy cores
def test_encoder_embedding_is_cached_across_select_advise_and_embed(tmp_path, make_run, monkeypatch, tiny_qwen):
    from kcover.experiments.encoders.base import Encoder

    rows = _rows()
    data = _write(tmp_path / "d.jsonl", rows)
    cache = tmp_path / "cache"
    enc = ["--encoder", "qwen2.5", "--weights", tiny_qwen, "--embed-cache", cache]
    run = make_run("select", "advise", "embed")
    select = ["select", "--data", data, "--text-column", "text", *enc, "--k", 6, "--per-class", "label"]
    code, _, err = run(*select, "--out", tmp_path / "a.jsonl")
    assert code == 0, err
    assert "row/s" in err  # the progress bar
    first = _check_output(tmp_path / "a.jsonl", rows, 6, per_class="label")
    assert len(list(cache.glob("*.npz"))) == 1

    def no_encoding(self, batch):
        raise AssertionError("a cached embedding must not be computed again")

    monkeypatch.setattr(Encoder, "encode", no_encoding)
    code, _, err = run(*select, "--out", tmp_path / "b.jsonl")
    assert code == 0, err
    assert read_table(str(tmp_path / "b.jsonl")).to_list() == first
    code, out, err = run(
        "advise",
        "--data",
        data,
        "--label-column",
        "label",
        *enc,
        "--no-pilot",
        "--budgets",
        "6",
        "--no-reach",
        "--quiet",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["select_command"].startswith(f"kcover select --data {data} --text-column text ")
    assert "--per-class label" in report["select_command"] and "--k 6" in report["select_command"]
    code, _, err = run("advise", "--data", data, "--label-column", "topic", *enc, "--no-pilot")
    assert code == 2 and "--label-column: no column 'topic'" in err
    monkeypatch.undo()
    code, _, err = run(
        "embed",
        "--encoder",
        "qwen2.5",
        "--weights",
        tiny_qwen,
        "--input",
        data,
        "--out",
        tmp_path / "E.npy",
        "--no-progress",
    )
    assert code == 0, err
    assert np.load(tmp_path / "E.npy").shape[0] == len(rows)


def test_hugging_face_dataset_offline_and_one_not_cached(tmp_path, make_run, monkeypatch):
    import datasets

    rows = _rows(12)
    (tmp_path / "hub").mkdir()
    _write(tmp_path / "hub" / "train.jsonl", rows)  # a dataset folder load_dataset reads without the network
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # the command turns these on: restore after
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run = make_run("select")
    lexical = ("--text-column", "text", "--input-features", "lexical", "--k", 4)
    code, _, err = run("select", "--data", f"hf:{tmp_path / 'hub'}:train", *lexical, "--out", tmp_path / "o.jsonl")
    assert code == 0, err
    _check_output(tmp_path / "o.jsonl", rows, 4)
    code, _, err = run("select", "--data", "hf:nobody/not-a-dataset:train", *lexical, "--out", tmp_path / "p.jsonl")
    assert code == 2 and "--data: nobody/not-a-dataset is not in the local Hugging Face cache" in err


@pytest.mark.integration  # builds a tiny ViT with torch
def test_image_folder_with_an_image_encoder(tmp_path, make_run):
    from PIL import Image

    from _tiny import vit_dir

    weights = tmp_path / "vit"
    weights.mkdir()
    vit_dir(weights)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = make_run("select")
    code, _, err = run(
        "select",
        "--data",
        folder,
        "--encoder",
        "vit-b16",
        "--weights",
        weights,
        "--k",
        3,
        "--embed-cache",
        tmp_path / "cache",
        "--out",
        tmp_path / "o.csv",
    )
    assert code == 0, err
    got = read_table(str(tmp_path / "o.csv")).to_list()
    assert len(got) == 3 and all(r["file"] == f"{r['kcover_index']}.png" for r in got)
    code, _, err = run(
        "select",
        "--data",
        folder,
        "--image-column",
        "image",
        "--encoder",
        "minilm",
        "--k",
        3,
        "--out",
        tmp_path / "p.csv",
    )
    assert code == 2 and "--encoder: minilm embeds text; name the column with --text-column" in err
