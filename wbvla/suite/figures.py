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


ZERO_STUB = 0.012
"""Height drawn for a bar whose value is 0, so it can be seen (and matched to its legend colour)."""


def _bars(ax, xs, values, width, color, label=None, errs=None, capsize=3, write_zero=False):
    """Bars where a 0 shows as a thin stub (and, with ``write_zero``, a '0' above it); NaN = no bar."""
    values = np.asarray(values, float)
    shown = np.where(values == 0, ZERO_STUB, values)
    ax.bar(xs, shown, width, yerr=errs, capsize=capsize, color=color, label=label, error_kw={"lw": 0.8})
    if write_zero:
        for x, v in zip(xs, values, strict=True):
            if v == 0:
                ax.text(x, ZERO_STUB + 0.01, "0", ha="center", va="bottom", fontsize=7, color=color)


def table2_figure(rows: dict, paper: dict):
    """(a) Average score per row on each backend with Wilson 95 % intervals (pooled) and the
    paper's value; (b) per-subgoal success on the ideal base with Wilson intervals. A score of 0
    is drawn as a thin stub (with a '0' in panel a); each panel's legend sits outside its bars."""
    names = list(rows)
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.2), gridspec_kw={"width_ratios": [1, 1.6]})
    ax = axes[0]
    x = np.arange(len(names))
    for j, backend in enumerate(("lmo", "ideal_base")):
        vals = [rows[r][backend]["avg"] if backend in rows[r] else np.nan for r in names]
        errs = np.array([_err(rows[r][backend]["avg"], rows[r][backend]["avg_wilson95_pooled"]) if backend in rows[r] else [0, 0]
                         for r in names]).T
        _bars(ax, x + (j - 0.5) * 0.38, vals, 0.38, BACKEND_COLORS[backend], errs=errs, write_zero=True,
              label=LABELS[backend].split(" (")[0] if backend == "lmo" else "IDEAL BASE (kinematic)")
    ax.scatter(x, [paper[r]["avg"] if r in paper else np.nan for r in names], marker="D", color="k", zorder=3,
               label="paper (real X2)")
    ax.set_xticks(x, [ROW_LABELS.get(r, r) for r in names], rotation=30, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="average subgoal success", title="Table 2 analog: average score (Wilson 95 %, pooled)")
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.08), ncol=3, frameon=False)
    ax = axes[1]
    subs = subgoal_names()
    width = 0.8 / max(len(names), 1)
    for j, r in enumerate(names):
        cell = rows[r].get("ideal_base")
        if cell is None:
            continue
        vals = [cell["subgoals"][s][0] / max(cell["subgoals"][s][1], 1) for s in subs]
        errs = np.array([_err(v, cell["wilson95"][s]) for v, s in zip(vals, subs, strict=True)]).T
        _bars(ax, np.arange(len(subs)) + (j - len(names) / 2 + 0.5) * width, vals, width, plt.cm.tab10(j),
              label=ROW_LABELS.get(r, r), errs=errs, capsize=1.5)
    ax.set_xticks(np.arange(len(subs)), [s.replace("_", " ") for s in subs], rotation=20)
    ax.set(ylim=(0, 1.05), ylabel="success (of trials)",
           title="per subgoal on the IDEAL BASE (sequential, App. B.3); a thin stub = 0")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def scaling_figure(curves: dict, paper_note: str = "", open_loop: dict | None = None, flag_baseline: float | None = None):
    """Fig. 3 analog: success vs teleoperation demonstrations per task, one line per Stage II
    video fraction, Wilson 95 % intervals; with ``open_loop``
    (:func:`~wbvla.suite.report.scaling_open_loop`) one more row of panels per open-loop metric of
    the same models (held-out flag accuracy, arm L1). Every axis starts at 0 (accuracy and success
    end at 1), so small differences look small; ``flag_baseline`` (the held-out accuracy of always
    predicting 'stand') is drawn on the flag-accuracy panels. One legend for all panels, at the top."""
    metrics = ("flag_accuracy", "arm_l1_rad") if open_loop else ()
    fig, axes = plt.subplots(1 + len(metrics), 2, figsize=(12, 4.2 + 3.2 * len(metrics)), squeeze=False, sharex=True)
    titles = {"start_pose": "start-pose variations: human video fraction",
              "scene": "scene variations: robot video fraction"}
    panels = [("success", curves, "average subgoal success (IDEAL BASE)")]
    panels += [(m, open_loop, SCALING_OPEN_LOOP_METRICS[m]) for m in metrics]
    handles = {}
    for row, (metric, data, ylabel) in enumerate(panels):
        top = 0.0
        for col, group in enumerate(("start_pose", "scene")):
            ax = axes[row, col]
            values, counts = [], []
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
                    handles.setdefault(label, ax.plot(xs, [points[d][metric] for d in ds], **kw)[0])
            if metric == "flag_accuracy" and flag_baseline is not None:
                ax.axhline(flag_baseline, color="0.3", ls="--", lw=1)
                ax.text(0.01, flag_baseline - 0.02, f"always 'stand': {flag_baseline:.2f}", transform=ax.get_yaxis_transform(),
                        va="top", fontsize=7, color="0.3")
            if values:
                ax.text(0.99, 0.96, f"all models: {min(values):.3g} to {max(values):.3g}", transform=ax.transAxes, ha="right",
                        va="top", fontsize=8, color="0.3")
                top = max(top, max(values))
            if counts and all(k is not None and n for k, n in counts):
                ax.text(0.99, 0.96, f"{sum(k for k, _ in counts)} of {sum(n for _, n in counts)} subgoals achieved, all points",
                        transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.3")
            ax.set_xscale("log")
            if metric == "success":
                ax.set_title(titles[group])
            if row == len(panels) - 1:
                ax.set(xlabel="teleoperation demonstrations per task")
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=8)
        for ax in axes[row]:  # honest ranges: from 0; rates and accuracies up to 1
            ax.set_ylim(-0.02 if metric == "success" else 0, 1.02 if metric in ("success", "flag_accuracy") else max(top * 1.25, 1e-3))
    if handles:
        fig.legend(list(handles.values()), list(handles), title="Stage II video fraction", loc="upper center", ncol=len(handles),
                   fontsize=8, title_fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
    if paper_note:
        fig.text(0.5, 0.005, paper_note, ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.02 if paper_note else 0, 1, 0.94 if handles else 1))
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
