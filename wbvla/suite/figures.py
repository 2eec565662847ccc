"""The figures of notebook 10: the Table 2 analog, the Fig. 3 curves and the Fig. 7 failure bars."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from wbvla.locomotion.base import LABELS
from wbvla.suite.config import ROW_LABELS
from wbvla.suite.failures import LOCOMOTION_MODES, MANIPULATION_MODES
from wbvla.suite.report import SCALING_OPEN_LOOP_METRICS
from wbvla.suite.stats import subgoal_names

BACKEND_COLORS = {"lmo": "#c0504d", "ideal_base": "#4f81bd", "paper": "#333333"}
MODE_COLORS = dict(zip((*LOCOMOTION_MODES, *MANIPULATION_MODES, "other"),
                       ("#7f0000", "#d7301f", "#fc8d59", "#fdcc8a", "#fee8c8", "#08519c", "#4292c6", "#9ecae1", "#bbbbbb"),
                       strict=True))


def _err(rate: float, ci) -> list[float]:
    return [max(rate - ci[0], 0.0), max(ci[1] - rate, 0.0)]


def table2_figure(rows: dict, paper: dict):
    """(a) Average score per row on each backend with Wilson 95 % intervals (pooled) and the
    paper's value; (b) per-subgoal success on the ideal base with Wilson intervals."""
    names = list(rows)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.6), gridspec_kw={"width_ratios": [1, 1.5]})
    ax = axes[0]
    x = np.arange(len(names))
    for j, backend in enumerate(("lmo", "ideal_base")):
        vals = [rows[r][backend]["avg"] if backend in rows[r] else np.nan for r in names]
        errs = np.array([_err(rows[r][backend]["avg"], rows[r][backend]["avg_wilson95_pooled"]) if backend in rows[r] else [0, 0]
                         for r in names]).T
        ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, yerr=errs, capsize=3, color=BACKEND_COLORS[backend],
               label=LABELS[backend].split(" (")[0] if backend == "lmo" else "IDEAL BASE (kinematic)")
    ax.scatter(x, [paper[r]["avg"] if r in paper else np.nan for r in names], marker="D", color="k", zorder=3,
               label="paper (real X2)")
    ax.set_xticks(x, [ROW_LABELS.get(r, r) for r in names], rotation=30, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="average subgoal success", title="Table 2 analog: average score (Wilson 95 %, pooled)")
    ax.legend(fontsize=8)
    ax = axes[1]
    subs = subgoal_names()
    width = 0.8 / max(len(names), 1)
    for j, r in enumerate(names):
        cell = rows[r].get("ideal_base")
        if cell is None:
            continue
        vals = [cell["subgoals"][s][0] / max(cell["subgoals"][s][1], 1) for s in subs]
        errs = np.array([_err(v, cell["wilson95"][s]) for v, s in zip(vals, subs, strict=True)]).T
        ax.bar(np.arange(len(subs)) + (j - len(names) / 2 + 0.5) * width, vals, width, yerr=errs, capsize=2,
               label=ROW_LABELS.get(r, r), color=plt.cm.tab10(j))
    ax.set_xticks(np.arange(len(subs)), [s.replace("_", " ") for s in subs], rotation=20)
    ax.set(ylim=(0, 1.05), ylabel="success (of trials)", title="per subgoal on the IDEAL BASE (sequential, App. B.3)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def scaling_figure(curves: dict, paper_note: str = "", open_loop: dict | None = None):
    """Fig. 3 analog: success vs teleoperation demonstrations per task, one line per Stage II
    video fraction, Wilson 95 % intervals; with ``open_loop``
    (:func:`~wbvla.suite.report.scaling_open_loop`) one more row of panels per open-loop metric of
    the same models (held-out flag accuracy, arm L1)."""
    metrics = ("flag_accuracy", "arm_l1_rad") if open_loop else ()
    fig, axes = plt.subplots(1 + len(metrics), 2, figsize=(12, 4.2 + 3.2 * len(metrics)), squeeze=False, sharex=True)
    titles = {"start_pose": "start-pose variations: human video fraction",
              "scene": "scene variations: robot video fraction"}
    panels = [("success", curves, "average subgoal success (IDEAL BASE)")]
    panels += [(m, open_loop, SCALING_OPEN_LOOP_METRICS[m]) for m in metrics]
    for row, (metric, data, ylabel) in enumerate(panels):
        for col, group in enumerate(("start_pose", "scene")):
            ax = axes[row, col]
            for j, (frac, points) in enumerate(sorted(data.get(group, {}).items(), key=lambda kv: float(kv[0]))):
                ds = sorted(points, key=int)
                kw = {"marker": "o", "label": f"{100 * float(frac):.0f} %", "color": plt.cm.viridis(j / 3.5)}
                xs = [int(d) * (1 + 0.03 * j) for d in ds]  # a small offset keeps overlapping points apart
                if metric == "success":
                    errs = np.array([_err(points[d]["rate"], points[d]["wilson95"]) for d in ds]).T
                    ax.errorbar(xs, [points[d]["rate"] for d in ds], yerr=errs, capsize=3, **kw)
                else:
                    ax.plot(xs, [points[d][metric] for d in ds], **kw)
            ax.set_xscale("log")
            if metric == "success":
                ax.set(title=titles[group], ylim=(-0.02, 1.02))
            if row == len(panels) - 1:
                ax.set(xlabel="teleoperation demonstrations per task")
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=8)
            if ax.lines:
                ax.legend(title="Stage II video", fontsize=7, title_fontsize=7)
    if paper_note:
        fig.suptitle(paper_note, fontsize=9)
    fig.tight_layout()
    return fig


