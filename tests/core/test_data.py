"""kcover.data: budgets, reading and writing tables, columns, per-class selection, the estimator,
select_dataset, and the resumable embedding cache (with a stand-in encoder)."""

from __future__ import annotations

import json
import warnings
from typing import ClassVar

import numpy as np
import pytest

import kcover
from kcover.data.budget import class_budgets, resolve_budget
from kcover.data.columns import labels, texts, vectors
from kcover.data.subset import select_rows, subset_table
from kcover.data.tables import check_output, read_table, write_table


@pytest.mark.parametrize(
    ("value", "k"),
    [
        ("10%", 222),
        (0.1, 222),
        ("0.1", 222),
        ("1000", 1000),
        (1000, 1000),
        ("1.0", 2225),
        ("100%", 2225),
        ("0.0001", 1),
        (7, 7),
    ],
)
def test_budget_counts_percentages_and_fractions(value, k):
    assert resolve_budget(value, 2225) == k


@pytest.mark.parametrize("value", ["0", "-3", "0%", "0.0", "1.5", "101%", "2226", "abc", "nan", True])
def test_bad_budgets_name_the_flag(value):
    with pytest.raises(ValueError, match=r"^--k: "):
        resolve_budget(value, 2225)


def _brute_largest_remainder(counts, k):
    """Every split within 1 of its share summing to k, and the one that keeps the largest remainders."""
    share = k * np.asarray(counts) / sum(counts)
    base = np.floor(share).astype(int)
    extra = k - base.sum()
    order = sorted(range(len(counts)), key=lambda c: (-(share[c] - base[c]), c))
    base[order[:extra]] += 1
    return base


@pytest.mark.parametrize("seed", range(20))
def test_proportional_budgets_are_largest_remainder_within_one_of_the_share(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 60, size=rng.integers(2, 9))
    k = int(rng.integers(1, counts.sum() + 1))
    got = class_budgets(counts, k)
    assert got.sum() == k and (got <= counts).all()
    assert (np.abs(got - k * counts / counts.sum()) < 1 + 1e-9).all()
    np.testing.assert_array_equal(got, _brute_largest_remainder(counts, k))


def test_equal_budgets_and_a_class_too_small():
    np.testing.assert_array_equal(class_budgets([10, 10, 10], 7, "equal"), [3, 2, 2])
    with pytest.raises(ValueError, match=r"--k: class 'b' has 2 rows, fewer than its budget of 3"):
        class_budgets([10, 2, 10], 9, "equal", names=["a", "b", "c"])
    with pytest.raises(ValueError, match="--per-class-mode"):
        class_budgets([10, 2], 3, "sideways")


def _rows(n=30, seed=0):
    rng = np.random.default_rng(seed)
    words = ["apple", "pear", "plum", "fig", "kiwi", "lime"]
    return [
        {
            "text": " ".join(rng.choice(words, 5)),
            "label": ["x", "y", "z"][i % 3],
            "id": i,
            "vec": rng.normal(size=3).round(3).tolist(),
        }
        for i in range(n)
    ]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet", "folder"])
def test_tables_round_trip_in_every_format(tmp_path, fmt):
    rows = [{k: v for k, v in r.items() if k != "vec" or fmt in ("jsonl", "parquet", "folder")} for r in _rows(12)]
    src = read_table(str(_write_jsonl(tmp_path / "in.jsonl", rows)))
    out = tmp_path / ("out" if fmt == "folder" else f"out.{fmt}")
    assert check_output(str(out), str(tmp_path / "in.jsonl")) == fmt
    write_table(src, str(out))
    assert read_table(str(out)).to_list() == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.jsonl", out.name])  # no temporary left


def test_columns_checked_and_named(tmp_path):
    table = read_table(str(_write_jsonl(tmp_path / "a.jsonl", _rows(6))))
    assert texts(table, "text")[0] == _rows(6)[0]["text"]
    assert vectors(table, "vec").shape == (6, 3)
    assert list(labels(table, "label")[:3]) == ["x", "y", "z"]
    with pytest.raises(ValueError, match=r"--text-column: no column 'body' \(columns: text, label, id, vec\)"):
        texts(table, "body")
    with pytest.raises(ValueError, match=r"--text-column: column 'id' holds int64 values, not text"):
        texts(table, "id")
    with pytest.raises(ValueError, match="--features-column: column 'text' must hold lists"):
        vectors(table, "text")
    nulls = read_table(str(_write_jsonl(tmp_path / "b.jsonl", [{"text": "a"}, {"text": None}])))
    with pytest.raises(ValueError, match=r"--text-column: column 'text' is null at row 2"):
        texts(nulls, "text")


def test_per_class_selection_matches_selecting_each_class_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], [30, 20, 10])
    kern = kcover.make_kernel("rbf", None, x)
    sel = select_rows(x, "20%", labels=y, kernel=kern)
    assert sel.info["class_budgets"] == {"a": 6, "b": 4, "c": 2}
    for c, b in sel.info["class_budgets"].items():
        rows = np.flatnonzero(y == c)
        alone = kcover.select(x[rows], b, kernel=kern)
        mine = [i for i in sel.indices if y[i] == c]
        assert mine == rows[alone.indices].tolist()  # same picks, same order within the class
    assert (np.diff(sel.gains) <= 1e-6).all()  # merged by gain, largest first
    np.testing.assert_allclose(
        sel.objective[-1],
        sum(kcover.select(x[y == c], b, kernel=kern).objective[-1] for c, b in sel.info["class_budgets"].items()),
        rtol=1e-5,
    )


