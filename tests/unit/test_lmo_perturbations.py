"""Upper-body perturbations: App. A.2 time warp, clip replay and the Stage I pose curriculum."""

import numpy as np
import pytest
import torch

from wbvla.lmo.clips import CLIP_FILE, load_clips, save_clips
from wbvla.lmo.config import ArmPerturbationConfig
from wbvla.lmo.perturbations import ClipLibrary, ClipReplay, PoseTargetCurriculum, time_warp_step
from wbvla.sim.joints import default_pose, limits


def test_time_warp_hand_values():
    # omega_{i+1} = min(L, omega_i + (gamma + delta_i) dt)
    out = time_warp_step(torch.tensor([0.0, 1.0, 1.98]), torch.tensor([2.0, 2.0, 2.0]),
                         torch.tensor([1.0, 1.2, 1.5]), torch.tensor([0.25, -0.2, 0.0]), 0.02)
    assert out.tolist() == pytest.approx([0.025, 1.02, 2.0])


def test_time_warp_clock_is_monotone_bounded_and_rate_limited():
    torch.manual_seed(0)
    n, dt = 500, 0.02
    L = 0.8 + 1.7 * torch.rand(n)
    gamma = 0.8 + 0.7 * torch.rand(n)
    omega = torch.zeros(n)
    for _ in range(200):
        delta = -0.25 + 0.5 * torch.rand(n)
        new = time_warp_step(omega, L, gamma, delta, dt)
        step = new - omega
        assert torch.all(step >= 0) and torch.all(new <= L + 1e-6)
        assert torch.all(step <= (1.5 + 0.25) * dt + 1e-6)
        omega = new
    assert torch.allclose(omega, L)


def _ramp_clip(T=51, dt=0.02):
    t = np.arange(T) * dt
    lo, hi = limits("arms")
    q = default_pose("arms")[None] + np.outer(t / t[-1], 0.5 * (hi - default_pose("arms")))
    return t, q


def test_clip_library_interpolates_linearly():
    t, q = _ramp_clip()
    lib = ClipLibrary.from_arrays([(t, q)], dt=0.02)
    mid = lib.sample(torch.tensor([0]), torch.tensor([0.5]))[0].numpy()
    expect = np.array([np.interp(0.5, t, q[:, j]) for j in range(14)])
    assert np.allclose(mid, expect, atol=1e-5)
    end = lib.sample(torch.tensor([0]), torch.tensor([99.0]))[0].numpy()  # clamped to the last frame
    assert np.allclose(end, q[-1], atol=1e-5)


def test_clip_library_rejects_bad_clips():
    with pytest.raises(ValueError, match="empty"):
        ClipLibrary.from_arrays([])
    with pytest.raises(ValueError, match=r"q \(T, 14\)"):
        ClipLibrary.from_arrays([(np.arange(3.0), np.zeros((3, 7)))])
    with pytest.raises(ValueError, match="increase"):
        ClipLibrary.from_arrays([(np.array([0.0, 0.0, 1.0]), np.zeros((3, 14)))])


def test_clip_replay_targets_follow_the_clip_with_noise():
    torch.manual_seed(0)
    t, q = _ramp_clip()
    const = (t, np.repeat(q[25:26], len(t), 0))  # a constant clip isolates the noise
    cfg = ArmPerturbationConfig(blend_s=0.0)
    rep = ClipReplay(cfg, ClipLibrary.from_arrays([const]), num_envs=256)
    rep.reset(torch.arange(256))
    targets = torch.stack([rep.step(0.02) for _ in range(20)])  # (20, 256, 14)
    err = targets - torch.tensor(q[25], dtype=torch.float32)
    lo, hi = limits("arms")
    assert torch.all(targets >= torch.tensor(lo, dtype=torch.float32) - 1e-6)
    assert torch.all(targets <= torch.tensor(hi, dtype=torch.float32) + 1e-6)
    free = (torch.tensor(q[25] - lo) > 0.2) & (torch.tensor(hi - q[25]) > 0.2)  # joints far from limits
    assert err[..., free].std().item() == pytest.approx(0.05, rel=0.05)  # eps ~ N(0, 0.05^2)
    assert abs(err[..., free].mean().item()) < 0.005


def test_clip_replay_starts_new_segments_and_blends():
    torch.manual_seed(1)
    t, q = _ramp_clip()
    cfg = ArmPerturbationConfig(noise_std=0.0, segment_length_s=(0.1, 0.1), hold_s=(0.0, 0.0), blend_s=0.1)
    rep = ClipReplay(cfg, ClipLibrary.from_arrays([(t, q)]), num_envs=4)
    rep.reset(torch.arange(4))
    first = rep.step(0.02)
    # blending from the default pose: the first target is 20 % of the way to the clip
    assert torch.allclose(first, 0.8 * torch.tensor(default_pose("arms"), dtype=torch.float32)
                          + 0.2 * rep.lib.sample(rep.clip, rep.start + rep.omega), atol=1e-5)
    starts = set()
    for _ in range(100):
        rep.step(0.02)
        starts |= set(np.round(rep.start.numpy(), 4).tolist())
    assert len(starts) > 4  # segments were renewed
    assert torch.all(rep.omega <= rep.length + 1e-6)


def test_pose_curriculum_widens_with_ratio():
    torch.manual_seed(0)
    cur = PoseTargetCurriculum(ArmPerturbationConfig(pose_interval_s=0.1, initial_ratio=0.0), num_envs=64)
    cur.reset(torch.arange(64))
    q0 = torch.tensor(default_pose("arms"), dtype=torch.float32)
    for _ in range(20):
        assert torch.allclose(cur.step(0.02), q0)  # ratio 0: arms stay at the default pose
    cur.ratio = 1.0
    targets = torch.stack([cur.step(0.02) for _ in range(100)])
    lo, hi = limits("arms")
    assert torch.all(targets >= torch.tensor(lo, dtype=torch.float32) - 1e-6)
    assert torch.all(targets <= torch.tensor(hi, dtype=torch.float32) + 1e-6)
    assert (targets - q0).abs().max() > 0.5
    # linear interpolation over the 0.1 s interval: a step moves at most dt/interval of the way
    steps = (targets[1:] - targets[:-1]).abs()
    assert torch.all(steps <= torch.tensor(hi - lo, dtype=torch.float32) * 0.02 / 0.1 + 1e-5)
    t = cur.t.clone()
    w = (t / 0.1).clamp(0, 1)[:, None]
    assert torch.allclose(cur.target(), (1 - w) * cur.prev + w * cur.next)


def test_shipped_clip_library_round_trip(tmp_path):
    clips = load_clips(CLIP_FILE)
    assert len(clips) >= 24 and all(q.shape[1] == 14 for _, q in clips)
    path = save_clips(clips[:2], tmp_path / "c.npz")
    back = load_clips(path)
    assert np.allclose(back[1][1], clips[1][1], atol=1e-6)
    lo, hi = limits("arms")
    bad = (clips[0][0], np.full_like(clips[0][1], hi + 1.0))
    with pytest.raises(ValueError, match="outside its range"):
        save_clips([bad], tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="lmo-clips"):
        load_clips(tmp_path / "missing.npz")
