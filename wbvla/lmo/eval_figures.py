"""Figures of notebook 09 (the Table 3 analog, App. B.4): per-primitive trial traces and the metric bars.

Both take what :mod:`wbvla.lmo.evaluation` returns (``trial_traces`` and ``evaluate``), so they can be
re-drawn from ``figures/09_lmo_evaluation.json`` without re-running a trial.
"""

from __future__ import annotations

import numpy as np

PRIMITIVE_LABELS = {"forward": "forward / backward", "lateral": "lateral", "turning": "turning"}
POSTURES = ("standing", "squatting")


def trials_figure(traces: dict[str, dict[str, np.ndarray]], active_s: float, settle_s: float, speed: float):
    """Error to the reference along one + direction trial per primitive, one panel each.

    ``traces``: policy -> primitive -> (T, 4) rows ``(t, dx, dy, dyaw)`` (``trial_traces``); a trace that
    ends before ``active_s + settle_s`` ended in a fall (marked x), an empty one fell in the pre-roll.
    The dashed line is the error of a robot that never moves (``speed * t`` while the command is active).
    """
    import matplotlib.pyplot as plt

    primitives = list(PRIMITIVE_LABELS)
    fig, axes = plt.subplots(1, len(primitives), figsize=(15, 3.6), sharex=True)
    end = active_s + settle_s
    t = np.linspace(0, end, 200)
    for ax, prim in zip(axes, primitives, strict=True):
        ax.axvspan(0, active_s, color="0.92", zorder=0)
        ax.plot(t, speed * np.minimum(t, active_s), "k--", lw=0.8, label="never moves (error of standing still)")
        notes = []
        for i, (name, by_prim) in enumerate(traces.items()):
            arr = np.asarray(by_prim.get(prim, np.zeros((0, 4)))).reshape(-1, 4)
            color = f"C{i}"
            if len(arr) == 0:
                notes.append((name, color, "fell in the pre-roll"))
                ax.plot([], [], color=color, label=name)
                continue
            err = np.abs(arr[:, 3]) if prim == "turning" else np.hypot(arr[:, 1], arr[:, 2])
            ax.plot(arr[:, 0], err, color=color, label=name)
            if arr[-1, 0] < end - 1e-6:
                ax.plot(arr[-1, 0], err[-1], "x", color=color, ms=9, mew=2)
                notes.append((name, color, f"fell at {arr[-1, 0]:.1f} s"))
        for k, (name, color, text) in enumerate(notes):
            ax.text(0.98, 0.3 - 0.1 * k, f"{name}: {text}", transform=ax.transAxes, ha="right", va="top",
                    fontsize=8, color=color)
        unit = "yaw error (rad)" if prim == "turning" else "position error (m)"
        ax.set(title=f"{PRIMITIVE_LABELS[prim]}: {speed:g} {'rad/s' if prim == 'turning' else 'm/s'} for {active_s:g} s",
               xlabel="time since the command started (s); shaded: command active", ylabel=unit, xlim=(0, end))
        ax.set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("One trial per primitive (App. B.4): error to the commanded reference; x = fall", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _bar_group(ax, xs, values, width, color, label, hatch=None, alpha=1.0):
    values = [np.nan if v is None else v for v in values]
    ax.bar(xs, np.nan_to_num(values), width, color=color, alpha=alpha, hatch=hatch, label=label, edgecolor=color)
    for x, v in zip(xs, values, strict=True):
        if not np.isfinite(v):  # every trial fell: no error to average, say so where the bar would be
            ax.text(x, 0, "all fell", rotation=90, ha="center", va="bottom", fontsize=6.5, color="red")


def evaluation_figure(results: dict, names: list[str] | None = None):
    """Table 3 analog as bars: position / yaw error per primitive and CoM sway per posture (ours solid,
    the paper's hatched), and the share of trials that fell; one legend below the panels."""
    import matplotlib.pyplot as plt

    names = names or [k for k in results if isinstance(results[k], dict) and "com_sway" in results[k]]
    paper = results.get("paper", {})
    prims = list(PRIMITIVE_LABELS)
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8), gridspec_kw={"width_ratios": [3, 3, 2, 3]})
    n_series = sum(2 if n in paper else 1 for n in names)
    w = 0.8 / n_series
    slot = 0
    for i, name in enumerate(names):
        r, color = results[name], f"C{i}"
        for group in ((name, r, "solid"), (f"{name} (paper)", paper.get(name), "paper")):
            label, src, kind = group
            if src is None:
                continue
            off = -0.4 + (slot + 0.5) * w
            hatch, alpha = ("///", 0.45) if kind == "paper" else (None, 1.0)
            if kind == "paper":
                pos, yaw, sway = ([src[p][0] for p in prims], [src[p][1] for p in prims], list(src["com_sway"]))
            else:
                pos = [src[p]["pos_err"] for p in prims]
                yaw = [src[p]["yaw_err"] for p in prims]
                sway = [src["com_sway"][p] for p in POSTURES]
            _bar_group(axes[0], np.arange(3) + off, pos, w, color, label, hatch, alpha)
            _bar_group(axes[1], np.arange(3) + off, yaw, w, color, None, hatch, alpha)
            _bar_group(axes[2], np.arange(2) + off, sway, w, color, None, hatch, alpha)
            slot += 1
    w_f = 0.8 / len(names)
    for i, name in enumerate(names):
        r = results[name]
        fell = [r[p]["falls"] / r[p]["trials"] for p in prims]
        fell += [r["com_sway"][f"{p}_falls"] / (r["com_sway"][f"{p}_falls"] + r["com_sway"][f"{p}_ok_trials"]) for p in POSTURES]
        xs = np.arange(5) - 0.4 + (i + 0.5) * w_f
        axes[3].bar(xs, fell, w_f, color=f"C{i}")
        for x, v in zip(xs, fell, strict=True):
            if v == 0:  # a zero-height bar is invisible: write the 0
                axes[3].text(x, 0.005, "0", ha="center", va="bottom", fontsize=7, color=f"C{i}")
    titles = ("position error (m), lower is better", "yaw error (rad), lower is better", "CoM sway (m, Eq. 5)",
              "share of trials that fell")
    ticks = ([PRIMITIVE_LABELS[p] for p in prims],) * 2 + (list(POSTURES), [*prims, *(f"sway {p}" for p in POSTURES)])
    for ax, title, labels in zip(axes, titles, ticks, strict=True):
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=8, rotation=20 if len(labels) > 3 else 0)
        ax.set_title(title, fontsize=9)
    axes[3].set_ylim(0, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle("LMO evaluation (Table 3 analog, App. B.4): solid = ours (errors over the trials that did not fall), "
                 "hatched = paper", fontsize=10)
    fig.tight_layout(rect=(0, 0.1 if len(labels) <= 5 else 0.16, 1, 1))
    return fig
