"""``kcover select --data``: your table in, the selected rows out (and the data half of ``kcover advise --data``).

    kcover select --data bbc.jsonl --text-column text --encoder minilm --k 10% --per-class label --out subset.parquet

``--data``: .jsonl, .csv/.tsv, .parquet, a folder of images, a ``save_to_disk`` folder or
``hf:NAME[:SPLIT]`` from the local Hugging Face cache (see docs/data.md). The features: an
encoder's embedding of ``--text-column`` / ``--image-column`` (cached, see
:mod:`kcover.data.embedders`), vectors in ``--features-column``, or the cheap input geometry
``--input-features lexical|pixels``. ``--out`` is written in the format its extension names,
atomically: the selected rows unchanged, in selection order, plus ``kcover_rank``,
``kcover_index``, ``kcover_gain`` and ``kcover_weight``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from typing import Any

import numpy as np

from kcover import checks
from kcover.data.budget import PER_CLASS_MODES, resolve_budget
from kcover.data.columns import INPUT_FEATURES, FeatureSpec
from kcover.data.embedders import embedding_cache_dir

NOT_WITH_DATA = (
    "features",
    "key",
    "targets",
    "target_weights",
    "initial",
    "coordinator",
    "num_processes",
    "process_id",
)


def add_data_arguments(p: argparse.ArgumentParser, *, advise: bool = False) -> None:
    """The flags that read a table (``--data`` and its columns, the encoder, the embedding cache)."""
    g = p.add_argument_group("your data (--data)")
    learner = ", as the learner geometry" if advise else ""
    flags = [
        (
            "--data",
            "PATH",
            "a .jsonl, .csv, .tsv or .parquet file, a folder of images, a save_to_disk folder, "
            "or hf:NAME[:SPLIT] from the local Hugging Face cache",
        ),
        # advise has its own --text-column (for --text), which --data shares
        *([] if advise else [("--text-column", "COL", "the column of texts")]),
        (
            "--image-column",
            "COL",
            "the column of image paths (relative to the data file's folder; an image folder: image)",
        ),
        ("--features-column", "COL", "vectors already in the data (lists of numbers)" + learner),
        (
            "--encoder",
            "NAME",
            "embed the column with this encoder: minilm, qwen2.5 (text), vit-b16, clip-b32, "
            "efficientnet-lite0 (images)",
        ),
        ("--weights", "DIR", "the encoder's local weights (default: shipped)"),
        ("--max-length", "T", "max tokens per text (default: the encoder's)"),
        (
            "--embed-cache",
            "DIR",
            "embedding cache folder, or off (default $KCOVER_EMBED_CACHE, else ~/.cache/kcover/embeddings)",
        ),
    ]
    if not advise:
        flags += [
            (
                "--input-features",
                "KIND",
                f"the cheap input geometry instead of an encoder: {', '.join(INPUT_FEATURES)}",
            ),
            ("--per-class", "COL", "split the budget over the classes of this label column; one output file"),
        ]
    for flag, metavar, text in flags:
        g.add_argument(flag, default=None, metavar=metavar, help=text)
    if not advise:
        g.add_argument(
            "--per-class-mode",
            default="proportional",
            metavar="MODE",
            help="proportional (largest remainder, default) or equal",
        )


def feature_spec(
    args: argparse.Namespace, table: Any, *, encoder: bool = True, input_features: str | None = None
) -> FeatureSpec:
    """The :class:`FeatureSpec` the flags ask for (``encoder=False``: ignore --encoder)."""
    image_col = args.image_column
    text_col = args.text_column
    if image_col is None and text_col is None and table.column_names == ["image", "file"]:
        image_col = "image"  # a folder of images
    from kcover.cli.select import parse_int

    max_length = None if args.max_length is None else parse_int(args.max_length, "--max-length")
    if args.data.startswith("hf:"):
        base = os.getcwd()
    else:
        base = args.data if os.path.isdir(args.data) else os.path.dirname(os.path.abspath(args.data))
    return FeatureSpec(
        text_column=text_col,
        image_column=image_col,
        features_column=args.features_column if encoder else None,
        encoder=args.encoder if encoder else None,
        input_features=input_features,
        weights=args.weights,
        max_length=max_length,
        cache_dir=embedding_cache_dir(args.embed_cache),
        base_dir=base,
    )


def run_select(args: argparse.Namespace) -> int:
    """``kcover select --data``; returns the exit code."""
    from kcover.cli.select import parse_int, selection_options
    from kcover.data.columns import check_columns, labels, table_features
    from kcover.data.subset import select_rows, subset_table
    from kcover.data.tables import check_output, read_table, write_table
    from kcover.kernels import KERNELS, make_kernel
    from kcover.selection.entry import METHODS
    from kcover.selection.kcenter import DEFAULT_KERNEL

    given = [n for n in NOT_WITH_DATA if getattr(args, n, None) is not None] + (
        ["distributed"] if args.distributed else []
    )
    if given:
        raise ValueError(f"--{given[0].replace('_', '-')}: not used with --data")
    method = checks.choice(args.method, METHODS, "--method")
    kernel_name = checks.choice(args.kernel or (DEFAULT_KERNEL if method == "kcenter" else "rbf"), KERNELS, "--kernel")
    checks.choice(args.per_class_mode, PER_CLASS_MODES, "--per-class-mode")
    fmt = check_output(args.out, args.data)
    t0 = time.perf_counter()
    table = read_table(args.data)
    spec = feature_spec(args, table, input_features=args.input_features)
    check_columns(table, spec)
    y = None if args.per_class is None else labels(table, args.per_class)
    k = resolve_budget(args.k, table.num_rows)
    x, geometry = table_features(table, spec)
    t_features = time.perf_counter() - t0
    bandwidth = None if args.bandwidth is None else checks.positive(args.bandwidth, "--bandwidth")
    if bandwidth is not None and kernel_name != "rbf":
        raise ValueError(f"--bandwidth: only the rbf kernel has one, not {kernel_name}")
    kern = make_kernel(kernel_name, bandwidth, x)
    options = selection_options(args, method, x.shape[0], None, False)
    seed = parse_int(args.seed, "--seed")
    t1 = time.perf_counter()
    sel = select_rows(
        x,
        k,
        labels=y,
        per_class_mode=args.per_class_mode,
        method=method,
        kernel=kern,
        seed=seed,
        progress=True,
        **options,
    )
    t_select = time.perf_counter() - t1
    write_table(subset_table(table, sel), args.out)
    budgets = dict(sel.info.get("class_budgets", {}))
    report = {
        "data": args.data,
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "k": int(k),
        "method": method,
        "kernel": kernel_name,
        "features": geometry,
        "per_class": args.per_class,
        "class_budgets": budgets or None,
        "out": args.out,
        "format": fmt,
        "rows": int(np.asarray(sel.indices).size),
        "seconds": {
            "read_and_features": round(t_features, 3),
            "select": round(t_select, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"kcover select: {k} of {x.shape[0]} rows of {args.data} by {method} on the {geometry} "
        f"(d = {x.shape[1]}, {kernel_name} kernel)"
    )
    if budgets:
        print("per class (" + args.per_class_mode + "): " + ", ".join(f"{c} {b}" for c, b in budgets.items()))
    print(
        f"wrote {args.out} ({fmt}): {k} rows in selection order, with kcover_rank, kcover_index, kcover_gain, "
        "kcover_weight"
    )
    print(f"time {report['seconds']['total']:.2f} s (features {t_features:.2f} s, selection {t_select:.2f} s)")
    return 0


def select_command(args: argparse.Namespace, verdict: str, k: int) -> str:
    """The ``kcover select`` line an advise verdict leads to: the encoder (and its weights and cache) where
    it pays, at the largest such budget, else the input geometry."""
    parts = ["kcover", "select", "--data", args.data]
    column = ["--image-column", args.image_column] if args.image_column else ["--text-column", args.text_column]
    if verdict == "pay":
        parts += column + (
            ["--features-column", args.features_column] if args.encoder is None else ["--encoder", args.encoder]
        )
        for flag, value in (
            ("--weights", args.weights),
            ("--max-length", args.max_length),
            ("--embed-cache", args.embed_cache),
        ):
            parts += [flag, str(value)] if value is not None and args.encoder is not None else []
    else:
        parts += column + ["--input-features", "pixels" if args.image_column else "lexical"]
    parts += ["--k", str(k), "--per-class", args.label_column, "--out", "subset.jsonl"]
    return " ".join(shlex.quote(p) for p in parts)


def advise_inputs(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    """(input features, learner features, labels, input description, learner description) for ``advise --data``."""
    from kcover.data.columns import image_paths, labels, read_pixels, table_features, texts
    from kcover.data.tables import read_table
    from kcover.featurize import TF_MODES, hash_text, pixel_features

    for flag, value in (
        ("--learner", args.learner),
        ("--input", args.input),
        ("--labels", args.labels),
        ("--text", args.text),
    ):
        if value is not None:
            raise ValueError(f"{flag}: not used with --data (the learner is --encoder or --features-column)")
    if args.encoder is None and args.features_column is None:
        raise ValueError("--encoder: advise --data needs the learner's geometry: --encoder NAME or --features-column")
    table = read_table(args.data)
    if args.image_column is not None:
        args.text_column = None
    spec = feature_spec(args, table)
    y = labels(table, args.label_column, "--label-column")
    learner, learner_desc = table_features(table, spec, progress=not args.quiet)
    if spec.image_column is not None:
        x = pixel_features(read_pixels(image_paths(table, spec.image_column, spec.base_dir)), size=(8, 8))
        return x, learner, y, f"pixels of column {spec.image_column!r} of {args.data}", learner_desc
    from kcover.cli.select import parse_int

    dim = parse_int(args.text_dim, "--text-dim")
    if dim < 1:
        raise ValueError(f"--text-dim: must be positive, got {dim}")
    checks.choice(args.tf, TF_MODES, "--tf")
    if spec.text_column is None:
        raise ValueError("--text-column: advise --data needs a text or an image column for the input geometry")
    x = hash_text(texts(table, spec.text_column), dim=dim, tf=args.tf)
    return (
        x,
        learner,
        y,
        f"lexical n-gram hashing of column {spec.text_column!r} of {args.data} (dim {dim})",
        learner_desc,
    )
