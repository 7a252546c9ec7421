"""``kcover theory mode|law|knob [--out DIR] [--seeds N]``: the section-3 simulators.

Each command writes ``<name>.png`` (figure), ``<name>.md`` (table) and ``<name>.json``
(record) to DIR, shows a progress bar on stderr and prints a short summary with the paper's
claim beside our measurement. Stable JSON keys for scripts:

* ``mode.json``: ``instances`` (one dict per instance and budget, with ``adv_measured`` and
  ``adv_predicted``), ``summary``;
* ``law.json``: ``c_empirical``, ``violations`` (every one, with its parameters), ``rows``;
* ``knob.json``: ``alpha``, ``adv_mean``, ``adv_std`` (lists over alpha).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

COMMANDS = ("mode", "law", "knob")
DEFAULT_SEEDS = {"mode": 3, "law": 2, "knob": 5}
PAPER_KNOB = {"alpha": [0.0, 1.0], "adv": [-0.06, 0.94]}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``theory`` subcommand to the ``kcover`` parser."""
    p = subparsers.add_parser(
        "theory", help="simulators that check the paper's Eq. 1, Eq. 2 and Fig. 1",
        description="mode: Eq. 1 on the latent-mode model; law: the product law Eq. 2; knob: Fig. 1.")
    p.add_argument("which", choices=COMMANDS, help="mode (Eq. 1), law (Eq. 2) or knob (Fig. 1)")
    p.add_argument("--out", default="kcover-out/theory", help="output folder (default kcover-out/theory)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds per setting (default: mode 3, law 2, knob 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one simulator from parsed arguments (``which``, ``out``, ``seeds``); returns 0."""
    which = args.which
    if which not in COMMANDS:
        raise ValueError(f"which: unknown command {which!r}; choose one of {', '.join(COMMANDS)}")
    seeds = DEFAULT_SEEDS[which] if args.seeds is None else args.seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds: must be a positive integer, got {seeds!r}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"out: cannot create {out} ({err.strerror or err})") from err
    t0 = time.perf_counter()
    runner = {"mode": run_mode, "law": run_law, "knob": run_knob}[which]
    paths, summary = runner(out, seeds)
    took = time.perf_counter() - t0
    print(f"kcover theory {which}: {seeds} seed(s), {took:.1f} s")
    for line in summary:
        print("  " + line)
    print("  wrote " + ", ".join(str(p) for p in paths))
    return 0


