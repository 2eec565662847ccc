"""Execution decoder: shapes, units, the Stage III losses by hand, the w/o-state and velocity switches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wbvla.vla.config import DecoderConfig
from wbvla.vla.decoder import (
    ActionStats,
    DecoderOutput,
    ExecutionDecoder,
    decoder_losses,
    flag_classes,
)

WEIGHTS = {"arm": 1.0, "gripper": 1.0, "command": 1.0, "height": 1.0}


def _decoder(residual=False, state_groups=("arms", "grippers", "height"), **kw) -> ExecutionDecoder:
    torch.manual_seed(0)
    return ExecutionDecoder(DecoderConfig(width=16, queries=2, heads=2, state_width=8, dropout=0.0, residual=residual,
                                          state_groups=state_groups),
                            hidden_size=12, chunk_size=3, **kw).eval()


def _inputs(b=4, n=7):
    return torch.randn(b, n, 12), torch.tensor([0, 0, 0, 0, 1, 2, 2]), torch.randn(b, 17)


def test_shapes_and_physical_units():
    stats = ActionStats.from_arrays(state=np.random.randn(50, 17), arm=np.random.randn(50, 14) * 0.3 + 1.0,
                                    gripper=np.random.rand(50, 2) * 0.04, height=np.random.rand(50) * 0.2 + 0.5,
                                    velocity=np.random.randn(50, 3))
    dec = _decoder(stats=stats)
    out = dec(*_inputs())
    assert out.arm.shape == (4, 3, 14) and out.gripper.shape == (4, 3, 2)
    assert out.command.shape == (4, 3, 3) and out.height.shape == (4,)
    phys = dec.physical(out)
    torch.testing.assert_close(phys["arm"], out.arm * dec.arm_std + dec.arm_mean)
    assert phys["command"].shape == (4, 4) and set(phys["command"][:, :3].unique().tolist()) <= {-1.0, 0.0, 1.0}
    torch.testing.assert_close(phys["command"][:, 3], out.height * dec.height_std + dec.height_mean)
    assert (phys["gripper"] >= 0).all()
    assert np.allclose(dec.stats().arm_mean, stats.arm_mean)  # the statistics travel with the weights
    assert "arm_mean" in dec.state_dict()


def test_losses_hand_computed():
    dec = _decoder()  # identity statistics: standardized == physical
    out = DecoderOutput(arm=torch.zeros(1, 3, 14), gripper=torch.zeros(1, 3, 2),
                        command=torch.tensor([[[0.0, math.log(2.0), 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, math.log(3.0)]]]),
                        height=torch.tensor([0.5]))
    targets = {"arm": torch.full((1, 3, 14), 0.2), "gripper": torch.full((1, 3, 2), -0.1),
               "flags": torch.tensor([[0.0, 1.0, 1.0]]), "height": torch.tensor([0.75]), "velocity": torch.zeros(1, 3)}
    t = decoder_losses(dec, out, targets, WEIGHTS)
    assert float(t["arm_l1"]) == pytest.approx(0.2)
    assert float(t["gripper_l1"]) == pytest.approx(0.1)
    assert float(t["height_l1"]) == pytest.approx(0.25)
    # flags 0 -> class 1 with logits (0, ln2, 0): -log(2/4); 1 -> class 2, uniform: log 3; 1 -> class 2 with (0, 0, ln3): -log(3/5)
    ce = (-math.log(0.5) + math.log(3.0) - math.log(0.6)) / 3
    assert float(t["flag_ce"]) == pytest.approx(ce, abs=1e-6)
    assert float(t["action"]) == pytest.approx(0.2 + 0.1 + 0.25 + ce, abs=1e-6)


def test_losses_use_standardized_units():
    stats = ActionStats.identity()
    stats.arm_std = np.full(14, 2.0, np.float32)
    dec = _decoder(stats=stats)
    out = DecoderOutput(torch.zeros(1, 3, 14), torch.zeros(1, 3, 2), torch.zeros(1, 3, 3), torch.zeros(1))
    tgt = {"arm": torch.full((1, 3, 14), 1.0), "gripper": torch.zeros(1, 3, 2), "flags": torch.zeros(1, 3),
           "height": torch.zeros(1), "velocity": torch.zeros(1, 3)}
    assert float(decoder_losses(dec, out, tgt, WEIGHTS)["arm_l1"]) == pytest.approx(0.5)  # 1 rad / std 2


def test_residual_decoder_predicts_offsets_from_the_current_pose():
    stats = ActionStats.identity()
    dec = _decoder(residual=True, stats=stats)
    tokens, kinds, state = _inputs(b=2)
    out = DecoderOutput(torch.zeros(2, 3, 14), torch.zeros(2, 3, 2), torch.zeros(2, 3, 3), torch.zeros(2))
    phys = dec.physical(out, state)  # zero offsets: hold s_t's joints and openings
    torch.testing.assert_close(phys["arm"], state[:, None, :14].expand(-1, 3, -1))
    torch.testing.assert_close(phys["gripper"], state[:, None, 14:16].expand(-1, 3, -1).clamp_min(0))
    tgt = {"arm": state[:, None, :14].expand(-1, 3, -1) + 0.3, "gripper": state[:, None, 14:16].expand(-1, 3, -1).clone(), "state": state,
           "flags": torch.zeros(2, 3), "height": torch.zeros(2), "velocity": torch.zeros(2, 3)}
    t = decoder_losses(dec, out, tgt, WEIGHTS)
    assert float(t["arm_l1"]) == pytest.approx(0.3, abs=1e-6) and float(t["gripper_l1"]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="residual"):
        dec.physical(out)
    with pytest.raises(ValueError, match=r"target 'arm' has shape \(2, 1, 14\), the decoder predicts \(2, 3, 14\)"):
        decoder_losses(dec, out, {**tgt, "arm": state[:, None, :14]}, WEIGHTS)  # one step for a 3-step chunk
    assert not _decoder(residual=True, use_state=False).residual  # w/o state: absolute targets
    # statistics of offsets: arm chunks 1 rad above a 0.5 rad pose -> mean offset 1, pose excluded
    s = ActionStats.from_frames(state=np.full((4, 17), 0.5), arm=np.full((4, 3, 14), 1.5), gripper=np.zeros((4, 3, 2)),
                                height=np.ones(4), velocity=np.zeros((4, 3)), residual=True)
    np.testing.assert_allclose(s.arm_mean, 1.0)
    np.testing.assert_allclose(s.gripper_mean, -0.5)


def test_without_state_the_state_is_ignored():
    tokens, kinds, state = _inputs()
    blind = _decoder(use_state=False)
    a, b = blind(tokens, kinds, state), blind(tokens, kinds, state + 5.0)
    torch.testing.assert_close(a.arm, b.arm)
    torch.testing.assert_close(blind(tokens, kinds, None).arm, a.arm)
    seeing = _decoder(use_state=True)
    assert not torch.allclose(seeing(tokens, kinds, state).arm, seeing(tokens, kinds, state + 5.0).arm)
    with pytest.raises(ValueError, match="use_state"):
        seeing(tokens, kinds, None)


def test_state_groups_left_out_are_not_read_and_not_residual():
    tokens, kinds, state = _inputs()
    no_grip = _decoder(residual=True, state_groups=("arms", "height"))
    moved = state.clone()
    moved[:, 14:16] += 0.03  # the grippers' openings (m): not read
    torch.testing.assert_close(no_grip(tokens, kinds, state).arm, no_grip(tokens, kinds, moved).arm)
    moved[:, 0] += 0.3  # an arm joint (rad): read
    assert not torch.allclose(no_grip(tokens, kinds, state).arm, no_grip(tokens, kinds, moved).arm)
    # residual stays for the arms, the grippers' targets are absolute: same standardized output, the
    # gripper's physical target does not follow s_t's opening, the arm's does (by exactly the offset)
    out = no_grip(tokens, kinds, state)
    shifted = state.clone()
    shifted[:, 14:16] += 0.01
    shifted[:, 0] += 0.2
    torch.testing.assert_close(no_grip.physical(out, shifted)["gripper"], no_grip.physical(out, state)["gripper"])
    torch.testing.assert_close(no_grip.physical(out, shifted)["arm"][..., 0], no_grip.physical(out, state)["arm"][..., 0] + 0.2)
    assert (no_grip.residual_arm, no_grip.residual_gripper) == (True, False)
    # the old state dicts load: the mask is not saved with the weights
    assert "state_mask" not in no_grip.state_dict()
    _decoder(residual=True).load_state_dict(no_grip.state_dict())
    s = ActionStats.from_frames(state=np.full((4, 17), 0.5), arm=np.full((4, 3, 14), 1.5), gripper=np.full((4, 3, 2), 0.02),
                                height=np.ones(4), velocity=np.zeros((4, 3)), residual=True, residual_gripper=False)
    np.testing.assert_allclose(s.arm_mean, 1.0)
    np.testing.assert_allclose(s.gripper_mean, 0.02)
    for bad in ((), ("arms", "arms"), ("wrists",)):
        with pytest.raises(ValueError, match="state_groups"):
            DecoderConfig(state_groups=bad)


def test_velocity_decoder_regresses_three_velocities_and_h_star():
    stats = ActionStats.identity()
    stats.velocity_mean = np.array([0.1, 0.0, -0.2], np.float32)
    dec = _decoder(command_kind="velocity", stats=stats)
    out = dec(*_inputs())
    assert out.command.shape == (4, 3)
    phys = dec.physical(out)
    torch.testing.assert_close(phys["command"][:, :3], out.command + torch.tensor([0.1, 0.0, -0.2]))
    t = decoder_losses(dec, out, {"arm": torch.zeros(4, 3, 14), "gripper": torch.zeros(4, 3, 2), "flags": torch.zeros(4, 3),
                                  "height": torch.zeros(4), "velocity": torch.zeros(4, 3)}, WEIGHTS)
    assert "velocity_l1" in t and "flag_ce" not in t
    with pytest.raises(ValueError, match="command_kind"):
        _decoder(command_kind="torque")


def test_flag_classes():
    assert flag_classes(torch.tensor([-1.0, 0.0, 1.0, 0.9999])).tolist() == [0, 1, 2, 2]


def test_policy_targets_are_clipped_to_the_joint_table_and_the_height_range():
    import numpy as np

    from wbvla.lmo.config import HeightConfig
    from wbvla.sim.joints import limits
    from wbvla.vla.policy import clip_to_ranges

    a_lo, a_hi = limits("arms")
    g_lo, g_hi = limits("grippers")
    h_lo, h_hi = HeightConfig().height_range
    arm = np.tile((a_lo + a_hi) / 2, (3, 1)).astype(np.float32)  # (T, 14)
    grip = np.tile((g_lo + g_hi) / 2, (3, 1)).astype(np.float32)  # (T, 2)
    cmd = np.array([1.0, 0.0, -1.0, 0.6], np.float32)
    same_arm, same_grip, same_cmd, n = clip_to_ranges(arm, grip, cmd)
    assert n == 0 and np.array_equal(same_arm, arm) and np.array_equal(same_grip, grip) and np.array_equal(same_cmd, cmd)
    arm[1, 5] = a_hi[5] + 0.06  # a wrist just past its range, as the tutorial decoder produced
    arm[2, 10] = a_lo[10] - 0.5
    grip[0, 1] = g_hi[1] + 0.01
    cmd[3] = 0.666
    out_arm, out_grip, out_cmd, n = clip_to_ranges(arm, grip, cmd)
    assert n == 4 and out_arm.dtype == np.float32
    assert out_arm[1, 5] == np.float32(a_hi[5]) and out_arm[2, 10] == np.float32(a_lo[10])
    assert out_grip[0, 1] == np.float32(g_hi[1])
    assert out_cmd[3] == np.float32(h_hi) and out_cmd[:3].tolist() == [1.0, 0.0, -1.0] and cmd[3] == np.float32(0.666)


def test_flag_class_weights_against_hand_computed_values():
    from wbvla.vla.decoder import flag_class_weights

    # axis 0: classes (-1, 0, +1) at frequencies (0.25, 0.5, 0.25); axis 1: only 0; axis 2: 0 x3, +1 x1
    flags = np.array([[-1, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 1]], np.float32)
    assert np.allclose(flag_class_weights(flags, 0.0), 1.0)  # p = 0: plain cross-entropy
    w = flag_class_weights(flags, 1.0)
    # p = 1: w ~ 1/freq, scaled so sum_c freq_c w_c = 1 -> w_c = 1 / (K freq_c), K the classes present
    np.testing.assert_allclose(w[0], [4 / 3, 2 / 3, 4 / 3], rtol=1e-6)
    np.testing.assert_allclose(w[1], [1.0, 1.0, 1.0], rtol=1e-6)  # absent classes (never targets) weigh 1
    np.testing.assert_allclose(w[2], [1.0, 1 / (2 * 0.75), 1 / (2 * 0.25)], rtol=1e-6)
    half = flag_class_weights(flags, 0.5)  # freq^-0.5: axis 2: 0.75^-0.5, 0.25^-0.5, scaled
    raw = np.array([0.75 ** -0.5, 0.25 ** -0.5])
    np.testing.assert_allclose(half[2, 1:], raw / (np.array([0.75, 0.25]) @ raw), rtol=1e-6)


def test_weighted_flag_loss_is_the_per_axis_weighted_mean():
    import torch.nn.functional as F

    torch.manual_seed(1)
    dec = _decoder()
    out = DecoderOutput(arm=torch.zeros(5, 3, 14), gripper=torch.zeros(5, 3, 2), command=torch.randn(5, 3, 3),
                        height=torch.zeros(5))
    targets = {"arm": torch.zeros(5, 3, 14), "gripper": torch.zeros(5, 3, 2), "height": torch.zeros(5),
               "flags": torch.tensor([[-1.0, 0, 1], [0, 0, 0], [1, 1, 0], [0, -1, 0], [0, 0, -1]]), "velocity": torch.zeros(5, 3)}
    w = torch.tensor([[2.0, 1.0, 2.0], [1.0, 1.0, 1.0], [0.5, 1.0, 3.0]])
    terms = decoder_losses(dec, out, targets, WEIGHTS, w)
    cls = (targets["flags"].round().long() + 1)
    want = np.mean([F.cross_entropy(out.command[:, a], cls[:, a], weight=w[a]).item() for a in range(3)])
    assert terms["flag_ce"].item() == pytest.approx(want, rel=1e-6)
    ones = decoder_losses(dec, out, targets, WEIGHTS, torch.ones(3, 3))
    plain = decoder_losses(dec, out, targets, WEIGHTS)
    assert ones["flag_ce"].item() == pytest.approx(plain["flag_ce"].item(), rel=1e-5)  # weights 1 = plain CE
