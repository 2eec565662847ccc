"""Figures of notebook 11: the loop's timelines, the watchdog's reaction times, loop timing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from wbvla.control.targets import ARMS, HEIGHT
from wbvla.control.tick import MODES
from wbvla.sim.joints import joint_names

MODE_COLOURS = {"wait": "#bbbbbb", "active": "#9bd19b", "hold": "#f5c26b", "safe": "#e8836b", "estop": "#b03030"}


def _mode_band(ax, t: np.ndarray, modes: np.ndarray) -> None:
    edges = np.flatnonzero(np.r_[True, modes[1:] != modes[:-1], True])
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        ax.axvspan(t[a], t[min(b, len(t) - 1)], color=MODE_COLOURS[MODES[modes[a]]], alpha=0.35, lw=0)


def plot_timeline(log: dict, events, marks: list[tuple[str, int]] = (), joints=(0, 3), title: str = ""):
    """u_t, the latents of each accepted command, arm targets vs measured, with the mode as a band."""
    t0 = log["wake_ns"][0]
    t = (log["wake_ns"] - t0) / 1e9
    modes = log["mode"]
    fig, axes = plt.subplots(4, 1, figsize=(11, 8.5), sharex=True, gridspec_kw={"height_ratios": [1.2, 1, 1, 1.5]})
    ax = axes[0]
    for k, name in enumerate(("s_x", "s_y", "s_yaw")):
        ax.step(t, log["u"][:, k] + 0.06 * (k - 1), where="post", label=name)
    ax.set_ylabel("flags")
    ax2 = ax.twinx()
    ax2.plot(t, log["u"][:, HEIGHT], "k--", lw=1, label="h* (m)")
    ax2.set_ylabel("h* (m)")
    ax.legend(loc="upper left", ncol=3, fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    accepts = [(ts, d) for ts, kind, d in events if kind == "accept"]
    ax = axes[1]
    codes = {}
    for ts, d in accepts:
        for key, vals in d["latents"].items():
            codes.setdefault(key, []).extend(((ts - t0) / 1e9, c) for c in vals)
    if codes:
        for key, pts in codes.items():
            p = np.array(pts)
            ax.scatter(p[:, 0], p[:, 1], s=6, label=f"{key} codes")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_ylabel("latent code")
    else:
        ax.text(0.5, 0.5, "no latent actions: the policy is the labelled stand-in (scripted replay)",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_ylabel("latents")
    ax = axes[2]
    names = joint_names("arms")
    for j in joints:
        line, = ax.plot(t, log["q_target"][:, ARMS][:, j], lw=1.2, label=f"{names[j]} target")
        ax.plot(t, log["q"][:, ARMS][:, j], lw=0.8, ls=":", color=line.get_color(), label="measured")
    ax.set_ylabel("arm joint (rad)")
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    ax = axes[3]
    _mode_band(ax, t, modes)
    if accepts:
        ta = np.array([(ts - t0) / 1e9 for ts, _ in accepts])
        ax.vlines(ta, 0, 1, color="g", lw=0.5, label="command accepted")
    rej = [(ts - t0) / 1e9 for ts, kind, _ in events if kind == "reject"]
    if rej:
        ax.vlines(rej, 1, 2, color="r", lw=0.5, label="command rejected")
    for label, ts in marks:
        for a in axes:
            a.axvline((ts - t0) / 1e9, color="k", lw=1, ls="-.")
        ax.text((ts - t0) / 1e9, 2.05, label, fontsize=8, rotation=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.35) for c in MODE_COLOURS.values()]
    ax.legend([*ax.get_legend_handles_labels()[0], *handles], [*ax.get_legend_handles_labels()[1], *MODE_COLOURS],
              loc="upper left", fontsize=7, ncol=4)
    ax.set_ylim(0, 2.4)
    ax.set_yticks([])
    ax.set_xlabel("runner time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_watchdog(runs_by_mode: dict[str, list[dict]], periods_ms: dict[str, np.ndarray], limit_ms: float = 300.0):
    """Histogram of last-valid-command -> stand latencies per locomotion mode, and of the loop
    period for each labelled run (e.g. normal scheduling vs SCHED_FIFO)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax = axes[0]
    lats = {m: np.array([r["latency_ms"] for r in runs if np.isfinite(r["latency_ms"])]) for m, runs in runs_by_mode.items()}
    every = np.concatenate([v for v in lats.values() if v.size] or [np.array([limit_ms])])
    bins = np.linspace(min(every.min(), limit_ms - 30), max(every.max(), limit_ms) + 1, 50)
    for mode, lat in lats.items():
        if lat.size:
            ax.hist(lat, bins=bins, alpha=0.6, label=f"{mode} ({lat.size} runs, max {lat.max():.1f} ms)")
    ax.axvline(limit_ms, color="r", ls="--", label=f"{limit_ms:.0f} ms")
    ax.set_xlabel("last valid command -> stand target written (ms)")
    ax.set_ylabel("runs")
    ax.legend(fontsize=8)
    ax = axes[1]
    every = np.concatenate(list(periods_ms.values()))
    bins = np.linspace(max(0.0, every.min()), every.max() + 1e-3, 80)
    for label, p in periods_ms.items():
        ax.hist(p, bins=bins, log=True, alpha=0.6,
                label=f"{label}: p50 {np.percentile(p, 50):.3f}, p99 {np.percentile(p, 99):.3f}, max {p.max():.2f} ms")
    ax.set_xlabel("tick period (ms)")
    ax.set_ylabel("ticks (log)")
    ax.legend(fontsize=7)
    ax.set_title("50 Hz loop period", fontsize=9)
    fig.tight_layout()
    return fig
