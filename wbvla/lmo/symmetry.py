"""Left-right symmetry of the X2 and of the LMO's observations and actions (the ``symmetry`` lever).

The mirror is the reflection through the pelvis's sagittal (x-z) plane, M = diag(1, -1, 1). The task
is symmetric under it (the X2 is built mirror-symmetric, the commands come in both signs, every
reward term is symmetric), so a policy should be too: pi(mirror(o)) = mirror(pi(o)). rsl-rl's
symmetry extension (Mittal et al. 2024, "Symmetry Considerations for Learning Task Symmetric Robot
Policies") uses :func:`augment` to append the mirrored copy of every minibatch (data augmentation)
and / or to penalize pi(mirror(o)) - mirror(pi(o)) (mirror loss); :class:`~wbvla.lmo.lever_config.LeverConfig`'s
``symmetry`` switches it on for CPU training.

**Joints**, from the MJCF (never typed by hand): at the model's reference configuration the X2 is
mirror-symmetric, each joint with anchor p and axis a (pelvis frame). A reflection turns a rotation
by theta about a into a rotation by theta about -M a (M R(a, theta) M = R(det(M) M a, theta), det M = -1),
and a translation along a into one along M a. So the mirror of joint j at position q is its partner
j' (``left_`` <-> ``right_``; a joint on the plane is its own partner) at s_j q, with
s_j = a_j' . (-M a_j) for a hinge (a_j' . M a_j for a slide), which must be +-1, and M p_j = p_j'
(checked, :data:`ANCHOR_TOL_M`). For the X2: pitch joints (axis y) and the knees keep their sign,
roll (x) and yaw (z) joints flip, the waist yaw flips. Because the reference configuration is its own
mirror, absolute angles and offsets from the (symmetric) default pose mirror the same way.

**Observation terms**, per frame, as signed permutations (history frames each mirrored alike):

==================  ===========================================================================
command             [s_x, s_y, s_yaw, h*] (or [v_x, v_y, w_z, h]) -> [s_x, -s_y, -s_yaw, h*]
base_ang_vel        pelvis-frame omega is a pseudo-vector: -M omega = (-w_x, w_y, -w_z)
projected_gravity   M g = (g_x, -g_y, g_z)
joint_pos/vel       the joint mirror over the 27 observed joints
last_action         the leg mirror (the 12 actions)
gait_phase          (sin, cos) of phi -> of phi + 1/2, i.e. (-sin, -cos), while the clock runs;
                    kept while it is stopped (see below)
base_lin_vel        M v (critic)
base_height         kept (critic)
v_ref               (v_x, v_y, w_z) -> (v_x, -v_y, -w_z) (critic)
arm_targets         the arm joint mirror (critic; absolute angles)
foot_contact        (left, right) -> (right, left) (critic)
==================  ===========================================================================

**The gait clock.** The swing signals are (sin 2 pi phi, -sin 2 pi phi) (positive parts) and
sin 2 pi (phi + 1/2) = -sin 2 pi phi, so running the clock half a period on swaps the legs' swing;
the reference gait r(phi) moves only pitch joints (sign +1), so mirror(r(phi)) = r(phi + 1/2): the
mirrored robot is the same robot half a stride later (``tests/unit/test_lmo_symmetry.py`` checks
this on the applied PD targets). A stopped clock (standing: the command in the same frame says
stand) sits at phi = 0 with both feet down, its own mirror, so its (0, 1) is kept. The standing
test reads the frame's own command term (LMO: all flags 0; velocity baseline: |v| under its
standing threshold), which is what the env's clock uses, with one exception: the first frame after
a reset holds the clock at phi = 0 even when the new command moves, and is mapped to phi = 1/2
(one frame in an episode, and a state the mirrored robot could be in).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np
import torch

from wbvla.lmo.obs_layout import OBS_JOINTS
from wbvla.sim.joints import joint_names
from wbvla.validation import require

REFLECTION = np.diag([1.0, -1.0, 1.0])
"""M: the reflection through the pelvis's x-z (sagittal) plane."""
ANCHOR_TOL_M = 3e-3
"""How far (m) the mirror of a joint's anchor may lie from its partner's (the official X2 model's
pairs agree to 1 mm)."""
AXIS_TOL = 1e-3
"""How far from +-1 the mirror sign s_j = a_j' . (-+M a_j) may be."""


