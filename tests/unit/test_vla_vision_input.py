"""The VLA reads 128 px with a shift augmentation inside the grasp tolerance (issue 20); the legacy
64 px setting stays one switch away and never shares a run folder with the new one."""

import mujoco
import numpy as np
import pytest

from wbvla.sim.camera import focal_pixels, project_points
from wbvla.sim.robot import HEAD_CAMERA, base_height_for
from wbvla.sim.scene import build_scene
from wbvla.vla.config import (
    VISION_INPUTS,
    BackboneConfig,
    FinetuneConfig,
    VariantJobConfig,
    sized_finetune_config,
    with_vision_input,
)


def _bar_depth(reach: float, side: float = 0.12, height: float = 0.78) -> float:
    """Depth (m) in the head camera of a bar point ``reach`` ahead of the standing pelvis, ``side``
    to the left, ``height`` up in the arm base frame (the expert's grasp geometry)."""
    scene = build_scene(name="empty")
    mujoco.mj_forward(scene.model, scene.data)
    b = scene.robot.base_body
    pos, rot = scene.data.xpos[b], scene.data.xmat[b].reshape(3, 3)
    world = rot @ (np.array([reach, side, height]) - [0.0, 0.0, base_height_for()]) + pos
    return float(project_points(scene.model, scene.data, HEAD_CAMERA, world[None], 128, 128)[0, 2])


def test_defaults_are_the_128px_setting():
    v = VISION_INPUTS["128px"]
    cfg = FinetuneConfig()
    bb = cfg.pretrain.backbone
    assert (bb.image_size, bb.patch_size, bb.scale_factor) == (v.image_size, v.patch_size, v.scale_factor) == (128, 8, 2)
    assert cfg.image_shift == cfg.pretrain.image_shift == v.image_shift == 1
    assert with_vision_input(cfg, "128px") == cfg
    assert sized_finetune_config() == cfg


@pytest.mark.parametrize("name, reach", [("128px", 0.38), ("64px_legacy", 0.33)])
def test_documented_shift_at_the_bar_follows_the_camera_model(name, reach):
    """The shift's size at the bar (cm across the image) = shift px * depth / f_x; the new
    setting is below 1 cm (the grasp tolerance is ~1.5 cm), the legacy one was not."""
    v = VISION_INPUTS[name]
    scene = build_scene(name="empty")
    fx, _ = focal_pixels(scene.model, HEAD_CAMERA, v.image_size, v.image_size)
    cm = v.image_shift * _bar_depth(reach) / fx * 100
    assert cm == pytest.approx(v.shift_at_bar_cm, abs=0.05)
    assert (cm < 1.0) == (name == "128px")


def test_legacy_switch_and_run_names():
    new = FinetuneConfig()
    old = with_vision_input(new, "64px_legacy")
    assert old.pretrain.backbone.image_size == 64 and old.image_shift == old.pretrain.image_shift == 4
    assert old.pretrain.run_name() == "mani_loco_tiny" and new.pretrain.run_name() == "mani_loco_tiny_128px"
    assert old.run_name() != new.run_name()
    job = VariantJobConfig(vision_input="64px_legacy")
    assert job.finetune_config().pretrain.backbone.image_size == 64
    assert sized_finetune_config(vision_input="64px_legacy") == old
    with pytest.raises(ValueError, match="vision_input must be one of"):
        with_vision_input(new, "256px")
    with pytest.raises(ValueError, match="vision_input must be one of"):
        VariantJobConfig(vision_input="32px")
    assert BackboneConfig().image_size == 128


def test_every_training_entry_point_takes_the_pretrained_tower(tmp_path):
    """The job CLI (VariantJobConfig) and the task suite (TrainingSizes) build through the same
    sized_finetune_config, so ``vision_tower`` reaches Stage II's backbone from both."""
    import json

    from wbvla.suite.config import TrainingSizes
    from wbvla.suite.trials import PolicySpec, finetune_config

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "idefics3", "vision_config": {"image_size": 128}}))
    (tmp_path / "model.safetensors").write_bytes(b"")  # check_tower_folder looks for the file only
    job = VariantJobConfig(name="no_lam", vision_tower=tmp_path).finetune_config()
    suite = finetune_config(PolicySpec("no_lam", "no_lam"), TrainingSizes(vision_tower=tmp_path))
    for cfg in (job, suite):
        b = cfg.pretrain.backbone
        assert (b.preset, b.pretrained_path, b.image_size) == ("pretrained", str(tmp_path.resolve()), 128)
    assert finetune_config(PolicySpec("no_lam", "no_lam"), TrainingSizes()).pretrain.backbone.preset == "tiny"
    with pytest.raises(ValueError, match="reads 128 px images, the config 64 px"):
        VariantJobConfig(vision_tower=tmp_path, vision_input="64px_legacy").finetune_config()


