"""The calibration scored by what a verdict costs the user (issue 28): regret against the oracle.

    python -m kcover.experiments.calibration.regret docs/results/calibration_20pools/calibration.json [...] [--out DIR]

Per (cell, pool): regret = max(t - margin, 0) - (t - margin if the verdict pays else 0), t the
cell's truth (mean realized ADV over its fresh pools), ``either`` counted as not paying
(:func:`kcover.advisor.decide.regret`). Rules (:data:`POLICIES`): the paper's gap rule, the
repaired a-priori rule, the pilot's measured verdict (pay when its mean ADV exceeds the margin),
the advisor's decision (:func:`kcover.advisor.decide.decide`: ``either``, and (A') overruling a
marginal pilot ``pay``), always-pay and never-pay. Beside the regret (accuracy points, mean over
pairs): the share right on clear cells (``either`` as not paying) and the share of ``either``.

It reads the calibration's JSON record (``calibration.json``: cells with ``truth``,
``close_call``, ``verdicts`` and per-pool ``measurements``), so the table is recomputed from
results already on disk; :mod:`kcover.experiments.calibrate` appends it to every new calibration.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kcover.advisor.decide import decide, regret
from kcover.advisor.options import MARGIN
from kcover.advisor.rules import NN_MARGIN
from kcover.experiments import protocol as P
from kcover.experiments.calibration.cells import default_kernel

POLICIES = ("paper", "a priori", "pilot (measured)", "advisor (either, A' overrule)", "always pay", "never pay")


def decision(measurement: Mapping[str, Any], margin: float = MARGIN) -> str:
    """The advisor's verdict (:func:`kcover.advisor.decide.decide`) from one pool's recorded pilot and (A')."""
    r, b = measurement["record"], measurement["budget"] or {}
    p = b.get("pilot")
    if not p:
        return "n/a"
    sd = p["adv_se"] * math.sqrt(p["splits"])
    return decide(p["adv_mean"], sd, margin, p.get("confidence", 1.0), local_check(r)).verdict


def policy_verdicts(cell: Mapping[str, Any], policy: str, margin: float = MARGIN) -> list[str]:
    """``policy``'s verdict on each advisor pool of a JSON ``cell``."""
    pools = cell["measurements"]
    if policy == "always pay":
        return ["pay"] * len(pools)
    if policy == "never pay":
        return ["do-not-pay"] * len(pools)
    if policy == "advisor (either, A' overrule)":
        return [decision(m, margin) for m in pools]
    name = {"pilot (measured)": "pilot"}.get(policy, policy)
    if name not in cell["verdicts"]:
        raise ValueError(f"policy: unknown {policy!r}")
    return list(cell["verdicts"][name])


def score(cells: Sequence[Mapping[str, Any]], policy: str, margin: float = MARGIN) -> dict[str, Any]:
    """Mean regret (accuracy fraction), right on clear cells, share of ``either``, over (cell, pool) pairs."""
    regrets, clear_right, clear, either = [], 0, 0, 0
    for cell in cells:
        t = cell["truth"]["mean"]
        for v in policy_verdicts(cell, policy, margin):
            if v == "n/a":
                continue
            regrets.append(regret(t, v, margin))
            either += v == "either"
            if not cell["close_call"]:
                clear += 1
                clear_right += (v == "pay") == (t > margin)
    n = len(regrets)
    return {
        "regret": float(np.mean(regrets)) if n else float("nan"),
        "regret_sd": float(np.std(regrets)) if n else float("nan"),
        "pairs": n,
        "clear_right": clear_right,
        "clear_pairs": clear,
        "either": either,
    }


def local_check(record: Mapping[str, Any]) -> bool | None:
    """(A') on one pool's record: the learner's neighbours agree on labels at least about as often
    as the input's (None when not measured)."""
    nn_in, nn_l = record.get("nn_input"), record.get("nn_learner")
    return None if nn_in is None or nn_l is None else bool(nn_l >= nn_in - NN_MARGIN)


def cell_part(cell: Mapping[str, Any]) -> str:
    """The cell's dataset, kernel, encoder and (when recorded) pool size, as one name."""
    size = f" pool {cell['pool']}" if cell.get("pool") else ""
    return f"{cell['dataset']} {kernel_of(cell)} {cell.get('representation')}{size}"


PILOT_PARTS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str]] = {
    "pilot mean": lambda cell, m: "",
    "pilot mean, one threshold where (A') passes, one where it fails": lambda cell, m: f"A' {local_check(m['record'])}",
    "pilot mean, one threshold per dataset x kernel x encoder x pool size": lambda cell, m: cell_part(cell),
}
"""Measures read from the pilot: name -> the part of (cell, advisor pool) that shares a threshold."""
MEASURES = (*PILOT_PARTS, "pool's realized ADV")


