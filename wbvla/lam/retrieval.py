"""Latent retrieval across embodiments (Fig. 8 analog) and the two numbers the paper only shows.

A LAM encodes every held-out pair of the human-like and the X2 corpora; pairs are grouped by
their latent action (the code; with several latent tokens, the tuple of codes). For each code the
*top* clips of each domain are those whose continuous latent z lies closest to the code.

* ``purity``: share of a code's retrieved clips (both domains) whose ground-truth primitive is
  the code's majority primitive, averaged over the codes that retrieved anything;
* ``cross_domain_agreement``: among codes that retrieved clips in both domains, the share whose
  majority primitive is the same in the human clips and in the robot clips.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from wbvla.lam.rrg import evaluate_pairs


def code_ids(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """One id per pair for codes (B, Q): sum_q codes[:, q] * K^q (the code itself when Q = 1)."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    return (codes * codebook_size ** np.arange(codes.shape[1])[None]).sum(1)


def assign_codes(model, pairs_by_domain: dict, device: str = "cpu") -> pd.DataFrame:
    """Encode every pair; one row per pair: ``domain, pair, code, dist, primitive, clip_id, frame``."""
    frames = []
    for domain, pairs in pairs_by_domain.items():
        res = evaluate_pairs(model, pairs, device=device)
        t = pairs.table
        frames.append(pd.DataFrame({
            "domain": domain, "pair": np.arange(len(t)), "code": code_ids(res["codes"], model.config.codebook_size),
            "dist": res["dist"], "primitive": t.primitive.to_numpy(), "clip_id": t.clip_id.to_numpy(),
            "frame": t.frame.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def retrieve(assigned: pd.DataFrame, top_n: int = 10) -> pd.DataFrame:
    """The ``top_n`` pairs of each (code, domain) closest to the code (rank 0 = closest)."""
    out = assigned.sort_values(["code", "domain", "dist"]).groupby(["code", "domain"], sort=True).head(top_n).copy()
    out["rank"] = out.groupby(["code", "domain"]).cumcount()
    return out.reset_index(drop=True)


def _majority(labels) -> tuple[str, int]:
    (label, count), = Counter(labels).most_common(1)
    return label, count


def retrieval_metrics(retrieved: pd.DataFrame, domains: tuple[str, str] = ("human", "robot")) -> dict:
    """``purity``, ``cross_domain_agreement`` and a per-code table (see the module docstring)."""
    per_code, purities, agree = [], [], []
    for code, g in retrieved.groupby("code"):
        label, count = _majority(g.primitive)
        purities.append(count / len(g))
        row = {"code": int(code), "majority": label, "purity": count / len(g), "n": len(g)}
        majors = {}
        for d in domains:
            gd = g[g.domain == d]
            row[f"n_{d}"] = len(gd)
            if len(gd):
                majors[d] = _majority(gd.primitive)[0]
                row[f"majority_{d}"] = majors[d]
        if len(majors) == len(domains):
            row["agree"] = majors[domains[0]] == majors[domains[1]]
            agree.append(row["agree"])
        per_code.append(row)
    return {"purity": float(np.mean(purities)) if purities else float("nan"),
            "cross_domain_agreement": float(np.mean(agree)) if agree else float("nan"),
            "codes_used": len(per_code), "codes_in_both_domains": len(agree),
            "per_code": pd.DataFrame(per_code)}


def purity_by_primitive(retrieved: pd.DataFrame, primitives=None) -> pd.Series:
    """Retrieval purity per primitive: over the codes whose majority primitive is P, the share of
    their retrieved clips (both domains) that truly are P; 0 for a primitive no code stands for.
    ``primitives`` fixes the order (default: the ones that occur, sorted)."""
    primitives = sorted(retrieved.primitive.unique()) if primitives is None else list(primitives)
    majority = {code: _majority(g.primitive)[0] for code, g in retrieved.groupby("code")}
    owner = retrieved.code.map(majority)
    out = {}
    for p in primitives:
        mine = retrieved[owner == p]
        out[p] = float((mine.primitive == p).mean()) if len(mine) else 0.0
    return pd.Series(out, name="purity")


def retrieval_summary_figure(retrieved_by_lam: dict[str, pd.DataFrame], pairs_by_domain: dict, examples_from: str,
                             primitives=None, n_examples: int = 3, per_domain: int = 2,
                             domains: tuple[str, str] = ("human", "robot")):
    """The Fig. 8 analog at a glance: left, retrieval purity per primitive for each LAM (the
    summary numbers in the title); right, a few codes of ``examples_from`` (the purest, the median
    and the least pure) with their top clips of each domain (o_t above o_t+k)."""
    import matplotlib.pyplot as plt

    primitives = list(primitives) if primitives is not None else sorted(
        set().union(*(r.primitive.unique() for r in retrieved_by_lam.values())))
    per_code = retrieval_metrics(retrieved_by_lam[examples_from], domains)["per_code"].sort_values(
        ["purity", "code"], ascending=[False, True])
    picks = per_code.iloc[np.unique(np.linspace(0, len(per_code) - 1, n_examples).round().astype(int))]
    cols = per_domain * len(domains)
    fig = plt.figure(figsize=(6.5 + 1.1 * cols, 2.0 * len(picks) + 1.0))
    outer = fig.add_gridspec(1, 2, width_ratios=[6.5, 1.1 * cols], wspace=0.18)
    tiles = outer[0, 1].subgridspec(len(picks), cols, wspace=0.08, hspace=0.5)
    ax = fig.add_subplot(outer[0, 0])
    x = np.arange(len(primitives))
    width = 0.8 / len(retrieved_by_lam)
    for i, (lam, r) in enumerate(retrieved_by_lam.items()):
        m = retrieval_metrics(r, domains)
        values = purity_by_primitive(r, primitives).to_numpy()
        bars = ax.bar(x + (i - (len(retrieved_by_lam) - 1) / 2) * width, values, width,
                      label=f"{lam} LAM: purity {m['purity']:.2f}, human/robot agreement {m['cross_domain_agreement']:.2f}")
        for bar, v in zip(bars, values, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, "0\n(no code)" if v == 0 else f"{v:.2f}",
                    ha="center", va="bottom", fontsize=6.5)
    ax.axhline(1 / len(primitives), color="0.4", ls=":", lw=1)
    ax.text(1.01, 1 / len(primitives), f"1/{len(primitives)}", transform=ax.get_yaxis_transform(), va="center",
            fontsize=7, color="0.3")
    ax.set(ylim=(0, 1.08), ylabel="retrieval purity (share of a code's clips\nthat are its majority primitive)")
    ax.set_xticks(x, [p.replace("_", " ") for p in primitives], rotation=30, ha="right")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize=8, frameon=False)
    r = retrieved_by_lam[examples_from]
    for row, pick in enumerate(picks.itertuples()):
        g = r[r.code == pick.code]
        for di, d in enumerate(domains):
            gd = g[g.domain == d].sort_values("rank").head(per_domain)
            for k in range(per_domain):
                tile = fig.add_subplot(tiles[row, di * per_domain + k])
                tile.set_xticks([])
                tile.set_yticks([])
                if k < len(gd):
                    tile.imshow(clip_tile(pairs_by_domain[d], int(gd.iloc[k].pair)))
                    tile.set_xlabel(gd.iloc[k].primitive.replace("_", " "), fontsize=6.5, labelpad=1)
                else:
                    tile.axis("off")
                if row == 0 and k == 0:
                    tile.text(0, 1.3, f"{d} clips", transform=tile.transAxes, fontsize=8, weight="bold")
                if di == 0 and k == 0:
                    tile.set_title(f"code {pick.code} ({pick.majority.replace('_', ' ')}), purity {pick.purity:.2f}",
                                   fontsize=7.5, loc="left", pad=3)
    fig.suptitle(f"Latent retrieval across embodiments (Fig. 8 analog). Right: {examples_from} LAM codes, purest / "
                 "median / least pure; tile = o_t above o_t+k, caption = true primitive", fontsize=9, y=1.0)
    return fig


def clip_tile(pairs, pair_index: int) -> np.ndarray:
    """o_t above o_t+k, (2H, W, 3) uint8: one retrieved clip as an image."""
    b = pairs.batch([pair_index])
    return np.concatenate([b["o_t"][0].permute(1, 2, 0).numpy(), b["o_tk"][0].permute(1, 2, 0).numpy()], axis=0)


def retrieval_grid(retrieved: pd.DataFrame, pairs_by_domain: dict, codes=None, per_domain: int = 4,
                   domains: tuple[str, str] = ("human", "robot")):
    """One row per code: its top human clips, then its top robot clips (each o_t over o_t+k)."""
    import matplotlib.pyplot as plt

    codes = sorted(retrieved.code.unique()) if codes is None else list(codes)
    cols = per_domain * len(domains)
    fig, axes = plt.subplots(len(codes), cols, figsize=(1.25 * cols, 2.3 * len(codes)), squeeze=False)
    for r, code in enumerate(codes):
        g = retrieved[retrieved.code == code]
        for di, d in enumerate(domains):
            gd = g[g.domain == d].sort_values("rank").head(per_domain)
            for k in range(per_domain):
                ax = axes[r, di * per_domain + k]
                ax.set_xticks([])
                ax.set_yticks([])
                if k < len(gd):
                    row = gd.iloc[k]
                    ax.imshow(clip_tile(pairs_by_domain[d], int(row.pair)))
                    ax.set_xlabel(row.primitive.replace("_", " "), fontsize=7)
                else:
                    ax.axis("off")
                if r == 0 and k == 0:
                    ax.set_title(f"{d} clips", fontsize=9, loc="left")
            if di == 0:
                maj = _majority(g.primitive)[0] if len(g) else "-"
                axes[r, 0].set_ylabel(f"code {code}\n({maj.replace('_', ' ')})", fontsize=8)
    fig.tight_layout()
    return fig


def retrieval_browser(retrieved: pd.DataFrame, pairs_by_domain: dict, per_domain: int = 6,
                      domains: tuple[str, str] = ("human", "robot")):
    """An interactive browser over codes: a dropdown and an image (ipywidgets) showing the chosen
    code's top human and robot clips. The image is a PNG made with matplotlib, so it works offline
    and headless runs (papermill) never wait on widget output capture."""
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    codes = sorted(int(c) for c in retrieved.code.unique())
    image = widgets.Image(format="png")

    def show(code: int) -> None:
        fig = retrieval_grid(retrieved, pairs_by_domain, codes=[code], per_domain=per_domain, domains=domains)
        fig.suptitle(f"latent action {code}", fontsize=10)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        image.value = buf.getvalue()

    dropdown = widgets.Dropdown(options=codes, description="code")
    dropdown.observe(lambda ch: show(ch["new"]), names="value")
    show(codes[0])
    return widgets.VBox([dropdown, image])
