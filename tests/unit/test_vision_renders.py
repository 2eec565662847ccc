"""Vision-pretraining renders: training seeds only, labels consistent with the drawn poses, resumable."""

import numpy as np
import pytest

from wbvla.data.seed_splits import SEED_RANGES
from wbvla.data.vision_renders import (
    LABEL_KEYS,
    TASK_LAYOUTS,
    VisionRenderConfig,
    load_renders,
    render_dataset,
    render_shard,
    shard_path,
)
from wbvla.suite.config import EVAL_SEED0


def test_held_out_seeds_are_refused():
    with pytest.raises(ValueError, match="training seeds only.*1000000"):
        VisionRenderConfig(first_seed=1_000_000)
    # 40 scenes from 99,990 reach 100,029: the last one is not a training seed
    with pytest.raises(ValueError, match="seed 100029 is not a train seed"):
        VisionRenderConfig(first_seed=99_990, renders=40 * 32)
    with pytest.raises(ValueError, match="not a train seed"):
        VisionRenderConfig(first_seed=-1)
    cfg = VisionRenderConfig(first_seed=99_000, renders=1000 * 32)
    assert cfg.last_seed == 99_999 and cfg.last_seed in SEED_RANGES["train"]


def test_no_suite_seed_is_a_render_seed():
    """The largest render set the config allows uses seeds 0..99,999; the suite evaluates from
    EVAL_SEED0 = 1,000,000 on."""
    cfg = VisionRenderConfig(renders=100_000 * 32)
    seeds = {cfg.scene_of(n)[1] for n in range(0, cfg.renders, cfg.renders_per_scene)}
    assert max(seeds) < EVAL_SEED0 and len(seeds) == 100_000
    with pytest.raises(ValueError, match="training seeds only"):
        VisionRenderConfig(renders=100_000 * 32 + 1)


def test_bad_config_values_name_the_field():
    with pytest.raises(ValueError, match="stance_distance"):
        VisionRenderConfig(stance_distance=(0.9, 0.3))
    with pytest.raises(ValueError, match="renders_per_scene"):
        VisionRenderConfig(renders_per_scene=0)
    with pytest.raises(ValueError, match="hand_box z"):
        VisionRenderConfig(hand_box=((0.2, 0.5), (0.0, 0.3), (1.0, 0.7)))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cfg = VisionRenderConfig(renders=6, renders_per_scene=2, image_size=48, shard_size=4,
                             root=tmp_path_factory.mktemp("renders"), name="t")
    meta = render_dataset(cfg, progress=False)
    return cfg, meta


def test_renders_and_labels(small):
    cfg, meta = small
    assert meta["seeds"] == [0, 2] and meta["this_call"]["rendered"] == 6
    data = load_renders(cfg.folder())
    assert len(data) == 6 and data.images.shape == (6, 48, 48, 3) and data.images.dtype == np.uint8
    lab = data.labels
    assert set(lab) == set(LABEL_KEYS)
    assert lab["seed"].tolist() == [0, 0, 1, 1, 2, 2]
    assert [TASK_LAYOUTS[t] for t in lab["task"]] == ["bag_packing"] * 2 + ["box_loading"] * 2 + ["cart_pushing"] * 2
    # in-frame keypoints lie in the image, the others do not
    uv = lab["keypoints"][..., :2]
    inside = (uv >= 0).all(-1) & (uv <= 48).all(-1)
    assert np.array_equal(inside, lab["inside"])
    # the bar is ahead of the pelvis at the drawn stance distance (+ lateral offset), at any yaw
    dist = np.linalg.norm(lab["object_body"][:, :2], axis=1)
    lo, hi = cfg.stance_distance
    lat = max(abs(v) for v in cfg.stance_lateral)
    assert np.all(dist >= lo - 1e-3) and np.all(dist <= np.hypot(hi, lat) + 1e-3)
    assert np.all(np.abs(lab["object_body"][:, 3]) <= max(abs(v) for v in cfg.stance_yaw) + 1e-6)
    # hands in front of the pelvis, left hand left of the right hand
    assert np.all(lab["hands_body"][:, :, 0] > 0.0) and np.all(lab["hands_body"][:, 0, 1] > lab["hands_body"][:, 1, 1])
    assert data.images.std() > 5


def test_shards_are_deterministic_and_resume(small):
    cfg, _ = small
    again = render_shard(cfg, 1)
    with np.load(shard_path(cfg.folder(), 1)) as z:
        for k in ("keypoints", "hands_body", "object_body"):
            assert np.array_equal(again[k], z[k])
    meta = render_dataset(cfg, progress=False)  # both shards exist: nothing to do
    assert meta["this_call"]["rendered"] == 0


def test_loading_refuses_held_out_seeds(small, tmp_path):
    cfg, _ = small
    folder = tmp_path / "tampered"
    folder.mkdir()
    (folder / "meta.json").write_text((cfg.folder() / "meta.json").read_text())
    with np.load(shard_path(cfg.folder(), 0)) as z:
        arrays = {k: z[k].copy() for k in z.files}
    arrays["seed"][1] = 1_000_003
    np.savez(folder / "shard_00000.npz", **arrays)
    with pytest.raises(ValueError, match=r"non-training seeds \[1000003\]"):
        load_renders(folder)
    with pytest.raises(ValueError, match="no meta.json"):
        load_renders(tmp_path)
