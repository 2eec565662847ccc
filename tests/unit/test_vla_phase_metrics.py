"""Hand position error by forward kinematics and the per-phase open-loop metrics (issue 20): zero for
identical targets, a shoulder rotation matches MuJoCo's own TCP positions and the circle it moves the
hand on, per-phase medians / p90 / L1 equal hand-computed values, frame_metrics carries them."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from wbvla.data import teleop_schema as ts
from wbvla.sim.kinematics import READY_ARM_POSE
from wbvla.sim.robot import X2_XML
from wbvla.vla.finetune import frame_metrics
from wbvla.vla.phase_metrics import hand_error_m, phase_report, phase_table

PRE, GRASP, PUSH = ts.phase_index("pregrasp"), ts.phase_index("grasp"), ts.phase_index("push")


def _mujoco_tcps(q_arms: np.ndarray) -> tuple[np.ndarray, np.ndarray, mujoco.MjModel, mujoco.MjData]:
    """Both TCP sites straight from MuJoCo (the bare X2, arms set by joint name)."""
    model = mujoco.MjModel.from_xml_path(str(X2_XML))
    data = mujoco.MjData(model)
    for name, q in zip(ts.ARM_JOINTS, q_arms, strict=True):
        data.qpos[model.joint(name).qposadr[0]] = q
    mujoco.mj_kinematics(model, data)
    return data.site("left_tcp").xpos.copy(), data.site("right_tcp").xpos.copy(), model, data


def test_hand_error_is_zero_for_identical_targets():
    rng = np.random.default_rng(0)
    q = READY_ARM_POSE + rng.normal(0, 0.1, (5, 14))
    np.testing.assert_array_equal(hand_error_m(q, q), np.zeros((5, 2)))


def test_a_shoulder_rotation_moves_the_hand_as_mujoco_says():
    delta = 0.1
    q0 = READY_ARM_POSE.copy()
    q1 = q0.copy()
    q1[0] += delta  # left shoulder pitch
    left0, right0, model, data = _mujoco_tcps(q0)
    left1, right1, *_ = _mujoco_tcps(q1)
    err = hand_error_m(q1[None], q0[None])[0]
    assert err[0] == pytest.approx(np.linalg.norm(left1 - left0), abs=1e-9)
    assert err[1] == pytest.approx(np.linalg.norm(right1 - right0), abs=1e-12) and err[1] == 0.0
    # by hand: the TCP turns on a circle about the shoulder-pitch axis, chord = 2 r sin(delta / 2)
    j = model.joint("left_shoulder_pitch_joint").id
    rel = left0 - data.xanchor[j]  # data still holds q0 in _mujoco_tcps' first call
    axis = data.xaxis[j]
    r = np.linalg.norm(rel - (rel @ axis) * axis)
    assert err[0] == pytest.approx(2 * r * np.sin(delta / 2), rel=1e-6)
    assert 0.02 < err[0] < 0.08  # a 0.1 rad shoulder error is centimetres at the hand


def test_hand_error_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 14\)"):
        hand_error_m(np.zeros((3, 14)), np.zeros((3, 7)))
    with pytest.raises(ValueError, match="non-finite"):
        hand_error_m(np.full((1, 14), np.nan), np.zeros((1, 14)))


def test_per_phase_metrics_equal_hand_computed_values():
    # 6 frames, chunks of 2 rows; arm errors chosen per frame, hand errors given (m)
    phase = np.array([PRE, PRE, GRASP, GRASP, GRASP, -1])
    true = np.zeros((6, 2, 14))
    pred = np.zeros((6, 2, 14))
    pred[:, 0, :] = np.array([0.01, 0.03, 0.02, 0.04, 0.06, 0.5])[:, None]  # row 0: |err| per joint
    pred[:, 1, :] = 0.1  # row 1
    hand = np.array([[0.01, 0.005], [0.02, 0.03], [0.01, 0.0], [0.0, 0.02], [0.04, 0.01], [0.3, 0.3]])
    rep = phase_report(pred, true, phase, hand)
    assert list(rep["per_phase"]) == ["pregrasp", "grasp", "none"]
    pre, grasp = rep["per_phase"]["pregrasp"], rep["per_phase"]["grasp"]
    assert pre["frames"] == 2 and grasp["frames"] == 3 and rep["per_phase"]["none"]["frames"] == 1
    # worse hand per frame (cm): pregrasp 1, 3 -> median 2, p90 1 + 0.9 * 2 = 2.8; grasp 1, 2, 4 -> median 2, p90 2 + 0.8 * 2 = 3.6
    assert pre["hand_error_cm_median"] == pytest.approx(2.0) and pre["hand_error_cm_p90"] == pytest.approx(2.8)
    assert grasp["hand_error_cm_median"] == pytest.approx(2.0) and grasp["hand_error_cm_p90"] == pytest.approx(3.6)
    assert pre["hand_error_cm_median_left"] == pytest.approx(1.5) and pre["hand_error_cm_median_right"] == pytest.approx(1.75)
    assert grasp["arm_l1_rad_now"] == pytest.approx(0.04) and pre["arm_l1_rad_now"] == pytest.approx(0.02)
    assert pre["arm_l1_rad"] == pytest.approx((0.02 + 0.1) / 2)  # rows 0 and 1 averaged
    assert rep["hand_error_cm"] == {"pregrasp": pytest.approx(2.0), "grasp": pytest.approx(2.0)}
    assert rep["hand_error_cm_grasp"] == pytest.approx(2.0) and rep["all"]["frames"] == 6
    assert set(phase_table(rep).index) == {"pregrasp", "grasp", "none", "all"}
    # no pre-grasp frames: its headline is None; hand errors by FK when not given (identical targets: 0)
    rep = phase_report(true, true, np.array([PUSH] * 6))
    assert rep["hand_error_cm"] == {"pregrasp": None, "grasp": None} and rep["per_phase"]["push"]["hand_error_cm_p90"] == 0.0
    with pytest.raises(ValueError, match=r"\(N, H, 14\)"):
        phase_report(pred, true, phase[:3])


def test_frame_metrics_reports_the_phases():
    n, h = 4, 3
    true_arm = torch.tensor(np.tile(READY_ARM_POSE, (n, h, 1)), dtype=torch.float32)
    arm = true_arm.clone()
    arm[1, :, 0] += 0.1  # one pre-grasp frame off by 0.1 rad of left shoulder pitch
    preds = [{"arm": arm, "true_arm": true_arm, "gripper": torch.zeros(n, h, 2), "true_gripper": torch.zeros(n, h, 2),
              "command": torch.zeros(n, 4), "true_height": torch.zeros(n), "true_flags": torch.zeros(n, 3),
              "codes": torch.zeros(n, 0, dtype=torch.long), "true_codes": torch.zeros(n, 0, dtype=torch.long),
              "phase": torch.tensor([PRE, PRE, GRASP, -1])}]
    m = frame_metrics(preds, "flags")
    shoulder = hand_error_m(arm[1:2, 0].numpy(), true_arm[1:2, 0].numpy())[0, 0] * 100
    assert m["per_phase"]["pregrasp"]["hand_error_cm_median"] == pytest.approx(shoulder / 2, rel=1e-5)  # median of 0 and it
    assert m["hand_error_cm_grasp"] == 0.0 and m["per_phase"]["none"]["frames"] == 1
    assert m["arm_l1_rad_now"] == pytest.approx(0.1 / 14 / n, rel=1e-5)


def test_flag_balanced_accuracy_is_the_mean_recall_over_the_classes_present():
    n = 10
    true_flags = torch.zeros(n, 3)
    true_flags[:2, 1] = 1.0  # lateral: 8 frames of 0, 2 of +1
    true_flags[0, 2] = -1.0  # yaw: 9 of 0, 1 of -1
    command = torch.zeros(n, 4)  # a constant 0: accuracy 0.8 / 0.9, balanced 1/2 (two classes present)
    command[0, 1] = 1.0  # one of the two +1 lateral steps found
    preds = [{"arm": torch.zeros(n, 1, 14), "true_arm": torch.zeros(n, 1, 14), "gripper": torch.zeros(n, 1, 2),
              "true_gripper": torch.zeros(n, 1, 2), "command": command, "true_height": torch.zeros(n), "true_flags": true_flags,
              "codes": torch.zeros(n, 0, dtype=torch.long), "true_codes": torch.zeros(n, 0, dtype=torch.long)}]
    m = frame_metrics(preds, "flags")
    assert m["flag_accuracy_y"] == pytest.approx(0.9) and m["flag_balanced_accuracy_y"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["flag_accuracy_yaw"] == pytest.approx(0.9) and m["flag_balanced_accuracy_yaw"] == pytest.approx(0.5)
    assert m["flag_balanced_accuracy_x"] == pytest.approx(1.0)  # one class present, always right
