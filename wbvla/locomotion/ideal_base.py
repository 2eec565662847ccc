"""The *ideal base*: a kinematic locomotion stand-in, labelled as such wherever it is used.

While the physics LMO cannot walk, data collection and experiments need a base that does what the
command asks. :class:`IdealBase` realizes u_t = [s_x, s_y, s_yaw, h*] kinematically, and collides:

* **planar motion**: the flags go through Eq. 2 (:class:`~wbvla.locomotion.reference.VelocityReference`
  with the :class:`~wbvla.lmo.config.CommandConfig` it is given: form, alpha, lambda, cruise
  speeds) once per 50 Hz control step, and the pelvis follows the resulting base-frame velocity
  (v_x, v_y, w_z): every 200 Hz physics step the yaw advances by w_z dt and the position by
  R(yaw at mid-step) (v_x, v_y) dt. A ``velocity`` command (v_x, v_y, w_z, h) is followed as is.
* **height**: the pelvis moves toward h* (clipped to ``HeightConfig.height_range``) at no more
  than ``height_rate`` m/s; the legs take the statically balanced squat pose of that height
  (:func:`wbvla.sim.stance.squat_pose`: feet flat on the floor, pelvis level).
* **contact**: furniture blocks the base (:func:`wbvla.sim.contacts.furniture_geoms`: walls,
  tables, shelves, the drawer cabinet, and movable things of >= 5 kg such as the cart). Before
  each physics step the new pose is tested with MuJoCo's own collision detection (``mj_kinematics``
  + ``mj_collision``, the robot's geoms given a detection margin of ``clearance`` for that test
  only): if it would bring any robot geom but the hands (legs, feet, pelvis, torso, head, arms)
  closer than ``clearance`` to furniture, and closer than it already is, the step slides along the
  contact instead (the part of the planar motion along the contact normals is dropped, and the
  turn), or, if that is blocked too, only the height change is kept, or nothing moves. Hands and grippers never block: they grasp and push (a cart is pushed through the
  grasp). The blocked motion is simply not done; the Eq. 2 reference runs on as commanded.
* **physics of everything else**: the base is given the velocity of the motion it makes before
  every physics step and its 6 free-joint DoFs a large armature, so within the step it moves with
  that velocity and acts on what it touches (a grasped cart handle, a box) like a very heavy body,
  while the arms, grippers and props are simulated normally (the arms feel gravity in a
  non-falling frame). After the step the pose is set to the exactly integrated one. The legs are
  placed, not simulated; they collide, so they block on furniture and push light props.

The robot cannot fall over on the ideal base; :meth:`IdealBase.fallen` still applies the common
test (an arm resting on a table counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import mujoco
import numpy as np

from wbvla.control.policy_contract import CommandKind
from wbvla.lmo.config import CommandConfig, HeightConfig
from wbvla.locomotion.base import LocomotionBackend, check_command, is_fallen
from wbvla.locomotion.reference import VelocityReference
from wbvla.sim.contacts import FURNITURE_MIN_MASS, furniture_geoms, near, robot_geoms
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import DECIMATION, PHYSICS_DT, X2Index, yaw_quat
from wbvla.sim.stance import squat_pose, stance_height_range
from wbvla.validation import positive


@dataclass
class IdealBaseConfig:
    """How the kinematic base realizes commands."""

    command: CommandConfig = field(default_factory=CommandConfig)
    """Eq. 2 parameters (form, alpha, lambda) and the cruise speeds a flag of +-1 reaches."""
    height: HeightConfig = field(default_factory=HeightConfig)
    """h* is clipped to ``height.height_range``, the LMO's range."""
    height_rate: float = 0.15
    """Largest vertical pelvis speed while moving toward h* (m/s)."""
    base_armature: float = 1.0e5
    """Armature added to the 6 base DoFs (kg, kg m^2): makes the base effectively immovable by
    contact and arm reaction forces within a physics step."""
    collide: bool = True
    """Furniture blocks the base (see the module docstring). False: the base goes where the
    command says, through tables and walls (the stand-in before issue 19; for comparisons only)."""
    clearance: float = 0.01
    """The base stops this far (m) from furniture: a step that would bring a robot geom (but the
    hands) closer than this, and closer than it already is, is slid or refused. The robot never
    touches furniture by walking, so a blocked robot is not a fallen one
    (:func:`wbvla.sim.contacts.is_fallen` counts a body part touching furniture)."""
    contact_slack: float = 1.0e-4
    """Tolerance (m) of "closer than it already is" (numerical noise of the distance)."""
    furniture_min_mass: float = FURNITURE_MIN_MASS
    """Movable things at least this heavy (kg) block the base like static furniture."""

    def __post_init__(self) -> None:
        positive("height_rate", self.height_rate)
        positive("base_armature", self.base_armature)
        positive("clearance", self.clearance, allow_zero=True)
        positive("contact_slack", self.contact_slack)
        positive("furniture_min_mass", self.furniture_min_mass)


