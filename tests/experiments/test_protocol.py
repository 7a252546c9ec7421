"""The studies' shared protocol: fresh pools per seed, paired advantages with their sign counts."""

import numpy as np
import pytest

from kcover.experiments import protocol as P


def _rows(acc_a, acc_b, **where):
    rows = []
    for seed, (a, b) in enumerate(zip(acc_a, acc_b)):
        rows.append({"key": {**where, "selector": "learner-FL", "seed": seed}, "value": {"acc": a}})
        rows.append({"key": {**where, "selector": "input-FL", "seed": seed}, "value": {"acc": b}})
    return rows


def test_pool_is_capped_below_the_candidates_so_seeds_draw_fresh_pools():
    assert P.pool_size(3000, 1780) == 1424  # BBC News: the whole split would give every seed the same pool
    assert P.pool_size(600, 4000) == 600
    assert P.pool_size(60, 60) == 48
    pools = [P.draw_pool(100, P.pool_size(500, 100), s) for s in range(4)]
    assert all(p.size == 80 and np.all(np.diff(p) > 0) and p.max() < 100 for p in pools)
    assert len({tuple(p) for p in pools}) == 4  # a fresh draw per seed
    np.testing.assert_array_equal(pools[0], P.draw_pool(100, 80, 0))  # and seeded
    with pytest.raises(ValueError, match="^size:"):
        P.draw_pool(10, 11, 0)
    with pytest.raises(ValueError, match="^requested:"):
        P.pool_size(0, 10)


def test_advantage_stats_pair_by_seed_and_count_positive_seeds():
    rows = _rows([0.9, 0.8, 0.5, 0.7], [0.5, 0.8, 0.6, 0.6], cell="c")
    rows.append({"key": {"cell": "c", "selector": "learner-FL", "seed": 9}, "value": {"acc": 1.0}})  # unpaired
    d = np.array([0.4, 0.0, -0.1, 0.1])
    st = P.advantage_stats(rows, {"cell": "c"})
    assert st.seeds == 4 and st.positive == 2  # a tie is not positive
    assert st.mean == pytest.approx(d.mean()) and st.std == pytest.approx(d.std(ddof=1))
    assert st.text() == f"{d.mean():+.3f} ± {d.std(ddof=1):.3f} (2/4)"
    assert P.paired_advantage(rows, {"cell": "c"}) == pytest.approx((st.mean, st.std, 4))
    assert P.seed_differences(rows, {"cell": "c"}) == pytest.approx(dict(enumerate(d)))
    empty = P.advantage_stats(rows, {"cell": "other"})
    assert empty.seeds == 0 and np.isnan(empty.mean) and empty.text() == "n/a"
