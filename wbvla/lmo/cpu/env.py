"""The LMO task on the C MuJoCo engine, as an rsl-rl ``VecEnv`` (CPU training).

Same task as the mjlab env of :mod:`wbvla.lmo.env_cfg`, assembled from the same parts:

* the command is the mjlab :class:`~wbvla.lmo.commands.DiscreteCommand` itself (Eq. 2 shaping,
  flag episodes, J_dir of Eq. 3), built on :class:`~wbvla.lmo.cpu.view.CpuEnvView`;
* the upper-body perturbations are :class:`~wbvla.lmo.perturbations.UpperBodyCommand` (Stage I
  random pose targets with a widening range, Stage II time-warped clip replay, App. A.2);
* every reward is a function of :func:`wbvla.lmo.env_cfg.reward_terms` with its Table 4 weight
  (plus J_dir, Eq. 4 and the fall penalty), times the 0.02 s step, penalties scaled by the
  performance curriculum of :class:`~wbvla.lmo.dr_config.CurriculumConfig`;
* the actor observation is :data:`wbvla.lmo.proprio.OBS_TERMS` with the same history layout and
  noise as mjlab's (plus ``gait_phase`` when the clock lever is on); the critic adds privileged
  terms (true base velocity and height, v_ref, arm targets, foot contacts);
* terminations: a fall by the evaluation's one fall test (:func:`wbvla.sim.contacts.is_fallen`: tilt
  > 60 deg, pelvis below 0.35 m, or a body part other than feet and hands on the floor), penalized,
  or the time limit.

Departures from the paper live in :class:`~wbvla.lmo.levers.LeverConfig`. Table 5 randomization
(when the task's ``domain_rand`` is on), every range scaled by the curriculum's DR level like
mjlab's, by :attr:`CpuEngineConfig.dr_rows <wbvla.lmo.cpu.config.CpuEngineConfig.dr_rows>`:

* every setting: the joint-state and IMU sensor lags (physics steps, per episode), the per-episode
  actuation offset on the leg targets, and the initial joint scale at reset;
* ``table5`` (the default) adds every other row (:mod:`wbvla.lmo.cpu.randomization`): pushes,
  action lag, leg torque injection, and the per-env model draws (foot friction and restitution,
  link mass scale, torso and hand payloads, torso and pelvis CoM displacement, Kp / Kd scales), each
  env stepping with its own ``MjModel`` redrawn at its reset; ``pushes`` adds the pushes alone;
  ``sensors`` (runs started before the full table) has none of them and one shared model.

With randomization off the engine steps the evaluation's model itself (one shared ``MjModel``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from wbvla.lmo import levers as lever_terms
from wbvla.lmo.commands import DiscreteCommandCfg, VelocityCommandCfg
from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.cpu.config import CpuEngineConfig
from wbvla.lmo.cpu.physics import X2Batch
from wbvla.lmo.cpu.randomization import Pushes, Table5Rows
from wbvla.lmo.cpu.view import CpuEnvView
from wbvla.lmo.dr_config import PENALTY_CURRICULUM_EXEMPT, DomainRandConfig
from wbvla.lmo.env_cfg import _FEET, reward_terms
from wbvla.lmo.gait import stance_leg_offsets
from wbvla.lmo.levers import GAIT_TERM, GaitClock, LeverConfig, reference_leg_offsets
from wbvla.lmo.perturbations import UpperBodyCommandCfg
from wbvla.lmo.proprio import NOISE, OBS_JOINTS, OBS_TERMS, LagBuffer
from wbvla.lmo.symmetry import (
    LeftRightMirror,
    ObservationMirror,
    leg_action_mirror,
    lmo_standing,
    velocity_standing,
)
from wbvla.sim.joints import group_slice, joint_names, limits
from wbvla.sim.robot import DECIMATION, POLICY_DT


def actor_terms(levers: LeverConfig) -> tuple[tuple[str, int], ...]:
    """Actor observation terms (name, per-frame size) for a lever config."""
    return OBS_TERMS + ((GAIT_TERM,) if levers.gait_clock else ())


CRITIC_PRIVILEGED = (("base_lin_vel", 3), ("base_height", 1), ("v_ref", 3), ("arm_targets", 14), ("foot_contact", 2))
"""What the critic sees beyond the actor's terms (one noise-free frame of each): true pelvis-frame
linear velocity, pelvis height, the Eq. 2 reference v_ref, the arm targets, foot contacts (left, right)."""


def critic_terms(levers: LeverConfig) -> tuple[tuple[str, int], ...]:
    """Critic observation terms (name, size), in concatenation order."""
    return actor_terms(levers) + CRITIC_PRIVILEGED


class CpuLMOEnv(VecEnv):
    """N X2s on the C engine running the LMO task; rsl-rl's ``VecEnv`` contract."""

    def __init__(self, task: LMOTaskConfig, engine: CpuEngineConfig):
        self.task, self.engine, self.levers = task, engine, engine.levers
        self.cfg = task
        n = self.num_envs = engine.num_envs
        self.num_actions = 12
        self.device = "cpu"
        self.step_dt = POLICY_DT
        self.max_episode_length = int(round(task.episode_length_s / POLICY_DT))
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.rng = np.random.default_rng(engine.seed)
        torch.manual_seed(engine.seed)
        self.batch = X2Batch(n, engine.threads)
        self.view = CpuEnvView(self.batch, POLICY_DT, task.rewards.contact_threshold)
        robot = self.view.scene["robot"]
        self.robot = robot
        # Joint bookkeeping: entity order <-> canonical order <-> actuators.
        names = robot.joint_names
        self._canon_in_entity = np.array([names.index(j) for j in joint_names()])  # (29,)
        self._obs_in_entity = np.array([names.index(j) for j in OBS_JOINTS])  # (27,)
        m = self.batch.model
        self._obs_qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in OBS_JOINTS])  # (27,) qpos addresses
        self._obs_vadr = np.array([m.jnt_dofadr[m.joint(j).id] for j in OBS_JOINTS])  # (27,) qvel addresses
        self._obs_q0 = robot.data.default_joint_pos[0, self._obs_in_entity].numpy()  # (27,)
        self._legs_canon = group_slice("legs")
        self.leg_default = torch.tensor(self.batch.q_default[self._legs_canon], dtype=torch.float32)
        lo, hi = limits("legs")
        self.leg_lo, self.leg_hi = torch.tensor(lo, dtype=torch.float32), torch.tensor(hi, dtype=torch.float32)
        self.action_scale = torch.tensor(task.leg_action_scales(), dtype=torch.float32)
        self.joint_targets = robot.data.default_joint_pos.clone()  # (N, J) entity order
        robot.set_joint_position_target = self._set_joint_position_target
        # Commands: the mjlab terms themselves.
        cm = self.view.command_manager
        self.command = (DiscreteCommandCfg(command=task.command, height=task.height, stage=task.stage) if task.task == "lmo"
                        else VelocityCommandCfg(command=task.velocity_command, height=task.height)).build(self.view)
        arm_stage = 2 if task.stage == 2 else 1
        arms = replace(task.arms, still_fraction=self.levers.still_arms_fraction)
        self.arms = UpperBodyCommandCfg(arms=arms, stage=arm_stage, clip_source=self.levers.arm_clips).build(self.view)
        cm.terms |= {"command": self.command, "arms": self.arms}
        self.gait = GaitClock(n, self.levers.gait_period_s, POLICY_DT)
        cm.terms["gait"] = self.gait
        # Rewards: Table 4 (+ J_dir, Eq. 4, fall penalty) and the levers, resolved against our model.
        self.reward_fns = self._build_rewards()
        self.progress = task.curriculum.start_progress
        self.env_steps = 0
        """Env steps taken (summed over envs), across resumed chunks (the trainer restores it)."""
        self.policy_steps = 0
        self._steps_this_chunk = 0
        # Sensor lags (Table 5) on the physics substeps, as the mjlab ProprioSensor does.
        d = task.domain_rand
        self.dof_lag = LagBuffer(n, 2 * len(OBS_JOINTS), max(d.dof_lag[1], 0))
        self.imu_lag = LagBuffer(n, 6, max(d.imu_lag[1], 0))
        self.actuation_offset = torch.zeros(n, 12)
        self._dr_cache: tuple[float, DomainRandConfig] | None = None
        self.table5 = Table5Rows(self.batch, d) if d.enabled and engine.dr_rows == "table5" else None
        """Action lag, torque injection and model draws (None: ``dr_rows`` other than ``table5``, or randomization off)."""
        self.pushes = Pushes(self.batch, d, task.stage, self.rng) if d.enabled and engine.dr_rows in ("pushes", "table5") else None
        """Table 5's pushes (None: ``dr_rows="sensors"`` or randomization off)."""
        self.push_ramp_env_steps = engine.push_ramp_env_steps
        self.frames = torch.zeros(n, task.observations.history, sum(s for _, s in actor_terms(self.levers)))
        self._window_falls, self._window_steps = 0, 0
        self.episode_sums: dict[str, torch.Tensor] = {k: torch.zeros(n) for k in self.reward_fns}
        self.extras: dict = {}
        self._reset_envs(torch.arange(n))
        self.obs = self._observe(first=torch.ones(n, dtype=torch.bool))

    # --- rewards -------------------------------------------------------------------------------
    def _build_rewards(self) -> dict[str, tuple]:
        task, levers, robot = self.task, self.levers, self.robot
        funcs = reward_terms(task)
        weights = task.reward_weights()
        out = {}
        for name, w in weights.items():
            if w == 0.0:
                continue
            fn, params = funcs[name]
            params = {k: robot.resolve(v) if hasattr(v, "joint_names") else v for k, v in params.items()}
            if levers.intent_sharpness is not None and name in ("forward_intent", "lateral_intent", "yaw_intent",
                                                               "track_lin_vel_x", "track_lin_vel_y", "track_ang_vel_z"):
                params = params | {"sharpness": levers.intent_sharpness}
            if levers.height_sharpness is not None and name == "height_tracking":
                params = params | {"sharpness": levers.height_sharpness}
            out[name] = (fn, params, w)
        lever_fns = {
            "contact_schedule": (lever_terms.contact_schedule, {"threshold": task.rewards.contact_threshold}),
            "swing_height": (lever_terms.swing_height, {"asset_cfg": robot.resolve(_FEET), "target": levers.swing_height}),
            "intent_progress": (lever_terms.intent_progress, {}),
        }
        for name, w in levers.extra_reward_weights().items():
            fn, params = lever_fns[name]
            out[name] = (fn, params, w)
        return out

    def penalty_scale(self) -> float:
        return self.task.curriculum.penalty_scale(self.progress)

    def dr_level(self) -> float:
        if not self.task.domain_rand.enabled:
            return 0.0
        return self.task.curriculum.dr_level(self.progress)

    def dr_now(self) -> DomainRandConfig:
        """The Table 5 config at the current DR level (cached while the level stays)."""
        level = self.dr_level()
        if self._dr_cache is None or self._dr_cache[0] != level:
            self._dr_cache = (level, self.task.domain_rand.at_level(level))
        return self._dr_cache[1]

    def push_scale(self) -> float:
        """Fraction of the DR level's push strength this run pushes with now: its env steps over
        :attr:`CpuEngineConfig.push_ramp_env_steps` (1 without a ramp)."""
        ramp = self.push_ramp_env_steps
        return 1.0 if ramp <= 0 else min(1.0, self.env_steps / ramp)

    def _rewards(self) -> torch.Tensor:
        total = torch.zeros(self.num_envs)
        scale = self.penalty_scale()
        for name, (fn, params, w) in self.reward_fns.items():
            value = fn(self.view, **params)  # (N,) unweighted
            weight = w * scale if (w < 0 and name not in PENALTY_CURRICULUM_EXEMPT) else w
            r = weight * value * self.step_dt
            self.episode_sums[name] += r
            total += r
        return total

    # --- joints ---------------------------------------------------------------------------------
    def _set_joint_position_target(self, target: torch.Tensor, joint_ids) -> None:
        self.joint_targets[:, joint_ids] = target

    def _ctrl(self) -> np.ndarray:
        """Actuator targets (N, nu) from the entity-order joint targets."""
        canon = self.joint_targets[:, self._canon_in_entity].numpy().astype(np.float64)  # (N, 29)
        ctrl = np.zeros((self.num_envs, self.batch.model.nu))
        ctrl[:, self.batch.idx.actuator] = canon
        return ctrl

    # --- observations ---------------------------------------------------------------------------
    def _proprio_now(self) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.robot.data
        dof = torch.cat([d.joint_pos[:, self._obs_in_entity] - d.default_joint_pos[:, self._obs_in_entity],
                         d.joint_vel[:, self._obs_in_entity]], dim=-1)
        imu = torch.cat([d.root_link_ang_vel_b, d.projected_gravity_b], dim=-1)
        return dof, imu

    def _push_substeps(self) -> None:
        """Feed the lag buffers the state after each physics substep of the last policy step."""
        b = self.batch
        nq = b.model.nq
        a, v = b.idx.base_qpos, b.idx.base_qvel
        qadr, vadr, q0 = self._obs_qadr, self._obs_vadr, self._obs_q0
        for s in range(DECIMATION):
            sub = b.substeps[:, s]
            quat = sub[:, a + 3:a + 7]
            w, x, y, z = quat.T
            g = np.stack([-2 * (x * z - w * y), -2 * (y * z + w * x), -(1 - 2 * (x * x + y * y))], -1)
            dof = np.concatenate([sub[:, qadr] - q0, sub[:, nq + vadr]], -1)
            imu = np.concatenate([sub[:, nq + v + 3:nq + v + 6], g], -1)
            self.dof_lag.push(torch.from_numpy(dof.astype(np.float32)))
            self.imu_lag.push(torch.from_numpy(imu.astype(np.float32)))

    def _frame(self, noisy: bool) -> tuple[torch.Tensor, dict]:
        dof, imu = self.dof_lag.get(), self.imu_lag.get()
        k = len(OBS_JOINTS)
        terms = {"command": self.command.command, "base_ang_vel": imu[:, :3], "projected_gravity": imu[:, 3:],
                 "joint_pos": dof[:, :k], "joint_vel": dof[:, k:], "last_action": self.view.action_manager.action}
        if self.levers.gait_clock:
            terms["gait_phase"] = self.gait.observation
        clean = dict(terms)
        if noisy and self.task.observations.noise:
            for name, half in NOISE.items():
                terms[name] = terms[name] + (2 * torch.rand_like(terms[name]) - 1) * half
        return torch.cat([terms[n] for n, _ in actor_terms(self.levers)], dim=-1), clean

    def _observe(self, first: torch.Tensor) -> TensorDict:
        frame, clean = self._frame(noisy=True)
        self.frames = torch.roll(self.frames, -1, dims=1)
        self.frames[:, -1] = frame
        self.frames[first] = frame[first][:, None, :]  # a new episode fills its whole history
        h = self.frames.shape[1]
        # term-major: [term1_t-H+1 .. term1_t, term2_t-H+1 ..] as mjlab's history
        parts, start = [], 0
        for _, size in actor_terms(self.levers):
            parts.append(self.frames[:, :, start:start + size].reshape(self.num_envs, h * size))
            start += size
        actor = torch.cat(parts, dim=-1)
        d = self.robot.data
        contact = (self.view.scene["feet_contact"].data.force.norm(dim=-1) > 1.0).float()
        clean |= {"base_lin_vel": d.root_link_lin_vel_b, "base_height": d.root_link_pos_w[:, 2:3],
                  "v_ref": self.command.v_ref, "arm_targets": self.arms.command, "foot_contact": contact}
        critic = torch.cat([clean[n] for n, _ in critic_terms(self.levers)], dim=-1)
        return TensorDict({"actor": actor, "critic": critic}, batch_size=[self.num_envs])

    @functools.cached_property
    def mirror(self) -> LeftRightMirror:
        """The left-right mirror of this env's actor and critic observations and leg actions
        (:mod:`wbvla.lmo.symmetry`; rsl-rl's symmetry extension reads it through ``augment``)."""
        standing = lmo_standing if self.task.task == "lmo" else velocity_standing(
            self.task.velocity_command.standing_threshold)
        model = self.batch.model
        return LeftRightMirror(
            groups={"actor": ObservationMirror(actor_terms(self.levers), self.frames.shape[1], standing, model),
                    "critic": ObservationMirror(critic_terms(self.levers), 1, standing, model)},
            action=leg_action_mirror(model))

    @property
    def unwrapped(self) -> CpuLMOEnv:
        return self  # mjlab's runner saves ``env.unwrapped.common_step_counter``

    @property
    def common_step_counter(self) -> int:
        return self.policy_steps

    @common_step_counter.setter
    def common_step_counter(self, value: int) -> None:
        self.policy_steps = int(value)

    def get_observations(self) -> TensorDict:
        return self.obs

    # --- stepping --------------------------------------------------------------------------------
    def step(self, actions: torch.Tensor):
        actions = actions.detach().clamp(-100.0, 100.0)
        am = self.view.action_manager
        am.push(actions)
        legs = self.leg_default + self.action_scale * actions + self.actuation_offset
        if self.levers.reference_gait == "sinusoid":
            legs = legs + reference_leg_offsets(self.gait.swing, self.levers.reference_amplitude)
        if self.levers.stance_posture:  # the squat of the commanded h*
            legs = legs + stance_leg_offsets(self.command.height_target)
        legs = torch.maximum(torch.minimum(legs, self.leg_hi), self.leg_lo)
        leg_ids = self._canon_in_entity[self._legs_canon]
        self.joint_targets[:, leg_ids] = legs
        self._apply_assist()
        if self.table5 is None:
            am.legs.applied_target = legs
            ctrl = self._ctrl()
        else:
            ctrl, am.legs.applied_target = self.table5.lagged_ctrl(self._ctrl(), legs)
            self.table5.inject_torque(self.dr_now())
        self.batch.step(ctrl)
        self._push_substeps()
        self.view.update()
        self.env_steps += self.num_envs
        self.policy_steps += 1
        self._steps_this_chunk += 1
        self.episode_length_buf += 1
        # Commands and clocks advance one step (mjlab: command manager compute after the physics).
        self.command.compute(self.step_dt)
        self.arms.compute(self.step_dt)
        self.gait.step(~self.command.is_standing)
        # Terminations.
        # The evaluation's fall test: height, tilt, or a knee / torso / arm on the floor (mjlab ends
        # episodes on height and tilt only; here training and evaluation count the same falls).
        fell = torch.from_numpy(self.batch.fallen())
        time_out = self.episode_length_buf >= self.max_episode_length
        tm = self.view.termination_manager
        tm.terminated, tm.time_outs = fell, time_out & ~fell
        reward = self._rewards()
        done = fell | time_out
        self._window_falls += int(fell.sum())
        self._window_steps += self.num_envs
        self.extras = {"time_outs": tm.time_outs.clone(), "log": {"Levers/env_steps": float(self.env_steps)}}
        if self.pushes is not None and len(self.pushes.push(self.dr_now(), self.step_dt, self.push_scale())):
            self.robot.data.update()  # the critic sees the pushed velocity (mjlab: forward() after events)
            self.view.sim.data.update()
        if self.policy_steps % self.task.curriculum.update_every_steps == 0:
            self.update_curriculum()
        ids = done.nonzero().flatten()
        if len(ids):
            self._log_episodes(ids)
            self._reset_envs(ids)
        self.obs = self._observe(first=done)
        return self.obs, reward, done, self.extras

    def _apply_assist(self) -> None:
        scale = self.levers.assist.scale(self.env_steps)
        if scale <= 0.0:
            self.batch.xfrc[:] = 0.0
            return
        a = self.levers.assist
        d = self.robot.data
        h_err = self.command.height_target.numpy() - d.root_link_pos_w[:, 2].numpy()
        vz = self.batch.qvel[:, self.batch.idx.base_qvel + 2]
        fz = a.height_kp * h_err - a.height_kd * vz
        g = d.projected_gravity_b.numpy()  # roll/pitch error ~ (g_y, -g_x) in the base frame
        w = d.root_link_ang_vel_b.numpy()
        tau_b = np.stack([a.tilt_kp * g[:, 1] - a.tilt_kd * w[:, 0], -a.tilt_kp * g[:, 0] - a.tilt_kd * w[:, 1],
                          np.zeros(self.num_envs)], -1)
        tau_w = np.einsum("nij,nj->ni", d.rot, tau_b)
        self.batch.xfrc[:, 2] = scale * np.clip(fz, 0.0, None)
        self.batch.xfrc[:, 3:6] = scale * tau_w

    def _log_episodes(self, ids: torch.Tensor) -> None:
        log = self.extras["log"]
        for name, s in self.episode_sums.items():
            log[f"Episode_Reward/{name}"] = (s[ids].mean() / (self.episode_length_buf[ids].float().mean() * self.step_dt)).item()
            s[ids] = 0.0
        log["Episode/length_s"] = (self.episode_length_buf[ids].float().mean() * self.step_dt).item()
        log["Curriculum/progress"] = self.progress
        log["Curriculum/dr_level"] = self.dr_level()
        log["Levers/assist_scale"] = self.levers.assist.scale(self.env_steps)

    # --- resets -----------------------------------------------------------------------------------
    def _reset_envs(self, ids: torch.Tensor) -> None:
        k = len(ids)
        ids_np = ids.numpy()
        dr = self.dr_now() if self.task.domain_rand.enabled else None
        xy = self.rng.uniform(-0.3, 0.3, (k, 2))
        yaw = self.rng.uniform(-math.pi, math.pi, k)
        offsets = None
        if dr is not None:
            lo, hi = dr.init_joint_scale
            scale = self.rng.uniform(lo, hi, (k, self.batch.q_default.size))
            offsets = self.batch.q_default * (scale - 1.0)
            offsets[:, group_slice("grippers")] = 0.0
        if self.table5 is not None:
            self.table5.draw_models(ids_np, dr)
        self.batch.reset(ids_np, xy=xy, yaw=yaw, joint_offsets=offsets, lift=self.rng.uniform(0.005, 0.02, k))
        self.view.update()
        self.episode_length_buf[ids] = 0
        self.view.action_manager.reset(ids)
        self.view.scene["feet_contact"].reset(ids)
        self.gait.reset(ids)
        self.joint_targets[ids] = self.robot.data.default_joint_pos[ids]
        dof, imu = self._proprio_now()
        self.dof_lag.fill(dof[ids], ids)
        self.imu_lag.fill(imu[ids], ids)
        if dr is not None:
            self.dof_lag.sample_lag(*dr.dof_lag, ids)
            self.imu_lag.sample_lag(*dr.imu_lag, ids)
            lo, hi = dr.actuation_offset
            self.actuation_offset[ids] = torch.from_numpy(self.rng.uniform(lo, hi, (k, 12)).astype(np.float32))
        if self.table5 is not None:
            self.table5.reset(ids, dr)
        if self.pushes is not None:
            self.pushes.reset(ids)
        self.command.reset(ids)
        self.command.compute(0.0, ids)
        self.arms.reset(ids)
        self.arms.compute(0.0, ids)

    # --- curriculum ----------------------------------------------------------------------------
    def update_curriculum(self) -> None:
        """One update of the performance curriculum from the falls since the last call."""
        c = self.task.curriculum
        if not c.use_curriculum or self._window_steps == 0:
            return
        env_time = self._window_steps * self.step_dt
        mttf = env_time / max(self._window_falls, 1) if self._window_falls else math.inf
        # observed_s: policy time since this env started (a resumed chunk starts every env afresh)
        self.progress = c.next_progress(self.progress, mttf, self.task.episode_length_s, self.env_steps // self.num_envs,
                                        observed_s=self._steps_this_chunk * self.step_dt)
        # An assisted robot does not fall, which says little about the policy: randomization and
        # penalties may only reach the share the assist has already handed over, 1 - assist scale.
        self.progress = min(self.progress, 1.0 - self.levers.assist.scale(self.env_steps))
        self._window_falls, self._window_steps = 0, 0
