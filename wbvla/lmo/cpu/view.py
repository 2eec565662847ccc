"""The batch of C-engine X2s seen through the slice of mjlab's env interface the task terms read.

Every reward term of :mod:`wbvla.lmo.rewards` and the command terms of :mod:`wbvla.lmo.commands`
are written once, against mjlab's ``ManagerBasedRlEnv`` (``env.scene["robot"].data.joint_pos``,
``env.action_manager.action``, ...). :class:`CpuEnvView` gives them those same names over
:class:`~wbvla.lmo.cpu.physics.X2Batch` arrays, as torch tensors, so the CPU engine calls the very
same functions (``tests/unit/test_lmo_cpu_engine.py`` evaluates every term through both engines on
the same state and checks they agree).

Conventions copied from mjlab: quaternions are (w, x, y, z); ``*_b`` quantities are in the base
(pelvis) frame; an entity's joints are its hinge/slide joints in model order (the free joint is
the root), its bodies are every body but the world, its sites every site.
"""

from __future__ import annotations

import re
from dataclasses import replace

import mujoco
import numpy as np
import torch

from wbvla.lmo.cpu.physics import X2Batch


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of quaternions (N, 4) (w, x, y, z)."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _resolve(patterns, names: list[str]) -> list[int]:
    """Indices of ``names`` matching any of the regex ``patterns`` (mjlab's full-match rule)."""
    if isinstance(patterns, str):
        patterns = (patterns,)
    ids = [i for i, n in enumerate(names) if any(re.fullmatch(p, n) for p in patterns)]
    if not ids:
        raise ValueError(f"patterns {patterns} matched nothing among {names}")
    return ids


class RobotData:
    """mjlab ``EntityData`` names over the batch arrays (recomputed by :meth:`update`)."""

    def __init__(self, batch: X2Batch, joint_qpos: np.ndarray, joint_dof: np.ndarray, default: np.ndarray,
                 soft_limits: np.ndarray):
        self.batch = batch
        self._jq, self._jv = joint_qpos, joint_dof
        n = batch.num_envs
        self.default_joint_pos = _t(np.tile(default, (n, 1)))  # (N, J)
        self.soft_joint_pos_limits = _t(np.tile(soft_limits, (n, 1, 1)))  # (N, J, 2)
        self.update()

    def update(self) -> None:
        b = self.batch
        a, v = b.idx.base_qpos, b.idx.base_qvel
        quat = b.qpos[:, a + 3:a + 7]  # (N, 4)
        rot = quat_to_mat(quat)  # (N, 3, 3) base -> world
        lin_w = b.qvel[:, v:v + 3]  # free joint: world-frame linear velocity
        self.rot = rot
        self.root_link_pos_w = _t(b.qpos[:, a:a + 3])
        self.root_link_quat_w = _t(quat)
        self.root_link_lin_vel_b = _t(np.einsum("nji,nj->ni", rot, lin_w))
        self.root_link_ang_vel_b = _t(b.qvel[:, v + 3:v + 6])  # free joint: angular velocity in the body frame
        self.projected_gravity_b = _t(-rot[:, 2, :])  # R^T (0, 0, -1)
        self.heading_w = _t(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
        self.joint_pos = _t(b.qpos[:, self._jq])  # (N, J)
        self.joint_vel = _t(b.qvel[:, self._jv])
        self.joint_acc = _t(b.qacc[:, self._jv])
        self.qfrc_actuator = _t(b.qfrc_actuator[:, self._jv])
        self.body_link_pos_w = _t(b.xpos[:, 1:])  # (N, nbody - 1, 3)


class Indexing:
    def __init__(self, model: mujoco.MjModel, root_body: int):
        self.site_ids = torch.arange(model.nsite)
        self.root_body_id = root_body


class Robot:
    """``env.scene["robot"]``: joint / body / site names, their resolution, and :class:`RobotData`."""

    def __init__(self, batch: X2Batch):
        m = batch.model
        hinge = [j for j in range(m.njnt) if m.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE]
        self.joint_names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in hinge]
        self.body_names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, m.nbody)]
        self.site_names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SITE, s) for s in range(m.nsite)]
        qadr = np.array([m.jnt_qposadr[j] for j in hinge])
        dadr = np.array([m.jnt_dofadr[j] for j in hinge])
        # Default pose in entity order: the canonical pose where a joint is canonical, else 0.
        canon = {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j): q for j, q in
                 zip([int(np.nonzero(m.jnt_qposadr == a)[0][0]) for a in batch.idx.qpos], batch.q_default, strict=True)}
        default = np.array([canon.get(n, 0.0) for n in self.joint_names])
        lo, hi = m.jnt_range[hinge, 0], m.jnt_range[hinge, 1]
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * 0.95  # mjlab's soft_joint_pos_limit_factor 0.95
        self.data = RobotData(batch, qadr, dadr, default, np.stack([mid - half, mid + half], -1))
        self.indexing = Indexing(m, batch.idx.base_body)

    def resolve(self, cfg):
        """A copy of an mjlab ``SceneEntityCfg`` with its name patterns resolved to our indices."""
        kw = {}
        if cfg.joint_names is not None:
            kw["joint_ids"] = _resolve(cfg.joint_names, self.joint_names)
        if cfg.body_names is not None:
            kw["body_ids"] = _resolve(cfg.body_names, self.body_names)
        if cfg.site_names is not None:
            kw["site_ids"] = _resolve(cfg.site_names, self.site_names)
        return replace(cfg, **kw)


