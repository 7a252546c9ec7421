"""Real fine-tuning (paper section 7): does the learner-geometry advantage survive training?

    python -m kcover.experiments.finetune --tasks bbc_news --encoder minilm --out runs/finetune-bbc

The LLM study (:mod:`kcover.experiments.llm`) scores every subset with a *fixed probe* on frozen
embeddings. Here the same subsets train the learner itself: LoRA adapters (or full fine-tuning,
``--full``) on the encoder plus a linear head on its mean-pooled output
(:mod:`kcover.experiments.lora`), a fixed step budget with no early stopping (nothing looks at
the test split before scoring).

Per task and seed: a fresh pool of ``--pool`` documents (at most 80% of the candidates, as in the
LLM study) drawn from ``--candidates`` (default 2 x ``--pool``) documents of the pool split;
k = m x C documents selected for each m in ``--budgets`` (default 1 2 4 8) by facility location
(cosine kernel) in the lexical geometry (n-gram hashing, ``input-FL``), in the frozen encoder's
embedding geometry (``learner-FL``), and at random, exactly as the LLM study selects. Each
subset is scored twice on the same fixed test subsample of ``--test`` documents: by the fixed
probe on the frozen embeddings (``probe_acc``, the LLM study's protocol) and by the fine-tuned
model (``acc``). The fine-tuned and probe ADV = acc(learner-FL) - acc(input-FL) are therefore
paired on the same pools and picks; the selectors of a seed share the adapter initialization.

Documents are cut to ``--max-tokens`` and padded to it; with ``--top-layers n`` only the top n
layers are adapted and the frozen layers below run once per document (exact, see
:mod:`kcover.experiments.lora`). Each finished cell (task, encoder, budget, selector, seed) is
appended to ``OUT/results.jsonl``; a rerun skips finished cells and a kill loses none. The
settings that are not cell coordinates are kept in ``OUT/settings.json``; a rerun with other
settings into the same ``--out`` is refused. Outputs (written by
:mod:`kcover.experiments.finetune_report`): ``finetune.md``/``finetune.csv``,
``fig_finetune_<task>.png``, ``finetune.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.experiments import protocol as P
from kcover.experiments.driver import Memo, drive, main_with_errors
from kcover.experiments.finetune_report import report
from kcover.experiments.store import atomic_write_text

ENCODERS = ("minilm", "qwen2.5")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.finetune", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tasks",
        nargs="+",
        default=["bbc_news"],
        help="presets (bbc_news 20newsgroups banking77 sst5 emotion amazon_cf) or folders under --data-dir",
    )
    p.add_argument("--encoder", default="minilm", choices=ENCODERS)
    p.add_argument(
        "--weights",
        "--weights-dir",
        dest="weights",
        default=None,
        help="the encoder's local Hugging Face directory (default: the shipped MiniLM; "
        "$KCOVER_WEIGHTS_DIR/Qwen2.5-0.5B for qwen2.5)",
    )
    p.add_argument("--data-dir", default=None, help="folder of task folders (not needed for bbc_news)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--pool", type=int, default=400)
    p.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="documents of the pool split prepared, each seed's pool drawn from them (default 2 x --pool)",
    )
    p.add_argument("--test", type=int, default=300, help="held-out documents scored, a fixed subsample (default 300)")
    p.add_argument("--budgets", nargs="+", type=int, default=[1, 2, 4, 8], help="k = m x C for each m")
    p.add_argument(
        "--max-tokens", type=int, default=128, help="documents are truncated (and padded) to this many tokens"
    )
    p.add_argument("--hash-dim", type=int, default=4096, help="lexical hashing dimension")
    g = p.add_argument_group("learner")
    g.add_argument("--rank", type=int, default=8, help="LoRA rank")
    g.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (the delta is alpha/rank * A B)")
    g.add_argument(
        "--targets",
        nargs="+",
        default=None,
        help="projections adapted (default: query value for minilm, q_proj v_proj for qwen2.5)",
    )
    g.add_argument("--top-layers", type=int, default=None, help="adapt only the top N layers (default: all)")
    g.add_argument("--full", action="store_true", help="full fine-tuning of the adapted layers instead of LoRA")
    g.add_argument("--steps", type=int, default=30, help="optimizer steps per fine-tune (fixed, no early stopping)")
    g.add_argument("--batch-size", type=int, default=8, help="examples per step (min with k)")
    g.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (AdamW)")
    g.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps warming up linearly")
    g.add_argument("--weight-decay", type=float, default=0.01)
    g.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clip")
    p.add_argument("--encode-batch", type=int, default=32, help="documents per compiled forward when scoring")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--out", required=True)
    p.add_argument("--no-progress", action="store_true")
    return p


def _check(args: argparse.Namespace) -> None:
    from kcover.experiments.encoders import weights as W
    from kcover.experiments.lora_backbone import check_targets

    if args.candidates is None:
        args.candidates = 2 * args.pool
    for name, v in (
        ("--seeds", args.seeds),
        ("--pool", args.pool),
        ("--test", args.test),
        ("--candidates", args.candidates),
        ("--max-tokens", args.max_tokens),
        ("--hash-dim", args.hash_dim),
        ("--rank", args.rank),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
        ("--encode-batch", args.encode_batch),
    ):
        if v <= 0:
            raise ValueError(f"{name}: must be positive, got {v}")
    if args.max_tokens < 2:
        raise ValueError(f"--max-tokens: must be at least 2, got {args.max_tokens}")
    for name, v in (("--alpha", args.alpha), ("--lr", args.lr), ("--clip-norm", args.clip_norm)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name}: must be positive, got {v}")
    if not 0.0 <= args.warmup < 1.0:
        raise ValueError(f"--warmup: must be a fraction in [0, 1), got {args.warmup}")
    if not (np.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise ValueError(f"--weight-decay: must be >= 0, got {args.weight_decay}")
    if any(m <= 0 for m in args.budgets):
        raise ValueError(f"--budgets: multipliers must be positive, got {args.budgets}")
    if args.top_layers is not None and args.top_layers <= 0:
        raise ValueError(f"--top-layers: must be positive, got {args.top_layers}")
    args.budgets = sorted(set(args.budgets))
    args.targets = None if args.targets is None else list(check_targets(args.encoder, args.targets, name="--targets"))
    if args.weights is not None:
        path = Path(args.weights).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"--weights: directory {path} does not exist")
    elif args.encoder == "qwen2.5" and not W.default_dir("qwen2.5").is_dir():
        raise FileNotFoundError(
            f"--weights: none given for qwen2.5 and the default directory "
            f"{W.default_dir('qwen2.5')} does not exist; pass --weights DIR"
        )


SETTINGS = (
    "encoder",
    "weights",
    "pool",
    "candidates",
    "test",
    "max_tokens",
    "hash_dim",
    "rank",
    "alpha",
    "targets",
    "top_layers",
    "full",
    "steps",
    "batch_size",
    "lr",
    "warmup",
    "weight_decay",
    "clip_norm",
    "dtype",
)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    s = {k: getattr(args, k) for k in SETTINGS}
    s["weights"] = None if s["weights"] is None else str(Path(s["weights"]).expanduser().resolve())
    return s


def _check_out(args: argparse.Namespace) -> None:
    """Refuse to mix cells computed with other settings into ``--out``; record the settings."""
    path = Path(args.out) / "settings.json"
    now = _settings(args)
    if path.exists():
        old = json.loads(path.read_text())
        diff = [k for k in SETTINGS if old.get(k) != now[k]]
        if diff:
            shown = ", ".join(f"{k} {old.get(k)!r} -> {now[k]!r}" for k in diff[:3])
            raise ValueError(f"--out: {args.out} holds a run with other settings ({shown}); use another --out")
    else:
        atomic_write_text(path, json.dumps(now, indent=1) + "\n")


class _Learner:
    """The backbone and the classifier, loaded once per run and shared by its tasks."""

    def __init__(self, args: argparse.Namespace):
        from kcover.experiments.lora import LoraConfig
        from kcover.experiments.lora_backbone import load_backbone
        from kcover.experiments.lora_train import TrainConfig

        self.backbone = load_backbone(args.encoder, args.weights, max_length=args.max_tokens, dtype=args.dtype)
        n = self.backbone.num_layers
        if args.top_layers is not None and args.top_layers > n:
            raise ValueError(f"--top-layers: {args.encoder} has {n} layers, got {args.top_layers}")
        self.config = LoraConfig(
            rank=args.rank,
            alpha=args.alpha,
            targets=None if args.targets is None else tuple(args.targets),
            top_layers=args.top_layers,
            full=args.full,
        )
        same_names = ("steps", "batch_size", "warmup", "weight_decay", "clip_norm")
        self.train = TrainConfig(learning_rate=args.lr, **{f: getattr(args, f) for f in same_names})
        self.classifiers: dict[int, Any] = {}

    def classifier(self, num_classes: int) -> Any:
        from kcover.experiments.lora import LoraClassifier

        if num_classes not in self.classifiers:  # one per C: its jitted steps are reused across tasks
            self.classifiers[num_classes] = LoraClassifier(self.backbone, num_classes, self.config)
        return self.classifiers[num_classes]


class _Prepared(Memo):
    """One task: texts, lexical features, the frozen part of every document, base embeddings."""

    def __init__(self, task: str, args: argparse.Namespace, learner: _Learner):
        super().__init__()
        from kcover.experiments.text_data import load_text
        from kcover.featurize import hash_text

        t0 = time.perf_counter()
        pool_src = load_text(task, "pool", data_dir=args.data_dir)
        test = load_text(task, "test", data_dir=args.data_dir)
        src_rows = P.subsample(len(pool_src.texts), args.candidates, 0)
        test_rows = P.subsample(len(test.texts), args.test, 0)
        texts = [pool_src.texts[i] for i in src_rows]
        texts_test = [test.texts[i] for i in test_rows]
        self.labels, self.labels_test = pool_src.labels[src_rows], test.labels[test_rows]
        self.num_classes = c = pool_src.num_classes
        n = len(texts)
        n_pool = P.pool_size(args.pool, n)  # the LLM study's pools: capped at 80% of the candidates
        self.pools = {s: P.draw_pool(n, n_pool, s) for s in range(args.seeds)}
        too_big = [m for m in args.budgets if m * c > n_pool]
        if too_big:
            m = max(too_big)
            raise ValueError(
                f"--budgets: k = {m} x C = {m * c} exceeds the pool of {n_pool} documents of {task} "
                f"(--pool {args.pool}, at most 80% of --candidates {args.candidates})"
            )
        self.lexical = hash_text(texts, dim=args.hash_dim)
        self.clf = clf = learner.classifier(c)
        self.train = learner.train
        bb = learner.backbone
        progress = not args.no_progress
        self.ids, self.mask = bb.tokenize(texts)
        ids_test, self.mask_test = bb.tokenize(texts_test)
        self.hidden = clf.prefix(self.ids, self.mask, batch_size=args.encode_batch, progress=progress)
        self.hidden_test = clf.prefix(ids_test, self.mask_test, batch_size=args.encode_batch, progress=progress)
        # the frozen encoder's features (its zero-adapter output): selection geometry and probe input
        base = clf.init(0)
        self.embed = clf.features(base, self.hidden, self.mask, batch_size=args.encode_batch, normalize=bb.normalize)
        self.embed_test = clf.features(
            base, self.hidden_test, self.mask_test, batch_size=args.encode_batch, normalize=bb.normalize
        )
        self.budgets = args.budgets
        self.encode_batch = args.encode_batch
        self.prepare_seconds = time.perf_counter() - t0

    def cell(self, key: dict[str, Any]) -> dict[str, Any]:
        seed, sel, c = key["seed"], key["selector"], self.num_classes
        pool = self.pools[seed]
        y = self.labels[pool]
        k = key["budget"] * c
        emb = self.memo(("embed", seed), lambda: P.standardize(self.embed[pool], self.embed_test))
        # the LLM study's selection: greedy picks are nested, so the largest budget's run serves all
        if sel == "random":
            picks = P.select_indices("random", None, k, seed=seed, kernel="cosine", n=len(pool))
        else:
            geom = self.lexical[pool] if sel == "input-FL" else self.embed[pool]
            kmax = max(self.budgets) * c
            order = self.memo(
                (sel, seed), lambda: P.select_indices(sel, geom, kmax, seed=seed, kernel="cosine", n=len(pool))
            )
            picks = order[:k]
        probe_acc = P.subset_accuracy(emb, y, self.labels_test, picks, c, seed=seed)
        rows = pool[picks]
        t0 = time.perf_counter()
        fit = self.clf.fit(self.hidden[rows], self.mask[rows], self.labels[rows], seed=seed, train=self.train)
        pred = self.clf.predict(fit.trainable, self.hidden_test, self.mask_test, batch_size=self.encode_batch)
        train_pred = self.clf.predict(fit.trainable, self.hidden[rows], self.mask[rows], batch_size=self.encode_batch)
        return {
            "acc": float(np.mean(pred == self.labels_test)),
            "probe_acc": probe_acc,
            "train_acc": float(np.mean(train_pred == self.labels[rows])),
            "loss_first": float(fit.losses[0]),
            "loss_last": float(fit.losses[-1]),
            "classes_covered": int(len(np.unique(self.labels[rows]))),
            "k": int(k),
            "num_classes": c,
            "n_pool": len(pool),
            "n_test": len(self.labels_test),
            "finetune_seconds": round(time.perf_counter() - t0, 3),
            "picks": [int(i) for i in picks],
        }


def cells(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every cell key of the run, grouped by task, then by seed (each budget's shapes compile once)."""
    return [
        {"task": t, "encoder": args.encoder, "budget": m, "selector": s, "seed": seed}
        for t in args.tasks
        for seed in range(args.seeds)
        for m in args.budgets
        for s in P.TEXT_SELECTORS
    ]


