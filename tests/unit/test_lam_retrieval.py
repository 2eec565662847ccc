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
