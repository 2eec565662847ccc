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


PURITY_TARGET = 0.7
"""The purity this reproduction aims for (notebook 04's target; the paper shows Fig. 8 without a number)."""
AGREEMENT_TARGET = 0.6
"""The human/robot agreement this reproduction aims for (notebook 04's target)."""
LAM_NAMES = {"loco": "locomotion LAM (trained on human video)", "shared": "shared LAM (manipulation + locomotion video)",
             "mani": "manipulation LAM"}
LAM_COLORS = {"loco": "tab:blue", "shared": "tab:gray", "mani": "tab:orange"}


def purity_by_primitive(per_code, primitives=None) -> pd.DataFrame:
    """Retrieval purity per primitive from a per-code table (``retrieval_metrics(...)["per_code"]``,
    or its records as stored in ``figures/04_latent_retrieval.json``): over the codes whose majority
    primitive is P, the share of their retrieved clips (both domains) that truly are P. Columns
    ``purity`` (0 for a primitive no code stands for) and ``codes`` (how many codes stand for it);
    ``primitives`` fixes the order (default: the majorities that occur, sorted)."""
    per_code = pd.DataFrame(per_code)
    missing = {"majority", "purity", "n"} - set(per_code.columns)
    if missing:
        raise ValueError(f"per-code table needs columns majority, purity, n; missing {sorted(missing)}")
    primitives = sorted(per_code.majority.unique()) if primitives is None else list(primitives)
    out = {}
    for p in primitives:
        mine = per_code[per_code.majority == p]
        n = float(mine.n.sum())
        out[p] = {"purity": float((mine.purity * mine.n).sum() / n) if n else 0.0, "codes": len(mine)}
    return pd.DataFrame.from_dict(out, orient="index")


def _headline_bars(ax, metrics_by_lam: dict[str, dict]) -> None:
    """Purity and human/robot agreement of each LAM side by side, with the targets."""
    groups = (("purity", "purity", PURITY_TARGET), ("cross_domain_agreement", "human/robot agreement", AGREEMENT_TARGET))
    width = 0.8 / len(metrics_by_lam)
    for i, (lam, m) in enumerate(metrics_by_lam.items()):
        xs = np.arange(len(groups)) + (i - (len(metrics_by_lam) - 1) / 2) * width
        values = [m[key] for key, _, _ in groups]
        ax.bar(xs, values, width, color=LAM_COLORS.get(lam, f"C{i}"), edgecolor="black", lw=0.5,
               label=LAM_NAMES.get(lam, f"{lam} LAM"))
        for x, v in zip(xs, values, strict=True):  # the number inside a tall bar, above a short one; n/a written out
            inside = v > 0.15
            ax.text(x, v - 0.02 if inside else (v if np.isfinite(v) else 0) + 0.015, f"{v:.2f}" if np.isfinite(v) else "n/a",
                    ha="center", va="top" if inside else "bottom", fontsize=10, weight="bold",
                    color="white" if inside else "black")
    for g, (_, _, target) in enumerate(groups):
        ax.hlines(target, g - 0.45, g + 0.45, color="black", ls="--", lw=1.2)
        ax.text(g + 0.45, target + 0.01, f"target {target:g}", ha="right", va="bottom", fontsize=8)
    ax.set_xticks(np.arange(len(groups)), [label for _, label, _ in groups])
    ax.set(ylim=(0, 1.0), ylabel="share")
    ax.set_title("(a) purity: share of a code's retrieved clips that\nare its majority primitive; agreement: share of\n"
                 "codes with one majority in human and robot clips", fontsize=9, loc="left")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8.5, frameon=False)


def _primitive_bars(ax, metrics_by_lam: dict[str, dict], primitives) -> None:
    """Per-primitive purity of every LAM whose per-code table is known; 'no code' where none stands for it."""
    drawn = {lam: m for lam, m in metrics_by_lam.items() if m.get("per_code") is not None and len(m["per_code"])}
    if primitives is None:
        primitives = sorted(set().union(*(set(pd.DataFrame(m["per_code"]).majority) for m in drawn.values())))
    primitives = list(primitives)
    width = 0.8 / max(len(drawn), 1)
    for i, (lam, m) in enumerate(drawn.items()):
        table = purity_by_primitive(m["per_code"], primitives)
        xs = np.arange(len(primitives)) + (i - (len(drawn) - 1) / 2) * width
        ax.bar(xs, table.purity, width, color=LAM_COLORS.get(lam, f"C{i}"), edgecolor="black", lw=0.5,
               label=LAM_NAMES.get(lam, f"{lam} LAM"))
        one = len(drawn) == 1  # one LAM: two lines under each other; several: one turned line per bar
        for x, (v, codes) in zip(xs, table[["purity", "codes"]].itertuples(index=False), strict=True):
            text = f"{v:.2f}{chr(10) if one else ', '}{codes} code{'s' * (codes != 1)}" if codes else "no code"
            inside = not one and v > 0.5  # a turned label inside a tall bar, so it stays under the title
            ax.text(x, v - 0.015 if inside else v + 0.015, text.replace("no code", "no\ncode") if one else text,
                    ha="center", va="top" if inside else "bottom", fontsize=7.5, rotation=0 if one else 90,
                    color="white" if inside else "black")
    ax.set_xticks(np.arange(len(primitives)), [p.replace("_", " ") for p in primitives], rotation=25, ha="right")
    ax.set(ylim=(0, 1.0), ylabel="purity of the codes that stand for it")
    not_drawn = [LAM_NAMES.get(lam, lam).split(" (")[0] for lam in metrics_by_lam if lam not in drawn]
    ax.set_title("(b) per primitive: the codes whose majority it is, and the share of their\nclips that truly are it"
                 + (f" ({', '.join(not_drawn)}: no per-code table stored)" if not_drawn else ""), fontsize=9, loc="left")


