"""The simulated X2 twin: a MuJoCo task scene stepped in real time behind the backend interface.

Anyone can run the whole deployment on a laptop with it, and the tests do. Physics at 200 Hz,
:data:`~wbvla.sim.robot.DECIMATION` substeps per 50 Hz :meth:`write` (the runner's deadline
scheduling makes simulated time follow the wall clock); the LMO's solver settings. A camera thread
renders the head camera at ``camera_hz`` from a snapshot of the state (its own EGL context and
``MjData``), like a camera driver: the control loop never waits for a frame.

Locomotion modes (:class:`~wbvla.runtime.config.SimTwinConfig`): ``lmo`` (the physics X2, legs from
the runner's LMO) and ``ideal_base`` (the labelled kinematic stand-in of
:class:`wbvla.locomotion.ideal_base.IdealBase`: the base realizes u_t exactly, the legs are placed).
"""

from __future__ import annotations

import threading
import time

import mujoco
import numpy as np

from wbvla.control.backend import RobotBackend, RobotState
from wbvla.control.config import SafetyConfig
from wbvla.control.targets import ARMS, GRIPPERS
from wbvla.lmo.config import SOLVER_ITERATIONS, SOLVER_LS_ITERATIONS
from wbvla.locomotion.base import is_fallen
from wbvla.runtime.config import SimTwinConfig
from wbvla.sim.camera import CameraRenderer
from wbvla.sim.robot import DECIMATION, HEAD_CAMERA, PHYSICS_DT, X2Index
from wbvla.sim.scene import build_scene


def read_state(data: mujoco.MjData, idx: X2Index, t_ns: int) -> RobotState:
    """What the X2's sensors would report: joint states, pelvis IMU (gyro, projected gravity),
    pelvis height, and the common fall test, from a plain ``MjData``."""
    b, bv = idx.base_qpos, idx.base_qvel
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, data.qpos[b + 3 : b + 7])
    return RobotState(
        t_ns=t_ns, q=data.qpos[idx.qpos].copy(), dq=data.qvel[idx.qvel].copy(),
        gyro=data.qvel[bv + 3 : bv + 6].copy(),  # free joint: angular velocity in the base frame
        gravity=-rot.reshape(3, 3)[2].copy(),  # R^T (0, 0, -1)
        base_height=float(data.qpos[b + 2]), fallen=is_fallen(data, idx))


class _CameraThread(threading.Thread):
    """Renders the head camera at a fixed rate from snapshots of the twin's state."""

    def __init__(self, twin: SimBackend, size: tuple[int, int], hz: float):
        super().__init__(name="sim-camera", daemon=True)
        self.twin, self.size, self.period = twin, size, 1.0 / hz
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.frame: np.ndarray | None = None
        self.error: BaseException | None = None
        self.render_ms: list[float] = []

    def run(self) -> None:
        twin = self.twin
        snap = mujoco.MjData(twin.model)
        try:
            renderer = CameraRenderer(twin.model, width=self.size[1], height=self.size[0])
        except BaseException as err:  # no GL: the twin still runs, without images
            self.error = err
            self.ready.set()
            return
        cam = mujoco.mj_name2id(twin.model, mujoco.mjtObj.mjOBJ_CAMERA, HEAD_CAMERA)
        deadline = time.perf_counter()
        with renderer:
            while not self.stop_event.is_set():
                with twin.lock:
                    snap.qpos[:] = twin.data.qpos
                    snap.mocap_pos[:] = twin.data.mocap_pos
                    snap.mocap_quat[:] = twin.data.mocap_quat
                t0 = time.perf_counter()
                mujoco.mj_kinematics(twin.model, snap)
                mujoco.mj_camlight(twin.model, snap)
                self.frame = renderer.render(snap, cam)
                self.render_ms.append((time.perf_counter() - t0) * 1e3)
                self.ready.set()
                deadline += self.period
                self.stop_event.wait(max(0.0, deadline - time.perf_counter()))


class SimBackend(RobotBackend):
    """The MuJoCo X2 in a task scene (see the module docstring)."""

    name = "sim"

    def __init__(self, cfg: SimTwinConfig | None = None, safety: SafetyConfig | None = None, camera: bool = True):
        self.cfg = cfg or SimTwinConfig()
        self.safety = safety or SafetyConfig()
        self.kinematic_base = self.cfg.locomotion == "ideal_base"
        self.camera_enabled = camera
        self.lock = threading.Lock()
        self.camera: _CameraThread | None = None
        self.base = None
        self.clock = time.perf_counter_ns

    def start(self) -> RobotState:
        self.scene = build_scene(name=self.cfg.scene, seed=self.cfg.seed)
        self.model, self.data, self.idx = self.scene.model, self.scene.data, self.scene.robot
        self.model.opt.timestep = PHYSICS_DT
        self.model.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        self.model.opt.iterations = SOLVER_ITERATIONS
        self.model.opt.ls_iterations = SOLVER_LS_ITERATIONS
        self.scene.reset()
        if self.kinematic_base:
            from wbvla.locomotion.ideal_base import (
                IdealBase,  # lazy: torch (the locomotion backends)
            )

            self.base = IdealBase()
            self.base.reset(self.model, self.data, self.idx)
        if self.camera_enabled:
            self.camera = _CameraThread(self, self.cfg.image_size, self.cfg.camera_hz)
            self.camera.start()
            self.camera.ready.wait(timeout=60.0)
            if self.camera.error is not None:
                raise RuntimeError(f"the sim twin's head camera cannot render ({self.camera.error}); "
                                   "set MUJOCO_GL=egl or run with camera=False") from self.camera.error
        return self.read()

    def read(self) -> RobotState:
        with self.lock:
            return read_state(self.data, self.idx, self.clock())

    def reset_twin(self) -> None:
        """Put the simulated robot back on its feet in the scene (a test harness action: the
        runner keeps running; its targets stay continuous)."""
        with self.lock:
            self.scene.reset()
            if self.base is not None:
                self.base.reset(self.model, self.data, self.idx)

    def latest_image(self) -> np.ndarray | None:
        return None if self.camera is None else self.camera.frame

    def write(self, q: np.ndarray, u: np.ndarray) -> None:
        with self.lock:
            self.data.ctrl[self.idx.actuator] = q  # MuJoCo clips to ctrlrange as well
            if self.base is not None:  # the ideal base places base and legs and steps the physics
                self.base.step(self.data, u, q[ARMS], q[GRIPPERS])
            else:
                for _ in range(DECIMATION):
                    mujoco.mj_step(self.model, self.data)

    @property
    def sim_time(self) -> float:
        return float(self.data.time)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.stop_event.set()
            self.camera.join(timeout=5.0)
            self.camera = None