# --------------------------------------------------------------------------------------- mode
def run_mode(
    out: Path,
    seeds: int = 3,
    *,
    r: int = 8,
    s: int = 2,
    n: int = 12,
    deltas: Any = (0.0, 0.25, 0.5, 0.75, 1.0),
    orders: Any = ("mode-major", "round-robin", "shuffled"),
    soft_w_out: float = 0.2,
    progress: bool = True,
) -> tuple[list[Path], list[str]]:
    """Eq. 1 on the latent-mode model: every (seed, Delta, order, kernel, rho) at k = 1 .. r s.

    Kernels: the exact block kernel with rho in {0, 1}, and the soft block kernel
    (w_in = 1, w_out = ``soft_w_out``) with rho = 1, where Eq. 1 is not exact.
    """
    from kcover.theory.latent_mode import BlockKernel, make_latent_modes, predicted_delta, simulate_modes
    from kcover.theory.report import markdown_table, plt, save

    ks = np.arange(1, r * s + 1)
    settings = [(BlockKernel(), 1.0), (BlockKernel(), 0.0), (BlockKernel(1.0, soft_w_out), 1.0)]
    jobs = [(sd, d, o, kern, rho) for sd in range(seeds) for d in deltas for o in orders for kern, rho in settings]
    rows = []
    for sd, d, o, kern, rho in tqdm(jobs, desc="theory mode", disable=not progress, leave=False):
        inst = make_latent_modes(r, d, n=n, s=s, rho=rho, order=o, seed=sd)
        res = simulate_modes(inst, ks, kernel=kern)
        for i, k in enumerate(ks):
            rows.append(dict(
                kernel=kern.name, exact_model=kern.w_out == 0, order=o, seed=sd, delta_frac=inst.delta_frac,
                m=inst.m, r=r, s=s, r_in=inst.r_in, k=int(k), rho=rho, delta_waste=int(res.delta[i]),
                covered_input=int(res.covered_in[i]), covered_learner=int(res.covered_learner[i]),
                risk_input=res.risk_in[i], risk_learner=res.risk_learner[i],
                adv_measured=res.adv[i], adv_predicted=res.adv_predicted[i], adv_exact=res.adv_exact[i],
                abs_error=abs(res.adv[i] - res.adv_predicted[i])))

    exact = [x for x in rows if x["exact_model"]]
    soft = [x for x in rows if not x["exact_model"]]
    tol = 1e-6
    worst = max(x["abs_error"] for x in exact)
    conj = [x for x in exact if x["m"] > 0 and x["rho"] > 0 and 2 <= x["k"] < x["r"]]
    conj_pos = sum(x["adv_measured"] > tol for x in conj)
    conj_mm = [x for x in conj if x["order"] == "mode-major"]
    zero_cases = [x for x in exact if x["m"] == 0 or x["rho"] == 0 or x["k"] >= x["r_in"]]
    k_ge_r = [x for x in exact if x["m"] > 0 and x["rho"] > 0 and x["r"] <= x["k"] < x["r_in"]]
    closed = [x for x in exact if x["order"] != "shuffled"
              and x["delta_waste"] != predicted_delta(r, x["m"], s, x["k"], x["order"])]
    summary = dict(
        tolerance=tol, n_instances=len(rows), exact_block_max_abs_error=worst,
        exact_block_within_tolerance=bool(worst <= tol),
        soft_block_max_abs_error=max(x["abs_error"] for x in soft) if soft else None,
        soft_block_mean_abs_error=float(np.mean([x["abs_error"] for x in soft])) if soft else None,
        zero_cases=len(zero_cases),
        zero_cases_with_adv_zero=sum(abs(x["adv_measured"]) <= tol for x in zero_cases),
        conjunction_cases=len(conj), conjunction_cases_with_adv_positive=conj_pos,
        conjunction_mode_major=len(conj_mm),
        conjunction_mode_major_positive=sum(x["adv_measured"] > tol for x in conj_mm),
        k_in_r_to_r_in_cases=len(k_ge_r),
        k_in_r_to_r_in_with_adv_positive=sum(x["adv_measured"] > tol for x in k_ge_r),
        closed_form_delta_mismatches=len(closed),
    )

    # figure
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    for sub, style, lab in ((exact, dict(marker="o", s=18, alpha=0.5), "exact block (Eq. 1 exact)"),
                            (soft, dict(marker="x", s=18, alpha=0.5), f"soft block, w_out={soft_w_out:g}")):
        ax.scatter([x["adv_predicted"] for x in sub], [x["adv_measured"] for x in sub], label=lab, **style)
    lim = max(max(x["adv_measured"] for x in rows), max(x["adv_predicted"] for x in rows)) + 0.5
    ax.plot([0, lim], [0, lim], "k--", lw=1, label="ADV = rho * delta")
    ax.set(xlabel="predicted rho * delta(Delta, k)", ylabel="measured ADV = R(S_in) - R(S_K)",
           title="Eq. 1: measured vs predicted")
    ax.legend(fontsize=8)
    for ax, order in zip(axes[1:], ("mode-major", "shuffled")):
        for d in deltas:
            sel = [x for x in exact
                   if x["order"] == order and x["rho"] == 1.0 and x["delta_frac"] == _realized(r, d)]
            if not sel:
                continue
            adv = np.array([[x["adv_measured"] for x in sel if x["k"] == k] for k in ks])
            ax.errorbar(ks, adv.mean(1), yerr=adv.std(1), marker="o", ms=3, capsize=2,
                        label=f"Delta={_realized(r, d):.2f}")
        ax.axvline(r, color="gray", ls=":", lw=1)
        ax.text(r, ax.get_ylim()[1] * 0.95, " k = r", fontsize=8, va="top")
        ax.set(xlabel="budget k", ylabel="ADV (rho = 1)", title=f"ADV(k), input-FL order: {order}")
        ax.legend(fontsize=8)
    fig.suptitle(f"Latent-mode model: r={r} modes, s={s} input sub-clusters per misaligned mode, {seeds} seed(s)")

    # table
    md = ["# kcover theory mode: Eq. 1, ADV(k) = rho * delta(Delta, k)\n",
          f"r = {r} modes, s = {s} input sub-clusters per misaligned mode, lightest input cluster n = {n} "
          f"points, k = 1..{r * s}, {seeds} seed(s); exact block learner kernel (w_in=1, w_out=0) with rho in "
          f"{{0, 1}}, soft block (w_out = {soft_w_out:g}) with rho = 1; KRR ridge 1e-8 in float64; risk on "
          "fresh draws from D (stratified by input cluster).\n",
          "| | paper | ours |", "|---|---|---|",
          f"| Eq. 1 on the exact block model | ADV = rho * delta exactly | max abs error {worst:.1e} over "
          f"{len(exact)} instances (tolerance {tol:g}) |",
          f"| soft block (w_out = {soft_w_out:g}) | (the sketch's soft version) | max abs error "
          f"{fmt_or_dash(summary['soft_block_max_abs_error'])}, "
          f"mean {fmt_or_dash(summary['soft_block_mean_abs_error'])} |",
          f"| ADV = 0 if Delta = 0 or rho = 0 or k >= r | yes | "
          f"{summary['zero_cases_with_adv_zero']}/{len(zero_cases)} zero, with k >= r_in in place of k >= r "
          "(see below) |",
          f"| ADV > 0 if Delta > 0, rho > 0, k < r | yes | {conj_pos}/{len(conj)} for 2 <= k < r (all orders); "
          f"{summary['conjunction_mode_major_positive']}/{len(conj_mm)} in the mode-major order |",
          f"| ADV at r <= k < r_in, Delta > 0 | 0 (\"k >= r: both cover all modes\") | "
          f"{summary['k_in_r_to_r_in_with_adv_positive']}/{len(k_ge_r)} positive |",
          "",
          "Where the law bends (all measured, none hidden):",
          "- k = 1: one pick covers exactly one mode in either geometry, so ADV = 0 although the budget binds.",
          "- k >= r is not enough when Delta > 0: greedy selections are nested, so if the first r input picks "
          "covered all r modes, no shorter prefix could have wasted a slot. The input geometry's budget binds "
          "until k >= r_in = r + m(s - 1), its own number of clusters.",
          "- The order in which input FL visits its clusters sets delta: mode-major wastes from the second "
          "pick, round-robin only after m picks, shuffled by chance. Eq. 1 holds exactly in every order.",
          "- With a soft block kernel (w_out > 0) an uncovered mode is partly predicted through the shared "
          "w_out component, so ADV departs from rho * delta (either sign).",
          "",
          "## ADV(k), exact block, rho = 1, mode-major order (measured; the prediction equals it within the "
          "error above)\n"]
    head = ["Delta", "m", "r_in"] + [f"k={k}" for k in ks]
    tab = []
    for d in deltas:
        sel = [x for x in exact
               if x["order"] == "mode-major" and x["rho"] == 1.0 and x["delta_frac"] == _realized(r, d)]
        by_k = {x["k"]: x for x in sel if x["seed"] == 0}
        tab.append([f"{_realized(r, d):.2f}", sel[0]["m"], sel[0]["r_in"]] + [by_k[k]["adv_measured"] for k in ks])
    md.append(markdown_table(head, tab))
    md.append("\n## delta(Delta, k) by input-FL order (seed 0)\n")
    tab = []
    for o in orders:
        for d in deltas:
            sel = {x["k"]: x for x in exact if x["order"] == o and x["rho"] == 1.0 and x["seed"] == 0
                   and x["delta_frac"] == _realized(r, d)}
            tab.append([o, f"{_realized(r, d):.2f}"] + [sel[k]["delta_waste"] for k in ks])
    md.append(markdown_table(["order", "Delta"] + [f"k={k}" for k in ks], tab))
    md.append("\nEvery instance (adv_measured, adv_predicted, adv_exact, risks, coverage) is in mode.json.")

    record = dict(command="mode", paper=dict(eq1="ADV(k) = rho * delta(Delta, k)"),
                  config=dict(r=r, s=s, n=n, deltas=list(deltas), orders=list(orders), ks=ks, seeds=seeds,
                              soft_w_out=soft_w_out, lam=1e-8),
                  summary=summary, instances=rows)
    paths = save(out, "mode", fig, "\n".join(md), record)
    lines = [f"Eq. 1, exact block: paper ADV = rho*delta exactly | ours max |measured - predicted| = {worst:.1e} "
             f"over {len(exact)} instances",
             f"soft block w_out={soft_w_out:g}: max error {fmt_or_dash(summary['soft_block_max_abs_error'])} "
             "(Eq. 1 bends)",
             f"ADV > 0 in {conj_pos}/{len(conj)} conjunction cases (2 <= k < r); ADV > 0 also in "
             f"{summary['k_in_r_to_r_in_with_adv_positive']}/{len(k_ge_r)} cases with r <= k < r_in (paper: 0)"]
    return paths, lines


