"""The simulated X2 behind the backend interface: a MuJoCo scene that the control tick drives.

:class:`SimRobot` reads what the X2's sensors would report (:func:`read_state`) and writes the
tick's 29 joint targets: the PD actuators get them and :data:`~wbvla.sim.robot.DECIMATION` physics
steps of 5 ms follow (physics legs, the LMO in the tick), or a *kinematic base* passed in (the
labelled ideal base of :mod:`wbvla.locomotion.ideal_base`) realizes u_t and places the legs, the
arms and grippers staying physical. It runs on either clock:

* **simulated** (the task suite, teleop recording, DAgger): nothing runs in the background; the
  head camera renders on demand (:meth:`SimRobot.latest_image`) the state of the last
  :meth:`SimRobot.read`, so the image belongs to the observation's timestamp;
* **wall time** (the deployment's twin, :class:`wbvla.runtime.backends.sim.SimBackend`): a camera
  thread renders snapshots at ``camera_hz``, like a camera driver; the loop never waits for a frame.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import mujoco
import numpy as np

from wbvla.control.backend import RobotBackend, RobotState
from wbvla.control.targets import ARMS, GRIPPERS
from wbvla.sim.camera import CameraRenderer
from wbvla.sim.contacts import is_fallen
from wbvla.sim.robot import DECIMATION, HEAD_CAMERA, X2Index


class KinematicBase(Protocol):
    """What moves the base instead of the legs' physics (the ideal base)."""

    name: str
    command_kind: str

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        """Start from the robot's current state."""

    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray, grippers: np.ndarray) -> None:
        """Realize ``command`` for one control period (it steps the physics itself)."""


def read_state(data: mujoco.MjData, idx: X2Index, t_ns: int, fall_check: bool = True) -> RobotState:
    """What the X2's sensors would report: joint states, pelvis IMU (gyro, projected gravity),
    pelvis height, and (``fall_check``) the common fall test, from a plain ``MjData``."""
    b, bv = idx.base_qpos, idx.base_qvel
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, data.qpos[b + 3 : b + 7])
    return RobotState(
        t_ns=t_ns, q=data.qpos[idx.qpos].copy(), dq=data.qvel[idx.qvel].copy(),
        gyro=data.qvel[bv + 3 : bv + 6].copy(),  # free joint: angular velocity in the base frame
        gravity=-rot.reshape(3, 3)[2].copy(),  # R^T (0, 0, -1)
        base_height=float(data.qpos[b + 2]), fallen=fall_check and is_fallen(data, idx))


class _CameraThread(threading.Thread):
    """Renders the head camera at a fixed rate from snapshots of the robot's state (wall time)."""

    def __init__(self, robot: SimRobot, hz: float):
        super().__init__(name="sim-camera", daemon=True)
        self.robot, self.period = robot, 1.0 / hz
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.frame: np.ndarray | None = None
        self.error: BaseException | None = None
        self.render_ms: list[float] = []

    def run(self) -> None:
        robot = self.robot
        snap = mujoco.MjData(robot.model)
        try:
            renderer = CameraRenderer(robot.model, width=robot.image_size[1], height=robot.image_size[0])
        except BaseException as err:  # no GL: the robot still runs, without images
            self.error = err
            self.ready.set()
            return
        deadline = time.perf_counter()
        with renderer:
            while not self.stop_event.is_set():
                with robot.lock:
                    robot.copy_pose(snap)
                t0 = time.perf_counter()
                self.frame = robot.render_pose(renderer, snap)
                self.render_ms.append((time.perf_counter() - t0) * 1e3)
                self.ready.set()
                deadline += self.period
                self.stop_event.wait(max(0.0, deadline - time.perf_counter()))


