"""Wilson intervals by hand, Table 2 cells from hand-made records, the paper's 91.7 % gap share."""

from __future__ import annotations

import pytest

from wbvla.suite.config import PAPER_TABLE2
from wbvla.suite.report import (
    normalized_mutual_information,
    orderings,
    paper_table2,
    table2,
    table2_lines,
)
from wbvla.suite.stats import aggregate_cell, gap_in_second_subgoals, rate, wilson_interval


def test_wilson_interval_hand_computed():
    # p = 12/25 = 0.48, z^2 = 3.8415: centre 0.48266, half 0.18235
    lo, hi = wilson_interval(12, 25)
    assert lo == pytest.approx(0.3003, abs=1e-4) and hi == pytest.approx(0.6650, abs=1e-4)
    # 0/25 and 25/25: one-sided, z^2 / (n + z^2) = 0.13319
    assert wilson_interval(0, 25) == pytest.approx((0.0, 0.13319), abs=1e-5)
    assert wilson_interval(25, 25) == pytest.approx((0.86681, 1.0), abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5), (1, -1), (0.5, 2)])
def test_wilson_interval_rejects_bad_counts(k, n):
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(k, n)


def _rec(task, success, times=(None, None), fell=False, row="r", backend="ideal_base", variation="none"):
    return {"task": task, "success": list(success), "subgoal_times": list(times), "fell": fell, "row": row,
            "backend": backend, "backend_used": backend, "variation": variation, "model_id": "m"}


def test_aggregate_cell_counts_avg_falls_and_times():
    recs = [_rec("cart_pushing", (True, True), (5.0, 9.0)), _rec("cart_pushing", (True, False), (7.0, None)),
            _rec("cart_pushing", (False, False), fell=True), _rec("bag_packing", (False, False))]
    cell = aggregate_cell(recs)
    assert cell["subgoals"]["grab_handle"] == [2, 3] and cell["subgoals"]["push_ahead"] == [1, 3]
    assert cell["subgoals"]["grasp_bags"] == [0, 1] and cell["subgoals"]["squat_and_grasp"] == [0, 0]
    # mean over the four subgoals that have trials: (2/3 + 1/3 + 0 + 0) / 4
    assert cell["avg"] == pytest.approx(0.25)
    assert cell["falls"]["k"] == 1 and cell["falls"]["n"] == 4 and cell["completed"]["k"] == 1
    assert cell["execution_time_s"]["grab_handle"] == pytest.approx(6.0) and cell["execution_time_s"]["push_ahead"] == 9.0
    assert cell["execution_time_s"]["grasp_bags"] is None
    assert cell["wilson95"]["squat_and_grasp"] == [0.0, 1.0]  # no trials: nothing known
    assert rate(1, 4)["rate"] == 0.25 and rate(0, 0)["rate"] is None


def test_paper_gap_share_is_91_7_percent():
    """Section 4.4: 91.7 % of the LMO vs velocity-RL gap is in the second subgoals (Table 2 counts)."""
    paper = paper_table2()
    gap = gap_in_second_subgoals(paper["wholebodyvla"], paper["velocity_rl"])
    assert gap["share_in_second_subgoals"] == pytest.approx(33 / 36)
    assert paper["wholebodyvla"]["avg"] == pytest.approx(0.78) and paper["no_lam"]["avg"] == pytest.approx(0.393, abs=1e-3)


def test_orderings_on_the_paper_numbers_hold():
    paper = paper_table2()
    rows = {r: {"lmo": paper[r]} for r in PAPER_TABLE2}
    res = orderings(rows)["lmo"]
    assert res["latent_order_holds"] and res["lmo_vs_velocity_rl"]["holds"]
    rows["shared_lam"]["lmo"] = {**paper["shared_lam"], "avg": 0.1}
    assert not orderings(rows)["lmo"]["latent_order_holds"]


def test_table2_groups_rows_and_backends_and_prints():
    recs = [_rec("cart_pushing", (True, True), (1.0, 2.0), row="a"), _rec("cart_pushing", (False, False), row="a", backend="lmo"),
            _rec("cart_pushing", (True, False), (1.0, None), row="a", variation="start_lateral")]
    rows = table2(recs, ["a", "b"], tasks=("cart_pushing",))
    assert set(rows) == {"a"} and set(rows["a"]) == {"lmo", "ideal_base"}
    assert rows["a"]["ideal_base"]["subgoals"] == {"grab_handle": [1, 1], "push_ahead": [1, 1]}
    lines = table2_lines({"a": {"ideal_base": aggregate_cell(recs[:1])}}, "ideal_base")
    assert "1/1" in lines[2] and "| a |" in lines[2]


def test_normalized_mutual_information_by_hand():
    flags = ["f", "f", "l", "l"]
    assert normalized_mutual_information([1, 1, 2, 2], flags) == pytest.approx(1.0)  # the code decides the flags
    assert normalized_mutual_information([1, 2, 1, 2], flags) == pytest.approx(0.0)  # independent
    assert normalized_mutual_information([1, 2, 3, 4], ["f"] * 4) == 0.0  # constant flags: nothing to explain
    # x = (1, 1, 2, 3), y = (a, a, a, b): H(Y) = H(3/4, 1/4); I = H(Y) - H(Y|X) = H(Y) (X decides Y)
    assert normalized_mutual_information([1, 1, 2, 3], ["a", "a", "a", "b"]) == pytest.approx(1.0)
