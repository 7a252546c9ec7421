"""Embed a text file or a folder of images into an .npy feature matrix.

    kcover embed --encoder minilm|qwen2.5|vit-b16|clip-b32|efficientnet-lite0 \\
        [--weights DIR] [--random-init [--seed S]] --input FILE_OR_DIR --out E.npy

(``python -m kcover.experiments.embed`` is the same command.)

Text encoders read a plain text file (one document a line; blank lines are an error), a CSV
or TSV file, or a JSONL file (``--text-column``, default ``text``). Row i of the output is
document i. Image encoders read every image file directly in a folder, in sorted name order
(also written, one name a line, to ``E.files.txt`` beside the output); each image is
brought to the checkpoint's input geometry with PIL first (see ``ImagePipeline.canvas``).

The output is an (N, D) float32 .npy, written atomically, ready for ``kcover advise`` and
``kcover select``. ``--cache-dir`` reuses features across runs (keyed by encoder, weights,
input contents).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def read_texts(path: Path, column: str = "text") -> list[str]:
    """Documents of a text file: CSV/TSV or JSONL (field ``column``, read by :mod:`kcover.data`), else one per line."""
    from kcover.data.columns import texts
    from kcover.data.tables import read_table

    if not path.is_file():
        raise FileNotFoundError(f"--input: {path} is not a file")
    if path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson"):
        return texts(read_table(str(path), "--input"), column)
    docs = path.read_text(encoding="utf-8").splitlines()
    blank = [i + 1 for i, d in enumerate(docs) if not d.strip()]
    if blank:
        raise ValueError(f"--input: {path} has blank lines {blank[:5]}; every line must be one document")
    if not docs:
        raise ValueError(f"--input: {path} holds no documents")
    return docs


class ImageFiles(Sequence):
    """Image files as a lazy sequence: ``files[i:j]`` is uint8 (j - i, S, S', 3), read by ``load``."""

    def __init__(self, files: list[Path], load: Any = None, flag: str = "--input") -> None:
        self.files = list(files)
        self._load = load
        self._flag = flag

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, slice):
            chosen = self.files[index]
            if not chosen:
                return np.zeros((0, 1, 1, 3), np.uint8)
            return np.stack([self._load_one(p) for p in chosen])
        return self._load_one(self.files[index])

    def _load_one(self, path: Path) -> np.ndarray:
        try:
            return self._load(path)
        except (OSError, ValueError) as err:
            raise ValueError(f"{self._flag}: cannot read image {path} ({err})") from err

    def digest(self) -> str:
        """A hash of the file names, sizes and modification times."""
        h = hashlib.sha256()
        for p in self.files:
            st = p.stat()
            h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]


class ImageFolder(ImageFiles):
    """The image files directly in a folder, in sorted name order (see :class:`ImageFiles`)."""

    def __init__(self, folder: Path, load: Any = None) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"--input: {folder} is not a directory")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"--input: no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        super().__init__(files, load)


CHUNK_ROWS = 1024  # rows per resumable chunk of the embedding cache


