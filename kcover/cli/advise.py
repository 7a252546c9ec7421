"""``kcover advise``: is learner-geometry selection worth paying for on this data?

    kcover advise --input X.npy --learner E.npy --labels y.npy [--budgets 20 40 | 1C 2C 4C]
                  [--no-pilot | --pilot-splits 10 --pilot-points 2000 --pilot-margin 0.02]
                  [--sweep] [--plot sweep.png] [--seeds 3] [--json]
    kcover advise --text data.csv --text-column text --label-column label --learner E.npy ...
    kcover advise --data data.jsonl --text-column text --label-column label --encoder minilm ...

With ``--data`` (any table ``kcover select --data`` reads, see docs/data.md) the learner geometry
is ``--encoder``'s embedding of the text or image column (cached on disk, shared with ``kcover
select``) or ``--features-column``, the input geometry is lexical hashing of the text (pixels of
the images), the labels are ``--label-column``, and the report ends with the ``kcover select``
command line the verdict leads to (``select_command`` in the JSON).

With ``--text`` (a .csv, .tsv or .jsonl file) the input geometry is lexical n-gram hashing of
the text column (:func:`kcover.featurize.hash_text`) and the labels are the label column
(strings, mapped to ids in sorted order); the rows must line up with --learner's.

Prints the three conditions and a verdict per budget (see :mod:`kcover.advisor.entry` for the rule).
By default a pilot measures the advantage first (repeated stratified splits of the labelled rows,
input-FL vs learner-FL with the fixed probe) and its verdict decides, with the a-priori verdict
beside it; ``--no-pilot`` keeps the a-priori verdict alone.
``--sweep`` (implied by ``--plot``) also runs input-FL vs learner-FL vs random at the budgets
and draws them to a PNG (default ``kcover-advise.png``). ``--json`` prints exactly one JSON
object on stdout (progress goes to stderr) with at least ``input_probe_acc``,
``learner_probe_acc``, ``gap``, ``alignment_gap``, ``r_eff`` and ``budgets`` (objects with ``k``
and ``verdict`` in "pay", "do-not-pay", "either" ("borderline" from the former a-priori rule),
``expected_gain``, ``gain_interval``, ``select_command``, and ``reach_gap``, ``reach_input``,
``reach_learner`` unless ``--no-reach``). ``--method``, ``--input-kernel``/``--learner-kernel``
and ``--input-bandwidth``/``--learner-bandwidth`` are the selection the user will run (defaults:
``kcover select``'s); the pilot selects with them and the report prints them. Bad input: exit
code 2, one-line error.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import time
from typing import Any

import numpy as np

from kcover import checks
from kcover.advisor.options import FLAGS, AdviseOptions, default, is_number
from kcover.cli.select import load_array, parse_int
from kcover.cli.select_data import add_data_arguments
from kcover.featurize import TF_MODES

DEFAULT_PLOT = "kcover-advise.png"
TEXT_NGRAMS = ("words+chars", "words")
WEAK_TEXT_NOTE = (
    "note: --text builds the input geometry by n-gram hashing, and the verdict holds for that input only. On "
    "BBC News with a random-init encoder (docs/advise.md), this default hashing (word and character n-grams, "
    "4,096 buckets) made input selection 5-8 accuracy points weaker at k = C, 2C than tf-idf word 1-2-grams. "
    "Learner selection gained against the hashing and lost against tf-idf. If you will select on tf-idf "
    "features, pass them with --input, or rerun with --text-ngrams words --tf tfidf --text-dim 16384."
)
_API_TO_FLAG = {
    "budgets": "--budgets",
    "labels": "--labels",
    "input_features": "--input",
    "learner_features": "--learner",
    **{f.field: f.flag for f in FLAGS},
}
_BUDGET = re.compile(r"^(\d+(?:\.\d+)?)[cC]$")


def read_text_table(path: str, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """(texts, labels) from a .csv / .tsv (header row) or .jsonl (one object a line) file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--text: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"--text: is a directory: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".tsv", ".jsonl"):
        raise ValueError(f"--text: expects a .csv, .tsv or .jsonl file, got {path}")
    rows: list[dict] = []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if ext == ".jsonl":
                for i, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            obj = json.loads(line)
                        except json.JSONDecodeError:
                            raise ValueError(f"--text: line {i} of {path} is not valid JSON") from None
                        if not isinstance(obj, dict):
                            raise ValueError(f"--text: line {i} of {path} is not a JSON object")
                        rows.append(obj)
                columns = sorted({key for row in rows for key in row})
            else:
                reader = csv.DictReader(fh, delimiter="\t" if ext == ".tsv" else ",")
                rows = list(reader)
                columns = list(reader.fieldnames or [])
    except UnicodeDecodeError:
        raise ValueError(f"--text: {path} is not UTF-8 text") from None
    if not rows:
        raise ValueError(f"--text: {path} has no data rows")
    for flag, col in (("--text-column", text_column), ("--label-column", label_column)):
        if col not in columns:
            raise ValueError(f"{flag}: no column {col!r} in {path} (columns: {', '.join(map(str, columns))})")
    texts, labels = [], []
    for i, row in enumerate(rows):
        if row.get(text_column) is None or row.get(label_column) is None:
            raise ValueError(f"--text: row {i + 1} of {path} lacks {text_column!r} or {label_column!r}")
        texts.append(str(row[text_column]))
        labels.append(str(row[label_column]))
    return texts, labels


