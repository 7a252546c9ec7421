"""Matrix-free lazy greedy at accelerator scale: N = 1,000,000, d = 768, k = 1,000.

Run on a machine with a GPU (it also runs, slowly, on the CPU at small sizes)::

    python benchmarks/gpu_scale.py                            # N = 1e6, d = 768, k = 1000
    python benchmarks/gpu_scale.py --n 20000 --d 64 --k 50    # a CPU-sized check

It generates a Gaussian mixture on the device, selects with kcover's matrix-free lazy greedy
(nothing N x N is ever held: the similarities are computed block by block from the features),
and reports the wall time (first call, compilation included, and a second call if ``--repeat``),
the similarity columns evaluated, the FLOP/s they achieved (2 d flops per similarity; the
exponentials and the bookkeeping are not counted), and the device's own matrix-multiply rate
measured by a probe in the same run (bf16, and float32 at the ``--precision`` used), so the two
can be compared. Precision "default" lets a GPU use TF32 (similarities good to about 1e-3);
"highest" is full float32. Designed to finish in under five minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from kcover.kernels import Kernel, median_bandwidth
from kcover.selection.facility_rules import run
from kcover.selection.similarity import PRECISIONS, FeatureSimilarity


def rate(flops: float) -> str:
    """A FLOP/s figure in the unit that reads best."""
    return f"{flops / 1e12:.1f} TFLOP/s" if flops >= 1e12 else f"{flops / 1e9:.1f} GFLOP/s"


def matmul_rate(size: int, dtype, precision: str, reps: int = 5) -> float:
    """Achieved FLOP/s of a (size, size) @ (size, size) product in ``dtype``."""
    key = jax.random.key(1)
    a = jax.random.normal(key, (size, size), dtype)
    b = jax.random.normal(jax.random.fold_in(key, 1), (size, size), dtype)
    f = jax.jit(lambda a, b: jnp.matmul(a, b, precision=PRECISIONS[precision]))
    f(a, b).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(reps):
        out = f(a, b)
    out.block_until_ready()
    return 2.0 * size**3 * reps / (time.perf_counter() - t0)


def mixture(n: int, d: int, centres: int, seed: int = 0) -> jax.Array:
    """n points of a Gaussian mixture, float32, generated on the default device."""

    @jax.jit
    def make(key):
        kc, kl, kn = jax.random.split(key, 3)
        c = jax.random.normal(kc, (centres, d))
        lab = jax.random.randint(kl, (n,), 0, centres)
        return c[lab] + 0.5 * jax.random.normal(kn, (n, d))

    return make(jax.random.key(seed))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--centres", type=int, default=1000)
    p.add_argument("--method", default="lazy", choices=["lazy", "stochastic", "naive"])
    p.add_argument("--block", type=int, default=1024, help="similarity columns per call (B)")
    p.add_argument("--precision", default="default", choices=sorted(PRECISIONS))
    p.add_argument("--epsilon", type=float, default=0.1)
    p.add_argument("--probe-size", type=int, default=8192, help="side of the matmul-rate probe")
    p.add_argument("--repeat", action="store_true", help="time a second, compiled call too")
    p.add_argument("--out", default=None, help="write the report as JSON here")
    args = p.parse_args(argv)

    dev = jax.devices()[0]
    settings = {f: getattr(args, f) for f in ("n", "d", "k", "method", "block", "precision")}
    report = dict(device=str(dev), platform=dev.platform, **settings)
    size = min(args.probe_size, 8192)
    report["matmul_bf16_flops"] = matmul_rate(size, jnp.bfloat16, "default")
    report["matmul_f32_flops"] = matmul_rate(size, jnp.float32, args.precision)
    print(
        f"device {dev}: matmul probe {size}^3: bf16 {rate(report['matmul_bf16_flops'])}, float32 "
        f"({args.precision}) {rate(report['matmul_f32_flops'])}",
        flush=True,
    )

    t0 = time.perf_counter()
    x = mixture(args.n, args.d, args.centres)
    x.block_until_ready()
    rows = np.random.default_rng(0).choice(args.n, min(args.n, 2000), replace=False)
    bw = median_bandwidth(np.asarray(x[np.sort(rows)]))
    report["data_s"] = time.perf_counter() - t0
    src = FeatureSimilarity(x, x, Kernel("rbf", jnp.float32(bw)), args.precision, True)  # targets = the pool
    opts = dict(
        method=args.method, initial=np.zeros(0, np.int32), order=None, epsilon=args.epsilon, seed=0, block=args.block
    )
    w = np.ones(args.n, np.float32)

    t0 = time.perf_counter()
    sel = run(src, w, 0.0, args.k, **opts)
    report["first_call_s"] = time.perf_counter() - t0
    if args.repeat:
        t0 = time.perf_counter()
        sel = run(src, w, 0.0, args.k, **opts)
        report["steady_s"] = time.perf_counter() - t0
    timed = report.get("steady_s", report["first_call_s"])
    stats = {c: sel.info[c] for c in ("similarity_columns", "cache_rows", "rounds")}
    flops = 2.0 * args.d * args.n * stats["similarity_columns"]
    report.update(stats)
    report["similarity_flops"] = flops
    report["achieved_flops"] = flops / timed
    report["fraction_of_f32_matmul"] = report["achieved_flops"] / report["matmul_f32_flops"]
    report["fraction_of_bf16_matmul"] = report["achieved_flops"] / report["matmul_bf16_flops"]
    report["objective"] = float(sel.objective[-1])
    report["distinct_picks"] = bool(len(set(sel.indices.tolist())) == args.k)
    print(
        f"N={args.n:,} d={args.d} k={args.k} {args.method} B={args.block}: first call {report['first_call_s']:.1f} s"
        + (f", steady {report['steady_s']:.1f} s" if args.repeat else "")
        + f"; {stats['similarity_columns']:,} similarity columns = {flops:.3g} flop, "
        f"{rate(report['achieved_flops'])} = {report['fraction_of_f32_matmul']:.0%} of the float32 "
        f"and {report['fraction_of_bf16_matmul']:.0%} of the bf16 matmul rate; objective {report['objective']:.6g}",
        flush=True,
    )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