# --- signed permutations ---------------------------------------------------------------------------
class SignedPermutation:
    """y = x[..., index] * sign: the mirror of one vector layout (numpy arrays or torch tensors)."""

    def __init__(self, index: Sequence[int], sign: Sequence[float]):
        index, sign = np.asarray(index, dtype=np.int64), np.asarray(sign, dtype=np.float64)
        require(index.ndim == 1 and index.shape == sign.shape, f"index {index.shape} and sign {sign.shape} must be (D,)")
        require(np.array_equal(np.sort(index), np.arange(len(index))), f"index {index.tolist()} is not a permutation")
        require(bool(np.all(np.abs(sign) == 1.0)), f"signs must be +-1, got {sign.tolist()}")
        self.index, self.sign = index, sign
        self._torch = (torch.from_numpy(index), torch.from_numpy(sign.astype(np.float32)))

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, x):
        if isinstance(x, torch.Tensor):
            index, sign = self._torch
            return x[..., index.to(x.device)] * sign.to(x.device, x.dtype)
        return np.asarray(x)[..., self.index] * self.sign

    @classmethod
    def signs(cls, *sign: float) -> SignedPermutation:
        """No permutation, per-entry signs."""
        return cls(range(len(sign)), sign)

    @classmethod
    def concat(cls, parts: Sequence[SignedPermutation]) -> SignedPermutation:
        """The block-diagonal map of ``parts`` laid end to end."""
        index, sign, start = [], [], 0
        for p in parts:
            index.append(p.index + start)
            sign.append(p.sign)
            start += len(p)
        return cls(np.concatenate(index), np.concatenate(sign))


# --- the joints ------------------------------------------------------------------------------------
def partner_name(name: str) -> str:
    """The mirror partner of a joint or body name: ``left_`` <-> ``right_``, else the name itself."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


@functools.lru_cache(maxsize=1)
def _reference_model() -> mujoco.MjModel:
    from wbvla.sim.robot import (
        x2_spec,  # lazy: MuJoCo model build, only when a mirror is first asked for (the X2 alone, no floor)
    )

    return x2_spec(actuated=False).compile()


def joint_mirror(names: Sequence[str], model: mujoco.MjModel | None = None) -> SignedPermutation:
    """The mirror of a vector of joint positions (or velocities, or targets) in ``names`` order,
    derived from ``model``'s joint axes and anchors at its reference configuration (the X2 model
    when None). Raises ValueError when a partner is missing from ``names`` or the joints are not
    mirror images (anchor or axis off, see the module docstring)."""
    model = _reference_model() if model is None else model
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    root = int(model.body("pelvis").id)
    rot, origin = data.xmat[root].reshape(3, 3), data.xpos[root]
    order = {n: i for i, n in enumerate(names)}
    index, sign = np.zeros(len(names), dtype=np.int64), np.zeros(len(names))
    for i, name in enumerate(names):
        p = partner_name(name)
        require(p in order, f"the mirror partner {p!r} of joint {name!r} is not among the joints {tuple(names)}")
        j, k = int(model.joint(name).id), int(model.joint(p).id)
        a_j, a_k = rot.T @ data.xaxis[j], rot.T @ data.xaxis[k]  # axes in the pelvis frame
        x_j, x_k = rot.T @ (data.xanchor[j] - origin), rot.T @ (data.xanchor[k] - origin)
        off = float(np.abs(REFLECTION @ x_j - x_k).max())
        require(off <= ANCHOR_TOL_M, f"joint {name!r} mirrored lands {off * 1e3:.1f} mm from {p!r}: not mirror images")
        hinge = model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
        require(hinge or model.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE, f"joint {name!r} is neither hinge nor slide")
        s = float(a_k @ ((-1.0 if hinge else 1.0) * REFLECTION @ a_j))
        require(abs(abs(s) - 1.0) <= AXIS_TOL, f"joint {name!r}: the mirror of its axis is not +-{p!r}'s axis (dot {s:.4f})")
        # the value of ``name`` in the mirrored vector is s times the value of its partner
        index[i], sign[i] = order[p], np.sign(s)
    return SignedPermutation(index, sign)


# --- observation terms -----------------------------------------------------------------------------
GAIT_PHASE = "gait_phase"
"""The clock term, the one whose mirror depends on the frame (its command)."""
_SIGNS = {
    "command": (1, -1, -1, 1),
    "base_ang_vel": (-1, 1, -1),
    "projected_gravity": (1, -1, 1),
    "base_lin_vel": (1, -1, 1),
    "base_height": (1,),
    "v_ref": (1, -1, -1),
    GAIT_PHASE: (-1, -1),  # phi -> phi + 1/2 while the clock runs
}
_JOINT_TERMS = {"joint_pos": OBS_JOINTS, "joint_vel": OBS_JOINTS, "last_action": joint_names("legs"),
                "arm_targets": joint_names("arms")}


def term_mirror(name: str, size: int, model: mujoco.MjModel | None = None) -> SignedPermutation:
    """The per-frame mirror of an observation term (the table of the module docstring); raises
    ValueError for a term without one, so a new term cannot slip in unmirrored."""
    if name in _SIGNS:
        m = SignedPermutation.signs(*_SIGNS[name])
    elif name in _JOINT_TERMS:
        m = joint_mirror(_JOINT_TERMS[name], model)
    elif name == "foot_contact":
        m = SignedPermutation([1, 0], [1, 1])
    else:
        raise ValueError(f"no left-right mirror is defined for observation term {name!r}; add it to wbvla.lmo.symmetry")
    require(len(m) == size, f"term {name!r} has {size} values per frame, its mirror {len(m)}")
    return m


def lmo_standing(command: torch.Tensor) -> torch.Tensor:
    """(...) bool from the LMO command term (..., 4): all flags zero (the clock is stopped)."""
    return command[..., :3].abs().amax(-1) < 0.5


def velocity_standing(threshold: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The velocity baseline's standing test on its command [v_x, v_y, w_z, h]: |v| < threshold."""
    return lambda command: torch.linalg.norm(command[..., :3], dim=-1) < threshold