def _realized(r: int, delta: float) -> float:
    from kcover.theory.latent_mode import misaligned_count

    return misaligned_count(r, delta) / r


def fmt_or_dash(v: Any) -> str:
    """``v`` as a short number, or ``-`` for None."""
    return "-" if v is None else f"{v:.3g}"


# ---------------------------------------------------------------------------------------- law
def run_law(
    out: Path,
    seeds: int = 2,
    *,
    r: int = 6,
    s: int = 2,
    n: int = 4,
    deltas: Any = (0.0, 0.25, 0.5, 1.0),
    orders: Any = ("mode-major", "round-robin"),
    lam: float = 1e-6,
    lam_eff: float = 1e-3,
    progress: bool = True,
) -> tuple[list[Path], list[str]]:
    """Eq. 2 on block (exact, soft) and general learner kernels over (seed, Delta, order, k)."""
    from kcover.theory.latent_mode import BlockKernel, make_latent_modes
    from kcover.theory.product_law import (ADV_TOL, BOUND_TOL, EmbeddingRBF, MixedKernel, RandomFeatureKernel, input_side,
                                    law_rows, summarize)
    from kcover.theory.report import markdown_table, plt, save

    def kernels(seed: int) -> list:
        return [BlockKernel(), BlockKernel(1.0, 0.2), BlockKernel(1.0, 0.5), MixedKernel(0.3), EmbeddingRBF(1.0, 0.1),
                RandomFeatureKernel(q=6, r=r, d=r * s, seed=seed)]

    jobs = [(sd, d, o) for sd in range(seeds) for d in deltas for o in orders]
    rows: list[dict] = []
    bar = tqdm(total=len(jobs) * len(kernels(0)), desc="theory law", disable=not progress, leave=False)
    for sd, d, o in jobs:
        inst = make_latent_modes(r, d, n=n, s=s, rho=1.0, order=o, seed=sd)
        inputs = input_side(inst, inst.r_in)
        for kern in kernels(sd):
            for row in law_rows(inst, kern, lam=lam, lam_eff=lam_eff, inputs=inputs):
                row["seed"] = sd
                rows.append(row)
            bar.update()
    bar.close()
    summ = summarize(rows)
    viol = summ["violations"]
    kinds = {k: sum(v["kind"] == k for v in viol) for k in ("upper", "upper, rho_tail = 0", "lower, ADV <= 0")}
    n_upper = kinds["upper"] + kinds["upper, rho_tail = 0"]
    n_upper_c = sum(x["adv"] > x["rho_tail"] * x["g_centered"] + ADV_TOL for x in rows)

    # figure
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    ax = axes[0]
    names = list(dict.fromkeys(x["kernel"] for x in rows))
    for i, name in enumerate(names):
        sub = [x for x in rows if x["kernel"] == name]
        ax.scatter([x["bound"] for x in sub], [x["adv"] for x in sub], s=14, alpha=0.6, label=name,
                   marker="o" if sub[0]["block"] else "^", color=f"C{i}")
    top = max(x["bound"] for x in rows) * 1.05 + 1e-3
    ax.plot([0, top], [0, top], "k--", lw=1, label="ADV = rho_tail * g (upper bound)")
    c = summ["c_empirical_positive"]
    if c is not None and c > 0:
        ax.plot([0, top], [0, c * top], "k:", lw=1, label=f"c = {c:.2f} (block rows with ADV > 0)")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="rho_tail(k) * g(Delta)", ylabel="ADV(k) = R(S_in) - R(S_K)  (symlog)",
           title="Eq. 2: every instance (above the dashed line: upper bound fails)")
    ax.legend(fontsize=7)
    ax = axes[1]
    sel = [x for x in rows if x["kernel"] == "block" and x["order"] == "mode-major" and x["seed"] == 0
           and x["delta_frac"] == max(x["delta_frac"] for x in rows)]
    kk = [x["k"] for x in sel]
    ax.plot(kk, [x["adv"] for x in sel], "o-", label="ADV (measured)")
    ax.plot(kk, [x["bound"] for x in sel], "s--", label="rho_tail * g")
    ax.plot(kk, [x["rho_tail"] for x in sel], "^:", label="rho_tail")
    ax.axvline(r, color="gray", ls=":", lw=1)
    if sel:
        ax.set_title(f"exact block, Delta = {sel[0]['delta_frac']:.2f}, g = {sel[0]['g']:.3f}")
    ax.set(xlabel="budget k")
    ax.legend(fontsize=8)
    fig.suptitle(f"Product law (Eq. 2): r={r}, s={s}, {seeds} seed(s), KRR ridge {lam:g}")

    # table
    md = ["# kcover theory law: Eq. 2, ADV(k) <= rho_tail(k) g(Delta) and >= c rho_tail(k) g(Delta)\n",
          f"Latent-mode instances r = {r}, s = {s}, lightest input cluster n = {n}, Delta in {list(deltas)}, input-FL "
          f"orders {list(orders)}, k = 1..r_in, {seeds} seed(s). rho_j = 1. KRR ridge {lam:g} (float64), risk on "
          f"fresh draws. rho_tail(k) = (1/n)||(I - U_k U_k^T) f*||^2 on the pool; g = 1 - A(K, k_in) (uncentered "
          f"alignment, as in the paper); r_eff at lambda = {lam_eff:g}. Block instances: exact and soft block kernels. "
          f"|ADV| <= {ADV_TOL:g} counts as 0; rho_tail and rho_tail g <= {BOUND_TOL:g} count as 0.\n",
          "| | paper | ours |", "|---|---|---|",
          f"| lower-bound constant c (block instances) | c > 0 (unspecified) | c_empirical = "
          f"{fmt_or_dash(summ['c_empirical'])}; over block rows with ADV > 0: "
          f"{fmt_or_dash(summ['c_empirical_positive'])} |",
          f"| upper bound ADV <= rho_tail g | holds | {n_upper} of {len(rows)} rows "
          f"violate it ({kinds['upper, rho_tail = 0']} with rho_tail = 0); the constant it would need: "
          f"{fmt_or_dash(summ['c_upper_needed'])} |",
          f"| same with centered alignment g_c | - | {n_upper_c} rows violate ADV <= rho_tail g_c |",
          "",
          "Why it fails (each kind is listed in law.json, every row with its parameters):",
          "- **upper, rho_tail = 0**: for r <= k < r_in the target lies in the learner's top-k eigenspace "
          "(rho_tail = 0) while input FL still misses modes: ADV > 0 = rho_tail g. rho_tail measures the budget "
          "against the learner's spectrum only; the input geometry's budget binds until k >= r_in.",
          "- **upper**: ADV = rho * delta grows with the wasted slots, while rho_tail(k) g shrinks with k and "
          "g = 1 - A stays small: two nonnegative block kernels keep a large uncentered alignment even when the "
          "blocks disagree (exact block with equal cluster sizes: A = sqrt(r_in / (r - m + m s^2)), about 0.7 or more "
          "for s = 2).",
          "- **lower, ADV <= 0**: block rows with rho_tail g > 0 but no advantage: k = 1 (no slot can be wasted), the "
          "round-robin order before it wastes, Delta = 0 with a soft block (g > 0 from the shared w_out part alone), "
          "and soft-block rows where S_in happens to have the lower risk. Only c <= 0 fits them.",
          "- General kernels can give ADV < 0 (the learner's own geometry selects worse): the upper bound holds there "
          "trivially and says nothing.",
          "\n## Per learner kernel\n"]
    tab = []
    for name, e in summ["per_kernel"].items():
        sub = [x for x in rows if x["kernel"] == name]
        tab.append([name, "yes" if sub[0]["block"] else "no", e["rows"], e["upper"], e["upper_rho_tail_zero"],
                    e["lower"], e["negative_adv"], e["min_ratio"], e["min_ratio_positive"], e["max_ratio"],
                    float(np.mean([x["g"] for x in sub])), float(np.mean([x["r_eff"] for x in sub]))])
    md.append(markdown_table(["kernel", "block", "rows", "upper viol.", "upper viol. (rho_tail=0)",
                              "lower viol.", "ADV < 0", "min ratio", "min ratio (ADV > 0)", "max ratio",
                              "mean g", "mean r_eff"], tab))
    md.append("\nratio = ADV / (rho_tail g) over rows with rho_tail g > BOUND_TOL; c_empirical is the min ratio "
              "over the block kernels.")
    md.append(f"\n## Every violation ({len(viol)})\n")
    md.append(markdown_table(["kind", "kernel", "order", "seed", "Delta", "k", "r_in", "ADV", "rho_tail", "g", "bound"],
                             [[v["kind"], v["kernel"], v["order"], v["seed"], v["delta_frac"], v["k"], v["r_in"],
                               v["adv"], v["rho_tail"], v["g"], v["bound"]] for v in viol]))
    claim = "ADV(k) <= rho_tail(k) g(Delta); ADV(k) >= c rho_tail(k) g(Delta) on block instances"
    record = dict(command="law", paper=dict(eq2=claim),
                  c_empirical=summ["c_empirical"], c_empirical_positive=summ["c_empirical_positive"],
                  c_upper_needed=summ["c_upper_needed"], violations=viol, violation_counts=kinds,
                  upper_violations_centered_g=n_upper_c, per_kernel=summ["per_kernel"],
                  config=dict(r=r, s=s, n=n, deltas=list(deltas), orders=list(orders), seeds=seeds, lam=lam,
                              lam_eff=lam_eff, adv_tol=ADV_TOL, bound_tol=BOUND_TOL),
                  rows=rows)
    paths = save(out, "law", fig, "\n".join(md), record)
    lines = [f"Eq. 2 lower bound on block instances: paper c > 0 | ours c_empirical = "
             f"{fmt_or_dash(summ['c_empirical'])} "
             f"(over rows with ADV > 0: {fmt_or_dash(summ['c_empirical_positive'])})",
             f"upper bound ADV <= rho_tail*g: paper holds | ours {n_upper}/{len(rows)} "
             f"rows violate it ({kinds['upper, rho_tail = 0']} with rho_tail = 0); lower-bound failures: "
             f"{kinds['lower, ADV <= 0']}"]
    exact = summ["per_kernel"].get("block")
    if exact is not None:
        lines.append(f"exact block kernel alone: min ADV/(rho_tail*g) = {fmt_or_dash(exact['min_ratio'])}, "
                     f"{fmt_or_dash(exact['min_ratio_positive'])} over rows with ADV > 0, "
                     f"max {fmt_or_dash(exact['max_ratio'])}")
    return paths, lines


