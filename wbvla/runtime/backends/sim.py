"""The simulated X2 twin of the deployment: a MuJoCo task scene stepped in real time behind the
backend interface.

Anyone can run the whole deployment on a laptop with it, and the tests do. It is the simulated
robot of the control package (:class:`wbvla.control.sim_backend.SimRobot`) on wall time: physics at
200 Hz, :data:`~wbvla.sim.robot.DECIMATION` substeps per 50 Hz :meth:`write` (the runner's deadline
scheduling makes simulated time follow the wall clock), the LMO's solver settings, and a camera
thread rendering the head camera at ``camera_hz``.

Locomotion modes (:class:`~wbvla.runtime.config.SimTwinConfig`): ``lmo`` (the physics X2, legs from
the runner's LMO) and ``ideal_base`` (the labelled kinematic stand-in of
:class:`wbvla.locomotion.ideal_base.IdealBase`: the base realizes u_t, the legs are placed).
"""

from __future__ import annotations

import mujoco

from wbvla.control.config import SafetyConfig
from wbvla.control.sim_backend import SimRobot
from wbvla.lmo.config import SOLVER_ITERATIONS, SOLVER_LS_ITERATIONS
from wbvla.locomotion.ideal_base import IdealBase
from wbvla.runtime.config import SimTwinConfig
from wbvla.sim.robot import PHYSICS_DT
from wbvla.sim.scene import build_scene


class SimBackend(SimRobot):
    """The MuJoCo X2 in a task scene, on wall time (see the module docstring)."""

    def __init__(self, cfg: SimTwinConfig | None = None, safety: SafetyConfig | None = None, camera: bool = True):
        self.cfg = cfg or SimTwinConfig()
        self.safety = safety or SafetyConfig()
        scene = build_scene(name=self.cfg.scene, seed=self.cfg.seed)
        model = scene.model
        model.opt.timestep = PHYSICS_DT
        model.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        model.opt.iterations = SOLVER_ITERATIONS
        model.opt.ls_iterations = SOLVER_LS_ITERATIONS
        scene.reset()
        base = IdealBase() if self.cfg.locomotion == "ideal_base" else None
        super().__init__(scene, base, self.cfg.image_size if camera else None, self.cfg.camera_hz if camera else None)

    def reset_twin(self) -> None:
        """Put the simulated robot back on its feet in the scene (a test harness action: the
        runner keeps running; its targets stay continuous)."""
        with self.lock:
            self.scene.reset()
            if self.base is not None:
                self.base.reset(self.model, self.data, self.idx)
