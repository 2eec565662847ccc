"""The figures of notebook 10: the Table 2 analog, the Fig. 3 curves and the Fig. 7 failure bars."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullLocator

from wbvla.suite.config import ROW_LABELS
from wbvla.suite.failures import LOCOMOTION_MODES, MANIPULATION_MODES
from wbvla.suite.report import SCALING_OPEN_LOOP_METRICS
from wbvla.suite.stats import subgoal_names

BACKEND_COLORS = {"lmo": "#c0504d", "ideal_base": "#4f81bd", "paper": "#333333"}
MODE_COLORS = dict(zip((*LOCOMOTION_MODES, *MANIPULATION_MODES, "other"),
                       ("#7f0000", "#d7301f", "#fc8d59", "#fdcc8a", "#fee8c8", "#08519c", "#4292c6", "#9ecae1", "#bbbbbb"),
                       strict=True))


BACKEND_LEGEND = {"lmo": "physics legs: the LMO policy, 50 Hz\n(velocity-RL row: its velocity policy)",
                  "ideal_base": "IDEAL BASE: kinematic stand-in,\nthe base follows the Eq. 2 reference"}
"""What each backend column of the Table 2 analog is, as the figure's legend says it."""
BACKEND_TITLES = {"lmo": "physics legs (LMO policy)", "ideal_base": "IDEAL BASE (kinematic)"}


def _err(rate: float, ci) -> list[float]:
    return [max(rate - ci[0], 0.0), max(ci[1] - rate, 0.0)]


ZERO_STUB = 0.012
"""Height drawn for a bar whose value is 0, so it can be seen (and matched to its legend colour)."""


def _pooled(cell: dict) -> tuple[int, int]:
    """Subgoals achieved and attempted, summed over a cell's subgoals (what ``avg_wilson95_pooled`` is of)."""
    counts = [kn for kn in cell["subgoals"].values() if kn[1]]
    return sum(k for k, _ in counts), sum(n for _, n in counts)