def measured_pairs(cells: Sequence[Mapping[str, Any]], measure: str) -> list[tuple[float, float, bool, str]]:
    """(measurement, truth, close call, part) per (cell, pool), one of :data:`MEASURES`: the
    pilot's mean ADV on each advisor pool, or each truth pool's own realized ADV (``pool_adv``:
    what selecting in that pool gained). ``part`` names the pairs that share a threshold."""
    if measure not in MEASURES:
        raise ValueError(f"measure: unknown {measure!r}; one of {MEASURES}")
    out = []
    for cell in cells:
        t, close = cell["truth"]["mean"], bool(cell["close_call"])
        if measure not in PILOT_PARTS:
            out += [(adv, t, close, "") for _, adv in cell.get("pool_adv", [])]
            continue
        for m in cell["measurements"]:
            p = (m["budget"] or {}).get("pilot")
            if p:
                out.append((p["adv_mean"], t, close, PILOT_PARTS[measure](cell, m)))
    return out


def parted_floor(pairs: Sequence[tuple[float, float, bool, str]], margin: float = MARGIN) -> dict[str, Any]:
    """:func:`hindsight_floor` with one threshold per ``part`` (the pairs' 4th field), pooled."""
    parts: dict[str, list[tuple[float, float, bool]]] = {}
    for x, t, close, part in pairs:
        parts.setdefault(part, []).append((x, t, close))
    floors = [hindsight_floor(p, margin) for p in parts.values()]
    n = sum(f["pairs"] for f in floors)
    if len(floors) == 1:
        return floors[0]
    return {
        "regret": sum(f["regret"] * f["pairs"] for f in floors) / n if n else float("nan"),
        "threshold": {name: f["threshold"] for name, f in zip(parts, floors)},
        "pairs": n,
        "clear_right": sum(f["clear_right"] for f in floors),
        "clear_pairs": sum(f["clear_pairs"] for f in floors),
    }


def hindsight_floor(pairs: Sequence[tuple[float, float, bool]], margin: float = MARGIN) -> dict[str, Any]:
    """The lowest mean regret of any rule "pay when the measurement exceeds a threshold", the
    threshold chosen with hindsight on these very ``pairs`` (measurement, truth, close call).

    Exact: over every cut between distinct sorted measurements (and pay-all, pay-none), the
    paid set is a suffix, and its regret is never-pay's minus the suffix's summed (truth - margin).
    No rule that sees only this measurement can do better on these pairs, whatever its threshold.
    """
    if not pairs:
        return {"regret": float("nan"), "threshold": None, "pairs": 0, "clear_right": 0, "clear_pairs": 0}
    x = np.array([p[0] for p in pairs], float)
    gain = np.array([p[1] for p in pairs], float) - margin
    order = np.argsort(x, kind="stable")
    xs, gs = x[order], gain[order]
    suffix = np.concatenate([np.cumsum(gs[::-1])[::-1], [0.0]])  # suffix[i]: paying pairs i.. (sorted)
    cuts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1], [True]]))  # only between distinct values
    best = int(cuts[np.argmax(suffix[cuts])])
    threshold = float("-inf") if best == 0 else (float("inf") if best == len(xs) else float(xs[best - 1]))
    pays = x > threshold
    clear = np.array([not p[2] for p in pairs])
    return {
        "regret": float(np.mean(np.maximum(gain, 0.0)) - suffix[best] / len(xs)),
        "threshold": threshold,
        "pairs": len(pairs),
        "clear_right": int(np.sum(clear & (pays == (gain > 0)))),
        "clear_pairs": int(np.sum(clear)),
    }


def at(threshold: Any) -> str:
    """ " at +0.045" for one threshold, nothing for several."""
    return f" at {threshold:+.3f}" if isinstance(threshold, float) else ""


def floor_section(
    cells: Sequence[Mapping[str, Any]],
    groups: Mapping[str, Sequence[str]],
    record: dict[str, Any] | None = None,
    margin: float = MARGIN,
) -> list[str]:
    """Markdown lines: per group, :func:`hindsight_floor` for each of :data:`MEASURES`, beside never
    pay's regret and a third of it. Recorded in ``record["hindsight_floor"]``."""
    header = ["measure, threshold set with hindsight per group"]
    header += [f"{g}: regret (points), threshold" for g in groups] + [f"{g}: right on clear" for g in groups]
    rows = []
    for measure in MEASURES:
        floors = {
            g: parted_floor(measured_pairs([c for c in cells if in_group(c, ds)], measure), margin)
            for g, ds in groups.items()
        }
        rows.append(
            [measure]
            + [f"{100 * f['regret']:.2f}{at(f['threshold'])}" if f["pairs"] else "n/a" for f in floors.values()]
            + [f"{f['clear_right']}/{f['clear_pairs']}" if f["clear_pairs"] else "n/a" for f in floors.values()]
        )
        if record is not None:
            record.setdefault("hindsight_floor", {})[measure] = floors
    nevers = [score([c for c in cells if in_group(c, ds)], "never pay", margin) for ds in groups.values()]
    third = [f"{100 * n['regret'] / 3:.2f}" if n["pairs"] else "n/a" for n in nevers]
    rows.append(["(a third of never pay's regret)"] + third + [""] * len(groups))
    intro = (
        "What a threshold can reach: the lowest regret of a rule that pays when one measurement exceeds a "
        "threshold, the threshold chosen on the very pairs it is scored on (so no rule on that measurement "
        "alone does better there). The pilot mean is the recorded pilot on each advisor pool; the pool's "
        "realized ADV is what selecting in each truth pool actually gained on its scoring set."
    )
    return [intro, "", P.study_table(header, rows, signed=False)]