class ContactData:
    def __init__(self, n: int):
        self.force = torch.zeros(n, 2, 3)
        self.current_air_time = torch.zeros(n, 2)
        self.last_air_time = torch.zeros(n, 2)
        self.current_contact_time = torch.zeros(n, 2)
        self.last_contact_time = torch.zeros(n, 2)


class FootContact:
    """``env.scene["feet_contact"]``: net foot force and air/contact timers, mjlab's semantics."""

    def __init__(self, batch: X2Batch, threshold: float = 1.0):
        self.batch = batch
        self.threshold = threshold
        self.data = ContactData(batch.num_envs)

    def update(self, dt: float) -> None:
        d = self.data
        d.force = _t(self.batch.foot_force)
        contact = d.force.norm(dim=-1) > self.threshold  # (N, 2)
        was = d.current_contact_time > 0
        landed, lifted = contact & ~was, ~contact & was
        d.last_air_time = torch.where(landed, d.current_air_time + dt, d.last_air_time)
        d.current_air_time = torch.where(contact, torch.zeros_like(d.current_air_time), d.current_air_time + dt)
        d.last_contact_time = torch.where(lifted, d.current_contact_time, d.last_contact_time)
        d.current_contact_time = torch.where(contact, d.current_contact_time + dt, torch.zeros_like(d.current_contact_time))

    def compute_first_contact(self, dt: float, abs_tol: float = 1.0e-8) -> torch.Tensor:
        d = self.data
        return (d.current_contact_time > 0.0) & (d.current_contact_time < dt + abs_tol)

    def reset(self, env_ids) -> None:
        d = self.data
        for t in (d.current_air_time, d.last_air_time, d.current_contact_time, d.last_contact_time):
            t[env_ids] = 0.0


class SimData:
    """``env.sim.data``: the raw MuJoCo arrays the foot-site terms read."""

    def __init__(self, batch: X2Batch):
        self.batch = batch
        self.update()

    def update(self) -> None:
        b = self.batch
        self.site_xpos = _t(b.site_xpos)
        self.site_xmat = _t(b.site_xmat)
        self.cvel = _t(b.cvel)
        self.subtree_com = _t(b.subtree_com)


class SimModel:
    def __init__(self, model: mujoco.MjModel):
        self.site_bodyid = torch.from_numpy(model.site_bodyid.astype(np.int64))


class Sim:
    def __init__(self, batch: X2Batch):
        self.data = SimData(batch)
        self.model = SimModel(batch.model)


class Scene(dict):
    """``env.scene``: ``scene["robot"]``, ``scene["feet_contact"]`` and ``scene.sensors``."""

    @property
    def sensors(self) -> dict:
        return {k: v for k, v in self.items() if k != "robot"}


class LegActionTerm:
    """``env.action_manager.get_term("legs")``: the PD target applied this step (N, 12)."""

    def __init__(self, n: int):
        self.applied_target = torch.zeros(n, 12)


class ActionManager:
    """``env.action_manager``: the last three raw leg actions."""

    def __init__(self, n: int):
        self.action = torch.zeros(n, 12)
        self.prev_action = torch.zeros(n, 12)
        self.prev_prev_action = torch.zeros(n, 12)
        self.legs = LegActionTerm(n)

    def get_term(self, name: str):
        if name != "legs":
            raise KeyError(f"the CPU engine has one action term, 'legs', not {name!r}")
        return self.legs

    def push(self, action: torch.Tensor) -> None:
        self.prev_prev_action = self.prev_action
        self.prev_action = self.action
        self.action = action

    def reset(self, env_ids) -> None:
        for t in (self.action, self.prev_action, self.prev_prev_action):
            t[env_ids] = 0.0


class CommandManager:
    def __init__(self):
        self.terms: dict = {}

    def get_term(self, name: str):
        return self.terms[name]


class TerminationManager:
    def __init__(self, n: int):
        self.terminated = torch.zeros(n, dtype=torch.bool)
        self.time_outs = torch.zeros(n, dtype=torch.bool)


class CpuEnvView:
    """The mjlab-shaped view: ``num_envs``, ``device``, ``step_dt``, ``scene``, ``sim``, and the
    action / command / termination managers the task terms read."""

    def __init__(self, batch: X2Batch, step_dt: float, contact_threshold: float = 1.0):
        self.batch = batch
        self.num_envs = batch.num_envs
        self.device = "cpu"
        self.step_dt = step_dt
        self.scene = Scene(robot=Robot(batch), feet_contact=FootContact(batch, contact_threshold))
        self.sim = Sim(batch)
        self.action_manager = ActionManager(batch.num_envs)
        self.command_manager = CommandManager()
        self.termination_manager = TerminationManager(batch.num_envs)

    def update(self) -> None:
        """Refresh every tensor from the batch after a physics step."""
        self.scene["robot"].data.update()
        self.scene["feet_contact"].update(self.step_dt)
        self.sim.data.update()
