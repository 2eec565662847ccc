"""Figures of notebooks 05 (Stage II) and 06 (Stage III)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SOURCE_TITLES = {"mani": "robot manipulation video", "loco_human": "human-like locomotion video"}


def code_histograms(parts: dict, vocab, majority=None):
    """One panel per (latent slot, video source): how often each code labels that source's pairs.
    ``parts``: ``{source: LatentPairs}``."""
    import matplotlib.pyplot as plt

    slots = vocab.slots
    fig, axes = plt.subplots(len(slots), len(parts), figsize=(4.2 * len(parts), 2.4 * len(slots)), squeeze=False)
    for i, slot in enumerate(slots):
        for j, (source, part) in enumerate(parts.items()):
            counts = np.bincount(part.codes[:, i].numpy(), minlength=slot.codebook_size)
            ax = axes[i, j]
            colors = ["tab:red" if majority is not None and c == majority[i] else "tab:blue" for c in range(len(counts))]
            ax.bar(np.arange(len(counts)), counts / max(counts.sum(), 1), color=colors)
            ax.set_title(f"{slot.lam} LAM codes on {SOURCE_TITLES.get(source, source)}", fontsize=9)
            ax.set_xticks(np.arange(len(counts)))
            ax.tick_params(labelsize=7)
            ax.set_ylabel("share of pairs", fontsize=8)
    fig.suptitle("latent action labels of the Stage II corpus (red: majority code of the training mix)")
    fig.tight_layout()
    return fig


def stage2_curves(history: pd.DataFrame, vocab):
    """Training loss, per-LAM training accuracy and held-out top-1 next to the majority baseline."""
    import matplotlib.pyplot as plt

    names = [f"{s.lam}{s.index or ''}" for s in vocab.slots]
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4.3 * (1 + len(names)), 3.4))
    if "train/loss" in history:
        s = history["train/loss"].dropna()
        axes[0].plot(s.index, s.to_numpy(), lw=0.8)
    axes[0].set_title("Eq. 1 cross-entropy (sum over latent tokens)", fontsize=9)
    axes[0].set_xlabel("step")
    for ax, name in zip(axes[1:], names, strict=True):
        for key, label, style in ((f"train/acc_{name}", "train batch", dict(lw=0.6, alpha=0.5)),
                                  (f"val/top1_{name}", "held-out top-1", dict(marker="o")),
                                  (f"val/majority_top1_{name}", "majority code", dict(ls="--", color="k"))):
            if key in history:
                s = history[key].dropna()
                ax.plot(s.index, s.to_numpy(), label=label, **style)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name} code accuracy", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def rollout_figure(pred: dict, title: str, command_kind: str = "flags", joints=(0, 3, 7, 10), joint_names=None):
    """Predicted vs expert actions over one held-out episode (open loop: each frame's true image
    and state in, the policy's row-0 outputs out). ``pred`` is :func:`wbvla.vla.finetune.frame_metrics`'s
    input concatenated for one episode (physical units)."""
    import matplotlib.pyplot as plt

    t = pred["t"].numpy()
    order = np.argsort(t)
    t = t[order] / 10.0
    flags = command_kind == "flags"
    fig, axes = plt.subplots(2, 3, figsize=(14, 6))
    ax = axes[0, 0]
    for k, j in enumerate(joints):
        c = f"C{k}"
        name = joint_names[j] if joint_names else f"joint {j}"
        ax.plot(t, pred["true_arm"][order, 0, j], color=c, lw=2, alpha=0.5, label=f"{name} (expert)")
        ax.plot(t, pred["arm"][order, 0, j], color=c, ls="--", lw=1)
    ax.set_title("arm targets: expert (thick) vs policy (dashed)", fontsize=9)
    ax.set_ylabel("rad")
    ax.legend(fontsize=6)
    ax = axes[0, 1]
    for k in range(2):
        ax.plot(t, pred["true_gripper"][order, 0, k], color=f"C{k}", lw=2, alpha=0.5)
        ax.plot(t, pred["gripper"][order, 0, k], color=f"C{k}", ls="--", lw=1)
    ax.set_title("gripper targets (m)", fontsize=9)
    ax = axes[0, 2]
    ax.plot(t, pred["true_height"][order], lw=2, alpha=0.5, label="expert")
    ax.plot(t, pred["command"][order, 3], ls="--", label="policy")
    ax.set_title("h* (m)", fontsize=9)
    ax.legend(fontsize=7)
    for i, axis in enumerate(("s_x / v_x", "s_y / v_y", "s_yaw / w_z")):
        ax = axes[1, i]
        truth = pred["true_flags"][order, i] if flags else pred["true_velocity"][order, i]
        ax.step(t, truth, where="post", lw=2, alpha=0.5, label="expert")
        ax.step(t, pred["command"][order, i], where="post", ls="--", label="policy")
        ax.set_title(axis, fontsize=9)
        ax.set_xlabel("time (s)")
        if flags:
            ax.set_yticks([-1, 0, 1])
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
