"""The LLM study (paper section 5, Table 2, Fig. 3), resumable cell by cell.

    python -m kcover.experiments.llm --tasks bbc_news --encoder minilm --out runs/llm

Learner geometry: mean-pooled hidden states of a text encoder (``qwen2.5`` as in the paper,
or ``minilm``), pretrained and random-init (condition A's control). Input geometry: lexical
n-gram hashing (:func:`kcover.featurize.hash_text`). Selectors: facility location (cosine
kernel, or ``--kernel rbf``) in each geometry, and random. Budgets k = m x C for m in ``--budgets`` (default
1..12). The fixed probe is fit on the embeddings of each subset and scored on the held-out
split; ``--seeds`` seeds, each drawing a fresh pool of ``--pool`` documents from a fixed
candidate set of ``--candidates`` (default 2 x ``--pool``) documents of the pool split. The
pool is capped at 80% of the candidates (:func:`protocol.pool_size`): with BBC News's 1,780
documents and the default pool of 3,000, each seed draws 1,424 of them, so the spread over
seeds includes the pool's, not only the probe's initialization.

Table 2 is the a-priori diagnostic, computed by :func:`kcover.advisor.entry.advise` on the first
seed's pool (lexical vs embedding probe at full budget, their gap), with the advisor's pilot
and a-priori verdicts at every budget; ``--diagnostic-seeds`` runs it on more seeds' pools.
Each finished cell (task, encoder, representation, budget, selector, seed, and the sizes that
define it; one diagnostic cell per task, representation and diagnostic seed) is appended to
``OUT/results.jsonl`` as it finishes; a rerun skips finished cells, and a cell whose key
changed (an older format, other sizes or budgets) is simply computed again.
Outputs (:mod:`kcover.experiments.llm_report`): ``table2.md``/``table2.csv`` (with ADV mean ± sd and
the count of seeds with ADV > 0 per budget), ``fig3_<task>.png``, ``llm.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from kcover.experiments import driver as D
from kcover.experiments import protocol as P
from kcover.experiments.driver import Memo, as_settings, main_with_errors, run_study
from kcover.experiments.llm_report import report


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextStudy(D.StudySettings):
    """The text study's settings (:class:`~kcover.experiments.driver.StudySettings` and these)."""

    tasks: tuple[str, ...]
    encoder: str = "qwen2.5"
    budgets: tuple[int, ...] = tuple(range(1, 13))
    selectors: tuple[str, ...] = P.TEXT_SELECTORS
    max_tokens: int = 256
    hash_dim: int = 4096
    kernel: str = "cosine"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kcover.experiments.llm", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tasks",
        nargs="+",
        required=True,
        help="presets (20newsgroups banking77 sst5 emotion amazon_cf bbc_news) or folders under --data-dir",
    )
    p.add_argument("--encoder", default=TextStudy.encoder, choices=["qwen2.5", "minilm"])
    D.add_study_flags(
        p,
        TextStudy,
        "documents",
        weights_help="the encoder's local Hugging Face directory",
        data_help="folder of task folders (not needed for bbc_news)",
    )
    p.add_argument("--budgets", nargs="+", type=int, default=TextStudy.budgets, help="k = m x C for each m")
    p.add_argument("--selectors", nargs="+", default=TextStudy.selectors, choices=P.TEXT_SELECTORS)
    p.add_argument(
        "--max-tokens", type=int, default=TextStudy.max_tokens, help="documents are truncated to this many tokens"
    )
    p.add_argument("--hash-dim", type=int, default=TextStudy.hash_dim, help="lexical hashing dimension")
    return p


def check_args(args: TextStudy) -> TextStudy:
    """Validate the settings (ValueError naming the flag); returns them with ``candidates`` filled in."""
    args = D.check_study(args, {"--max-tokens": args.max_tokens, "--hash-dim": args.hash_dim})
    if any(m <= 0 for m in args.budgets):
        raise ValueError(f"--budgets: multipliers must be positive, got {args.budgets}")
    return args


