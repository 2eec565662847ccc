"""Task specs: disjoint seed ranges, deterministic randomized trials, variations, layouts the X2 can reach."""

from __future__ import annotations

import numpy as np
import pytest

from wbvla.data.teleop_schema import INSTRUCTIONS, TASKS
from wbvla.sim.scene import SCENE_VARIATIONS, build_scene
from wbvla.tasks.specs import SEED_RANGES, TASK_SPECS, VARIATIONS, check_seed, make_task, split_of


def test_train_and_eval_seed_ranges_never_overlap():
    train, ev = SEED_RANGES["train"], SEED_RANGES["eval"]
    assert not set(range(train.start, train.stop)) & {ev.start, ev.stop - 1}
    assert train.stop <= ev.start
    assert split_of(0) == "train" and split_of(1_000_000) == "eval"
    assert check_seed(5, "train") == 5
    with pytest.raises(ValueError, match="not a eval seed"):
        check_seed(5, "eval")
    with pytest.raises(ValueError, match="in no split"):
        split_of(500_000)


def test_teleop_config_seeds_are_training_seeds():
    from wbvla.tasks.teleop_config import TRAIN_SEED_STOP, TeleopDataConfig

    assert TRAIN_SEED_STOP == SEED_RANGES["train"].stop
    with pytest.raises(ValueError, match="training seed"):
        TeleopDataConfig(seed=SEED_RANGES["eval"].start)


def test_same_seed_same_trial_other_seed_other_trial():
    a, b, c = (make_task("bag_packing", s) for s in (3, 3, 4))
    assert a.start_pose == b.start_pose and a.info == b.info
    np.testing.assert_array_equal(a.scene.model.geom_pos, b.scene.model.geom_pos)
    assert a.start_pose != c.start_pose
    assert a.info["object_masses"]["bag"] != c.info["object_masses"]["bag"]
    assert a.instruction == INSTRUCTIONS["bag_packing"]


def test_start_pose_ranges_of_training_and_variations():
    for seed in range(20):
        back, lat, yaw = (make_task("cart_pushing", seed).info["start_offset"][k] for k in ("back", "lateral", "yaw"))
        assert 0.0 <= back <= 0.20 and abs(lat) <= 0.12 and abs(yaw) <= 0.25
        far = make_task("cart_pushing", seed, "start_distance").info["start_offset"]["back"]
        assert 0.30 <= far <= 0.45
        turned = make_task("cart_pushing", seed, "start_orientation").info["start_offset"]["yaw"]
        assert 0.35 <= abs(turned) <= 0.60


def test_variations_change_the_scene_as_named():
    plates = make_task("cart_pushing", 1_000_000, "barbell_plates")
    assert "plates" in plates.scene.objects and "carton" not in plates.scene.objects
    assert plates.info["object_masses"]["plates"] == pytest.approx(60.0, abs=0.1)
    other = make_task("bag_packing", 1_000_000, "other_bag").scene.objects["bag"].size
    assert not np.allclose(other, make_task("bag_packing", 1_000_000).scene.objects["bag"].size)
    for task in TASKS:
        for var in VARIATIONS.values():
            if task in var.tasks:
                assert set(var.scene_variations) <= set(SCENE_VARIATIONS.get(task, ()))
    with pytest.raises(ValueError, match="does not apply"):
        make_task("cart_pushing", 0, "unseen_table")
    with pytest.raises(ValueError, match="unknown variation"):
        make_task("cart_pushing", 0, "moon_gravity")
    with pytest.raises(ValueError, match="has no variation"):
        build_scene(name="cart_pushing", variations=("unseen_table",))


def test_the_target_stands_left_unless_target_side_draws_it():
    """The paper's layout is fixed (App. C.2): carton and cart to the left of the work, in every seed;
    ``target_side`` draws the side, and only the side: the seed's other draws are the same."""
    sides = {"bag_packing": set(), "box_loading": set()}
    for seed in range(12):
        for task, target, obj in (("bag_packing", "carton", "bag"), ("box_loading", "cart", "box")):
            fixed, drawn = make_task(task, seed), make_task(task, seed, "target_side")
            rel = fixed.scene.object_pose(target)[0] - fixed.scene.object_pose(obj)[0]
            assert rel[1] > 0.5, (task, seed, rel)  # to the left (+y), never behind or right
            rel_drawn = drawn.scene.object_pose(target)[0] - drawn.scene.object_pose(obj)[0]
            sides[task].add("left" if rel_drawn[1] > 0.5 else "right" if rel_drawn[1] < -0.5 else "behind")
            np.testing.assert_allclose(fixed.scene.object_pose(obj)[0], drawn.scene.object_pose(obj)[0])
            assert fixed.start_pose == drawn.start_pose
    assert sides["bag_packing"] == {"left", "right"} and sides["box_loading"] == {"left", "right", "behind"}


def test_specs_match_the_schema():
    assert tuple(TASK_SPECS) == TASKS
    for name, spec in TASK_SPECS.items():
        assert spec.instruction == INSTRUCTIONS[name] and len(spec.subgoals) == 2


def test_layouts_put_grasp_points_within_the_squat_range():
    """Bag bars are graspable standing, tote bars only when squatting (h* in the LMO's range)."""
    from wbvla.lmo.config import HeightConfig
    from wbvla.sim.robot import base_height_for
    from wbvla.tasks.expert import ExpertConfig

    lo, hi = HeightConfig().height_range
    reach = ExpertConfig().grasp_height
    for seed in range(10):
        bag = make_task("bag_packing", seed).scene
        box = make_task("box_loading", seed).scene
        h_bag = bag.data.site(bag.objects["bag"].sites["handle"]).xpos[2] - reach + base_height_for()
        h_box = box.data.site(box.objects["box"].sites["handle"]).xpos[2] - reach + base_height_for()
        assert lo - 1e-6 <= h_bag and h_bag >= 0.60  # (nearly) standing
        assert lo <= h_box <= 0.60 < hi  # a squat is needed
