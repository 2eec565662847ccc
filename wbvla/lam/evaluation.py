"""Table 9 analog: RRG (Eq. 6) per primitive for the three LAMs on held-out clips of unseen scenes.

Held-out pairs come from scene seeds no LAM trained on. Only pairs whose frames t..t+k share one
primitive label are scored (the label is read here, after the LAM has produced its prediction).
Manipulation primitives are scored on the manipulation corpus (X2 head camera, arms moving);
locomotion primitives on the human-like corpus and, separately, on the X2 head-camera clips
(the downstream robot view, as Table 9 scores downstream task videos).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wbvla.data.pairs import FramePairs
from wbvla.data.primitives import LOCO_PRIMITIVES, MANI_PRIMITIVES, PRIMITIVE_SPLIT
from wbvla.lam.rrg import evaluate_pairs, rrg_by_group


def heldout_pairs(root: Path, corpus: str, offset_s: float, max_per_primitive: int | None = 400,
                  seed: int = 0) -> FramePairs:
    """Label-consistent held-out pairs of ``corpus``, at most ``max_per_primitive`` per primitive."""
    pairs = FramePairs(root, [corpus], "heldout", offset_s, same_primitive=True)
    if max_per_primitive is not None:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(np.flatnonzero(pairs.table.primitive.to_numpy() == p))[:max_per_primitive]
                               for p in pairs.table.primitive.unique()])
        keep.sort()
        pairs.table = pairs.table.iloc[keep].reset_index(drop=True)
        pairs._i, pairs._j = pairs._i[keep], pairs._j[keep]
    return pairs


def rrg_table(models: dict, root: Path, offset_s: float, max_per_primitive: int | None = 400,
              device: str = "cpu") -> dict:
    """RRG per LAM and primitive.

    Returns ``{"rrg": {lam: {primitive: fraction}}, "rrg_robot_camera": {lam: {loco primitive: ...}},
    "pairs": {primitive: n}, "pairs_robot_camera": {...}, "primitive_split": {...}}``; each LAM is
    scored on every primitive (the manipulation LAM on locomotion too), as in Table 9.
    """
    sets = {"mani": heldout_pairs(root, "mani", offset_s, max_per_primitive),
            "loco_human": heldout_pairs(root, "loco_human", offset_s, max_per_primitive),
            "loco_robot": heldout_pairs(root, "loco_robot", offset_s, max_per_primitive)}
    out = {"rrg": {}, "rrg_robot_camera": {}}
    for name, model in models.items():
        res = {k: evaluate_pairs(model, p, device=device) for k, p in sets.items()}
        by = {k: rrg_by_group(r["mse_base"], r["mse_recon"], sets[k].table.primitive.to_numpy()) for k, r in res.items()}
        out["rrg"][name] = {**{p: by["mani"][p] for p in MANI_PRIMITIVES if p in by["mani"]},
                            **{p: by["loco_human"][p] for p in LOCO_PRIMITIVES if p in by["loco_human"]}}
        out["rrg_robot_camera"][name] = {p: by["loco_robot"][p] for p in LOCO_PRIMITIVES if p in by["loco_robot"]}
    out["pairs"] = {**sets["mani"].table.primitive.value_counts().to_dict(),
                    **sets["loco_human"].table.primitive.value_counts().to_dict()}
    out["pairs_robot_camera"] = sets["loco_robot"].table.primitive.value_counts().to_dict()
    out["primitive_split"] = dict(PRIMITIVE_SPLIT)
    return out


def split_means(rrg: dict) -> pd.DataFrame:
    """Mean RRG of each LAM over the manipulation and locomotion primitives (rows: LAMs)."""
    rows = {}
    for lam, per in rrg.items():
        rows[lam] = {split: float(np.mean([v for p, v in per.items() if PRIMITIVE_SPLIT[p] == split]))
                     for split in ("manipulation", "locomotion") if any(PRIMITIVE_SPLIT[p] == split for p in per)}
    return pd.DataFrame(rows).T


def rrg_figure(table: dict, title: str = "RRG per primitive (held-out, unseen scenes)"):
    """Grouped bars: one group per primitive, one bar per LAM (Table 9 as a plot)."""
    import matplotlib.pyplot as plt

    rrg = table["rrg"]
    lams = [lam for lam in ("mani", "shared", "loco") if lam in rrg]
    prims = [p for p in (*MANI_PRIMITIVES, *LOCO_PRIMITIVES) if p in rrg[lams[0]]]
    colors = {"mani": "tab:orange", "shared": "tab:gray", "loco": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [6, 8]})
    for ax, split in zip(axes, ("manipulation", "locomotion"), strict=True):
        ps = [p for p in prims if PRIMITIVE_SPLIT[p] == split]
        x = np.arange(len(ps))
        w = 0.8 / len(lams)
        for i, lam in enumerate(lams):
            ax.bar(x + (i - (len(lams) - 1) / 2) * w, [100 * rrg[lam][p] for p in ps], w, label=f"{lam} LAM",
                   color=colors[lam])
        ax.set_xticks(x, [p.replace("_", "\n") for p in ps], fontsize=8)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"{split} primitives")
        ax.set_ylabel("RRG (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