HEIGHT_TABLE_POINTS = 49
"""Heights at which the balanced leg pose is solved; poses in between are interpolated."""


@lru_cache(maxsize=1)
def _leg_table() -> tuple[np.ndarray, np.ndarray]:
    """Pelvis heights (N,) and balanced leg poses (N, 12) spanning the balanced stance range."""
    lo, hi = stance_height_range()
    heights = np.linspace(lo, hi, HEIGHT_TABLE_POINTS)
    legs = np.stack([squat_pose(float(h))[group_slice("legs")] for h in heights])
    return heights, legs


def leg_pose_for_height(height: float) -> np.ndarray:
    """Leg joints (12,) that hold the pelvis ``height`` m above the floor, feet flat, balanced
    (linear interpolation in the table; clamped to the balanced range)."""
    heights, legs = _leg_table()
    h = min(max(height, heights[0]), heights[-1])
    i = min(int(np.searchsorted(heights, h)), len(heights) - 1)
    if i == 0:
        return legs[0].copy()
    a = (h - heights[i - 1]) / (heights[i] - heights[i - 1])
    return (1.0 - a) * legs[i - 1] + a * legs[i]


class IdealBase(LocomotionBackend):
    """Kinematic base that collides with furniture (see the module docstring). ``command_kind`` is
    ``flags`` (default) or ``velocity``; every trial and dataset records ``name = "ideal_base"``."""

    name = "ideal_base"
    kinematic = True

    def __init__(self, config: IdealBaseConfig | None = None, command_kind: CommandKind = "flags"):
        if command_kind not in ("flags", "velocity"):
            raise ValueError(f"command_kind must be 'flags' or 'velocity', got {command_kind!r}")
        self.config = config or IdealBaseConfig()
        self.command_kind = command_kind
        self.reference = VelocityReference(self.config.command)
        self.model: mujoco.MjModel | None = None
        self.idx: X2Index | None = None
        self.velocity = np.zeros(3)
        """The base-frame reference velocity (v_x, v_y, w_z) commanded during the last step."""
        self.blocked_steps = 0
        """Physics steps of the last control step whose motion furniture cut short (0 to 4)."""

    # --- setup -----------------------------------------------------------------------------
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        self.model, self.idx = model, idx
        b = idx.base_qvel
        model.dof_armature[b : b + 6] = self.config.base_armature
        self._legs = group_slice("legs")
        self._leg_qpos, self._leg_qvel = idx.qpos[self._legs], idx.qvel[self._legs]
        self._leg_act = idx.actuator[self._legs]
        self._upper = idx.actuator[self._legs.stop :]
        self._q_default = default_pose()
        roles = robot_geoms(model, idx)
        self._blocking_robot = roles.robot & ~roles.hands
        floor = model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE  # the floor carries the feet; height is set by the legs
        self._blocking_scene = furniture_geoms(model, idx, self.config.furniture_min_mass) & ~floor
        self.reference.reset()
        self.velocity[:] = 0.0
        self.blocked_steps = 0
        pos, quat = idx.base_pose(data)
        self.xy = pos[:2].copy()
        self.yaw = float(2.0 * np.arctan2(quat[3], quat[0]))  # the robot starts upright
        lo, hi = self.config.height.height_range
        self.height = float(np.clip(pos[2], lo, hi))
        self._place(data, self.xy, self.yaw, self.height)
        mujoco.mj_forward(model, data)

    # --- one control step --------------------------------------------------------------------
    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray, grippers: np.ndarray) -> None:
        if self.model is None:
            raise RuntimeError("call reset(model, data, idx) before step()")
        command = check_command(command)
        if self.command_kind == "flags":
            v = self.reference.step(command[:3])  # Eq. 2 once per 50 Hz step
        else:
            v = command[:3].copy()
        self.velocity = v
        lo, hi = self.config.height.height_range
        h_star = float(np.clip(command[3], lo, hi))
        target = self._q_default.copy()
        target[group_slice("arms")] = arm_targets
        target[group_slice("grippers")] = grippers
        data.ctrl[self._upper] = target[self._legs.stop :]
        max_dh = self.config.height_rate * PHYSICS_DT
        self.blocked_steps = 0
        for _ in range(DECIMATION):
            # Exact integration of the commanded motion (midpoint heading) ...
            dh = float(np.clip(h_star - self.height, -max_dh, max_dh))
            mid = self.yaw + 0.5 * v[2] * PHYSICS_DT
            c, s = np.cos(mid), np.sin(mid)
            dxy = PHYSICS_DT * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
            dyaw = v[2] * PHYSICS_DT
            # ... cut short where furniture is in the way, ...
            if self.config.collide and (dxy.any() or dyaw or dh):
                dxy, dyaw, dh = self._resolve(data, dxy, dyaw, dh)
            # ... made with its velocity during the physics step, then placed exactly.
            self._place(data, self.xy, self.yaw, self.height, (dxy, dyaw, dh))
            mujoco.mj_step(self.model, data)
            self.xy, self.yaw, self.height = self.xy + dxy, self.yaw + dyaw, self.height + dh
            self._place(data, self.xy, self.yaw, self.height)
        mujoco.mj_kinematics(self.model, data)

    # --- contact -------------------------------------------------------------------------------
    def _near(self, data: mujoco.MjData, xy: np.ndarray, yaw: float, height: float) -> dict:
        """Robot pose (xy, yaw, height) -> {(robot geom, furniture geom): (dist, normal)} for every
        blocking pair closer than ``clearance`` there (MuJoCo's collision detection at that pose with
        the robot's margins widened for this test only; the arms as they are)."""
        self._place(data, xy, yaw, height)
        mujoco.mj_kinematics(self.model, data)
        out: dict = {}
        for t in near(self.model, data, self._blocking_robot, self._blocking_scene, self.config.clearance):
            key = (t.robot_geom, t.other_geom)
            if key not in out or t.dist < out[key][0]:
                out[key] = (t.dist, t.normal)
        return out

    def _resolve(self, data: mujoco.MjData, dxy: np.ndarray, dyaw: float, dh: float) -> tuple[np.ndarray, float, float]:
        """The part of the motion (dxy, dyaw, dh) furniture lets through: all of it, the slide along
        the contacts it would press into (no turn), the height change alone, or nothing."""
        hits = self._near(data, self.xy + dxy, self.yaw + dyaw, self.height + dh)
        if not hits:
            return dxy, dyaw, dh
        before = self._near(data, self.xy, self.yaw, self.height)
        clear, slack = self.config.clearance, self.config.contact_slack

        def deeper(after: dict) -> list:
            """Normals of the pairs ``after`` brings closer than the clearance and than before."""
            return [n for k, (dist, n) in after.items() if dist < min(before.get(k, (clear,))[0], clear) - slack]

        pressed = deeper(hits)
        if not pressed:
            return dxy, dyaw, dh
        self.blocked_steps += 1
        slide = dxy.copy()
        for n in pressed:  # drop the planar motion into each contact (n points into the furniture)
            n_xy = n[:2]
            norm = float(np.linalg.norm(n_xy))
            if norm > 1e-6 and float(slide @ n_xy) > 0.0:
                n_xy = n_xy / norm
                slide = slide - float(slide @ n_xy) * n_xy
        none = np.zeros(2)
        for cand in ((slide, 0.0, dh), (none, 0.0, dh)):
            if not (cand[0].any() or cand[2]):
                continue
            if not deeper(self._near(data, self.xy + cand[0], self.yaw, self.height + cand[2])):
                return cand
        return none, 0.0, 0.0

    # --- placing the robot ------------------------------------------------------------------------
    def _place(self, data: mujoco.MjData, xy: np.ndarray, yaw: float, height: float,
               motion: tuple[np.ndarray, float, float] | None = None) -> None:
        """Write the base pose and the legs of ``height``; with ``motion`` (dxy, dyaw, dh over one
        physics step) also the base and leg velocities of that motion."""
        b, bv = self.idx.base_qpos, self.idx.base_qvel
        data.qpos[b : b + 3] = (xy[0], xy[1], height)
        data.qpos[b + 3 : b + 7] = yaw_quat(yaw)
        legs = leg_pose_for_height(height)
        if motion is not None:
            dxy, dyaw, dh = motion
            data.qvel[bv : bv + 3] = (dxy[0] / PHYSICS_DT, dxy[1] / PHYSICS_DT, dh / PHYSICS_DT)  # world frame
            data.qvel[bv + 3 : bv + 6] = (0.0, 0.0, dyaw / PHYSICS_DT)  # body frame (level base: same z)
            data.qvel[self._leg_qvel] = 0.0 if dh == 0.0 else (leg_pose_for_height(height + dh) - legs) / PHYSICS_DT
        data.qpos[self._leg_qpos] = legs
        data.ctrl[self._leg_act] = legs  # leg PD targets agree with the placed legs

    def fallen(self, data: mujoco.MjData) -> bool:
        return is_fallen(data, self.idx)
