"""Retrieval metrics (purity, cross-domain agreement) and evaluation helpers, hand-computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wbvla.lam.evaluation import split_means
from wbvla.lam.retrieval import code_ids, retrieval_metrics, retrieve


def test_code_ids_combine_tokens():
    assert code_ids(np.array([[3], [0]]), 16).tolist() == [3, 0]
    assert code_ids(np.array([[1, 2], [15, 0]]), 16).tolist() == [1 + 2 * 16, 15]


def _assigned():
    rows = [
        # code 0: human 3 advance + 1 retreat, robot 2 advance -> majority advance everywhere
        *[("human", 0, 0.1 * i, "advance") for i in range(3)], ("human", 0, 0.9, "retreat"),
        ("robot", 0, 0.2, "advance"), ("robot", 0, 0.3, "advance"),
        # code 1: human turn_left x2, robot turn_right x2 -> disagree; overall 2/4 pure
        ("human", 1, 0.1, "turn_left"), ("human", 1, 0.2, "turn_left"),
        ("robot", 1, 0.1, "turn_right"), ("robot", 1, 0.4, "turn_right"),
        # code 2: human only, squat_down x2 -> pure, not counted for agreement
        ("human", 2, 0.5, "squat_down"), ("human", 2, 0.6, "squat_down"),
    ]
    df = pd.DataFrame(rows, columns=["domain", "code", "dist", "primitive"])
    df["pair"] = np.arange(len(df))
    return df


def test_retrieve_keeps_the_closest_per_code_and_domain():
    r = retrieve(_assigned(), top_n=2)
    h0 = r[(r.code == 0) & (r.domain == "human")]
    assert h0.dist.tolist() == [0.0, 0.1] and h0["rank"].tolist() == [0, 1]
    assert len(r) == 2 + 2 + 2 + 2 + 2


def test_purity_and_cross_domain_agreement_hand_computed():
    m = retrieval_metrics(retrieve(_assigned(), top_n=10))
    # purities: code 0 -> 5/6 advance, code 1 -> 2/4, code 2 -> 2/2; mean = (5/6 + 1/2 + 1) / 3
    assert m["purity"] == pytest.approx((5 / 6 + 0.5 + 1.0) / 3)
    # codes in both domains: 0 (agree) and 1 (disagree) -> 0.5
    assert m["cross_domain_agreement"] == pytest.approx(0.5)
    assert m["codes_used"] == 3 and m["codes_in_both_domains"] == 2
    per = m["per_code"].set_index("code")
    assert per.loc[1, "majority_human"] == "turn_left" and per.loc[1, "majority_robot"] == "turn_right"
    # with top-3, code 0's retreat clip (farthest) is no longer retrieved: purity 1 for it
    m3 = retrieval_metrics(retrieve(_assigned(), top_n=3))
    assert m3["per_code"].set_index("code").loc[0, "purity"] == pytest.approx(1.0)


def test_split_means():
    means = split_means({"loco": {"advance": 0.3, "retreat": 0.1, "reach": 0.2}})
    assert means.loc["loco", "locomotion"] == pytest.approx(0.2)
    assert means.loc["loco", "manipulation"] == pytest.approx(0.2)


def test_grid_and_browser_render_offline():
    from wbvla.data.pairs import PairStore
    from wbvla.lam.retrieval import retrieval_browser, retrieval_grid

    class Tiny(PairStore):
        def __init__(self):
            frames = [np.random.default_rng(0).integers(0, 255, (13, 8, 8, 3), dtype=np.uint8)]
            self._finish(frames, [(i, i, i + 1) for i in range(12)], ["frame", "i", "j"])

    stores = {"human": Tiny(), "robot": Tiny()}
    r = retrieve(_assigned(), top_n=3)
    fig = retrieval_grid(r, stores, per_domain=2)
    assert len(fig.axes) == 3 * 4
    box = retrieval_browser(r, stores, per_domain=2)
    dropdown, image = box.children
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    dropdown.value = 2
    assert image.value != first


def test_purity_by_primitive_hand_computed():
    from wbvla.lam.retrieval import purity_by_primitive

    r = retrieve(_assigned(), top_n=10)
    # code 0 -> advance (5/6), code 1 -> majority turn_left (tie broken by first seen; 2/4), code 2 -> squat_down (2/2)
    got = purity_by_primitive(r, ["advance", "turn_left", "squat_down", "rise"])
    assert got.to_dict() == pytest.approx({"advance": 5 / 6, "turn_left": 0.5, "squat_down": 1.0, "rise": 0.0})


def test_summary_figure_has_bars_numbers_and_example_tiles():
    import matplotlib

    matplotlib.use("Agg")
    from wbvla.data.pairs import PairStore
    from wbvla.lam.retrieval import retrieval_summary_figure

    class Tiny(PairStore):
        def __init__(self):
            frames = [np.random.default_rng(0).integers(0, 255, (13, 8, 8, 3), dtype=np.uint8)]
            self._finish(frames, [(i, i, i + 1) for i in range(12)], ["frame", "i", "j"])

    r = retrieve(_assigned(), top_n=3)
    fig = retrieval_summary_figure({"loco": r, "shared": r}, {"human": Tiny(), "robot": Tiny()}, "loco",
                                   primitives=["advance", "turn_left", "squat_down", "rise"], n_examples=3, per_domain=2)
    bars_ax, *tiles = fig.axes
    assert len(tiles) == 3 * 4 and len(bars_ax.patches) == 2 * 4
    labels = [t.get_text() for t in bars_ax.get_legend().get_texts()]
    # top 3: code 0 keeps 5 advance clips (1.0), code 1 2/4, code 2 2/2 -> purity 2.5/3; agreement: code 0 yes, 1 no
    assert labels[0] == "loco LAM: purity 0.83, human/robot agreement 0.50"
    assert any("no code" in t.get_text() for t in bars_ax.texts)  # 'rise' has no code: its 0 is written out
    # rows: purest first (codes 0 and 2 at 1.0, by code), then code 1; code 2 has no robot clips: 2 tiles stay empty
    assert [t.get_title(loc="left") for t in tiles[::4]] == ["code 0 (advance), purity 1.00", "code 2 (squat down), purity 1.00",
                                                              "code 1 (turn left), purity 0.50"]
    assert sum(1 for t in tiles if t.images) == 4 + 2 + 4
