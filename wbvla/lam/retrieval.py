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
