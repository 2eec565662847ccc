"""The LMO observation O_t = [u_t, omega_t, g_t, q_t, qdot_t, a_t-1] (paper §3.2, App. A.2).

Proprioception only, per frame (76 values):

====================  ====  ======================================================================
term                  dim   meaning
====================  ====  ======================================================================
``command``           4     u_t = [s_x, s_y, s_yaw, h*] (baseline: [v_x, v_y, w_z, h])
``base_ang_vel``      3     omega: base angular velocity in the base frame (IMU, lagged)
``projected_gravity`` 3     g: gravity direction in the base frame (IMU, lagged)
``joint_pos``         27    q - q_default for legs (12), waist (1), arms (14) (encoders, lagged)
``joint_vel``         27    qdot for the same joints (encoders, lagged)
``last_action``       12    a_t-1, the raw policy output of the previous step
====================  ====  ======================================================================

Each term keeps ``history`` frames (oldest first) and the group concatenates term-major:
[command_t-H+1 .. command_t, base_ang_vel_t-H+1 .., ...]. The arms are observed because they are
the perturbation the legs must compensate for, and a real X2 reads its arm encoders.

Sensor lag (Table 5) is modelled by :class:`ProprioSensor`, an mjlab sensor that records the
state after every physics step into :class:`~wbvla.lmo.events.LagBuffer` ring buffers (DOF lag
for q/qdot, IMU lag for omega/g) and serves the delayed frames. It reads qpos/qvel directly, so
the plain-MuJoCo builder in :mod:`wbvla.lmo.policy` can reproduce it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import torch
from mjlab.sensor.sensor import Sensor, SensorCfg
from mjlab.utils.lab_api.math import quat_apply_inverse

from wbvla.lmo.dr_config import scaled_lag
from wbvla.lmo.proprio import NOISE, OBS_JOINTS, OBS_TERMS, LagBuffer, default_obs_joint_pos  # noqa: F401

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv

class ProprioSensor(Sensor[dict]):
    """Lagged proprioception: q - q_default, qdot (DOF lag) and omega, g (IMU lag), per env."""

    def __init__(self, cfg: ProprioSensorCfg) -> None:
        super().__init__()
        self.cfg = cfg
        self.level = 1.0
        """DR level of the lag draws (the learning curriculum sets it; 1.0: full Table 5 ranges)."""

    def edit_spec(self, scene_spec, entities) -> None:
        del scene_spec, entities  # reads qpos/qvel only; adds nothing to the model

    def initialize(self, mj_model: mujoco.MjModel, model, data, device: str) -> None:
        del model
        prefix = f"{self.cfg.entity_name}/"

        def jid(name):
            i = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_JOINT, prefix + name)
            if i < 0:
                raise KeyError(f"ProprioSensor: no joint {prefix + name!r} in the scene")
            return i

        ids = [jid(n) for n in OBS_JOINTS]
        self._qadr = torch.tensor([mj_model.jnt_qposadr[i] for i in ids], device=device)
        self._vadr = torch.tensor([mj_model.jnt_dofadr[i] for i in ids], device=device)
        base = jid("floating_base_joint")
        self._base_q = int(mj_model.jnt_qposadr[base])
        self._base_v = int(mj_model.jnt_dofadr[base])
        self._q0 = default_obs_joint_pos().to(device)
        self._data = data
        n = data.qpos.shape[0]
        self._gravity = torch.tensor([[0.0, 0.0, -1.0]], device=device).expand(n, 3)
        self.dof = LagBuffer(n, 2 * len(OBS_JOINTS), self.cfg.dof_lag[1], device)
        self.imu = LagBuffer(n, 6, self.cfg.imu_lag[1], device)
        self._fresh = torch.ones(n, dtype=torch.bool, device=device)
        self._device = device

    def current(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Un-lagged (dof (N, 54), imu (N, 6)) read from qpos/qvel."""
        qpos, qvel = self._data.qpos, self._data.qvel
        dof = torch.cat([qpos[:, self._qadr] - self._q0, qvel[:, self._vadr]], dim=-1)
        quat = qpos[:, self._base_q + 3 : self._base_q + 7]
        omega = qvel[:, self._base_v + 3 : self._base_v + 6]  # free joint: base-frame angular velocity
        g = quat_apply_inverse(quat, self._gravity)
        return dof, torch.cat([omega, g], dim=-1)

    def _refill_fresh(self) -> None:
        if bool(self._fresh.any()):
            ids = self._fresh.nonzero().flatten()
            dof, imu = self.current()
            self.dof.fill(dof[ids], ids)
            self.imu.fill(imu[ids], ids)
            self._fresh[ids] = False

    def update(self, dt: float) -> None:
        super().update(dt)
        self._refill_fresh()
        dof, imu = self.current()
        self.dof.push(dof)
        self.imu.push(imu)

    def reset(self, env_ids=None) -> None:
        super().reset(env_ids)
        ids = torch.arange(len(self._fresh), device=self._device) if not isinstance(env_ids, torch.Tensor) else env_ids
        self._fresh[ids] = True
        if self.cfg.randomize:  # Table 5 lags at the DR level the learning curriculum sets
            self.dof.sample_lag(*scaled_lag(self.cfg.dof_lag, self.level), ids)
            self.imu.sample_lag(*scaled_lag(self.cfg.imu_lag, self.level), ids)
        else:
            self.dof.set_lag(torch.zeros(len(ids), dtype=torch.long), ids)
            self.imu.set_lag(torch.zeros(len(ids), dtype=torch.long), ids)

    def _compute_data(self) -> dict:
        self._refill_fresh()
        dof, imu = self.dof.get(), self.imu.get()
        k = len(OBS_JOINTS)
        return {"joint_pos": dof[:, :k], "joint_vel": dof[:, k:], "base_ang_vel": imu[:, :3],
                "projected_gravity": imu[:, 3:]}


