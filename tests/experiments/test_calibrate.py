"""The calibration's scoring: truth, close calls, each rule's verdicts and counts, on hand-built cells."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcover.experiments.calibration import scoring
from kcover.experiments.calibration.cells import TRUTH_MARGIN, Cell
from kcover.experiments.calibration.tables import tables
from kcover.experiments.protocol import AdvantageStats


def _pool(gap, nn_in, nn_l, k, pilot_verdict, pilot_mean=0.0):
    record = {
        "gap": gap,
        "gap_se": 0.01,
        "misalignment": 0.5,
        "r_eff": 40.0,
        "r_eff_input": 40.0,
        "num_classes": 5,
        "nn_input": nn_in,
        "nn_learner": nn_l,
    }
    budget = {
        "k": k,
        "input_tail": 0.5,
        "learner_tail": 0.4,
        "pilot": {
            "verdict": pilot_verdict,
            "adv_mean": pilot_mean,
            "adv_se": 0.01,
            "splits_positive": 5,
            "splits": 10,
            "confidence": 0.95,
        },
    }
    return {"record": record, "budget": budget}


def test_truth_close_calls_and_rule_scores():
    # a tight budget that pays; the gap rule misses it, the repaired rule and the pilot do not
    pays = Cell(
        "d",
        "pretrained",
        "label",
        "1C",
        5,
        AdvantageStats(0.10, 0.02, 10, 10),
        (_pool(0.0, 0.90, 0.92, 5, "pay", 0.1), _pool(0.0, 0.90, 0.92, 5, "do-not-pay")),
    )
    # a random-init representation: different, not better; nothing gained
    rand = Cell(
        "d", "random", "label", "1C", 5, AdvantageStats(-0.03, 0.02, 10, 2), (_pool(0.08, 0.90, 0.60, 5, "do-not-pay"),)
    )
    close = Cell("d", "pretrained", "label", "8C", 40, AdvantageStats(0.022, 0.02, 10, 8), ())
    assert pays.pay and not rand.pay and not pays.close_call and close.close_call
    assert scoring.verdicts(pays, "paper") == ["do-not-pay", "do-not-pay"]
    assert scoring.verdicts(pays, "a priori") == ["pay", "pay"]
    assert scoring.verdicts(pays, "a priori (former)") == ["borderline", "borderline"]  # k <= 2C, gap ~0
    assert scoring.verdicts(rand, "a priori") == ["do-not-pay"] and scoring.verdicts(rand, "paper") == ["pay"]
    assert scoring.score([pays, rand], "pilot") == (2, 3, 1, 2)  # right pairs, pairs, cells right by majority, cells
    assert scoring.score([pays, rand], "a priori (former)") == (0, 3, 0, 2)
    assert scoring.score([pays, rand], "a priori (former)", borderline="pay") == (2, 3, 1, 2)
    assert scoring.score([close], "pilot") == (0, 0, 0, 0)  # no advisor runs: not scored
    with pytest.raises(ValueError, match="^rule:"):
        scoring.verdicts(pays, "nope")
    md, record, csv = tables([pays, rand])
    assert "| rule |" in md and record["scores"]["pilot"]["all"] == {
        "right": 2,
        "pairs": 3,
        "cells_right": 1,
        "cells": 2,
    }
    assert csv.splitlines()[0].startswith("dataset,kernel,representation,task,budget,k,adv_mean")


def test_per_pool_scores_ceiling_and_reach_ranking(tmp_path):
    from kcover.experiments.calibration.pools import plot_reach, pool_scores, reach_ranking, spearman

    def pool(seed, verdict, reach):
        d = _pool(0.0, 0.9, 0.9, 5, verdict)
        d["seed"], d["budget"]["reach_gap"] = seed, reach
        return d

    # the cell pays on average, but its second pool did not: the pilot said so there
    a = Cell(
        "d",
        "pretrained",
        "label",
        "1C",
        5,
        AdvantageStats(0.06, 0.05, 3, 2),
        (pool(0, "pay", 0.3), pool(1, "do-not-pay", 0.2)),
        {},
        ((0, 0.10), (1, -0.01), (2, 0.09)),
    )
    b = Cell(
        "d",
        "random",
        "label",
        "1C",
        5,
        AdvantageStats(-0.02, 0.01, 3, 0),
        (pool(0, "do-not-pay", -0.1),),
        {},
        ((0, -0.02), (1, -0.03), (2, -0.01)),
    )
    c = Cell(
        "d",
        "random",
        "label",
        "2C",
        10,
        AdvantageStats(0.01, 0.01, 3, 3),
        (pool(0, "do-not-pay", 0.0),),
        {},
        ((0, 0.0), (1, 0.01), (2, 0.02)),
    )
    s = pool_scores([a, b, c], scoring.verdicts, ["pilot"], TRUTH_MARGIN)
    assert s["pilot"] == (4, 4)  # right on every pool's own ADV, although pool 1 of a disagrees with a's mean
    assert s["own pool's realized ADV (ceiling)"] == (8, 9)  # a's pool 1 is the one pool on the other side
    rows = reach_ranking([a, b, c])
    assert (
        rows[0]["predictor"] == "reach gap"
        and rows[0]["n"] == 3
        and rows[0]["spearman"] == pytest.approx(1.0)
        and rows[0]["sign_agreement"] == 2
    )
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833)  # ties share their mean rank
    with pytest.raises(ValueError, match="^a, b:"):
        spearman([1, 2, 3], [1, 2])
    assert plot_reach([a, b, c], str(tmp_path / "r.png")) and (tmp_path / "r.png").stat().st_size > 1000
    md, record, _ = tables([a, b, c])
    assert "Spearman" in md and record["reach_ranking"][0]["spearman"] == pytest.approx(1.0)
    assert {r["predictor"] for r in record["reach_ranking"]} == {"reach gap", "tail difference", "pilot ADV"}
    assert record["scores"]["per pool"]["pilot"]["all"] == {"right": 4, "pairs": 4}


def test_confidence_section_recomputes_confidence_with_the_current_rule():
    from kcover.advisor.pilot_rules import pilot_confidence
    from kcover.experiments.calibration.pools import confidence_section

    d = _pool(0.0, 0.9, 0.9, 5, "pay", 0.10)  # mean 0.10, se 0.01 over 10 splits: sd 0.0316
    d["budget"]["pilot"]["margin"] = 0.02
    cell = Cell("d", "pretrained", "label", "1C", 5, AdvantageStats(0.10, 0.02, 10, 10), (d,))
    record = {"scores": {}}
    lines = confidence_section({"all": [cell]}, record)
    conf = pilot_confidence(0.10, 0.01 * 10**0.5, 0.02)
    assert 0.9 <= conf < 1.0 and conf != d["budget"]["pilot"]["confidence"]  # the stored 0.95 is not used
    got = record["scores"]["pilot by confidence"]["0.9-1.01 all"]
    assert got["right"] == got["pairs"] == 1 and got["mean_confidence"] == pytest.approx(conf)
    assert any("[0.9, 1.0]" in line and "1/1" in line for line in lines)


def test_regret_table_hand_worked():
    from kcover.experiments.calibration.regret import POLICIES, decision, policy_verdicts, regret_section, score

    def cell(dataset, truth, close, pilot_means, sd=0.01):
        ms = [_pool(0.0, 0.9, 0.9, 5, "pay" if m > 0.02 else "do-not-pay", m) for m in pilot_means]
        for m in ms:
            m["budget"]["pilot"]["adv_se"] = sd / 10**0.5  # 10 splits: sd over splits = sd
        return {
            "dataset": dataset,
            "truth": {"mean": truth},
            "close_call": close,
            "measurements": ms,
            "verdicts": {
                "pilot": [m["budget"]["pilot"]["verdict"] for m in ms],
                "paper": ["pay"] * len(ms),
                "a priori": ["do-not-pay"] * len(ms),
            },
        }

    # truth +0.10 (clear pay): the pilot pays on one pool, misses on the other (regret 0.08 there)
    a = cell("t", 0.10, False, [0.09, -0.01])
    # truth +0.03 (close): the pilot's 0.025 +- 0.005 lies inside (0, 0.04): either, counted as not paying
    b = cell("t", 0.03, True, [0.025])
    assert [decision(m) for m in a["measurements"]] == ["pay", "do-not-pay"]
    assert policy_verdicts(b, "advisor (either, A' overrule)") == ["either"]
    s = score([a, b], "advisor (either, A' overrule)")
    assert s["regret"] == pytest.approx((0.0 + 0.08 + 0.01) / 3)
    assert (s["clear_right"], s["clear_pairs"], s["either"], s["pairs"]) == (1, 2, 1, 3)
    assert score([a, b], "always pay")["regret"] == pytest.approx(0.0)
    assert score([a, b], "never pay")["regret"] == pytest.approx((0.08 + 0.08 + 0.01) / 3)
    record = {}
    md = "\n".join(regret_section([a, b], {"tuning": ["t"], "held out": ["h"]}, record))
    assert all(p in md for p in POLICIES) and record["regret"]["pilot (measured)"]["tuning"]["pairs"] == 3
    with pytest.raises(ValueError, match="^policy:"):
        policy_verdicts(a, "nope")


def test_regret_groups_by_kernel_when_a_dataset_has_both():
    from kcover.experiments.calibration.regret import in_group, kernel_of

    old_text, old_image = {"dataset": "rotten_tomatoes"}, {"dataset": "digits"}  # written before the field
    assert (kernel_of(old_text), kernel_of(old_image)) == ("cosine", "rbf")
    digits_cos = {"dataset": "digits", "kernel": "cosine"}
    assert in_group(digits_cos, ["digits"]) and in_group(digits_cos, ["digits (cosine)"])
    assert not in_group(digits_cos, ["digits (rbf)"]) and in_group(old_image, ["digits (rbf)"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([-0.05, -0.01, 0.0, 0.01, 0.02, 0.03, 0.05]),  # repeated measurements: ties
            st.floats(-0.1, 0.2, allow_nan=False),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_hindsight_floor_is_the_best_threshold_by_brute_force(pairs):
    from kcover.advisor.decide import mean_regret
    from kcover.experiments.calibration.regret import hindsight_floor

    xs = sorted({p[0] for p in pairs})
    thresholds = [-math.inf, *xs]  # pay when x > threshold: every distinct paid set
    brute = min(
        mean_regret([p[1] for p in pairs], ["pay" if p[0] > th else "no" for p in pairs], 0.02) for th in thresholds
    )
    got = hindsight_floor(pairs, 0.02)
    assert got["regret"] == pytest.approx(brute, abs=1e-12)
    pays = ["pay" if p[0] > got["threshold"] else "no" for p in pairs]
    assert mean_regret([p[1] for p in pairs], pays, 0.02) == pytest.approx(got["regret"], abs=1e-12)
    assert got["clear_pairs"] == sum(not p[2] for p in pairs)


def test_floor_section_reads_pilots_and_pool_advantages():
    from kcover.experiments.calibration.regret import floor_section, measured_pairs, parted_floor

    ms = [_pool(0.0, 0.9, 0.9, 5, "pay", m) for m in (0.05, -0.01)]
    cell = {
        "dataset": "t",
        "truth": {"mean": 0.06},
        "close_call": False,
        "measurements": ms,
        "pool_adv": [[0, 0.1], [1, 0.02]],
    }
    assert measured_pairs([cell], "pilot mean") == [(0.05, 0.06, False, ""), (-0.01, 0.06, False, "")]
    assert measured_pairs([cell], "pool's realized ADV") == [(0.1, 0.06, False, ""), (0.02, 0.06, False, "")]
    by_check = measured_pairs([cell], "pilot mean, one threshold where (A') passes, one where it fails")
    assert [p[3] for p in by_check] == ["A' True", "A' True"]  # nn 0.9 vs 0.9: passes
    record = {}
    floor_section([cell], {"tuning": ["t"]}, record)
    assert record["hindsight_floor"]["pilot mean"]["tuning"]["regret"] == pytest.approx(0.0)  # pay both: truth > margin
    # two parts, each with its own threshold: part a pays above 0 (truth 0.1), part b never (truth -0.1)
    parted = [(0.01, 0.1, False, "a"), (-0.01, 0.1, False, "a"), (0.01, -0.1, False, "b"), (0.02, -0.1, False, "b")]
    got = parted_floor(parted, 0.02)
    assert got["regret"] == pytest.approx(0.0) and got["clear_right"] == 4 and set(got["threshold"]) == {"a", "b"}
    assert parted_floor([(*p[:3], "") for p in parted], 0.02)["regret"] > 0.01  # one threshold cannot do both
    with pytest.raises(ValueError, match="^measure:"):
        measured_pairs([cell], "nope")


def test_candidates_flag_reaches_every_study_and_the_cell_filter(tmp_path, capsys):
    from kcover.experiments import calibrate
    from kcover.experiments.calibration.cells import candidates

    parse = calibrate.build_parser().parse_args
    own = parse(["--out", str(tmp_path)])
    more = parse(["--out", str(tmp_path), "--candidates", "6000", "--pool", "3000"])
    assert (candidates("rotten_tomatoes", own), candidates("digits", own)) == (3000, 1297)
    assert (candidates("rotten_tomatoes", more), candidates("digits", more)) == (6000, 6000)
    for part in ("rotten_tomatoes", "digits"):
        _, argv = calibrate._study_args(more, part)
        assert argv[argv.index("--candidates") + 1] == "6000" and argv[argv.index("--pool") + 1] == "3000"
    for bad in (["--candidates", "0"], ["--candidates", "600", "--pool", "600"]):  # checked before any work
        assert calibrate.main(["--out", str(tmp_path), *bad]) == 2
        assert "--candidates" in capsys.readouterr().err