def kernel_of(cell: Mapping[str, Any]) -> str:
    """The cell's selection kernel; records written before it was recorded used their study's
    default (:func:`~kcover.experiments.calibration.cells.default_kernel`)."""
    return cell.get("kernel") or default_kernel(cell["dataset"])


def in_group(cell: Mapping[str, Any], names: Sequence[str]) -> bool:
    """Whether ``names`` holds the cell's dataset, its dataset with its kernel ("digits (cosine)"),
    or with its kernel and pool size ("digits (cosine, pool 600)", for cells that record a pool)."""
    d, k = cell["dataset"], kernel_of(cell)
    return d in names or f"{d} ({k})" in names or f"{d} ({k}, pool {cell.get('pool')})" in names


def regret_section(
    cells: Sequence[Mapping[str, Any]],
    groups: Mapping[str, Sequence[str]],
    record: dict[str, Any] | None = None,
    margin: float = MARGIN,
) -> list[str]:
    """The regret table as markdown lines; ``groups`` maps a name to its datasets (or "dataset (kernel)"
    names, see :func:`in_group`). Recorded in ``record``."""
    header = (
        ["policy"]
        + [f"{g}: regret (points)" for g in groups]
        + [f"{g}: right on clear" for g in groups]
        + ["either (all pairs)"]
    )
    rows = []
    for policy in POLICIES:
        row: list[Any] = [policy]
        scores = {g: score([c for c in cells if in_group(c, ds)], policy, margin) for g, ds in groups.items()}
        row += [f"{100 * s['regret']:.2f}" if s["pairs"] else "n/a" for s in scores.values()]
        row += [
            f"{s['clear_right']}/{s['clear_pairs']} ({s['clear_right'] / s['clear_pairs']:.0%})"
            if s["clear_pairs"]
            else "n/a"
            for s in scores.values()
        ]
        every = score(cells, policy, margin)
        row.append(f"{every['either']}/{every['pairs']} ({every['either'] / max(every['pairs'], 1):.0%})")
        rows.append(row)
        if record is not None:
            record.setdefault("regret", {})[policy] = {g: s for g, s in scores.items()}
    intro = (
        "Regret against the oracle, accuracy points, mean over (cell, pool) pairs: max(t - m, 0) - (t - m if "
        f"the verdict pays else 0), t the cell's truth, m = {margin}; `either` counts as not paying. Right on "
        "clear: pairs of cells whose truth is not a close call where the verdict (either as not paying) "
        "matches the truth."
    )
    return [intro, "", P.study_table(header, rows, signed=False)]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m kcover.experiments.calibration.regret", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("record", nargs="+", help="calibration.json files (their cells are pooled)")
    p.add_argument("--tuning", nargs="+", default=["bbc_news", "mnist5k"], help="datasets used for tuning")
    p.add_argument("--out", default=None, help="write regret.md and regret.json to this folder")
    args = p.parse_args(argv)
    cells = []
    for path in args.record:  # a record's pool size (calibrate writes it) goes to each of its cells
        rec = json.loads(Path(path).read_text())
        cells += [{**c, "pool": rec.get("pool")} for c in rec["cells"]]
    held = sorted({c["dataset"] for c in cells} - set(args.tuning))
    groups = {"tuning": args.tuning, "held out": held}
    if len(held) > 1:  # and each held-out dataset alone
        groups |= {name: [name] for name in held}
    tagged = sorted({f"{c['dataset']} ({kernel_of(c)})" for c in cells if c["dataset"] in held})
    kernels = sorted({kernel_of(c) for c in cells if c["dataset"] in held})
    if len(tagged) > len(held):  # a dataset selected with both kernels: by kernel too
        groups |= {f"held out, {k}": [t for t in tagged if t.endswith(f"({k})")] for k in kernels}
        groups |= {t: [t] for t in tagged}
    pooled = sorted({f"{c['dataset']} ({kernel_of(c)}, pool {c['pool']})" for c in cells if c["dataset"] in held})
    if len(pooled) > len(tagged) and all(c["pool"] for c in cells if c["dataset"] in held):
        groups |= {t: [t] for t in pooled}  # a dataset and kernel at two pool sizes: by pool too
    record: dict[str, Any] = {}
    lines = regret_section(cells, groups, record) + [""] + floor_section(cells, groups, record)
    print("\n".join(lines))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "regret.md").write_text("\n".join(lines) + "\n")
        (Path(args.out) / "regret.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
