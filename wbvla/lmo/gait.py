"""The gait clock and the reference gait of the CPU training levers (:mod:`wbvla.lmo.levers`), as
pure functions that take numpy arrays or torch tensors and return the same kind. Training (torch,
batched) and the deployed controller (numpy, one robot: :class:`wbvla.lmo.onnx_policy.LegController`)
share this one definition. torch is never imported here: a tensor can only come from a caller
that imported it already, so the robot side runs on numpy alone.
"""

from __future__ import annotations

import math
import sys

import numpy as np


def _torch_of(x):
    """The torch module if ``x`` is a torch tensor, else None (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(x, torch.Tensor) else None


def _xp(x):
    """The array module of ``x``: torch for a tensor, else numpy."""
    return _torch_of(x) or np


def gait_swing(phase, moving):
    """Swing signal per foot (left, right) in [0, 1], shape (..., 2), for phases phi (...) and a
    moving mask (...): the positive part of sin 2 pi phi for the left foot, of -sin for the right,
    zeroed near the crossings (double support) and while standing. numpy or torch in, same out
    (training and the deployed controller share this one definition)."""
    xp = _xp(phase)
    s = xp.sin(2 * math.pi * phase)
    sw = xp.stack([s, -s], -1)
    sw = xp.where(sw < 0.1, 0.0 * sw, sw)  # below 0.1 (and every negative part): double support
    return sw * (moving[..., None] * 1.0)


def gait_observation(phase):
    """(sin 2 pi phi, cos 2 pi phi), shape (..., 2): the actor's ``gait_phase`` term."""
    xp = _xp(phase)
    a = 2 * math.pi * phase
    return xp.stack([xp.sin(a), xp.cos(a)], -1)


def advance_clock(steps, moving):
    """The clock's step counter: +1 where moving, else 0 (a stopped clock puts both feet down).
    An integer counter, so training (float32 torch) and deployment (numpy) see the same phase."""
    return (steps + 1) * moving


def clock_phase(steps, dt: float, period: float):
    """phi = (k mod P) / P with P = T / dt policy steps per period: exact for any counter k."""
    per = round(period / dt)
    torch = _torch_of(steps)
    if torch is not None:
        return (torch.remainder(steps, per).double() / per).float()
    return np.remainder(np.asarray(steps, np.int64), per) / per


def reference_leg_offsets(swing, amplitude: float):
    """r(phi): leg joint offsets (..., 12) in canonical leg order (hip pitch, hip roll, hip yaw, knee,
    ankle pitch, ankle roll per leg) from the swing signals (..., 2): hip pitch -A s (flexion is
    negative), knee +2 A s, ankle pitch -A s (the sole stays parallel to the floor)."""
    xp = _xp(swing)
    pattern = xp.zeros(swing.shape[:-1] + (2, 6)) if xp is np else xp.zeros(*swing.shape[:-1], 2, 6)
    shape = [-1.0, 0.0, 0.0, 2.0, -1.0, 0.0]
    unit = xp.asarray(shape) if xp is np else xp.tensor(shape)
    pattern = pattern + unit * (amplitude * swing[..., :, None])
    return pattern.reshape(swing.shape[:-1] + (12,)) if xp is np else pattern.reshape(*swing.shape[:-1], 12)


STANCE_TABLE: tuple[tuple[float, float], ...] = (
    (0.00, 0.655), (0.05, 0.6471), (0.10, 0.6375), (0.15, 0.6264), (0.20, 0.6139), (0.25, 0.6001),
    (0.30, 0.5849), (0.35, 0.5685), (0.40, 0.5509), (0.45, 0.5320), (0.50, 0.5120))
"""(a, pelvis height): the default pose with hip pitch -a, knee +2a, ankle pitch -a on both legs
stands with its pelvis this high above the soles (m; :func:`wbvla.sim.robot.base_height_for`,
checked by ``tests/unit/test_lmo_stance_posture.py``). The first row is the default pose at the
nominal h* 0.655 (it stands at 0.6554), so the nominal command adds no offset."""


def stance_amplitude(height):
    """The a of :data:`STANCE_TABLE` whose posture stands at pelvis height ``height`` (...,): linear
    between the table's rows, 0 at or above the default stance, 0.5 below the table."""
    a_tab = [a for a, _ in STANCE_TABLE][::-1]
    h_tab = [h for _, h in STANCE_TABLE][::-1]  # increasing heights
    torch = _torch_of(height)
    if torch is None:
        return np.interp(np.asarray(height, np.float64), h_tab, a_tab)
    hs = torch.tensor(h_tab, dtype=height.dtype, device=height.device)
    av = torch.tensor(a_tab, dtype=height.dtype, device=height.device)
    x = height.clamp(hs[0], hs[-1])
    i = torch.searchsorted(hs, x.contiguous()).clamp(1, len(h_tab) - 1)
    w = (x - hs[i - 1]) / (hs[i] - hs[i - 1])
    return av[i - 1] + w * (av[i] - av[i - 1])


def stance_leg_offsets(height):
    """s(h*): leg joint offsets (..., 12) in canonical leg order that put the default pose at pelvis
    height h* (...,) with the soles flat: hip pitch -a, knee +2a, ankle pitch -a per leg, a =
    :func:`stance_amplitude` (0 at the default stance). The ``stance_posture`` lever adds them to the
    leg targets, so the policy learns a residual around the commanded squat instead of reaching it
    through its small action scale (0.1 rad per unit at the knee, 0.05 at the ankle)."""
    xp = _xp(height)
    a = stance_amplitude(height)
    shape = [-1.0, 0.0, 0.0, 2.0, -1.0, 0.0] * 2
    unit = np.asarray(shape) if xp is np else xp.tensor(shape, dtype=a.dtype, device=a.device)
    return a[..., None] * unit