def parse_budgets(tokens: list[str] | None, num_classes: int) -> list[int] | None:
    """Budgets from tokens like ``20``, ``20,40`` or ``2C`` (a multiple of the class count)."""
    if not tokens:
        return None
    out = []
    for token in (t for tok in tokens for t in tok.split(",") if t.strip()):
        token = token.strip()
        match = _BUDGET.match(token)
        if match:
            out.append(int(round(float(match.group(1)) * num_classes)))
        elif token.lstrip("-").isdigit():
            out.append(int(token))
        else:
            raise ValueError(
                f"--budgets: cannot read {token!r}; use integers like 20 or multiples of the class count like 2C"
            )
    if any(b < 1 for b in out):
        raise ValueError(f"--budgets: must be positive, got {[b for b in out if b < 1][0]}")
    return out


def add_option_flag(group: Any, f: Any) -> None:
    """One :data:`kcover.advisor.options.FLAGS` entry as an argparse flag; its default is the field's."""
    value = default(f.field)
    if f.negate or value is False:
        group.add_argument(
            f.flag, dest=f.field, action="store_false" if f.negate else "store_true", default=f.negate, help=f.help
        )
        return
    shown = "" if value is None else f" (default {value if not isinstance(value, tuple) else len(value)})"
    among = f"; one of {', '.join(f.choices)}" if f.choices else ""
    group.add_argument(f.flag, dest=f.field, default=None, help=f.help + among + shown)