def failure_figure(summary: dict, rows: list[str], backends=("ideal_base", "lmo"), labels: dict[str, str] | None = None):
    """Fig. 7 analog: failed trials of each row split into locomotion and manipulation modes
    (stacked bars, one panel per backend); ``labels`` names rows beyond :data:`ROW_LABELS`."""
    names = {**ROW_LABELS, **(labels or {})}
    fig, axes = plt.subplots(1, len(backends), figsize=(6.5 * len(backends), 4.2), squeeze=False)
    modes = (*LOCOMOTION_MODES, *MANIPULATION_MODES, "other")
    handles = {}  # one legend for every panel, outside the bars (long row labels make the panels crowded)
    for ax, backend in zip(axes[0], backends, strict=True):
        present = [r for r in rows if backend in summary.get(r, {})]
        bottom = np.zeros(len(present))
        for m in modes:
            vals = np.array([summary[r][backend]["mode"].get(m, 0) for r in present], float)
            if vals.sum() == 0:
                continue
            stage = "loco" if m in LOCOMOTION_MODES else ("manip" if m in MANIPULATION_MODES else "?")
            handles[m] = ax.bar(np.arange(len(present)), vals, bottom=bottom, color=MODE_COLORS[m],
                                label=f"{stage}: {m.replace('_', ' ')}")
            bottom += vals
        ax.set_xticks(np.arange(len(present)), [names.get(r, r) for r in present], rotation=30, ha="right")
        ax.set(ylabel="failed trials", title=f"failure modes, {'IDEAL BASE' if backend == 'ideal_base' else 'physics legs'}")
    fig.tight_layout()
    ordered = [handles[m] for m in modes if m in handles]
    fig.legend(ordered, [h.get_label() for h in ordered], fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    return fig


def trial_timeline_figure(report: dict):
    """One trial from the quickstart report: the latent codes the VLA chose and the locomotion
    command u_t per tick, with the times the subgoals were achieved."""
    per_tick = report["latents"]["per_tick"]
    u = np.asarray(report["commands"]["u_t_per_tick"])  # (T, 4)
    t = np.arange(len(u)) / 10.0
    lams = sorted({lam for tick in per_tick for lam in tick})
    fig, axes = plt.subplots(len(lams) + 1, 1, figsize=(11, 1.8 * (len(lams) + 1) + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, lam in zip(axes, lams, strict=False):
        codes = np.array([tick[lam][0] if lam in tick else -1 for tick in per_tick])
        ax.scatter(t, codes, s=6, color="#4f81bd")
        ax.set(ylabel=f"{lam} code")
    for i, name in enumerate(("s_x", "s_y", "s_yaw")):
        axes[-1].step(t, u[:, i] + 2.5 * i, where="post", label=name)
    axes[-1].set(xlabel="time (s)", ylabel="flags (offset)", yticks=[])
    axes[-1].legend(fontsize=7, loc="upper right")
    for name, ts in report["subgoal_times_s"].items():
        if ts is not None:
            for ax in axes:
                ax.axvline(ts, color="g", lw=1)
            axes[0].text(ts, axes[0].get_ylim()[1], f" {name}", color="g", fontsize=8, va="top")
    axes[0].set_title(f"{report['task']} on the {report['backend_label'].split(' (')[0]}: latents and u_t per 10 Hz tick")
    fig.tight_layout()
    return fig