class Prepared(Memo):
    """One task: texts, lexical features and both representations' embeddings."""

    def __init__(self, task: str, args: TextStudy):
        super().__init__()
        from kcover.experiments.encoders.cache import embed_dataset
        from kcover.experiments.encoders.registry import get_encoder
        from kcover.experiments.text_data import load_text
        from kcover.featurize import hash_text

        pool_src = load_text(task, "pool", data_dir=args.data_dir)
        test = load_text(task, "test", data_dir=args.data_dir)
        src_rows = P.subsample(len(pool_src.texts), args.candidates, 0)
        test_rows = P.subsample(len(test.texts), args.test, 0)
        texts = [pool_src.texts[i] for i in src_rows]
        texts_test = [test.texts[i] for i in test_rows]
        self.labels, self.labels_test = pool_src.labels[src_rows], test.labels[test_rows]
        self.num_classes = pool_src.num_classes
        self.lexical = hash_text(texts, dim=args.hash_dim)
        cache = args.cache_dir or os.path.join(args.out, "cache")
        self.embed = {}
        for rep in P.REPRESENTATIONS:
            enc = get_encoder(
                args.encoder,
                args.weights_dir,
                random_init=rep == "random",
                seed=0,
                dtype=args.dtype,
                batch_size=args.batch_size,
                max_length=args.max_tokens,
            )
            prep = f"text-max{args.max_tokens}"
            self.embed[rep] = tuple(
                embed_dataset(
                    enc,
                    docs,
                    cache_dir=cache,
                    dataset=task,
                    split=f"{split}{len(docs)}",
                    preprocessing=prep,
                    progress=not args.no_progress,
                )
                for split, docs in (("pool", texts), ("test", texts_test))
            )
        n = len(texts)
        size = P.pool_size(args.pool, n)
        self.pools = {s: P.draw_pool(n, size, s) for s in range(args.seeds)}
        self.progress = not args.no_progress
        self.kernel = args.kernel

    def cell(self, key: dict[str, Any]) -> dict[str, Any]:
        rep, seed, sel = key["representation"], key["seed"], key["selector"]
        pool = self.pools[seed]
        c = self.num_classes
        if sel == "diagnostic":
            record = P.advisor_record(
                self.lexical[pool],
                self.embed[rep][0][pool],
                self.labels[pool],
                [m * c for m in key["budgets"]],
                input_kernel=self.kernel,
                learner_kernel=self.kernel,
                seed=seed,
                **P.advisor_options(key),
            )
            record["num_classes"] = c
            record["verdict_at_C"] = record["verdicts"].get(str(c), {}).get("verdict")
            record["budget_multipliers"] = {str(m * c): m for m in key["budgets"]}
            return record
        y = self.labels[pool]
        k = min(key["budget"] * c, len(pool))
        emb = self.memo(("embed", rep, seed), lambda: P.standardize(self.embed[rep][0][pool], self.embed[rep][1]))
        # greedy picks are nested: the largest budget's run gives every smaller one as a prefix
        if sel == "random":
            picks = P.select_indices("random", None, k, seed=seed, kernel=self.kernel, n=len(pool))
        else:
            geom = self.lexical[pool] if sel == "input-FL" else self.embed[rep][0][pool]
            kmax = min(max(self.budget_multipliers) * c, len(pool))
            order = self.memo(
                (sel, rep if sel == "learner-FL" else "", seed),
                lambda: P.select_indices(sel, geom, kmax, seed=seed, kernel=self.kernel, n=len(pool)),
            )
            picks = order[:k]
        acc = P.subset_accuracy(emb, y, self.labels_test, picks, c, seed=seed)
        return {
            "acc": acc,
            "k": int(k),
            "num_classes": c,
            "n_pool": len(pool),
            "n_test": len(self.labels_test),
            "picks": [int(i) for i in picks],
        }


def group_of(key: dict[str, Any]) -> str:
    """The group a cell belongs to: its task, whose texts and features are prepared once."""
    return key["task"]


def prepare_group(task: str, args: TextStudy) -> Prepared:
    """The prepared state of one task (:class:`Prepared`)."""
    st = Prepared(task, args)
    st.budget_multipliers = args.budgets
    return st


def cells(args: TextStudy) -> list[dict[str, Any]]:
    """Every cell key of the run: diagnostics first, then the sweep, grouped by task."""
    out = []
    sizes = {
        "pool": args.pool,
        "candidates": args.candidates,
        "test": args.test,
        "max_tokens": args.max_tokens,
        "hash_dim": args.hash_dim,
        **D.kernel_field(args.kernel, TextStudy.kernel),
    }
    for t in args.tasks:
        base = {"task": t, "encoder": args.encoder, **sizes}
        out += [
            {
                **base,
                "representation": r,
                "budget": 0,
                "selector": "diagnostic",
                "seed": seed,
                "budgets": sorted(args.budgets),
            }
            for r in P.REPRESENTATIONS
            for seed in range(args.diagnostic_seeds)
        ]
        out += [
            {**base, "representation": r, "budget": m, "selector": s, "seed": seed}
            for r in P.REPRESENTATIONS
            for seed in range(args.seeds)
            for m in args.budgets
            for s in P.TEXT_SELECTORS
            if s in args.selectors
        ]
    return out


def run(args: TextStudy | argparse.Namespace) -> int:
    """Compute every unfinished cell, then write Table 2, Fig. 3 and the JSON."""
    args = check_args(as_settings(TextStudy, args))
    return run_study(args, cells(args), group_of, prepare_group, report, "llm cells", "table2.md")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kcover.experiments.llm``; returns the exit code (2 for bad input)."""
    return main_with_errors("kcover.experiments.llm", build_parser(), run, argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
