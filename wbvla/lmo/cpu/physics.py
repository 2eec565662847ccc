"""Batched X2 physics on the C MuJoCo engine: N ``MjData`` stepped on one CPU core (or a few threads).

This is the physics half of the CPU training engine (:mod:`wbvla.lmo.cpu`). It owns the model, the
per-environment data, resets and the arrays the task reads after every policy step, as numpy
arrays of shape (N, ...). It knows nothing about rewards or commands.

The model is exactly the one the App. B.4 evaluation and the deployed controller use
(:func:`wbvla.lmo.policy.eval_model`: the X2 on a floor, PD actuators from the joint table, 200 Hz
implicit-fast physics, the training solver settings) plus two MuJoCo ``contact`` sensors that report
the net contact force of each foot with the floor (what mjlab's ``ContactSensorCfg(reduce="netforce")``
adds in GPU training). So a policy trained here meets the physics it is evaluated and deployed on.

Per-env models: the batch starts with one shared model; :meth:`X2Batch.own_models` gives every
env its own copy, which :meth:`X2Batch.write_models` changes (the model rows of Table 5, drawn by
:mod:`wbvla.lmo.cpu.env`). Without that call the physics is exactly the evaluation's.

Threads: MuJoCo releases the GIL inside ``mj_step``, so ``threads > 1`` steps disjoint slices of the
batch in a thread pool. On a 2-core machine shared with other work, 1 is the default (measure first).
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

from wbvla.lmo.policy import eval_model
from wbvla.lmo.robot_cfg import FOOT_SITES
from wbvla.sim.contacts import FALL_HEIGHT, FALL_TILT, furniture_geoms, robot_geoms
from wbvla.sim.joints import default_pose
from wbvla.sim.robot import DECIMATION, FOOT_GEOMS, X2Index, base_height_for, scene_spec, yaw_quat

FOOT_SENSORS = ("left_foot_contact", "right_foot_contact")
"""Names of the two foot contact sensors (net force of the foot geom with the floor, world frame)."""
_CONTACT_FORCE_BIT = 1 << 1  # mjSENS_CONTACT data field "force"
_REDUCE_NETFORCE = 3


def training_model() -> mujoco.MjModel:
    """:func:`~wbvla.lmo.policy.eval_model` plus the foot contact sensors (nothing else differs)."""
    spec = scene_spec(actuated=True)
    for sensor, geom in zip(FOOT_SENSORS, FOOT_GEOMS, strict=True):
        spec.add_sensor(name=sensor, type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=mujoco.mjtObj.mjOBJ_GEOM,
                        objname=geom, reftype=mujoco.mjtObj.mjOBJ_GEOM, refname="floor",
                        intprm=[_CONTACT_FORCE_BIT, _REDUCE_NETFORCE, 1])
    model = spec.compile()
    ref = eval_model()
    model.opt.timestep = ref.opt.timestep
    model.opt.integrator = ref.opt.integrator
    model.opt.iterations = ref.opt.iterations
    model.opt.ls_iterations = ref.opt.ls_iterations
    return model


class X2Batch:
    """N simulated X2s. Call :meth:`step` with PD targets, then read the state arrays.

    Arrays (numpy, float64, refreshed by :meth:`step`, :meth:`reset` and :meth:`refresh`):
    ``qpos`` (N, nq), ``qvel`` (N, nv), ``qacc`` (N, nv), ``qfrc_actuator`` (N, nv),
    ``xpos`` (N, nbody, 3), ``site_xpos`` (N, nsite, 3), ``site_xmat`` (N, nsite, 9),
    ``cvel`` (N, nbody, 6), ``subtree_com`` (N, nbody, 3), ``foot_force`` (N, 2, 3) world frame,
    and ``substeps`` (N, DECIMATION, nq + nv): qpos|qvel after each physics step of the last policy
    step (the lag buffers of Table 5 read these). Inputs held over the next :meth:`step`: ``xfrc``
    (N, 6), a wrench on the pelvis, and ``qfrc_applied`` (N, nv), generalized forces.
    """

    def __init__(self, num_envs: int, threads: int = 1, model: mujoco.MjModel | None = None):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.model = training_model() if model is None else model
        self.models = [self.model] * num_envs
        """Per-environment models: the one shared model until :meth:`own_models` makes copies."""
        self.num_envs = num_envs
        self.datas = [mujoco.MjData(self.model) for _ in range(num_envs)]
        self.idx = X2Index.from_model(self.model)
        m = self.model
        self.foot_sensor_adr = np.array([m.sensor_adr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, s)]
                                         for s in FOOT_SENSORS])
        self.foot_site_ids = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s) for s in FOOT_SITES])
        self.q_default = default_pose()  # (29,) canonical order
        self.base_height = base_height_for()
        n, nq, nv, nb, ns = num_envs, m.nq, m.nv, m.nbody, m.nsite
        self.qpos = np.zeros((n, nq))
        self.qvel = np.zeros((n, nv))
        self.qacc = np.zeros((n, nv))
        self.qfrc_actuator = np.zeros((n, nv))
        self.xpos = np.zeros((n, nb, 3))
        self.site_xpos = np.zeros((n, ns, 3))
        self.site_xmat = np.zeros((n, ns, 9))
        self.cvel = np.zeros((n, nb, 6))
        self.subtree_com = np.zeros((n, nb, 3))
        self.foot_force = np.zeros((n, 2, 3))
        self.substeps = np.zeros((n, DECIMATION, nq + nv))
        self.xfrc = np.zeros((n, 6))
        """External wrench on the pelvis (force, torque; world frame) held over the next step."""
        self.qfrc_applied = np.zeros((n, nv))
        """Generalized forces (MuJoCo's ``qfrc_applied``) held over the next step."""
        self._fall_masks = (robot_geoms(self.model, self.idx).body, furniture_geoms(self.model, self.idx))
        """Body geoms and furniture geoms of the one fall test, computed once."""
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self._slices = [range(i, n, threads) for i in range(threads)]
        self.reset(np.arange(n))

    # --- per-env models ----------------------------------------------------------------------
    def own_models(self) -> None:
        """Give every env its own copy of the model (for the per-env model rows of Table 5)."""
        self.models = [copy.copy(self.model) for _ in range(self.num_envs)]

    def write_models(self, env_ids: np.ndarray, foot_geoms: np.ndarray, fields: dict[str, np.ndarray]) -> None:
        """Write randomized fields into the own models of ``env_ids`` (after :meth:`own_models`),
        then recompute the model's derived constants (``mj_setConst``); reset those envs next.

        ``fields`` (row j for ``env_ids[j]``, the keys of :func:`wbvla.lmo.dr_model.model_fields`):
        ``friction`` and ``damping_ratio`` (k,) of ``foot_geoms`` (friction[0], solref[1]),
        ``body_mass`` (k, B), ``body_inertia`` and ``body_ipos`` (k, B, 3) of every body but the
        world (B = nbody - 1), and ``gain``, ``bias_p``, ``bias_d`` (k, nu): actuator_gainprm[0],
        actuator_biasprm[1], actuator_biasprm[2] of every actuator."""
        for j, i in enumerate(np.asarray(env_ids, dtype=int)):
            m = self.models[i]
            if m is self.model:
                raise RuntimeError("write_models needs per-env models: call own_models() first")
            m.geom_friction[foot_geoms, 0] = fields["friction"][j]
            m.geom_solref[foot_geoms, 1] = fields["damping_ratio"][j]
            m.body_mass[1:] = fields["body_mass"][j]
            m.body_inertia[1:] = fields["body_inertia"][j]
            m.body_ipos[1:] = fields["body_ipos"][j]
            m.actuator_gainprm[:, 0] = fields["gain"][j]
            m.actuator_biasprm[:, 1] = fields["bias_p"][j]
            m.actuator_biasprm[:, 2] = fields["bias_d"][j]
            mujoco.mj_setConst(m, self.datas[i])

    # --- reset ---------------------------------------------------------------------------------
    def reset(self, env_ids: np.ndarray, xy: np.ndarray | None = None, yaw: np.ndarray | None = None,
              joint_offsets: np.ndarray | None = None, lift: np.ndarray | None = None) -> None:
        """Stand ``env_ids`` in the default pose on the floor (at ``xy`` (k, 2), heading ``yaw`` (k,),
        with ``joint_offsets`` (k, 29) added to the pose and the base ``lift`` (k,) m above it)."""
        env_ids = np.asarray(env_ids, dtype=int)
        k = len(env_ids)
        xy = np.zeros((k, 2)) if xy is None else xy
        yaw = np.zeros(k) if yaw is None else yaw
        lift = np.zeros(k) if lift is None else lift
        b = self.idx.base_qpos
        for j, i in enumerate(env_ids):
            d, m = self.datas[i], self.models[i]
            mujoco.mj_resetData(m, d)
            q = self.q_default if joint_offsets is None else self.q_default + joint_offsets[j]
            d.qpos[self.idx.qpos] = q
            d.qpos[self.idx.gripper_mirror_qpos] = q[-2:]
            d.qpos[b:b + 3] = (xy[j, 0], xy[j, 1], self.base_height + lift[j])
            d.qpos[b + 3:b + 7] = yaw_quat(float(yaw[j]))
            d.ctrl[self.idx.actuator] = q
            mujoco.mj_forward(m, d)
            self._read(i)
            self.substeps[i] = np.concatenate([d.qpos, d.qvel])[None]

    # --- stepping ------------------------------------------------------------------------------
    def step(self, ctrl: np.ndarray) -> None:
        """One policy step: hold PD targets ``ctrl`` (N, nu), or give one per physics step
        (N, DECIMATION, nu); :attr:`xfrc` and :attr:`qfrc_applied` act throughout."""
        n, nu = self.num_envs, self.model.nu
        if ctrl.shape not in ((n, nu), (n, DECIMATION, nu)):
            raise ValueError(f"ctrl must have shape {(n, nu)} or {(n, DECIMATION, nu)}, got {ctrl.shape}")
        if self._pool is None:
            self._step_range(range(self.num_envs), ctrl)
        else:
            list(self._pool.map(lambda r: self._step_range(r, ctrl), self._slices))

    def _step_range(self, envs, ctrl: np.ndarray) -> None:
        nq = self.model.nq
        base = self.idx.base_body
        per_substep = ctrl.ndim == 3
        for i in envs:
            d, m = self.datas[i], self.models[i]
            d.ctrl[:] = ctrl[i, 0] if per_substep else ctrl[i]
            d.xfrc_applied[base] = self.xfrc[i]
            d.qfrc_applied[:] = self.qfrc_applied[i]
            sub = self.substeps[i]
            for s in range(DECIMATION):
                if per_substep and s:
                    d.ctrl[:] = ctrl[i, s]
                mujoco.mj_step(m, d)
                sub[s, :nq] = d.qpos
                sub[s, nq:] = d.qvel
            self._read(i)

    def push(self, env_ids: np.ndarray, dv: np.ndarray) -> None:
        """Add ``dv`` (k, 2) (m/s, world x and y) to the pelvis velocity of ``env_ids`` (the free
        joint's linear velocity, mjlab's ``push_by_setting_velocity``) and refresh them."""
        v = self.idx.base_qvel
        for j, i in enumerate(np.asarray(env_ids, dtype=int)):
            self.datas[i].qvel[v:v + 2] += dv[j]
        self.refresh(env_ids)

    def refresh(self, env_ids: np.ndarray) -> None:
        """Recompute derived quantities after writing qpos/qvel of ``env_ids`` by hand."""
        for i in env_ids:
            mujoco.mj_forward(self.models[i], self.datas[i])
            self._read(i)

    def _read(self, i: int) -> None:
        d = self.datas[i]
        self.qpos[i] = d.qpos
        self.qvel[i] = d.qvel
        self.qacc[i] = d.qacc
        self.qfrc_actuator[i] = d.qfrc_actuator
        self.xpos[i] = d.xpos
        self.site_xpos[i] = d.site_xpos
        self.site_xmat[i] = d.site_xmat
        self.cvel[i] = d.cvel
        self.subtree_com[i] = d.subtree_com
        sd = d.sensordata
        for f, a in enumerate(self.foot_sensor_adr):
            self.foot_force[i, f] = sd[a:a + 3]

    def fallen(self) -> np.ndarray:
        """(N,) bool: the one fall test of evaluation and the task suite (:func:`wbvla.sim.contacts.fall_reason`:
        pelvis below 0.35 m, tilt over 60 deg, or a body geom other than feet and hands touching
        furniture), from its public parts with the geom masks computed once."""
        body, furniture = self._fall_masks
        a = self.idx.base_qpos
        w, x, y, z = self.qpos[:, a + 3:a + 7].T
        up_z = 1.0 - 2.0 * (x * x + y * y)
        down = (self.qpos[:, a + 2] < FALL_HEIGHT) | (np.arccos(np.clip(up_z, -1.0, 1.0)) > FALL_TILT)
        for i in np.flatnonzero(~down):
            d = self.datas[i]
            if d.ncon:
                g = d.contact.geom[:d.ncon]
                hit = ((body[g[:, 0]] & furniture[g[:, 1]]) | (body[g[:, 1]] & furniture[g[:, 0]])) & (d.contact.dist[:d.ncon] < 0)
                down[i] = bool(hit.any())
        return down

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