def test_run_names_tell_tower_snapshots_apart():
    from dataclasses import replace

    from wbvla.vla.config import BackboneConfig, PretrainConfig

    def named(path):
        return PretrainConfig(backbone=BackboneConfig(preset="pretrained", pretrained_path=path)).run_name()

    a, b = named("/c/vision_pretrain/r100k_96x2/tower_step10000"), named("/c/vision_pretrain/r100k_96x2/tower_step20000")
    assert a != b and "pretrained-r100k_96x2.tower_step10000" in a
    assert PretrainConfig().run_name() == replace(PretrainConfig()).run_name() and "pretrained" not in PretrainConfig().run_name()


def test_a_shipped_tower_keeps_the_name_of_the_run_it_came_from(tmp_path):
    """data/vla/vision_tower (wbvla vision-ship) names runs after the pretraining run its provenance
    records, the same name as the cache copy of that tower."""
    import json

    from wbvla.vla.config import BackboneConfig, PretrainConfig

    shipped = tmp_path / "vision_tower"
    shipped.mkdir()
    (shipped / "provenance.json").write_text(json.dumps({"run": "$WBVLA_CACHE/vision_pretrain/r100k_96x2", "tower": "tower"}))
    names = [PretrainConfig(backbone=BackboneConfig(preset="pretrained", pretrained_path=p)).run_name()
             for p in (shipped, "/c/vision_pretrain/r100k_96x2/tower")]
    assert names[0] == names[1] and "pretrained-r100k_96x2.tower" in names[0]


def test_stage2_reads_the_lams_of_the_chosen_feature_space(tmp_path, monkeypatch):
    """PretrainConfig.lam_features picks the lam_runs folder wbvla lam-train wrote for that feature
    space and is named in the run (pixel runs keep their names); a missing LAM names the command."""
    from wbvla.suite.config import TrainingSizes
    from wbvla.suite.trials import PolicySpec, finetune_config
    from wbvla.vla.config import PretrainConfig, VariantJobConfig
    from wbvla.vla.corpus_data import lam_checkpoint

    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    tower = PretrainConfig(lam_features="tower_pool2")
    assert tower.lam_runs_folder_name() == "tutorial_tower_pool2" and PretrainConfig().lam_runs_folder_name() == "tutorial"
    assert tower.run_name() == "mani_loco_lam-tower_pool2_tiny_128px" and PretrainConfig().run_name() == "mani_loco_tiny_128px"
    assert PretrainConfig(lam_variant="none", lam_features="tower").run_name() == "none_tiny_128px"
    with pytest.raises(FileNotFoundError, match="--feature-space tower --tower-pool 2"):
        lam_checkpoint(tower, "mani")
    ckpt = tmp_path / "lam_runs" / "tutorial_tower_pool2" / "mani" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    assert lam_checkpoint(tower, "mani") == ckpt
    with pytest.raises(ValueError, match="lam_features must be pixel, tower, tower_pool<n> or dinov2"):
        PretrainConfig(lam_features="tower_pool")
    assert VariantJobConfig(lam_features="tower").finetune_config().pretrain.lam_features == "tower"
    spec = PolicySpec("wholebodyvla", "wholebodyvla")
    assert finetune_config(spec, TrainingSizes(lam_features="tower_pool2")).pretrain.lam_features == "tower_pool2"


def test_stage2_batches_stay_even():
    """Half of each Stage II batch comes from each video source: an odd batch is refused."""
    from wbvla.vla.config import PretrainConfig

    with pytest.raises(ValueError, match="batch_size must be even"):
        PretrainConfig(batch_size=15)