@dataclass
class ProprioSensorCfg(SensorCfg):
    """mjlab config of :class:`ProprioSensor`."""

    entity_name: str = "robot"
    randomize: bool = True
    """Draw per-episode lags (else all lags are 0)."""
    dof_lag: tuple[int, int] = (0, 8)
    """Joint-state lag range (physics steps)."""
    imu_lag: tuple[int, int] = (1, 10)
    """IMU lag range (physics steps)."""

    def build(self) -> ProprioSensor:
        return ProprioSensor(self)


# --- observation terms (env, **params) -> (N, D) -------------------------------------------------
def proprio(env: ManagerBasedRlEnv, sensor_name: str, key: str) -> torch.Tensor:
    """One lagged proprioceptive quantity from :class:`ProprioSensor` (``key`` in its dict)."""
    return env.scene[sensor_name].data[key]


def command(env: ManagerBasedRlEnv, command_name: str) -> torch.Tensor:
    """u_t (N, 4)."""
    return env.command_manager.get_command(command_name)


def last_action(env: ManagerBasedRlEnv) -> torch.Tensor:
    """a_t-1 (N, 12): the raw policy output of the previous step."""
    return env.action_manager.action


# Privileged critic terms (training only; the actor never sees them).
def base_lin_vel(env: ManagerBasedRlEnv) -> torch.Tensor:
    return env.scene["robot"].data.root_link_lin_vel_b


def base_height(env: ManagerBasedRlEnv) -> torch.Tensor:
    return env.scene["robot"].data.root_link_pos_w[:, 2:3]


def reference_velocity(env: ManagerBasedRlEnv, command_name: str) -> torch.Tensor:
    return env.command_manager.get_term(command_name).v_ref


def foot_contact(env: ManagerBasedRlEnv, sensor_name: str) -> torch.Tensor:
    return (env.scene[sensor_name].data.found > 0).float()