class SimRobot(RobotBackend):
    """The simulated X2 in a built scene (see the module docstring).

    Args:
        scene: anything with ``model``, ``data`` and ``robot`` (an :class:`~wbvla.sim.robot.X2Index`),
            e.g. a :class:`wbvla.sim.scene.Scene` or a task's scene, already reset.
        kinematic_base: moves the base instead of the legs' physics (the ideal base); None: physics.
        image_size: head-camera (height, width); None: no camera.
        camera_hz: None renders on demand (simulated clock); a rate starts a camera thread (wall time).
        fall_check: run the common fall test on every read (``RobotState.fallen``).
    """

    name = "sim"

    def __init__(self, scene, kinematic_base: KinematicBase | None = None, image_size: tuple[int, int] | None = None,
                 camera_hz: float | None = None, fall_check: bool = True):
        self.scene, self.model, self.data, self.idx = scene, scene.model, scene.data, scene.robot
        self.base = kinematic_base
        self.kinematic_base = kinematic_base is not None
        self.image_size, self.camera_hz, self.fall_check = image_size, camera_hz, fall_check
        self.lock = threading.Lock()
        self.camera: _CameraThread | None = None
        self.clock = time.perf_counter_ns
        self._renderer: CameraRenderer | None = None
        self._snap: mujoco.MjData | None = None
        self._frame: np.ndarray | None = None
        self._cam = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, HEAD_CAMERA)

    # --- the backend interface ------------------------------------------------------------------
    def start(self) -> RobotState:
        if self.base is not None:
            self.base.reset(self.model, self.data, self.idx)
        if self.image_size is not None and self.camera_hz is not None:
            self.camera = _CameraThread(self, self.camera_hz)
            self.camera.start()
            self.camera.ready.wait(timeout=60.0)
            if self.camera.error is not None:
                raise RuntimeError(f"the simulated robot's head camera cannot render ({self.camera.error}); "
                                   "set MUJOCO_GL=egl or run without a camera") from self.camera.error
        return self.read()

    def read(self) -> RobotState:
        with self.lock:
            if self.image_size is not None and self.camera_hz is None:  # the image of this state, on demand
                if self._snap is None:
                    self._snap = mujoco.MjData(self.model)
                self.copy_pose(self._snap)
                self._frame = None
            return read_state(self.data, self.idx, self.clock(), self.fall_check)

    def latest_image(self) -> np.ndarray | None:
        if self.camera is not None:
            return self.camera.frame
        if self._snap is None:
            return None
        if self._frame is None:
            if self._renderer is None:
                self._renderer = CameraRenderer(self.model, width=self.image_size[1], height=self.image_size[0])
            self._frame = self.render_pose(self._renderer, self._snap)
        return self._frame

    def write(self, q: np.ndarray, u: np.ndarray) -> None:
        with self.lock:
            self.data.ctrl[self.idx.actuator] = q  # MuJoCo clips to ctrlrange as well
            if self.base is not None:  # the kinematic base places base and legs and steps the physics
                self.base.step(self.data, np.asarray(u, np.float64), q[ARMS], q[GRIPPERS])
            else:
                for _ in range(DECIMATION):
                    mujoco.mj_step(self.model, self.data)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.stop_event.set()
            self.camera.join(timeout=5.0)
            self.camera = None
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- helpers ------------------------------------------------------------------------------------
    def copy_pose(self, snap: mujoco.MjData) -> None:
        """Copy what the camera sees (positions, mocap bodies) into ``snap`` (hold :attr:`lock`)."""
        snap.qpos[:] = self.data.qpos
        snap.mocap_pos[:] = self.data.mocap_pos
        snap.mocap_quat[:] = self.data.mocap_quat

    def render_pose(self, renderer: CameraRenderer, snap: mujoco.MjData) -> np.ndarray:
        """The head image of the pose in ``snap``."""
        mujoco.mj_kinematics(self.model, snap)
        mujoco.mj_camlight(self.model, snap)
        return renderer.render(snap, self._cam)

    @property
    def sim_time(self) -> float:
        return float(self.data.time)