def _example_tiles(fig, spec, retrieved: pd.DataFrame, pairs_by_domain: dict, caption: str, n_examples: int,
                   per_domain: int, domains: tuple[str, str]) -> None:
    """``n_examples`` codes (from the purest to the least pure, evenly spaced) with their closest
    clips per domain, under a header row (an empty axes) holding ``caption`` and the domain names."""
    per_code = retrieval_metrics(retrieved, domains)["per_code"].sort_values(["purity", "code"], ascending=[False, True])
    picks = per_code.iloc[np.unique(np.linspace(0, len(per_code) - 1, n_examples).round().astype(int))]
    cols = per_domain * len(domains)
    tiles = spec.subgridspec(len(picks) + 1, cols, wspace=0.08, hspace=0.6, height_ratios=[0.6] + [1] * len(picks))
    header = fig.add_subplot(tiles[0, :])
    header.axis("off")
    header.text(0, 1, caption, transform=header.transAxes, va="top", fontsize=9)
    for di, d in enumerate(domains):
        header.text(di / len(domains), 0, f"{d} clips", transform=header.transAxes, va="bottom", fontsize=9, weight="bold")
    for row, pick in enumerate(picks.itertuples(), start=1):
        g = retrieved[retrieved.code == pick.code]
        for di, d in enumerate(domains):
            gd = g[g.domain == d].sort_values("rank").head(per_domain)
            for k in range(per_domain):
                tile = fig.add_subplot(tiles[row, di * per_domain + k])
                tile.set_xticks([])
                tile.set_yticks([])
                if k < len(gd):
                    tile.imshow(clip_tile(pairs_by_domain[d], int(gd.iloc[k].pair)))
                    tile.set_xlabel(gd.iloc[k].primitive.replace("_", " "), fontsize=8, labelpad=2)
                else:
                    tile.axis("off")
                if di == 0 and k == 0:
                    tile.set_title(f"code {pick.code}: {pick.majority.replace('_', ' ')}, purity {pick.purity:.2f}",
                                   fontsize=8.5, loc="left", pad=3)


def retrieval_summary_figure(metrics_by_lam: dict[str, dict], primitives=None, examples: tuple | None = None,
                             n_examples: int = 4, per_domain: int = 2, domains: tuple[str, str] = ("human", "robot")):
    """The Fig. 8 analog at a glance, one landscape page. ``metrics_by_lam[lam]`` holds ``purity``
    and ``cross_domain_agreement`` (and, where known, ``per_code``): what :func:`retrieval_metrics`
    returns, or what ``figures/04_latent_retrieval.json`` stores. (a) both numbers per LAM with
    the targets; (b) purity per primitive for the LAMs with a per-code table; with ``examples =
    (retrieved, pairs_by_domain)`` of the first LAM, (c) ``n_examples`` of its codes, purest to
    least pure, with their closest clips of each domain (o_t above o_t+k, caption = true primitive).
    The first LAM's numbers are in the title."""
    import matplotlib.pyplot as plt

    first, m = next(iter(metrics_by_lam.items()))
    fig = plt.figure(figsize=(13, 7.6) if examples else (12, 4.8))
    if examples:
        outer = fig.add_gridspec(1, 2, width_ratios=[1.35, 1], wspace=0.12)
        left = outer[0, 0].subgridspec(2, 1, hspace=0.95)
        head, prim = fig.add_subplot(left[0]), fig.add_subplot(left[1])
    else:
        outer = fig.add_gridspec(1, 2, width_ratios=[1, 1.9], wspace=0.25)
        head, prim = fig.add_subplot(outer[0, 0]), fig.add_subplot(outer[0, 1])
    _headline_bars(head, metrics_by_lam)
    _primitive_bars(prim, metrics_by_lam, primitives)
    if examples:
        caption = (f"(c) {LAM_NAMES.get(first, first).split(' (')[0]}: {n_examples} codes, purest to least pure;\n"
                   "tile = o_t above o_t+k, caption = true primitive")
        _example_tiles(fig, outer[0, 1], *examples, caption=caption, n_examples=n_examples, per_domain=per_domain,
                       domains=domains)
    fig.suptitle(f"Latent retrieval across embodiments (Fig. 8 analog): {LAM_NAMES.get(first, first).split(' (')[0]} "
                 f"purity {m['purity']:.2f}, human/robot agreement {m['cross_domain_agreement']:.2f} "
                 f"(targets {PURITY_TARGET:g} / {AGREEMENT_TARGET:g})", fontsize=11, y=1.02 if examples else 1.04)
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
