"""Notebook 10's figures read at a glance: a 0 is drawn and written, legends list only what is
drawn and sit outside the data, and the scaling axes are honest (from 0, with the spread stated)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from wbvla.suite.figures import BACKEND_LEGEND, ZERO_STUB, scaling_figure, table2_figure  # noqa: E402
from wbvla.suite.stats import subgoal_names  # noqa: E402

SUBS = subgoal_names()


def _cell(k: int, n: int = 10) -> dict:
    return {"avg": k / n, "avg_wilson95_pooled": [max(k / n - 0.1, 0.0), min(k / n + 0.1, 1.0)], "trials": n,
            "subgoals": {s: [k, n] for s in SUBS}, "wilson95": {s: [0.0, 0.3] if k == 0 else [0.7, 1.0] for s in SUBS}}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_table2_zero_bars_are_drawn_and_their_counts_written():
    rows = {"wholebodyvla": {"lmo": _cell(0), "ideal_base": _cell(0)}, "expert": {"lmo": _cell(0), "ideal_base": _cell(10)}}
    fig = table2_figure(rows, {"wholebodyvla": {"avg": 0.78}})
    avg = fig.axes[0]
    heights = sorted(round(b.get_height(), 3) for b in avg.patches)
    assert heights == [ZERO_STUB, ZERO_STUB, ZERO_STUB, 1.0]  # every 0 is a visible stub, not a height-0 bar
    n = 10 * len(SUBS)
    # the count on every bar: three 0/n (physics wholebodyvla, ideal wholebodyvla, physics expert) and one n/n
    assert sorted(t.get_text() for t in avg.texts) == sorted([f"0/{n}"] * 3 + [f"{n}/{n}"])
    title = avg.get_title(loc="left")
    assert "average subgoal success" in title and "Wilson 95 %" in title and "over 10 trials" in title


def test_table2_per_subgoal_tables_write_every_cell():
    rows = {"wholebodyvla": {"lmo": _cell(0), "ideal_base": _cell(0)}, "expert": {"lmo": _cell(0), "ideal_base": _cell(10)}}
    fig = table2_figure(rows, {})
    physics, ideal = fig.axes[1], fig.axes[2]
    assert "physics legs" in physics.get_title(loc="left") and "IDEAL BASE" in ideal.get_title(loc="left")
    physics_cells = [t.get_text() for t in physics.texts]
    assert len(physics_cells) == 2 * len(SUBS) and all(t.startswith("0/10\n0-30 %") for t in physics_cells)
    ideal_cells = [t.get_text().split("\n")[0] for t in ideal.texts]
    assert ideal_cells == ["0/10"] * len(SUBS) + ["10/10"] * len(SUBS)


def test_table2_legend_lists_only_the_drawn_series_outside_the_axes():
    rows = {"wholebodyvla": {"lmo": _cell(0), "ideal_base": _cell(3)}, "no_lam": {"lmo": _cell(0), "ideal_base": _cell(0)}}
    fig = table2_figure(rows, {"wholebodyvla": {"avg": 0.78}})
    avg = fig.axes[0]
    assert sorted(_legend_labels(avg)) == sorted([BACKEND_LEGEND["lmo"], BACKEND_LEGEND["ideal_base"], "paper: real X2 (Table 2)"])
    anchor = avg.get_legend().get_bbox_to_anchor().transformed(avg.transAxes.inverted())
    assert anchor.x0 > 1  # right of the axes: it covers no bar
    # only the ideal base was run and the paper has none of these rows: one entry, one per-subgoal table
    fig = table2_figure({"wholebodyvla": {"ideal_base": _cell(0)}}, {})
    assert _legend_labels(fig.axes[0]) == [BACKEND_LEGEND["ideal_base"]]
    assert len([a for a in fig.axes if a.images]) == 1


def _point(rate: float = 0.0) -> dict:
    return {"rate": rate, "wilson95": [0.0, 0.3], "k": 0, "n": 4}


def test_scaling_figure_draws_success_and_open_loop_rows():
    ol = {"flag_accuracy": 0.8, "arm_l1_rad": 0.03}
    fig = scaling_figure({"start_pose": {"0": {"10": _point(0.25), "25": _point(0.25)}}, "scene": {}},
                         open_loop={"start_pose": {"0": {"10": ol}}, "scene": {"1": {"25": ol}}})
    assert len(fig.axes) == 6 and fig.axes[2].lines[0].get_ydata()[0] == 0.8
    assert len(scaling_figure({"start_pose": {}, "scene": {}}).axes) == 2
    # the demonstration counts label the (shared) axis; an open-loop panel without any model says so
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[4].get_xticklabels()] == ["10", "25"]
    fig = scaling_figure({"start_pose": {"0": {"10": _point()}}, "scene": {}}, open_loop={"start_pose": {"0": {"10": ol}}, "scene": {}})
    assert [t.get_text() for t in fig.axes[3].texts] == ["no trained model of this grid: nothing to draw"]
    assert not any("nothing to draw" in t.get_text() for t in fig.axes[2].texts)


def test_scaling_axes_start_at_zero_and_state_the_spread():
    ol = {"10": {"flag_accuracy": 0.82, "arm_l1_rad": 0.038, "frames": 1012.0},
          "25": {"flag_accuracy": 0.86, "arm_l1_rad": 0.044, "frames": 1012.0}}
    fig = scaling_figure({"start_pose": {"0": {"10": _point()}}, "scene": {}}, flag_baseline=0.7,
                         open_loop={"start_pose": {"0": ol}, "scene": {}})
    # honest ranges: every axis from 0, accuracy to 1 (0.82 vs 0.86 must not look like a trend)
    assert [round(a.get_ylim()[0], 2) for a in fig.axes] == [-0.02, -0.02, 0, 0, 0, 0]
    assert fig.axes[2].get_ylim()[1] == pytest.approx(1.02) and fig.axes[4].get_ylim()[1] == pytest.approx(0.044 * 1.25)
    assert 0.7 in [ln.get_ydata()[0] for ln in fig.axes[2].lines]  # the always-'stand' baseline
    flag_note = [t.get_text() for t in fig.axes[2].texts if t.get_text().startswith("range over the grid")]
    assert flag_note == ["range over the grid: 0.820 to 0.860\n(2 models, one per point, 1012 held-out frames each; no interval)"]
    arm_note = next(t for t in fig.axes[4].texts if t.get_text().startswith("range over the grid"))
    assert "0.038 to 0.044" in arm_note.get_text()
    assert arm_note.get_position()[1] < 0.5  # the points sit high: the note goes below them
    assert any("0 of 4 subgoals achieved" in t.get_text() for t in fig.axes[0].texts)
    assert len(fig.legends) == 1 and not any(a.get_legend() for a in fig.axes)


def test_figures_render_to_png():
    rows = {"wholebodyvla": {"lmo": _cell(0), "ideal_base": _cell(0)}}
    buf = io.BytesIO()
    table2_figure(rows, {}).savefig(buf, format="png", dpi=60, bbox_inches="tight")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
