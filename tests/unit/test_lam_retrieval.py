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

    per_code = retrieval_metrics(retrieve(_assigned(), top_n=10))["per_code"]
    # code 0 -> advance (5/6), code 1 -> majority turn_left (tie broken by first seen; 2/4), code 2 -> squat_down (2/2)
    got = purity_by_primitive(per_code, ["advance", "turn_left", "squat_down", "rise"])
    assert got.purity.to_dict() == pytest.approx({"advance": 5 / 6, "turn_left": 0.5, "squat_down": 1.0, "rise": 0.0})
    assert got.codes.to_dict() == {"advance": 1, "turn_left": 1, "squat_down": 1, "rise": 0}
    # the records stored in the metrics JSON give the same; two codes of one primitive pool their clips
    records = [{"code": 0, "majority": "advance", "purity": 0.5, "n": 20}, {"code": 1, "majority": "advance", "purity": 1.0, "n": 10}]
    assert purity_by_primitive(records).purity["advance"] == pytest.approx((10 + 10) / 30)
    with pytest.raises(ValueError, match="missing \\['n'\\]"):
        purity_by_primitive([{"code": 0, "majority": "advance", "purity": 0.5}])


def _tiny_stores() -> dict:
    """A human and a robot PairStore of random 16x16 frames, 12 pairs each."""
    from wbvla.data.pairs import PairStore

    class Tiny(PairStore):
        def __init__(self, seed):
            frames = [np.random.default_rng(seed).integers(0, 255, (13, 16, 16, 3), dtype=np.uint8)]
            self._finish(frames, [(i, i, i + 1) for i in range(12)], ["frame", "i", "j"])

    return {"human": Tiny(0), "robot": Tiny(1)}


def _png_size(fig) -> tuple[int, int]:
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")  # as wbvla.viz.save_figure saves it
    return Image.open(buf).size


def test_summary_figure_from_stored_numbers_is_one_readable_page():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wbvla.lam.retrieval import LAM_NAMES, retrieval_summary_figure

    stored = {"purity": 0.565625, "cross_domain_agreement": 0.5625,
              "per_code": [{"code": 0, "majority": "advance", "purity": 0.5, "n": 20},
                           {"code": 1, "majority": "retreat", "purity": 0.75, "n": 20}]}
    fig = retrieval_summary_figure({"loco": stored, "shared": {"purity": 0.39, "cross_domain_agreement": 0.125}},
                                   primitives=["advance", "retreat", "rise"])
    head, prim = fig.axes
    assert "purity 0.57, human/robot agreement 0.56" in fig._suptitle.get_text()  # the headline numbers, in words
    assert sorted(t.get_text() for t in head.texts if not t.get_text().startswith("target")) == ["0.12", "0.39", "0.56", "0.57"]
    assert [t.get_text() for t in head.texts if t.get_text().startswith("target")] == ["target 0.7", "target 0.6"]
    assert [t.get_text() for t in head.get_legend().get_texts()] == [LAM_NAMES["loco"], LAM_NAMES["shared"]]
    # per primitive: only the LAM with a per-code table is drawn, the other is named as missing; 'rise' has no code
    assert len(prim.patches) == 3 and "shared LAM: no per-code table stored" in prim.get_title(loc="left")
    assert [t.get_text() for t in prim.texts] == ["0.50\n1 code", "0.75\n1 code", "no\ncode"]
    width, height = _png_size(fig)
    assert width <= 1600 and height <= 1000 and width > height
    plt.close("all")


def test_summary_figure_with_example_clips_stays_one_page():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wbvla.lam.retrieval import retrieval_summary_figure

    r = retrieve(_assigned(), top_n=3)
    m = retrieval_metrics(r)
    fig = retrieval_summary_figure({"loco": m, "shared": m}, primitives=["advance", "turn_left", "squat_down", "rise"],
                                   examples=(r, _tiny_stores()), n_examples=4, per_domain=2)
    head, prim, header, *tiles = fig.axes
    assert len(prim.patches) == 2 * 4  # both LAMs have a per-code table here
    # three codes, purest first (codes 0 and 2 at 1.0, by code), then code 1; code 2 has no robot clips
    assert len(tiles) == 3 * 4
    assert [t.get_title(loc="left") for t in tiles[::4]] == ["code 0: advance, purity 1.00", "code 2: squat down, purity 1.00",
                                                             "code 1: turn left, purity 0.50"]
    assert sum(1 for t in tiles if t.images) == 4 + 2 + 4
    assert [t.get_text() for t in header.texts][1:] == ["human clips", "robot clips"] and not header.axison
    width, height = _png_size(fig)
    assert width <= 1600 and height <= 1000 and width > height
    plt.close("all")