# --------------------------------------------------------------------------------------- knob
def run_knob(
    out: Path,
    seeds: int = 5,
    *,
    alphas: Any = None,
    classes: int = 16,
    dim: int = 16,
    n: int = 10,
    progress: bool = True,
) -> tuple[list[Path], list[str]]:
    """Fig. 1: ADV(alpha) over ``seeds`` data sets, alpha on 11 points of [0, 1] by default."""
    from kcover.theory.knob import knob_sweep
    from kcover.theory.report import markdown_table, plt, save

    res = knob_sweep(alphas, seeds, classes=classes, dim=dim, n=n, progress=progress)
    a = res.alphas
    mean, std, own = res.adv.mean(0), res.adv.std(0), res.adv_own.mean(0)
    tol = 0.005
    monotone = bool(np.all(np.diff(mean) >= -tol))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.errorbar(a, mean, yerr=std, marker="o", capsize=3, label=f"ours: ADV, probe on e_alpha ({seeds} seeds)")
    ax.plot(a, res.adv_eq1.mean(0), "s--", ms=4, label="Eq. 1 in accuracy units: (covered_K - covered_in) / P")
    ax.plot(a, res.adv_own.mean(0), "^:", ms=4, label="diagnostic: input arm's probe on x instead")
    ax.plot(PAPER_KNOB["alpha"], PAPER_KNOB["adv"], "r*", ms=12, label="paper Fig. 1 endpoints (-0.06, +0.94)")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(xlabel="alpha (representation non-locality)", ylabel="ADV = acc(learner FL) - acc(input FL)",
           title=f"Alpha knob: P = {classes} classes (+/- cluster pairs), k = P", ylim=(-0.1, 1.02))
    ax.legend(fontsize=7, loc="upper left")
    md = ["# kcover theory knob: Fig. 1, e_alpha(x) = (alpha |x|, (1 - alpha) x)\n",
          f"P = {classes} classes, each a pair of isolated clusters at +c_j and -c_j in R^{dim} ({n} points each, "
          f"noise 0.1); budget k = P; facility location (RBF, median bandwidth) on x (input) and on e_alpha(x) "
          f"(learner); one linear probe (logistic regression, l2 = 1e-3, no standardization) fit on e_alpha of each "
          f"subset, accuracy on fresh draws; {seeds} seeds.\n",
          "| | alpha = 0 | alpha = 1 | monotone |", "|---|---|---|---|",
          "| paper Fig. 1 | -0.06 | +0.94 | yes |",
          f"| ours (spec: probe on e_alpha for both arms) | {mean[0]:+.3f} +/- {std[0]:.3f} | {mean[-1]:+.3f} +/- "
          f"{std[-1]:.3f} | {'yes' if monotone else 'no'} (tolerance {tol}) |",
          f"| diagnostic: input arm's probe on x | {own[0]:+.3f} | {own[-1]:+.3f} | - |",
          "",
          "Reading it:",
          "- alpha = 0: e_0(x) = (0, x) has the input geometry's distances, both selections coincide, ADV = 0 exactly.",
          f"- alpha = 1: the learner selection covers every class, the input selection about "
          f"{res.covered_input.mean():.1f} of {classes}: in x the two clusters of a class are the farthest apart, so "
          "input FL spends its budget on both halves of the same classes. With a probe right on covered classes, "
          "ADV = (covered_K - covered_in) / P, which is what we measure (Eq. 1 in accuracy units).",
          "- With k = P and two input clusters per class, input FL covers at least P / 2 classes, so under the spec "
          "ADV(1) cannot exceed about 0.5. The paper's +0.94 ~ 1 - 1/P is reproduced only when the input arm's "
          "probe is fit on x, where the task is not linearly solvable (chance = 1/P): that measures the "
          "representation, not the selection geometry. We report the spec's number.",
          "- The rise is a late step, not a gradual ramp: the learner FL keeps picking both halves of a class until "
          "(1 - alpha) |2 c_j| is small against the other distances (alpha ~ 0.7 to 0.8), and for 0 < alpha < 0.7 the "
          "probe cannot carry a label from +c_j to -c_j because the (1 - alpha) x block still separates them.",
          "\n## Per alpha (mean over seeds)\n"]
    cols = [mean, std, res.acc_learner.mean(0), res.acc_input.mean(0), res.covered_learner.mean(0),
            res.covered_input.mean(0), res.adv_eq1.mean(0), own]
    tab = [[f"{al:.1f}"] + [c[i] for c in cols] for i, al in enumerate(a)]
    md.append(markdown_table(["alpha", "ADV mean", "ADV std", "acc learner FL", "acc input FL", "classes covered K",
                              "classes covered in", "Eq. 1 (acc units)", "ADV, input probe on x"], tab))
    md.append("\nReproduce: `kcover theory knob --out DIR` (defaults: 11 alphas, 5 seeds).")
    record = dict(command="knob", paper=PAPER_KNOB, alpha=a, adv_mean=mean, adv_std=std,
                  acc_learner_mean=res.acc_learner.mean(0), acc_input_mean=res.acc_input.mean(0),
                  covered_learner_mean=res.covered_learner.mean(0), covered_input_mean=res.covered_input.mean(0),
                  adv_eq1_mean=res.adv_eq1.mean(0), adv_own_features_mean=res.adv_own.mean(0),
                  adv_own_features_std=res.adv_own.std(0), monotone=monotone, monotone_tolerance=tol,
                  adv_per_seed=res.adv,
                  config=dict(classes=classes, dim=dim, n=n, noise=0.1, k=classes, seeds=seeds, l2=1e-3,
                              standardize=False, test_per_cluster=20))
    paths = save(out, "knob", fig, "\n".join(md), record)
    lines = [f"Fig. 1: paper ADV -0.06 -> +0.94 (alpha 0 -> 1) | ours {mean[0]:+.3f} +/- {std[0]:.3f} -> "
             f"{mean[-1]:+.3f} +/- {std[-1]:.3f}, monotone: {'yes' if monotone else 'no'}",
             f"diagnostic (input arm's probe on x, not the spec): {own[0]:+.3f} -> {own[-1]:+.3f}"]
    return paths, lines
