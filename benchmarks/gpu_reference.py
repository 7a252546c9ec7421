"""Exact lazy greedy references for the scaling benchmark, on a lent GPU.

    python benchmarks/gpu_reference.py --out DIR [--cases mixture:1000000 embedding:300000 ...] [--k 1000]

For each case: the data set of benchmarks/scale_data.py, exact lazy greedy facility location
(rbf, median-heuristic bandwidth, block 1024, precision "highest": full float32), its picks
(DIR/ref_<data>_<n>.npy), seconds and work counts (DIR/gpu_reference.json, rewritten after every
case so a timeout keeps what finished). bench_scale.py scores these picks on the CPU with
kcover.objective: the "exact greedy" column at sizes the 2-core machine cannot run exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax
from scale_data import dataset

import kcover


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument(
        "--cases",
        nargs="+",
        default=[
            "mixture:100000",
            "mixture:1000000",
            "embedding:1000000",
            "mixture:300000",
            "embedding:300000",
            "embedding:100000",
        ],
    )
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--block", type=int, default=1024)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"device": str(jax.devices()[0]), "k": args.k, "block": args.block, "cases": []}
    for case in args.cases:
        name, n = case.split(":")
        t0 = time.perf_counter()
        x = dataset(name, int(n))
        bw = kcover.median_bandwidth(x)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        sel = kcover.facility_location(x, args.k, method="lazy", bandwidth=bw, block=args.block, precision="highest")
        took = time.perf_counter() - t0
        np.save(out / f"ref_{name}_{n}.npy", sel.indices)
        report["cases"].append(
            dict(
                data=name,
                n=int(n),
                d=int(x.shape[1]),
                bandwidth=bw,
                seconds=round(took, 2),
                data_seconds=round(made, 2),
                objective=float(sel.objective[-1]),
                info={k: v for k, v in sel.info.items()},
            )
        )
        (out / "gpu_reference.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report["cases"][-1]), flush=True)
    return report


if __name__ == "__main__":
    main()
