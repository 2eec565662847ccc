"""Loading the simulated X2 and moving between joint-table order and MuJoCo arrays.

The MJCF (``assets/x2/x2.xml``) holds kinematics, inertia and geometry only. This module adds the
PD position actuators from the joint table, so gains and limits exist in exactly one place, and
gives :class:`X2Index`, the map from the canonical joint order of :mod:`wbvla.sim.joints` to
``qpos``/``qvel``/``ctrl`` addresses in any model that contains the robot (alone or in a scene).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mujoco
import numpy as np

from wbvla.sim.joints import JOINTS, JointSpec, check_targets, default_pose, group_slice

ASSET_DIR = Path(__file__).resolve().parent / "assets" / "x2"
X2_XML = ASSET_DIR / "x2.xml"
"""The bare robot: bodies, joints, inertia, geometry, head camera; no actuators."""
SCENE_XML = ASSET_DIR / "scene.xml"
"""The robot on a floor with lights."""

PHYSICS_DT = 0.005
"""Physics time step (s): 200 Hz."""
POLICY_DT = 0.02
"""Policy period (s): 50 Hz, the LMO rate (paper App. B)."""
DECIMATION = round(POLICY_DT / PHYSICS_DT)
"""Physics steps per policy step (4)."""

BASE_BODY = "pelvis"
HEAD_CAMERA = "head_rgb"
IMU_SITE = "imu"
FOOT_GEOMS = ("left_foot_collision", "right_foot_collision")
TCP_SITES = ("left_tcp", "right_tcp")

# Official link masses (kg) of X2-Ultra v1.4.0 that the model keeps, summed: 44.801 kg.
OFFICIAL_TOTAL_MASS = 44.801
GRIPPER_MASS = 0.35
"""Mass of one gripper stand-in (palm 0.25 kg + two 0.05 kg fingers)."""


def add_pd_actuators(spec: mujoco.MjSpec, joints: tuple[JointSpec, ...] = JOINTS) -> None:
    """Add one position (PD) actuator per joint, named like the joint.

    ``ctrl`` is the joint position target; the actuator force ``kp (target - q) - kd qdot`` is
    clipped to the official torque limit, and targets are clipped to the joint range.
    """
    for j in joints:
        act = spec.add_actuator(name=j.name, target=j.name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=j.kp, kv=j.kd)
        act.ctrllimited = True
        act.ctrlrange = [j.lower, j.upper]
        act.forcelimited = True
        act.forcerange = [-j.effort_limit, j.effort_limit]


def x2_spec(actuated: bool = True) -> mujoco.MjSpec:
    """A fresh MjSpec of the bare robot (no floor); with PD actuators unless ``actuated=False``.

    mjlab passes ``actuated=False`` and adds its own actuators from the same joint table.
    """
    spec = mujoco.MjSpec.from_file(str(X2_XML))
    if actuated:
        add_pd_actuators(spec)
    return spec


def scene_spec(actuated: bool = True) -> mujoco.MjSpec:
    """A fresh MjSpec of the robot on a lit floor (``scene.xml``), 200 Hz physics."""
    spec = mujoco.MjSpec.from_file(str(SCENE_XML))
    if actuated:
        add_pd_actuators(spec)
    return spec


def _id(model: mujoco.MjModel, obj: mujoco.mjtObj, name: str) -> int:
    i = mujoco.mj_name2id(model, obj, name)
    if i < 0:
        raise KeyError(f"model has no {obj.name.removeprefix('mjOBJ_').lower()} named {name!r}")
    return i


@dataclass(frozen=True)
class X2Index:
    """Addresses of the X2's canonical joints inside one compiled model.

    All arrays follow the order of :data:`wbvla.sim.joints.JOINTS` (legs, waist, arms, grippers).
    """

    qpos: np.ndarray
    """``qpos`` address of each joint, shape (29,)."""
    qvel: np.ndarray
    """``qvel`` (dof) address of each joint, shape (29,)."""
    actuator: np.ndarray
    """Actuator id of each joint, shape (29,); -1 where the model has no actuator for it."""
    base_qpos: int
    """``qpos`` address of the floating base (x y z qw qx qy qz)."""
    base_qvel: int
    """``qvel`` address of the floating base (vx vy vz wx wy wz)."""
    gripper_mirror_qpos: np.ndarray
    """``qpos`` address of each gripper's coupled mirror finger, shape (2,)."""
    base_body: int
    head_camera: int
    imu_site: int

    @classmethod
    def from_model(cls, model: mujoco.MjModel, prefix: str = "") -> X2Index:
        """Look the robot up by name; ``prefix`` is the attach prefix used by a scene, if any."""
        jids = [_id(model, mujoco.mjtObj.mjOBJ_JOINT, prefix + j.name) for j in JOINTS]
        acts = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, prefix + j.name) for j in JOINTS]
        base_joint = _id(model, mujoco.mjtObj.mjOBJ_JOINT, prefix + "floating_base_joint")
        return cls(
            qpos=np.array([model.jnt_qposadr[i] for i in jids]),
            qvel=np.array([model.jnt_dofadr[i] for i in jids]),
            actuator=np.array(acts),
            base_qpos=int(model.jnt_qposadr[base_joint]),
            base_qvel=int(model.jnt_dofadr[base_joint]),
            gripper_mirror_qpos=np.array(
                [
                    model.jnt_qposadr[_id(model, mujoco.mjtObj.mjOBJ_JOINT, f"{prefix}{s}_gripper_mirror_joint")]
                    for s in ("left", "right")
                ]
            ),
            base_body=_id(model, mujoco.mjtObj.mjOBJ_BODY, prefix + BASE_BODY),
            head_camera=_id(model, mujoco.mjtObj.mjOBJ_CAMERA, prefix + HEAD_CAMERA),
            imu_site=_id(model, mujoco.mjtObj.mjOBJ_SITE, prefix + IMU_SITE),
        )

    # --- reading -------------------------------------------------------------------------
    def joint_pos(self, data: mujoco.MjData) -> np.ndarray:
        """Joint positions in canonical order, shape (29,)."""
        return data.qpos[self.qpos].copy()

    def joint_vel(self, data: mujoco.MjData) -> np.ndarray:
        """Joint velocities in canonical order, shape (29,)."""
        return data.qvel[self.qvel].copy()

    def base_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """Base position (3,) and quaternion (4,, w x y z) in the world frame."""
        a = self.base_qpos
        return data.qpos[a : a + 3].copy(), data.qpos[a + 3 : a + 7].copy()

    # --- writing -------------------------------------------------------------------------
    def set_joint_pos(self, data: mujoco.MjData, q: np.ndarray, group: str | None = None) -> None:
        """Write joint positions of ``group`` (or all joints) into ``qpos``, after validation."""
        q = check_targets(q, group)
        data.qpos[self._select(self.qpos, group)] = q
        self._sync_gripper_mirrors(data)

    def set_targets(self, data: mujoco.MjData, q: np.ndarray, group: str | None = None) -> None:
        """Write PD position targets of ``group`` (or all joints) into ``ctrl``, after validation."""
        if np.any(self.actuator < 0):
            raise RuntimeError("this model has no X2 actuators; build it with actuated=True")
        data.ctrl[self._select(self.actuator, group)] = check_targets(q, group)

    def set_base_pose(
        self, data: mujoco.MjData, pos: np.ndarray, quat: np.ndarray = (1.0, 0.0, 0.0, 0.0)
    ) -> None:
        """Place the floating base at ``pos`` (3,) with orientation ``quat`` (4,, w x y z)."""
        a = self.base_qpos
        data.qpos[a : a + 3] = pos
        data.qpos[a + 3 : a + 7] = np.asarray(quat) / np.linalg.norm(quat)

    @staticmethod
    def _select(addr: np.ndarray, group: str | None) -> np.ndarray:
        return addr if group is None else addr[group_slice(group)]

    def _sync_gripper_mirrors(self, data: mujoco.MjData) -> None:
        # The mirror finger is coupled by an equality; keep qpos consistent when teleporting.
        data.qpos[self.gripper_mirror_qpos] = data.qpos[self.qpos[group_slice("grippers")]]


