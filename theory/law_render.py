"""``kcover theory law``'s report: Eq. 2, and its reach form when the record has it
(docs/product-law.md: a third panel and more table rows). The shape every renderer follows is in
:mod:`kcover.theory.report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kcover.theory.report import DOCS, fmt_or_dash, markdown_table, plt, save
from kcover.theory.summaries import law_summary


def render_law(out: Path, record: dict[str, Any]) -> tuple[list[Path], list[str]]:
    """Write law.png/.md/.json for a :func:`~kcover.theory.summaries.law_summary` record."""
    cfg, rows, viol, kinds = record["config"], record["rows"], record["violations"], record["violation_counts"]
    r, s, n, seeds, lam, lam_eff = cfg["r"], cfg["s"], cfg["n"], cfg["seeds"], cfg["lam"], cfg["lam_eff"]
    n_upper = kinds["upper"] + kinds["upper, rho_tail = 0"]
    n_upper_c = record["upper_violations_centered_g"]

    fig, axes = plt.subplots(1, 3, figsize=(18, 4.6))
    ax = axes[0]
    names = list(dict.fromkeys(x["kernel"] for x in rows))
    scatter_by_kernel(ax, rows, names, "bound")
    top = max(x["bound"] for x in rows) * 1.05 + 1e-3
    ax.plot([0, top], [0, top], "k--", lw=1, label="ADV = rho_tail * g (upper bound)")
    c = record["c_empirical_positive"]
    if c is not None and c > 0:
        ax.plot([0, top], [0, c * top], "k:", lw=1, label=f"c = {c:.2f} (block rows with ADV > 0)")
    title = "Eq. 2: every instance (above the dashed line: upper bound fails)"
    symlog_panel(ax, "rho_tail(k) * g(Delta)", "ADV(k) = R(S_in) - R(S_K)  (symlog)", title)
    ax = axes[1]
    sel = [
        x
        for x in rows
        if x["kernel"] == "block"
        and x["order"] == "mode-major"
        and x["seed"] == 0
        and x["delta_frac"] == max(x["delta_frac"] for x in rows)
    ]
    kk = [x["k"] for x in sel]
    ax.plot(kk, [x["adv"] for x in sel], "o-", label="ADV (measured)")
    ax.plot(kk, [x["bound"] for x in sel], "s--", label="rho_tail * g")
    ax.plot(kk, [x["rho_tail"] for x in sel], "^:", label="rho_tail")
    ax.axvline(r, color="gray", ls=":", lw=1)
    if sel:
        ax.set_title(f"exact block, Delta = {sel[0]['delta_frac']:.2f}, g = {sel[0]['g']:.3f}")
    if sel and "reach_upper" in sel[0]:
        ax.plot(kk, [x["reach_upper"] for x in sel], "d-.", label="reach bound U(k)")
    ax.set(xlabel="budget k")
    ax.legend(fontsize=8)
    if "reach_per_family" in record:
        _reach_panel(axes[2], rows, names)
    fig.suptitle(f"Product law (Eq. 2): r={r}, s={s}, {seeds} seed(s), KRR ridge {lam:g}")

    md = [
        "# kcover theory law: Eq. 2, ADV(k) <= rho_tail(k) g(Delta) and >= c rho_tail(k) g(Delta)\n",
        f"Latent-mode instances r = {r}, s = {s}, lightest input cluster n = {n}, Delta in {cfg['deltas']}, "
        f"input-FL orders {cfg['orders']}, k = 1..r_in, {seeds} seed(s). rho_j = 1. KRR ridge {lam:g} (float64), "
        f"risk on fresh draws. rho_tail(k) = (1/n)||(I - U_k U_k^T) f*||^2 on the pool; g = 1 - A(K, k_in) "
        f"(uncentered alignment, as in the paper); r_eff at lambda = {lam_eff:g}. Block instances: exact and soft "
        f"block kernels. |ADV| <= {cfg['adv_tol']:g} counts as 0; rho_tail and rho_tail g <= {cfg['bound_tol']:g} "
        "count as 0.\n",
        "| | paper | ours |",
        "|---|---|---|",
        f"| lower-bound constant c (block instances) | c > 0 (unspecified) | c_empirical = "
        f"{fmt_or_dash(record['c_empirical'])}; over block rows with ADV > 0: "
        f"{fmt_or_dash(record['c_empirical_positive'])} |",
        f"| upper bound ADV <= rho_tail g | holds | {n_upper} of {len(rows)} rows "
        f"violate it ({kinds['upper, rho_tail = 0']} with rho_tail = 0); the constant it would need: "
        f"{fmt_or_dash(record['c_upper_needed'])} |",
        f"| same with centered alignment g_c | - | {n_upper_c} rows violate ADV <= rho_tail g_c |",
        *_reach_table(record),
        "",
        f"Why each kind of violation occurs (upper with rho_tail = 0, upper, lower with ADV <= 0): see {DOCS}.",
        "\n## Per learner kernel\n",
    ]
    tab = []
    for name, e in record["per_kernel"].items():
        sub = [x for x in rows if x["kernel"] == name]
        tab.append(
            [
                name,
                "yes" if sub[0]["block"] else "no",
                e["rows"],
                e["upper"],
                e["upper_rho_tail_zero"],
                e["lower"],
                e["negative_adv"],
                e["min_ratio"],
                e["min_ratio_positive"],
                e["max_ratio"],
                float(np.mean([x["g"] for x in sub])),
                float(np.mean([x["r_eff"] for x in sub])),
            ]
        )
    md.append(
        markdown_table(
            [
                "kernel",
                "block",
                "rows",
                "upper viol.",
                "upper viol. (rho_tail=0)",
                "lower viol.",
                "ADV < 0",
                "min ratio",
                "min ratio (ADV > 0)",
                "max ratio",
                "mean g",
                "mean r_eff",
            ],
            tab,
        )
    )
    md.append(
        "\nratio = ADV / (rho_tail g) over rows with rho_tail g > BOUND_TOL; c_empirical is the min ratio "
        "over the block kernels."
    )
    md.append(f"\n## Every violation ({len(viol)})\n")
    md.append(
        markdown_table(
            ["kind", "kernel", "order", "seed", "Delta", "k", "r_in", "ADV", "rho_tail", "g", "bound"],
            [
                [
                    v["kind"],
                    v["kernel"],
                    v["order"],
                    v["seed"],
                    v["delta_frac"],
                    v["k"],
                    v["r_in"],
                    v["adv"],
                    v["rho_tail"],
                    v["g"],
                    v["bound"],
                ]
                for v in viol
            ],
        )
    )
    paths = save(out, "law", fig, "\n".join(md), record)
    lines = [
        f"Eq. 2 lower bound on block instances: paper c > 0 | ours c_empirical = "
        f"{fmt_or_dash(record['c_empirical'])} "
        f"(over rows with ADV > 0: {fmt_or_dash(record['c_empirical_positive'])})",
        f"upper bound ADV <= rho_tail*g: paper holds | ours {n_upper}/{len(rows)} "
        f"rows violate it ({kinds['upper, rho_tail = 0']} with rho_tail = 0); lower-bound failures: "
        f"{kinds['lower, ADV <= 0']}",
    ]
    exact = record["per_kernel"].get("block")
    if exact is not None:
        lines.append(
            f"exact block kernel alone: min ADV/(rho_tail*g) = {fmt_or_dash(exact['min_ratio'])}, "
            f"{fmt_or_dash(exact['min_ratio_positive'])} over rows with ADV > 0, "
            f"max {fmt_or_dash(exact['max_ratio'])}"
        )
    if "reach_per_family" in record:
        per = record["reach_per_family"]
        claimed = sum(e["claimed_rows"] for e in per.values())
        lines.append(
            f"reach form L <= ADV <= U (block class): {len(record['reach_violations'])} violations in "
            f"{claimed} claimed rows, c = {fmt_or_dash(record['reach_c_fit'])}; ADV/U median / worst "
            + ", ".join(
                f"{f} {fmt_or_dash(e['ratio_median'])} / {fmt_or_dash(e['ratio_worst'])}" for f, e in per.items()
            )
            + f"; {len(record['reach_exceptions'])} unclaimed rows above U"
        )
    return paths, lines


def _reach_table(record: dict[str, Any]) -> list[str]:
    """Markdown rows of the reach form (docs/product-law.md) for the law table, one per family."""
    if "reach_per_family" not in record:
        return []
    out = []
    for fam, e in record["reach_per_family"].items():
        claim = (
            "claimed" + (" (untied k)" if fam in record["reach_claimed"]["untied_only"] else "")
            if e["claimed"]
            else "not claimed"
        )
        kinds = ", ".join(f"{k} {v}" for k, v in e["kinds"].items()) or "-"
        out.append(
            f"| reach form, {fam} ({claim}) | - | {e['upper_violations']} of {e['rows']} rows above U, "
            f"{e['lower_violations']} below L ({e['claimed_rows']} claimed rows); ADV/U median "
            f"{fmt_or_dash(e['ratio_median'])}, worst {fmt_or_dash(e['ratio_worst'])}; c = min ADV/L "
            f"{fmt_or_dash(e['c_fit'])}; kinds: {kinds} |"
        )
    out.append(
        f"| reach form, claimed rows | - | {len(record['reach_violations'])} violations; fitted c = "
        f"{fmt_or_dash(record['reach_c_fit'])} (proven: c = {record['reach_claimed']['c_lower']:g}) |"
    )
    return out


def scatter_by_kernel(ax: Any, rows: list[dict], names: list[str], field: str) -> None:
    """ADV against ``field`` of the rows, one colour per learner kernel in ``names`` (circles: block kernels)."""
    for i, name in enumerate(names):
        sub = [x for x in rows if x["kernel"] == name]
        marker = "o" if sub[0]["block"] else "^"
        ax.scatter(
            [x[field] for x in sub], [x["adv"] for x in sub], s=14, alpha=0.6, label=name, marker=marker, color=f"C{i}"
        )


def symlog_panel(ax: Any, xlabel: str, ylabel: str, title: str, log_x: bool = False) -> None:
    """A scatter panel's finish: the zero line, symlog ADV (and x), labels, title and legend."""
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_yscale("symlog", linthresh=1.0)
    if log_x:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)


def _reach_panel(ax: Any, rows: list[dict], names: list[str]) -> None:
    """ADV against the reach bound U(k), one colour per learner kernel (as in the first panel)."""
    scatter_by_kernel(ax, rows, names, "reach_upper")
    lo = min(min(x["reach_upper"] for x in rows), min(x["adv"] for x in rows), 0.0)
    hi = max(max(x["reach_upper"] for x in rows), max(x["adv"] for x in rows)) * 1.05 + 1e-3
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="ADV = U(k) (claimed on the block class)")
    title = "Reach form: every instance (block rows lie on the line)"
    symlog_panel(ax, "U(k) = G_in(k) - G_K(k)  (symlog)", "ADV(k)  (symlog)", title, log_x=True)


def run_law(out: Path, seeds: int = 2, **options: Any) -> tuple[list[Path], list[str]]:
    """``kcover theory law``: :func:`~kcover.theory.summaries.law_summary` (``options``) then :func:`render_law`."""
    return render_law(Path(out), law_summary(seeds, **options))