class ObservationMirror:
    """The mirror of one flattened observation group: ``terms`` (name, per-frame size) in
    concatenation order, each with ``history`` frames, term-major (the CPU engine's layout:
    [term1 frames t-H+1..t, term2 frames ...]). ``standing`` maps a frame's command term to the
    stopped-clock mask (needed only with a ``gait_phase`` term, which then needs a ``command``)."""

    def __init__(self, terms: Sequence[tuple[str, int]], history: int = 1,
                 standing: Callable[[torch.Tensor], torch.Tensor] | None = None, model: mujoco.MjModel | None = None):
        require(history >= 1, f"history must be >= 1, got {history}")
        self.terms, self.history = tuple((str(n), int(s)) for n, s in terms), history
        parts, self.slices, start = [], {}, 0
        for name, size in self.terms:
            m = term_mirror(name, size, model)
            parts += [m] * history  # each frame of the term alike
            self.slices[name] = slice(start, start + size * history)
            start += size * history
        self.map = SignedPermutation.concat(parts)
        self.size = start
        self.standing = standing
        require(GAIT_PHASE not in self.slices or ("command" in self.slices and standing is not None),
                "a gait_phase term needs a command term and a standing test to be mirrored")

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        require(obs.shape[-1] == self.size, f"observation has {obs.shape[-1]} values, this layout {self.size}")
        out = self.map(obs)
        if GAIT_PHASE in self.slices:
            h, g = self.history, self.slices[GAIT_PHASE]
            cmd = obs[..., self.slices["command"]].unflatten(-1, (h, -1))  # (B, H, 4)
            stopped = self.standing(cmd)[..., None]  # (B, H, 1)
            phase = obs[..., g].unflatten(-1, (h, 2))
            out[..., g] = torch.where(stopped, phase, out[..., g].unflatten(-1, (h, 2))).flatten(-2)
        return out


@dataclass
class LeftRightMirror:
    """The mirror of an env's observation groups and of its 12 leg actions."""

    groups: dict[str, ObservationMirror]
    """One mirror per observation group (``actor``, ``critic``)."""
    action: SignedPermutation
    """The leg mirror."""

    def observations(self, obs):
        """The mirror of a TensorDict of observation groups (same keys, same batch size)."""
        from tensordict import TensorDict

        unknown = [k for k in obs.keys() if k not in self.groups]
        require(not unknown, f"no mirror for observation group(s) {unknown}; known: {sorted(self.groups)}")
        return TensorDict({k: self.groups[k](v) for k, v in obs.items()}, batch_size=obs.batch_size, device=obs.device)


def leg_action_mirror(model: mujoco.MjModel | None = None) -> SignedPermutation:
    """The mirror of the 12 leg actions (canonical leg order)."""
    return joint_mirror(joint_names("legs"), model)


@torch.no_grad()
def augment(env, obs=None, actions=None):
    """rsl-rl's ``data_augmentation_func``: ``obs`` (TensorDict (B,)) and ``actions`` (B, 12) with
    their mirrors appended, (2B, ...) each, the originals first; None stays None. The mirror is
    ``env.mirror`` (:attr:`wbvla.lmo.cpu.env.CpuLMOEnv.mirror`)."""
    mirror: LeftRightMirror = env.mirror
    obs_aug = None if obs is None else torch.cat([obs, mirror.observations(obs)], dim=0)
    act_aug = None if actions is None else torch.cat([actions, mirror.action(actions)], dim=0)
    return obs_aug, act_aug


@torch.no_grad()
def mirror_error(actor: Callable, obs, mirror: LeftRightMirror) -> float:
    """How far a policy is from symmetric on a batch: mean over samples and actions of
    (pi(mirror(o)) - mirror(pi(o)))^2 on the action means (rsl-rl's ``Loss/symmetry``). ``actor``
    maps a TensorDict of observation groups to actions (rsl-rl's ``MLPModel``); 0 for a symmetric one."""
    return float((actor(mirror.observations(obs)) - mirror.action(actor(obs))).square().mean())


def rsl_rl_symmetry_cfg(mode: str, mirror_loss_weight: float) -> dict | None:
    """rsl-rl's ``symmetry_cfg`` for a :attr:`LeverConfig.symmetry` mode (None for ``none``)."""
    if mode == "none":
        return None
    return {"use_data_augmentation": "augment" in mode, "use_mirror_loss": "loss" in mode,
            "mirror_loss_coeff": float(mirror_loss_weight), "data_augmentation_func": "wbvla.lmo.symmetry:augment"}
