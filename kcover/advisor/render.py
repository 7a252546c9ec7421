"""Rendering a :class:`kcover.advisor.entry.Advice`: the JSON dict, the text report and the sweep figure.

matplotlib is imported inside :func:`plot_sweep` only, so the text and JSON need no plotting stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kcover.advisor.decide import RESIDUAL
from kcover.advisor.options import MARGIN
from kcover.advisor.pilot_rules import close_call_text
from kcover.advisor.rules import budget_limit

if TYPE_CHECKING:
    from kcover.advisor.entry import Advice
    from kcover.advisor.rules import BudgetAdvice


PATHS = ("X.npy", "E.npy")
"""Placeholder (input, learner) feature files for the suggested ``kcover select`` command."""


def _r(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


def select_command(advice: Advice, b: BudgetAdvice, paths: tuple[str, str] = PATHS) -> str:
    """The ``kcover select`` command line that follows from the verdict at ``b``, with the assumed settings.

    ``pay``: select in the learner geometry (``paths[1]``); ``do-not-pay``, ``either`` and
    ``borderline``: in the cheaper input geometry (``paths[0]``). The bandwidth is spelled out
    only when it was given: ``kcover select`` computes the same median heuristic itself.
    """
    s = advice.settings
    side = "learner" if b.verdict == "pay" else "input"
    path = paths[1] if side == "learner" else paths[0]
    kernel = s.get(f"{side}_kernel", "rbf")
    cmd = f"kcover select --features {path} --k {b.k} --method {s.get('method', 'lazy')} --kernel {kernel}"
    if s.get(f"{side}_bandwidth_source") == "given":
        cmd += f" --bandwidth {s[f'{side}_bandwidth']:.6g}"
    return cmd + f" --out picks_k{b.k}.npy"


def selection_text(advice: Advice) -> str:
    """One line: the selection settings the advice assumed (the ones the pilot selected with)."""
    s = advice.settings

    def side(name: str) -> str:
        kernel = s.get(f"{name}_kernel", "rbf")
        if kernel != "rbf" or s.get(f"{name}_bandwidth") is None:
            return f"{name} {kernel}"
        return f"{name} rbf (bandwidth {s[f'{name}_bandwidth']:.4g}, {s[f'{name}_bandwidth_source']})"

    return (
        f"selection assumed (as kcover select will run it): method {s.get('method', 'lazy')}; {side('input')}; "
        f"{side('learner')}"
    )


def advice_dict(advice: Advice, paths: tuple[str, str] = PATHS) -> dict:
    """``advice`` as a JSON-ready dict; its keys are the stable contract of ``kcover advise --json``.

    ``paths``: the (input, learner) feature files named in each budget's ``select_command``.
    """
    budgets = []
    for i, b in enumerate(advice.budgets):
        entry = {
            "k": b.k,
            "per_class": _r(b.per_class, 3),
            "binds": b.binds,
            "very_tight": b.very_tight,
            "input_tail": _r(b.input_tail),
            "learner_tail": _r(b.learner_tail),
            "verdict": b.verdict,
            "why": b.why,
            "reasons": list(b.reasons),
            "expected_gain": None if np.isnan(b.gain) else _r(b.gain),
            "gain_interval": None if np.isnan(b.gain) else [_r(b.gain_low), _r(b.gain_high)],
            "select_command": select_command(advice, b, paths),
        }
        if advice.settings.get("reach", False):
            entry["reach_gap"] = _r(b.reach_gap)
            entry["reach_input"] = _r(b.reach_input)
            entry["reach_learner"] = _r(b.reach_learner)
        entry["a_priori_verdict"] = b.a_priori or b.verdict
        entry["a_priori_why"] = b.a_priori_why or b.why
        if advice.pilot is not None:
            entry["pilot"] = (
                None
                if b.pilot is None
                else {
                    "adv_mean": _r(b.pilot.adv_mean),
                    "adv_se": _r(b.pilot.adv_se),
                    "splits_positive": b.pilot.splits_positive,
                    "splits": b.pilot.splits,
                    "verdict": b.pilot.verdict,
                    "confidence": _r(b.pilot.confidence, 3),
                    "margin": b.pilot.margin,
                    "k": b.pilot.k,
                    "close_call": close_call_text(b.pilot) is not None,
                    "agrees_with_a_priori": b.pilot.verdict == (b.a_priori or b.verdict),
                    "extrapolation": None
                    if b.extrapolation is None
                    else {
                        "sizes": list(b.extrapolation.sizes),
                        "means": [_r(m) for m in b.extrapolation.means],
                        "gain": _r(b.extrapolation.gain),
                        "se": _r(b.extrapolation.se),
                        "slope": _r(b.extrapolation.slope),
                        "slope_se": _r(b.extrapolation.slope_se),
                        "pool_size": b.extrapolation.n_target,
                    },
                }
            )
        if advice.sweep is not None:
            adv = advice.sweep.advantage[i]
            entry["realized"] = {
                **{
                    s: {"mean": _r(advice.sweep.mean(s)[i]), "std": _r(advice.sweep.std(s)[i])}
                    for s in advice.sweep.selectors
                },
                "adv": {"mean": _r(adv.mean()), "std": _r(adv.std())},
            }
        budgets.append(entry)
    return {
        "n": advice.n,
        "n_train": advice.n_train,
        "n_test": advice.n_test,
        "num_classes": advice.num_classes,
        "classes": list(advice.classes),
        "input_probe_acc": _r(advice.input_probe_acc),
        "learner_probe_acc": _r(advice.learner_probe_acc),
        "gap": _r(advice.gap),
        "gap_se": _r(advice.gap_se),
        "alignment": _r(advice.alignment),
        "alignment_gap": _r(advice.alignment_gap),
        "centered_alignment": _r(advice.centered_alignment),
        "misalignment": _r(advice.misalignment),
        "r_eff": _r(advice.r_eff, 2),
        "r_eff_input": _r(advice.r_eff_input, 2),
        "nn_input": _r(advice.nn_input),
        "nn_learner": _r(advice.nn_learner),
        "budgets": budgets,
        "pilot": None
        if advice.pilot is None
        else {
            "splits": len(advice.pilot.sweep.seeds),
            "points": advice.pilot.points,
            "selection_points": advice.pilot.selection_points,
            "scoring_points": advice.pilot.scoring_points,
            "budgets": list(advice.pilot.budgets),
            "pilot_budgets": list(advice.pilot.pilot_budgets),
            "pool_size": advice.pilot.pool_size,
            "seconds": _r(advice.pilot.seconds, 2),
            "accuracy": np.round(advice.pilot.sweep.accuracy, 4).tolist(),
            "selectors": list(advice.pilot.sweep.selectors),
        },
        "sweep": None
        if advice.sweep is None
        else {
            "budgets": list(advice.sweep.budgets),
            "seeds": list(advice.sweep.seeds),
            "selectors": list(advice.sweep.selectors),
            "accuracy": np.round(advice.sweep.accuracy, 4).tolist(),
        },
        "settings": advice.settings,
        "timings": {key: _r(v, 2) for key, v in advice.timings.items()},
    }


def advice_text(advice: Advice, verbose: bool = False, paths: tuple[str, str] = PATHS) -> str:
    """A readable report of ``advice``: the three conditions, then a verdict per budget (``verbose``: all reasons).

    Ends with the settings assumed and the ``kcover select`` command per budget (``paths``: the
    (input, learner) feature files it names).
    """
    return "\n".join(
        [_report(advice, verbose), "", selection_text(advice), "next, per budget:"]
        + [f"  k = {b.k} ({b.verdict}): {select_command(advice, b, paths)}" for b in advice.budgets]
    )


def _report(advice: Advice, verbose: bool) -> str:
    s = advice.settings
    lines = [
        f"kcover advise: {advice.n} points, {advice.num_classes} classes; held-out split {advice.n_train} train / "
        f"{advice.n_test} test (seed {s['seeds'][0]})",
        f"(B) full-budget probe accuracy: input {advice.input_probe_acc:.3f}, learner {advice.learner_probe_acc:.3f}, "
        f"gap {advice.gap:+.3f} (se {advice.gap_se:.3f})",
        f"(A) kernel alignment A(K_learner, K_input) = {advice.alignment:.3f}, g = {advice.alignment_gap:.3f}; "
        f"centered alignment {advice.centered_alignment:.3f} (misalignment {advice.misalignment:.3f})",
        f"(C) effective dimension r_eff: learner {advice.r_eff:.1f} "
        f"(r_eff ln r_eff = {budget_limit(advice.r_eff):.0f}), "
        f"input {advice.r_eff_input:.1f} (lam {s['lam']:g} x trace, on {s['spectral_points']} points); "
        f"{advice.num_classes} classes",
        f"    nearest-neighbour label agreement: input {advice.nn_input:.3f}, learner {advice.nn_learner:.3f}",
        "",
    ]
    p = advice.pilot
    if p is None:
        lines.append(f"{'budget':>7} {'k/C':>6} {'in-tail':>8} {'reach':>6}  {'verdict':<11} why")
        for b in advice.budgets:
            lines.append(f"{b.k:>7} {b.per_class:>6.1f} {b.input_tail:>8.2f} {_reach(b):>6}  {b.verdict:<11} {b.why}")
            if verbose:
                lines.extend(f"{'':>26}- {r}" for r in b.reasons)
        if s.get("pilot") is False:
            lines += ["", "no pilot (--no-pilot): the verdict is the a-priori rule's alone"]
        elif s.get("pilot"):
            lines += [
                "",
                "no pilot: every budget exceeds the pilot's selection part; the verdict is the a-priori rule's",
            ]
        return _with_sweep(advice, lines + _reach_note(advice))
    lines.append(
        f"{'budget':>7} {'k/C':>6} {'in-tail':>8} {'reach':>6}  {'verdict':<11} {'gain, points [interval]':>24}"
        f" {'pilot ADV':>9} {'se':>6} {'>0':>6}  {'a priori':<11} why (a priori)"
    )
    for b in advice.budgets:
        a = b.a_priori or b.verdict
        if b.pilot is None:
            lines.append(
                f"{b.k:>7} {b.per_class:>6.1f} {b.input_tail:>8.2f} {_reach(b):>6}  {b.verdict:<11} "
                f"{'n/a':>24} {'n/a':>9} {'':>6} {'':>6}  {a:<11} {b.why} (not piloted: k exceeds the "
                "pilot's selection part)"
            )
        else:
            q = b.pilot
            gain = f"{100 * b.gain:+.1f} [{100 * b.gain_low:+.1f}, {100 * b.gain_high:+.1f}]"
            lines.append(
                f"{b.k:>7} {b.per_class:>6.1f} {b.input_tail:>8.2f} {_reach(b):>6}  {b.verdict:<11} "
                f"{gain:>24} {q.adv_mean:>+9.3f} {q.adv_se:>6.3f} {f'{q.splits_positive}/{q.splits}':>6}  {a:<11} "
                f"{b.a_priori_why or b.why}"
            )
        if verbose:
            lines.extend(f"{'':>26}- {r}" for r in b.reasons)
    lines += [
        "",
        f"pilot: {len(p.sweep.seeds)} stratified splits of {p.points} labelled points (select from "
        f"{p.selection_points}, score on {p.scoring_points}), fixed probe on learner features; pay when the "
        f"mean ADV > {s.get('pilot_margin', MARGIN):.2f}, either when the gain's interval (mean -+ "
        f"{RESIDUAL:.2f} sd over splits) lies in (0, {2 * s.get('pilot_margin', MARGIN):.2f}); {p.seconds:.1f} s. "
        + _budget_rule_text(advice),
    ]
    for b in advice.budgets:
        said = [
            r for r in b.reasons if r.startswith(("either:", "overruled:", "extrapolated:")) or "they disagree" in r
        ]
        lines.extend(f"  k = {b.k}: {r}." for r in (said if b.pilot is not None else ()))
        close = None if b.pilot is None else close_call_text(b.pilot)
        if close:
            lines.append(f"  k = {b.k}: {close}.")
    return _with_sweep(advice, lines + _reach_note(advice))


def _reach(b: BudgetAdvice) -> str:
    return "n/a" if np.isnan(b.reach_gap) else f"{b.reach_gap:+.3f}"


def _reach_note(advice: Advice) -> list[str]:
    if not advice.settings.get("reach", False):
        return []
    return [
        f"reach: the reach gap D(k) = G_in(k) - G_K(k) as a fraction of the label energy (on "
        f"{advice.settings['spectral_points']} points; docs/product-law.md): exact on the block model, "
        "shown for comparison, not used by the verdict"
    ]


def _budget_rule_text(advice: Advice) -> str:
    p = advice.pilot
    assert p is not None  # said only of an advice whose pilot ran
    if advice.settings.get("pilot_budgets", "same") == "same":
        return (
            f"Budgets: the same k on the pilot's {p.selection_points} selection points as on your pool of "
            f"{p.pool_size}."
        )
    return (
        f"Budgets keep their fraction of the pool: k of your {p.pool_size} runs as k x "
        f"{p.selection_points}/{p.pool_size} of the pilot's {p.selection_points}, never below min(k, C) ("
        + ", ".join(f"{k} -> {kp}" for k, kp in zip(p.budgets, p.pilot_budgets))
        + ")."
    )


def _with_sweep(advice: Advice, lines: list[str]) -> str:
    if advice.sweep is not None:
        sw = advice.sweep
        lines += [
            "",
            f"realized sweep ({len(sw.seeds)} seeds; fixed probe on learner features; mean +- std):",
            f"{'k':>7}  " + "  ".join(f"{name:>15}" for name in sw.selectors) + f"  {'ADV':>15}",
        ]
        adv = sw.advantage
        for i, k in enumerate(sw.budgets):
            cells = [f"{sw.mean(name)[i]:.3f} +- {sw.std(name)[i]:.3f}" for name in sw.selectors]
            cells.append(f"{adv[i].mean():+.3f} +- {adv[i].std():.3f}")
            lines.append(f"{k:>7}  " + "  ".join(f"{c:>15}" for c in cells))
    return "\n".join(lines)


def plot_sweep(advice: Advice, path: str) -> str:
    """Draw the realized sweep (accuracy and ADV vs budget, mean +- std bands) to a PNG at ``path``."""
    if advice.sweep is None:
        raise ValueError("advice: has no sweep; call advise(..., sweep=True)")
    from matplotlib.figure import Figure  # no pyplot: no global backend state is touched
    from matplotlib.ticker import FixedLocator, NullLocator

    sw = advice.sweep
    ks = np.asarray(sw.budgets)
    fig = Figure(figsize=(10, 4), dpi=110)
    ax, ax2 = fig.subplots(1, 2)
    colors = {"input-fl": "tab:orange", "learner-fl": "tab:green", "random": "tab:gray"}
    for name in sw.selectors:
        mu, sd = sw.mean(name), sw.std(name)
        ax.plot(ks, mu, "o-", color=colors[name], label=name)
        ax.fill_between(ks, mu - sd, mu + sd, color=colors[name], alpha=0.2)
    ax.axhline(advice.learner_probe_acc, ls="--", color="tab:green", lw=1, label="learner probe, full budget")
    ax.axhline(advice.input_probe_acc, ls=":", color="tab:orange", lw=1, label="input probe, full budget")
    ax.set_xlabel("budget k")
    ax.set_ylabel("held-out accuracy (probe on learner features)")
    ax.set_title(f"selection geometry, {len(sw.seeds)} seeds")
    ax.legend(fontsize=8)
    adv = sw.advantage
    ax2.plot(ks, adv.mean(1), "o-", color="tab:purple")
    ax2.fill_between(ks, adv.mean(1) - adv.std(1), adv.mean(1) + adv.std(1), color="tab:purple", alpha=0.2)
    ax2.axhline(0.0, color="black", lw=0.8)
    for b in advice.budgets:
        ax2.annotate(
            b.verdict,
            (b.k, float(adv[sw.budgets.index(b.k)].mean())),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    for a in (ax, ax2):
        a.set_xscale("log")
        a.xaxis.set_major_locator(FixedLocator([float(k) for k in ks]))
        a.xaxis.set_minor_locator(NullLocator())
        a.set_xticklabels([str(k) for k in ks])
        a.margins(x=0.08)
    ax2.set_xlabel("budget k")
    ax2.set_ylabel("ADV = learner-FL - input-FL")
    ax2.set_title(f"gap {advice.gap:+.3f}, misalignment {advice.misalignment:.2f}, r_eff {advice.r_eff:.0f}")
    fig.tight_layout()
    fig.savefig(path)
    return path