def run(args: argparse.Namespace) -> int:
    """Compute every unfinished cell, then write the table, the figure and the JSON."""
    t_start = time.time()
    _check(args)
    _check_out(args)
    _log_invocation(Path(args.out), t_start, None, 0.0)
    learner: list[_Learner] = []
    prep_seconds: list[float] = []

    def prepare(task):
        if not learner:
            learner.append(_Learner(args))
        st = _Prepared(task, args, learner[0])
        prep_seconds.append(st.prepare_seconds)
        return st

    rows, ran = drive(
        args.out,
        cells(args),
        group=lambda k: k["task"],
        prepare=prepare,
        compute=lambda st, k: st.cell(dict(k)),
        desc="finetune cells",
        progress=not args.no_progress,
    )
    out = Path(args.out)
    _log_invocation(out, t_start, ran, sum(prep_seconds))
    what_path = out / "learner.txt"
    if learner:
        lc = learner[0]
        atomic_write_text(
            what_path,
            lc.config.describe(args.encoder, lc.backbone.num_layers)
            + ", plus a linear head on the mean-pooled last hidden state\n",
        )
    what = what_path.read_text().strip() if what_path.exists() else None
    paths = report(rows, out, settings=_settings(args), learner=what)
    print(f"{ran} cells computed, {len(rows) - ran} reused; wrote {', '.join(str(p) for p in paths)}")
    print((out / "finetune.md").read_text())
    return 0


def _log_invocation(out: Path, t_start: float, ran: int | None, prep: float) -> None:
    """Record this invocation in ``OUT/invocations.json``: at its start (``ran`` None: wall time
    unknown until it finishes, and unknown for good if it is killed) and again at its end."""
    path = out / "invocations.json"
    log = json.loads(path.read_text()) if path.exists() else []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_start))
    wall = None if ran is None else round(time.time() - t_start, 1)
    entry = {
        "started": started,
        "start_time": round(t_start, 3),
        "wall_seconds": wall,
        "cells_computed": ran,
        "prepare_seconds": round(prep, 1),
    }
    if log and log[-1].get("start_time") == entry["start_time"] and ran is not None:
        log[-1] = entry
    else:
        log.append(entry)
    atomic_write_text(path, json.dumps(log, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.finetune``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.finetune", build_parser(), run, argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