def _subgoal_table(ax, rows: dict, names: list[str], backend: str, subs: list[str]):
    """One backend's per-subgoal successes as a table of coloured cells: 'k/n' and the Wilson
    95 % interval written in every cell, so a 0 reads as clearly as a 25/25. Returns the image."""
    present = [r for r in names if backend in rows[r]]
    counts = [[rows[r][backend]["subgoals"][s] for s in subs] for r in present]
    rates = np.array([[k / n if n else np.nan for k, n in line] for line in counts], float).reshape(len(present), len(subs))
    im = ax.imshow(rates, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for i, r in enumerate(present):
        for j, s in enumerate(subs):
            k, n = counts[i][j]
            lo, hi = rows[r][backend]["wilson95"][s]
            ax.text(j, i, f"{k}/{n}\n{100 * lo:.0f}-{100 * hi:.0f} %" if n else "no trials", ha="center", va="center",
                    fontsize=7.5, color="white" if n and k / n > 0.6 else "black")
    ax.set_xticks(np.arange(len(subs)), [s.replace("_", " ") for s in subs], rotation=25, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(present)), [ROW_LABELS.get(r, r) for r in present], fontsize=8)
    ax.set_xticks(np.arange(len(subs) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(present) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.75", lw=0.6)
    ax.tick_params(which="minor", length=0)
    return im


def table2_figure(rows: dict, paper: dict):
    """The Table 2 analog. (a) Each row's average subgoal success (the mean of its subgoal rates
    over its trials) on both backends, whisker = Wilson 95 % interval of the pooled subgoals, the
    count 'k/n' (subgoals achieved / attempted) written on every bar, a 0 drawn as a thin stub,
    and the paper's value; (b, c) per subgoal on each backend as a table of 'k/n' and Wilson
    intervals. The legend lists only the series drawn and sits outside the axes."""
    names = list(rows)
    subs = subgoal_names()
    backends = [b for b in ("lmo", "ideal_base") if any(b in rows[r] for r in names)]
    fig = plt.figure(figsize=(13.5, 4.6 + 3.6 * bool(backends)))
    grid = fig.add_gridspec(2 if backends else 1, max(len(backends), 1), height_ratios=[1, 1] if backends else [1],
                            hspace=0.55, wspace=0.35)
    ax = fig.add_subplot(grid[0, :])
    x = np.arange(len(names))
    width = 0.8 / max(len(backends), 1)
    trials = sorted({rows[r][b]["trials"] for r in names for b in backends if b in rows[r] and "trials" in rows[r][b]})
    for j, backend in enumerate(backends):
        idx = [i for i, r in enumerate(names) if backend in rows[r]]
        cells = [rows[names[i]][backend] for i in idx]
        vals = np.array([c["avg"] for c in cells], float)
        xs = x[idx] + (j - (len(backends) - 1) / 2) * width
        errs = np.array([_err(c["avg"], c["avg_wilson95_pooled"]) for c in cells]).T
        ax.bar(xs, np.where(vals == 0, ZERO_STUB, vals), width, yerr=errs, capsize=3, color=BACKEND_COLORS[backend],
               edgecolor="black", lw=0.5, label=BACKEND_LEGEND[backend], error_kw={"lw": 0.8})
        for xi, v, c in zip(xs, vals, cells, strict=True):  # the count on every bar: inside a tall one, above a short one
            k, n = _pooled(c)
            inside = v > 0.5
            ax.text(xi, v - 0.03 if inside else c["avg_wilson95_pooled"][1] + 0.02, f"{k}/{n}", ha="center",
                    va="top" if inside else "bottom", rotation=90, fontsize=7.5, weight="bold",
                    color="white" if inside else BACKEND_COLORS[backend])
    paper_x = [i for i, r in enumerate(names) if r in paper]
    if paper_x:
        ax.scatter(x[paper_x], [paper[names[i]]["avg"] for i in paper_x], marker="D", color="k", zorder=3,
                   label="paper: real X2 (Table 2)")
    ax.set_xticks(x, [ROW_LABELS.get(r, r) for r in names], rotation=20, ha="right")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set(ylim=(0, 1.05), ylabel="average subgoal success")
    ax.set_title("(a) average subgoal success per row"
                 + (f" over {trials[0]} trials" if len(trials) == 1 else "")
                 + ": bar = mean of the subgoal rates, whisker = Wilson 95 % interval (pooled subgoals),"
                 "\nk/n = subgoals achieved / attempted; a thin stub is a 0", fontsize=10, loc="left")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    for j, backend in enumerate(backends):
        sub_ax = fig.add_subplot(grid[1, j])
        im = _subgoal_table(sub_ax, rows, names, backend, subs)
        sub_ax.set_title(f"({'bc'[j]}) per subgoal, {BACKEND_TITLES[backend]}: successes / trials,\n"
                         "Wilson 95 % interval", fontsize=9.5, loc="left")
    if backends:
        fig.colorbar(im, ax=fig.axes[1:], fraction=0.025, pad=0.02, label="success rate")
    fig.suptitle("Table 2 analog: every row on the same held-out seeds, on both locomotion backends", fontsize=12)
    return fig


def scaling_figure(curves: dict, paper_note: str = "", open_loop: dict | None = None, flag_baseline: float | None = None):
    """Fig. 3 analog: success vs teleoperation demonstrations per task, one line per Stage II
    video fraction, Wilson 95 % intervals; with ``open_loop``
    (:func:`~wbvla.suite.report.scaling_open_loop`) one more row of panels per open-loop metric of
    the same models (held-out flag accuracy, arm L1). Every axis starts at 0 (accuracy and success
    end at 1), so small differences look small; ``flag_baseline`` (the held-out accuracy of always
    predicting 'stand') is drawn on the flag-accuracy panels. Each open-loop panel states the range
    over the grid (one model per point, one held-out set: no interval to draw), so a spread of a few
    hundredths is read as the spread it is. One legend for all panels, at the top."""
    metrics = ("flag_accuracy", "arm_l1_rad") if open_loop else ()
    fig, axes = plt.subplots(1 + len(metrics), 2, figsize=(12, 4.2 + 3.2 * len(metrics)), squeeze=False, sharex=True)
    titles = {"start_pose": "start-pose variations: human video fraction",
              "scene": "scene variations: robot video fraction"}
    panels = [("success", curves, "average subgoal success (IDEAL BASE)")]
    panels += [(m, open_loop, SCALING_OPEN_LOOP_METRICS[m]) for m in metrics]
    handles, notes = {}, []
    demos = sorted({int(d) for data in (curves, open_loop or {}) for group in data.values() for pts in group.values() for d in pts})
    for row, (metric, data, ylabel) in enumerate(panels):
        top = 0.0
        for col, group in enumerate(("start_pose", "scene")):
            ax = axes[row, col]
            values, counts, frames = [], [], set()
            for j, (frac, points) in enumerate(sorted(data.get(group, {}).items(), key=lambda kv: float(kv[0]))):
                ds = sorted(points, key=int)
                label = f"{100 * float(frac):.0f} %"
                kw = {"marker": "o", "label": label, "color": plt.cm.viridis(j / 3.5)}
                xs = [int(d) * (1 + 0.03 * j) for d in ds]  # a small offset keeps overlapping points apart
                if metric == "success":
                    errs = np.array([_err(points[d]["rate"], points[d]["wilson95"]) for d in ds]).T
                    handles.setdefault(label, ax.errorbar(xs, [points[d]["rate"] for d in ds], yerr=errs, capsize=3, **kw))
                    counts += [(points[d].get("k"), points[d].get("n")) for d in ds]
                else:
                    values += [points[d][metric] for d in ds]
                    frames |= {int(points[d]["frames"]) for d in ds if points[d].get("frames")}
                    handles.setdefault(label, ax.plot(xs, [points[d][metric] for d in ds], **kw)[0])
            if metric == "flag_accuracy" and flag_baseline is not None:
                ax.axhline(flag_baseline, color="0.3", ls="--", lw=1)
                ax.text(0.01, flag_baseline - 0.02, f"always predicting 'stand': {flag_baseline:.2f}", transform=ax.get_yaxis_transform(),
                        va="top", fontsize=7, color="0.3")
            if values:
                held = f", {frames.pop()} held-out frames each" if len(frames) == 1 else ""
                notes.append((ax, values, ax.text(
                    0.99, 0.96, f"range over the grid: {min(values):.3f} to {max(values):.3f}\n({len(values)} models, one "
                    f"per point{held}; no interval)", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.2",
                    bbox={"facecolor": "white", "edgecolor": "0.7", "boxstyle": "round,pad=0.3"})))
                top = max(top, max(values))
            if counts and all(k is not None and n for k, n in counts):
                ax.text(0.99, 0.96, f"{sum(k for k, _ in counts)} of {sum(n for _, n in counts)} subgoals achieved over all points\n"
                        "(whiskers: Wilson 95 % intervals)",
                        transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.3")
            if metric != "success" and not values:
                ax.text(0.5, 0.5, "no trained model of this grid: nothing to draw", transform=ax.transAxes, ha="center",
                        va="center", fontsize=9, color="0.4")
            ax.set_xscale("log")
            if demos:  # the demonstration counts themselves on the axis, not powers of ten
                ax.set_xticks(demos, [str(d) for d in demos])
                ax.xaxis.set_minor_locator(NullLocator())
            if metric == "success":
                ax.set_title(titles[group])
            if row == len(panels) - 1:
                ax.set(xlabel="teleoperation demonstrations per task")
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=8)
        for ax in axes[row]:  # honest ranges: from 0; rates and accuracies up to 1
            ax.set_ylim(-0.02 if metric == "success" else 0, 1.02 if metric in ("success", "flag_accuracy") else max(top * 1.25, 1e-3))
    for ax, values, note in notes:  # the range note goes where the points are not: below them when they sit high
        if min(values) > 0.4 * ax.get_ylim()[1]:
            note.set_y(0.04)
            note.set_va("bottom")
    fig.suptitle("Fig. 3 analog: closed-loop success and open-loop fit vs teleoperation demonstrations; every axis from 0",
                 fontsize=11, y=1.0)
    if handles:
        fig.legend(list(handles.values()), list(handles), title="Stage II video fraction", loc="upper center", ncol=len(handles),
                   fontsize=8, title_fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.975))
    if paper_note:
        fig.text(0.5, 0.005, paper_note, ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.02 if paper_note else 0, 1, 0.94 if handles else 0.97))
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