def option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`AdviseOptions` fields given on the command line, parsed (defaults left to the options)."""
    out: dict[str, Any] = {}
    for f in FLAGS:
        raw = getattr(args, f.field)
        if f.negate or default(f.field) is False:
            out[f.field] = bool(raw)
            continue
        if raw is None:
            continue
        value = default(f.field)
        if f.choices is not None:
            out[f.field] = raw
        elif isinstance(value, float) or is_number(f.field):
            out[f.field] = _float(raw, f.flag)
        else:  # integers (seeds is a count on the command line; pool and split counts may default to None)
            out[f.field] = parse_int(raw, f.flag)
    return out


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None


def _load_inputs(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, Any, str]:
    """(input features, learner features, labels, description of the input geometry)."""
    if args.data is not None:
        from kcover.cli.select_data import advise_inputs

        x, learner, labels, source, args.learner = advise_inputs(args)
        return x, learner, labels, source
    if (args.input is None) == (args.text is None):
        raise ValueError("--input: give exactly one of --input X.npy, --text data.csv or --data PATH")
    if args.learner is None:
        raise ValueError("--learner: required with --input or --text (an .npy of the learner's features)")
    learner = checks.features(load_array(args.learner, "--learner"), "--learner")
    if args.text is not None:
        if args.labels is not None:
            raise ValueError("--labels: not used with --text; the labels come from --label-column")
        from kcover.featurize import hash_text

        texts, names = read_text_table(args.text, args.text_column, args.label_column)
        if len(texts) != learner.shape[0]:
            raise ValueError(f"--learner: has {learner.shape[0]} rows but --text has {len(texts)}")
        dim = parse_int(args.text_dim, "--text-dim")
        if dim < 1:
            raise ValueError(f"--text-dim: must be positive, got {dim}")
        checks.choice(args.tf, TF_MODES, "--tf")
        checks.choice(args.text_ngrams, TEXT_NGRAMS, "--text-ngrams")
        chars = (3, 5) if args.text_ngrams == "words+chars" else None
        x = hash_text(texts, dim=dim, tf=args.tf, char_ngrams=chars)
        return (
            x,
            learner,
            np.asarray(names),
            (f"lexical n-gram hashing of {args.text} (dim {dim}, tf {args.tf}, {args.text_ngrams})"),
        )
    if args.labels is None:
        raise ValueError("--labels: required with --input (a .npy of N class ids or names)")
    x = checks.features(load_array(args.input, "--input"), "--input")
    if learner.shape[0] != x.shape[0]:
        raise ValueError(f"--learner: has {learner.shape[0]} rows but --input has {x.shape[0]}")
    labels = load_array(args.labels, "--labels")
    if labels.ndim != 1:
        raise ValueError(f"--labels: expected a 1-d array of N labels, got shape {labels.shape}")
    if labels.shape[0] != x.shape[0]:
        raise ValueError(f"--labels: has {labels.shape[0]} rows but --input has {x.shape[0]}")
    return x, learner, labels, f"{args.input}"


def run(args: argparse.Namespace) -> int:
    """Run ``kcover advise``; returns the exit code."""
    from kcover.advisor.entry import advise
    from kcover.advisor.render import plot_sweep
    from kcover.labels import encode_labels

    t0 = time.perf_counter()
    sweep = bool(args.sweep or args.plot)
    plot_path = args.plot or (DEFAULT_PLOT if sweep else None)
    if plot_path is not None:
        if not plot_path.lower().endswith(".png"):
            raise ValueError(f"--plot: must end in .png, got {plot_path}")
        parent = os.path.dirname(os.path.abspath(plot_path))
        if not os.path.isdir(parent):
            raise ValueError(f"--plot: directory does not exist: {parent}")

    x, learner, labels, source = _load_inputs(args)
    _, classes = encode_labels(
        labels, x.shape[0], "--labels" if args.text is None and args.data is None else "--label-column"
    )
    budgets = parse_budgets(args.budgets, len(classes))
    try:
        options = AdviseOptions(**option_values(args), sweep=sweep, progress=not args.quiet)
        advice = advise(x, learner, labels, budgets, options)
    except ValueError as err:
        msg = str(err)
        name, _, rest = msg.partition(":")
        if name in _API_TO_FLAG and rest:
            raise ValueError(_API_TO_FLAG[name] + ":" + rest) from None
        raise
    if plot_path is not None:
        plot_sweep(advice, plot_path)
    took = time.perf_counter() - t0
    # with --text: X.npy = kcover.hash_text of the texts, saved; with --data the command below names the file
    paths = (args.input or "X.npy", args.learner or "E.npy")
    command = None
    if args.data is not None:
        from kcover.cli.select_data import select_command

        paying = [b.k for b in advice.budgets if b.verdict == "pay"]
        k = paying[-1] if paying else advice.budgets[-1].k  # the largest budget where the learner pays
        command = select_command(args, "pay" if paying else advice.budgets[-1].verdict, k)
    if args.json:
        out = advice.to_dict(paths)
        out["input_source"] = source
        if command is not None:
            out["select_command"] = command
        if args.text is not None and (args.text_ngrams, args.tf) != ("words", "tfidf"):
            out["input_note"] = WEAK_TEXT_NOTE
        out["plot"] = plot_path
        out["timings"]["command_s"] = round(took, 2)
        print(json.dumps(out))
        return 0
    print(f"input geometry: {source}; learner geometry: {args.learner}")
    print(advice.summary(verbose=args.verbose, paths=paths))
    if args.text is not None and (args.text_ngrams, args.tf) != ("words", "tfidf"):
        print("\n" + WEAK_TEXT_NOTE)
    if plot_path is not None:
        print(f"\nplot: {plot_path}")
    print(f"done in {took:.1f} s (includes JIT compilation)")
    if command is not None:
        print(
            f"\nnext, as the verdict says ({'pay: the learner' if paying else 'the input geometry'}, k = {k}):\n"
            f"  {command}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``advise`` subcommand."""
    p = subparsers.add_parser(
        "advise",
        help="is learner-geometry selection worth it here? a verdict per budget",
        description="Measure the input-learner misalignment (A), the full-budget probe gap (B) and the budget "
        "against the effective dimension (C), and say per budget whether selecting in the learner's "
        "geometry should pay (pay / do-not-pay / either), with the expected gain, the selection "
        "settings assumed and the kcover select command that follows.",
    )
    src = p.add_argument_group("data")
    src.add_argument("--input", default=None, metavar="X.npy", help="(N, d_in) input-geometry features")
    src.add_argument(
        "--learner",
        default=None,
        metavar="E.npy",
        help="(N, d_l) learner features (embeddings), with --input or --text",
    )
    src.add_argument("--labels", default=None, metavar="y.npy", help="(N,) class ids or names, with --input")
    src.add_argument(
        "--text",
        default=None,
        metavar="DATA.csv",
        help="instead of --input/--labels: a .csv/.tsv/.jsonl with a text and a label column",
    )
    src.add_argument("--text-column", default="text", help="text column of --text or --data (default text)")
    src.add_argument("--label-column", default="label", help="label column of --text or --data (default label)")
    src.add_argument("--text-dim", default="4096", help="hash buckets for --text (default 4096)")
    src.add_argument(
        "--text-ngrams",
        default="words+chars",
        metavar="N",
        help="--text terms: words+chars (word 1-2-grams and character 3-5-grams, default) or words "
        "(word 1-2-grams only; with --tf tfidf --text-dim 16384 the stronger input on BBC News)",
    )
    src.add_argument("--tf", default="sublinear", help=f"term weighting for --text: {', '.join(TF_MODES)}")
    add_data_arguments(p, advise=True)
    opt = p.add_argument_group("diagnostic")
    opt.add_argument(
        "--budgets",
        nargs="+",
        default=None,
        metavar="K",
        help="budgets to advise on: integers or multiples of the class count (2C); default C 2C 4C 8C",
    )
    groups = {"diagnostic": opt, "pilot": p.add_argument_group("pilot (on by default: measure before you pay)")}
    for f in FLAGS:
        add_option_flag(groups[f.group], f)
    out = p.add_argument_group("output")
    out.add_argument("--sweep", action="store_true", help="also realize input-FL vs learner-FL vs random")
    out.add_argument(
        "--plot",
        default=None,
        metavar="OUT.png",
        help=f"PNG of the sweep (implies --sweep; default {DEFAULT_PLOT} with --sweep)",
    )
    out.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    out.add_argument("--verbose", action="store_true", help="print every reason, in words, per budget")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