def embed_column(
    name: str,
    values: list[str],
    *,
    kind: str,
    weights: str | None = None,
    max_length: int | None = None,
    content: str,
    column: str,
    cache_dir: str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """The ``kcover.embedders`` plugin (see :mod:`kcover.data.embedders`): (N, D) float32 features
    of N texts or image paths under encoder ``name``, cached in ``cache_dir`` by content, column,
    encoder identity (weights fingerprint, max length) and resumable in chunks of CHUNK_ROWS."""
    from kcover.experiments.encoders.cache import embed_dataset
    from kcover.experiments.encoders.registry import TEXT_ENCODERS, get_encoder

    text = name in TEXT_ENCODERS
    if text != (kind == "text"):
        what, use = ("text", "--text-column") if text else ("images", "--image-column")
        raise ValueError(f"--encoder: {name} embeds {what}; name the column with {use}")
    try:
        encoder = get_encoder(name, weights, max_length=max_length)
    except ValueError as err:
        field, _, rest = str(err).partition(":")
        flag = {"weights": "--weights", "max_length": "--max-length", "name": "--encoder"}.get(field)
        raise ValueError(f"{flag}:{rest}" if flag and rest else str(err)) from None
    items: Any = (
        list(values) if text else ImageFiles([Path(v) for v in values], encoder.load_image, flag="--image-column")
    )
    return embed_dataset(
        encoder,
        items,
        cache_dir=cache_dir,
        dataset=f"sha256-{content[:32]}",
        split=column,
        preprocessing=f"data-{kind}",
        progress=progress,
        chunk_rows=CHUNK_ROWS if cache_dir is not None else None,
    )


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def embed(args: argparse.Namespace) -> np.ndarray:
    """Run the command described by ``args``; returns the (N, D) features it wrote."""
    from kcover.experiments.encoders.cache import embed_dataset
    from kcover.experiments.encoders.registry import ENCODERS, TEXT_ENCODERS, get_encoder

    if args.encoder not in ENCODERS:
        raise ValueError(f"--encoder: unknown encoder {args.encoder!r}; choose one of {', '.join(ENCODERS)}")
    source = Path(args.input).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"--input: {source} does not exist")
    text = args.encoder in TEXT_ENCODERS
    if text and source.is_dir():
        raise ValueError(f"--input: {args.encoder} embeds text; give a text, CSV or JSONL file, not a folder")
    if not text and not source.is_dir():
        raise ValueError(f"--input: {args.encoder} embeds images; give a folder of images")
    if text:
        items: Any = read_texts(source, args.text_column)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        prep = f"cli-text:{args.text_column}"
    else:
        items = ImageFolder(source)  # lists the files first, so an empty folder fails fast
        digest = items.digest()
        prep = "cli-images:canvas"
    encoder = get_encoder(
        args.encoder,
        args.weights,
        random_init=args.random_init,
        seed=args.seed,
        dtype=args.dtype,
        batch_size=args.batch_size,
        max_length=args.max_length,
    )
    if not text:
        items._load = encoder.load_image
    feats = embed_dataset(
        encoder,
        items,
        cache_dir=args.cache_dir,
        dataset=f"{source.resolve()}@{digest}",
        split="all",
        preprocessing=prep,
        progress=not args.no_progress,
    )
    out = Path(args.out).expanduser()
    _save_atomic(out, feats)
    if not text:
        out.with_suffix(".files.txt").write_text("".join(f"{p.name}\n" for p in items.files), encoding="utf-8")
    return feats


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``kcover embed`` and its alias ``python -m kcover.experiments.embed``."""
    p.add_argument(
        "--encoder", required=True, metavar="NAME", help="minilm, qwen2.5, vit-b16, clip-b32 or efficientnet-lite0"
    )
    p.add_argument("--weights", default=None, help="local weights directory (default: shipped or $KCOVER_WEIGHTS_DIR)")
    p.add_argument("--random-init", action="store_true", help="same architecture, seeded random weights")
    p.add_argument("--seed", type=int, default=0, help="seed of the random init")
    p.add_argument("--input", required=True, help="text/CSV/JSONL file (text encoders) or image folder")
    p.add_argument("--out", required=True, help="output .npy, (N, D) float32")
    p.add_argument("--text-column", default="text", help="column of a CSV/TSV or field of a JSONL file")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None, help="max tokens per document (text encoders)")
    p.add_argument("--cache-dir", default=None, help="feature cache directory (off by default)")
    p.add_argument("--no-progress", action="store_true")


def parser() -> argparse.ArgumentParser:
    """The command-line parser of the module command."""
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.embed", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p


def _run_subcommand(args: argparse.Namespace) -> int:
    feats = embed(args)  # bad input raises; kcover's main reports it with exit code 2
    print(f"wrote {args.out}: {feats.shape[0]} x {feats.shape[1]} float32 ({args.encoder})", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kcover embed`` (the same command as ``python -m kcover.experiments.embed``)."""
    p = subparsers.add_parser(
        "embed",
        help="embed a text file or an image folder into an .npy feature matrix",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(p)
    p.set_defaults(func=_run_subcommand)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad input)."""
    args = parser().parse_args(argv)
    try:
        feats = embed(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {feats.shape[0]} x {feats.shape[1]} float32 ({args.encoder})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