def yaw_quat(yaw: float) -> np.ndarray:
    """Quaternion (w x y z) of a rotation by ``yaw`` radians about world z."""
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


@lru_cache(maxsize=32)
def _sole_offset(q_legs: tuple[float, ...]) -> float:
    """Height of the pelvis above the lowest sole point for a given leg pose (m)."""
    model = mujoco.MjModel.from_xml_path(str(X2_XML))
    data = mujoco.MjData(model)
    idx = X2Index.from_model(model)
    q = default_pose()
    q[group_slice("legs")] = q_legs
    data.qpos[idx.qpos] = q
    data.qpos[idx.base_qpos : idx.base_qpos + 3] = 0.0
    mujoco.mj_kinematics(model, data)
    lowest = 0.0
    for name in FOOT_GEOMS:
        g = _id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
        half = model.geom_size[g]
        rot = data.geom_xmat[g].reshape(3, 3)
        # Lowest corner of the foot box.
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
        z = (corners @ rot.T)[:, 2] + data.geom_xpos[g][2]
        lowest = min(lowest, float(z.min()))
    return -lowest


def base_height_for(q: np.ndarray | None = None) -> float:
    """Pelvis height that puts the soles of pose ``q`` (29,) exactly on the floor (m)."""
    q = default_pose() if q is None else check_targets(q)
    return _sole_offset(tuple(float(v) for v in q[group_slice("legs")]))


def reset_to_pose(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    idx: X2Index,
    q: np.ndarray | None = None,
    xy: tuple[float, float] = (0.0, 0.0),
    yaw: float = 0.0,
) -> None:
    """Put the robot in joint pose ``q`` (default pose if None) standing on the floor at ``xy``.

    Velocities are zeroed, PD targets (if actuated) are set to ``q``, and kinematics are updated.
    """
    q = default_pose() if q is None else check_targets(q)
    data.qvel[:] = 0.0
    idx.set_base_pose(data, np.array([xy[0], xy[1], base_height_for(q)]), yaw_quat(yaw))
    idx.set_joint_pos(data, q)
    if np.all(idx.actuator >= 0):
        idx.set_targets(data, q)
    mujoco.mj_forward(model, data)
