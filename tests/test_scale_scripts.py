"""The benchmark scripts: their scorer agrees with kcover's, and the GPU script runs tiny."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from _reference import gram as ref_gram

import kcover

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_benchmark_scores_and_kernel_agree_with_kcover():
    bench = load("bench_selection")
    x = bench.mixture(400, 8)
    assert x.dtype == np.float32 and np.array_equal(x, bench.mixture(400, 8))
    bw = bench.bandwidth(x)
    np.testing.assert_allclose(bench.dense_rbf(x, bw, block=64), ref_gram(x, x, "rbf", bw), atol=2e-6)
    picks = [3, 70, 111]
    assert bench.score(x, picks, bw, block=50) == pytest.approx(kcover.objective(x, picks, bandwidth=bw), rel=1e-5)


def test_the_benchmark_table_renders():
    bench = load("bench_selection")
    rows = [dict(n=100, k=5, tool="kcover", status="ok", steady_s=0.1, kernel_s=0.0, select_s=0.1, compile_s=1.0,
                 cpu_s=0.1, peak_rss_gb=0.3, ratio=1.0),
            dict(n=100, k=5, tool="apricot", status="ok", steady_s=0.8, kernel_s=0.1, select_s=0.7, compile_s=2.0,
                 cpu_s=0.8, peak_rss_gb=0.6, ratio=0.9999),
            dict(n=100, k=5, tool="submodlib", status="timeout: over 10 s")]
    md = bench.markdown(rows, None, dict(cpu=2, data="d", d=8, kernel="rbf", load_at_end="1.0"))
    assert "| 100 | 5 | submodlib | – |" in md
    assert "kcover is 8.00x faster end to end than the fastest peer (apricot), at 0.50x its peak memory" in md


def test_the_gpu_script_runs_tiny_on_the_cpu(tmp_path):
    gpu = load("gpu_scale")
    out = tmp_path / "gpu.json"
    rep = gpu.main(["--n", "1500", "--d", "8", "--k", "12", "--block", "64", "--probe-size", "128",
                    "--centres", "20", "--out", str(out)])
    assert rep["distinct_picks"] and rep["similarity_columns"] >= 1500
    assert rep["achieved_flops"] > 0 and rep["matmul_f32_flops"] > 0
    assert json.loads(out.read_text())["n"] == 1500