def test_select_dataset_returns_the_rows_with_the_kcover_columns():
    import datasets

    ds = datasets.Dataset.from_list(_rows(30))
    out = kcover.select_dataset(ds, 0.2, features_column="vec", per_class="label")
    assert isinstance(out, datasets.Dataset) and out.num_rows == 6
    for rank, row in enumerate(out):
        assert row["kcover_rank"] == rank
        assert {k: v for k, v in row.items() if not k.startswith("kcover_")} == ds[row["kcover_index"]]
    assert sorted(out["label"]) == ["x", "x", "y", "y", "z", "z"]
    lexical = kcover.select_dataset(ds, 5, text_column="text", input_features="lexical")
    assert lexical.num_rows == 5 and len(set(lexical["kcover_index"])) == 5
    with pytest.raises(ValueError, match="--data: already has a column 'kcover_rank'"):
        subset_table(out, kcover.select(np.asarray(out["vec"], np.float32), 2))
    with pytest.raises(ValueError, match="exactly one of --encoder"):
        kcover.select_dataset(ds, 5, text_column="text")


def test_estimator_params_fit_transform_and_pipeline():
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = np.arange(40) % 4
    est = kcover.FacilityLocationSelection(8, per_class=True)
    assert est.get_params()["n_samples"] == 8 and clone(est).get_params() == est.get_params()
    assert est.set_params(n_samples=0.25) is est and est.n_samples == 0.25
    with pytest.raises(ValueError, match="colour: not a parameter"):
        est.set_params(colour="red")
    xs, ys = est.fit(x, y).transform(x, y)
    assert xs.shape == (10, 3) and np.bincount(ys).tolist() == [3, 3, 2, 2]
    np.testing.assert_array_equal(xs, x[est.ranking_])
    assert est.gains_.shape == est.weights_.shape == (10,)
    plain = kcover.FacilityLocationSelection(5, kernel="cosine").fit(x)
    ref = kcover.select(x.astype(np.float32), 5, kernel="cosine")
    np.testing.assert_array_equal(plain.ranking_, ref.indices)
    pipe = Pipeline([("scale", StandardScaler()), ("select", kcover.FacilityLocationSelection(5))])
    assert pipe.fit_transform(x).shape == (5, 3)
    with pytest.raises(ValueError, match="y: per_class=True needs"):
        kcover.FacilityLocationSelection(5, per_class=True).fit(x)


# Checks whose premise is a transformer that keeps every row: this one returns a subset of the
# rows it was fitted on, so its output has k rows, depends on the whole set (not row by row) and
# is defined only for the data it was fitted on.
NOT_APPLICABLE = {
    "check_transformer_general": "transform returns k < N rows (the subset), not one row per input row",
    "check_transformer_data_not_an_array": "same premise as check_transformer_general: one output row per input row",
    "check_methods_sample_order_invariance": "the subset of a permuted X is not the permuted subset row by row",
    "check_methods_subset_invariance": "transform on a subset of the rows is not the subset of transform's rows",
    "check_fit_idempotent": "transforms new data after fit; the selection is defined on the fitted rows only",
}


def test_check_estimator_passes_every_check_that_applies():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "does not inherit from BaseEstimator": by design (no sklearn at import)
        results = check_estimator(
            kcover.FacilityLocationSelection(0.5), on_fail=None, expected_failed_checks=NOT_APPLICABLE
        )
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    assert not failed, failed
    expected = {r["check_name"] for r in results if r["status"] == "xfail"}
    assert expected == set(NOT_APPLICABLE)  # each still fails for the stated reason, none was skipped silently
    assert sum(r["status"] == "passed" for r in results) >= 35


class _Stand:
    """A stand-in encoder: features are the item's number, shifted; counts what it encodes."""

    name, dim, batch_size = "stand", 2, 2
    identity: ClassVar[dict] = {
        "encoder": "stand",
        "fingerprint": "0",
        "random_init": False,
        "dtype": "float32",
        "dim": 2,
        "encoder_preprocessing": "none",
    }

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def encode(self, batch):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # killed in the middle
        self.calls += 1
        return np.stack([[float(v), float(v) + 0.5] for v in batch]).astype(np.float32)


def test_embedding_cache_resumes_from_finished_chunks_and_recomputes_a_bad_one(tmp_path):
    from kcover.experiments.encoders.cache import FeatureCacheWarning, embed_dataset

    items = [str(i) for i in range(10)]
    args = {
        "cache_dir": tmp_path,
        "dataset": "d",
        "split": "text",
        "preprocessing": "p",
        "progress": False,
        "chunk_rows": 4,
    }
    with pytest.raises(KeyboardInterrupt):
        embed_dataset(_Stand(fail_after=3), items, **args)  # chunk 0-4 written, 4-8 half done
    parts = list(tmp_path.glob("*.parts/*.npz"))
    assert len(parts) == 1
    again = _Stand()
    x = embed_dataset(again, items, **args)
    assert again.calls == 3  # rows 4..9 in batches of 2: the finished chunk was not recomputed
    np.testing.assert_array_equal(x[:, 0], np.arange(10))
    assert not list(tmp_path.glob("*.parts"))  # folded into one cache file
    assert embed_dataset(_Stand(fail_after=0), items, **args).shape == (10, 2)  # a hit: no encoding
    cache = next(tmp_path.glob("*.npz"))
    with pytest.raises(KeyboardInterrupt):
        cache.unlink()
        embed_dataset(_Stand(fail_after=2), items, **args)
    next(tmp_path.glob("*.parts/*.npz")).write_bytes(b"garbage")
    with pytest.warns(FeatureCacheWarning, match="recomputing"):
        np.testing.assert_array_equal(embed_dataset(_Stand(), items, **args), x)
