"""Table 3 in plain MuJoCo (CPU, no Warp), following App. B.4.

Locomotion accuracy: forward/backward (|v_x| = 0.3 m/s), lateral (|v_y| = 0.3 m/s) and turning
(|w_z| = 0.3 rad/s) trials of 5 s active command then 10 s of zero command. The reference pose
integrates the commanded velocity over the active phase only; position (m) and yaw (rad) errors
are averaged over the settling phase of each trial, then mean +- std over trials.

Manipulation stability: standing and squatting while 14-DoF arm clips replay at 2.0x speed,
1.5x amplitude (about each clip's mean pose) with N(0, 0.02^2) noise, and horizontal pushes up to
150 N plus yaw torques up to 30 N m act on the pelvis for 0.2 s about every 2.5 s (+-0.5 s
jitter). CoM sway (Eq. 5) per trial, mean +- std over trials. Falls (the one fall test,
:func:`wbvla.sim.contacts.is_fallen`: tilt > 60 deg or pelvis below 0.35 m, as in training, or a
body part other than the feet and hands on the floor) are counted everywhere; fallen trials are
excluded from the errors.

How the 0.3 maps for the LMO: its command is a flag, and Stage II trains flag +-1 to cruise at
v_bar = 0.3 m/s (rad/s) on every axis, so flag +-1 *is* the protocol's 0.3. The baseline gets the
velocity 0.3 directly. Same dt (5 ms) and decimation (4) as training.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import mujoco
import numpy as np
import torch

from wbvla.lmo.clips import load_clips
from wbvla.lmo.config import CommandConfig, HeightConfig
from wbvla.lmo.job_config import EvalConfig
from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.lmo.policy import LMOController, eval_model
from wbvla.lmo.shaping import reference_velocity, smooth_flags
from wbvla.paths import data_dir
from wbvla.sim.angles import wrap_angle
from wbvla.sim.contacts import is_fallen
from wbvla.sim.joints import default_pose, group_slice, limits
from wbvla.sim.robot import POLICY_DT, reset_to_pose
from wbvla.validation import require
from wbvla.viz.report import save_metrics

PAPER_TABLE3 = {
    "LMO": {"forward": (0.21, 0.05), "lateral": (0.55, 0.06), "turning": (0.05, 0.19), "com_sway": (0.03, 0.03)},
    "LMO_no_eq3": {"forward": (0.24, 0.07), "lateral": (0.61, 0.09), "turning": (0.05, 0.28), "com_sway": (0.04, 0.03)},
    "LMO_no_stage2": {"forward": (0.27, 0.09), "lateral": (0.72, 0.11), "turning": (0.20, 0.32), "com_sway": (0.05, 0.07)},
    "LMO_no_stage1": {"forward": (0.30, 0.11), "lateral": (0.66, 0.13), "turning": (0.46, 0.34), "com_sway": (0.05, 0.04)},
    "velocity_baseline": {"forward": (0.24, 0.12), "lateral": (0.60, 0.17), "turning": (0.26, 0.20), "com_sway": (0.06, 0.05)},
}
"""Paper Table 3 means: primitives -> (position error m, yaw error rad); com_sway -> (standing, squatting) m."""
PRIMITIVES = {"forward": 0, "lateral": 1, "turning": 2}


HEIGHT_TRIALS = (0.53, 0.59, 0.655)
"""h* of the stance-height trials (m): the lowest, a middle and the nominal stance (reported apart
from the App. B.4 falls, like the stands)."""


def com_sway(c: np.ndarray) -> float:
    """Eq. 5 for a uniformly sampled horizontal CoM path ``c`` (T, 2)."""
    c = np.asarray(c, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 2 or len(c) < 2:
        raise ValueError(f"com_sway needs a (T >= 2, 2) CoM trajectory, got shape {c.shape}")
    c_bar = c.mean(axis=0)
    # Eq. 5:  CoMS = sqrt( 1/T int_0^T || c(t) - c_bar ||^2 dt )   (uniform samples: a mean)
    return float(np.sqrt(np.mean(np.sum((c - c_bar) ** 2, axis=1))))


class _Sim:
    """One plain-MuJoCo X2 with a controller; helpers for one trial."""

    def __init__(self, policy: LMOPolicy):
        self.model = eval_model()
        self.data = mujoco.MjData(self.model)
        self.ctrl = LMOController(policy, self.model)
        self.idx = self.ctrl.idx
        self.policy = policy
        self.arm_default = default_pose("arms")

    def reset(self, rng: np.random.Generator, noise: float) -> None:
        q = default_pose()
        q[group_slice("legs")] += rng.uniform(-noise, noise, 12)
        lo, hi = limits()
        reset_to_pose(self.model, self.data, self.idx, np.clip(q, lo, hi), yaw=float(rng.uniform(-math.pi, math.pi)))
        self.data.xfrc_applied[:] = 0.0
        self.ctrl.reset(self.data)

    def command(self, axis: int | None, sign: float, speed: float, height: float) -> np.ndarray:
        u = np.array([0.0, 0.0, 0.0, height], np.float32)
        if axis is not None:
            u[axis] = sign if self.policy.task == "lmo" else sign * speed
        return u

    def pose(self) -> tuple[np.ndarray, float]:
        b = self.idx.base_qpos
        w, x, y, z = self.data.qpos[b + 3 : b + 7]
        return self.data.qpos[b : b + 2].copy(), math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def fallen(self) -> bool:
        return is_fallen(self.data, self.idx)

    def com_xy(self) -> np.ndarray:
        return self.data.subtree_com[self.idx.base_body][:2].copy()


def b4_errors(xy: np.ndarray, yaw: np.ndarray, p0: np.ndarray, yaw0: float, velocity: np.ndarray,
              active_steps: int, dt: float = POLICY_DT) -> tuple[float, float]:
    """App. B.4 stop-and-settle errors of one trial.

    ``xy`` (T, 2) and ``yaw`` (T,) are the base pose after each policy step from the start of the
    active phase (``active_steps`` steps of the constant body-frame command ``velocity`` =
    (v_x, v_y, w_z)) to the end of the settling phase; ``p0``, ``yaw0`` the pose at its start. The
    reference integrates the command over the active phase only; returns the mean position
    error (m) and mean |yaw error| (rad) over the settling steps."""
    xy, yaw = np.asarray(xy, np.float64), np.asarray(yaw, np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or yaw.shape != (len(xy),) or not 0 < active_steps < len(xy):
        raise ValueError(f"b4_errors needs xy (T, 2), yaw (T,) with T > active_steps = {active_steps}, "
                         f"got {xy.shape} and {yaw.shape}")
    t_active = active_steps * dt
    c, s = math.cos(yaw0), math.sin(yaw0)
    v = np.asarray(velocity, np.float64)
    p_ref = np.asarray(p0, np.float64) + t_active * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
    yaw_ref = yaw0 + t_active * v[2]
    settle = slice(active_steps, None)
    pos_err = np.linalg.norm(xy[settle] - p_ref, axis=1)
    yaw_err = np.abs(wrap_angle(yaw[settle] - yaw_ref))
    return float(pos_err.mean()), float(yaw_err.mean())


def perfect_tracker_errors(command: CommandConfig, axis: int, cfg: EvalConfig, sign: float = 1.0) -> tuple[float, float]:
    """B.4 errors of a tracker that follows the LMO's training reference v_ref (Eq. 2 with
    ``command``'s shaping, cruise speed on flag +-1) exactly: the floor that the shaping alone
    puts under the LMO's score in this protocol."""
    cfg = cfg.resolved()
    n_active, n_settle = round(cfg.active_s / POLICY_DT), round(cfg.settle_s / POLICY_DT)
    s_bar, v_goal = torch.zeros(3), torch.tensor(command.cruise, dtype=torch.float32)
    pose, xy, yaw = np.zeros(3), [], []
    for k in range(n_active + n_settle):
        flags = torch.zeros(3)
        flags[axis] = sign if k < n_active else 0.0
        s_bar = smooth_flags(s_bar, flags, command.smoothing)
        v = reference_velocity(flags, s_bar, v_goal, command.alpha, command.reference_form).double().numpy()
        c, s = math.cos(pose[2]), math.sin(pose[2])
        pose += POLICY_DT * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])
        xy.append(pose[:2].copy())
        yaw.append(pose[2])
    velocity = np.zeros(3)
    velocity[axis] = sign * command.cruise[axis]
    return b4_errors(np.array(xy), np.array(yaw), np.zeros(2), 0.0, velocity, n_active)


def locomotion_trial(sim: _Sim, cfg: EvalConfig, axis: int, sign: float, rng: np.random.Generator,
                     trace: list | None = None) -> dict:
    """One App. B.4 trial; returns mean settle-phase position and yaw errors (or a fall).

    ``trace``, when given, receives (t, x - x_ref, y - y_ref, wrap_angle(yaw - yaw_ref)) per policy step
    from the start of the active phase, in the start heading's frame, up to the end of the trial or
    the step it fell on (nothing when it fell during the pre-roll)."""
    sim.reset(rng, cfg.init_noise)
    h = HeightConfig().nominal_height
    stand = sim.command(None, 0, cfg.speed, h)
    for _ in range(round(cfg.preroll_s / POLICY_DT)):
        sim.ctrl.step(sim.data, stand)
        if sim.fallen():
            return {"fell": True}
    p0, yaw0 = sim.pose()
    v = np.zeros(3)
    v[axis] = sign * cfg.speed
    go = sim.command(axis, sign, cfg.speed, h)
    n_active = round(cfg.active_s / POLICY_DT)
    xy, yaw = [], []
    fell = False
    for k in range(n_active + round(cfg.settle_s / POLICY_DT)):
        sim.ctrl.step(sim.data, go if k < n_active else stand)
        p, psi = sim.pose()
        xy.append(p)
        yaw.append(psi)
        if sim.fallen():
            fell = True
            break
    xy, yaw = np.array(xy), np.array(yaw)
    if trace is not None:  # error to the reference in the start heading's frame, every step
        c, s = math.cos(yaw0), math.sin(yaw0)
        t = np.arange(1, len(xy) + 1) * POLICY_DT
        ref = p0 + np.minimum(t, cfg.active_s)[:, None] * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
        d = xy - ref
        yaw_ref = yaw0 + np.minimum(t, cfg.active_s) * v[2]
        trace.extend(zip(t, c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1],
                         wrap_angle(yaw - yaw_ref), strict=True))
    if fell:
        return {"fell": True}
    pos_err, yaw_err = b4_errors(xy, yaw, p0, yaw0, v, n_active)
    return {"fell": False, "pos_err": pos_err, "yaw_err": yaw_err, "moved": moved_in_active_phase(xy, yaw, p0, yaw0, axis, sign, n_active)}


def moved_in_active_phase(xy: np.ndarray, yaw: np.ndarray, p0: np.ndarray, yaw0: float, axis: int, sign: float,
                          active_steps: int) -> float:
    """How far the robot went the commanded way during the active phase: the displacement along the
    commanded axis of the start heading (m), or the yaw change (rad) for turning, times the command's
    sign (positive: the way it was told; 1.5 m / 1.5 rad for a perfect 0.3 x 5 s). The yaw change is
    unwrapped step by step, so a robot that turns 3.5 rad reports 3.5, not 3.5 - 2 pi."""
    end = active_steps - 1
    if axis == 2:
        turned = np.unwrap(np.concatenate([[yaw0], np.asarray(yaw[: end + 1], np.float64)]))  # (end + 2,)
        return float(sign * (turned[-1] - turned[0]))
    c, s = math.cos(yaw0), math.sin(yaw0)
    d = xy[end] - p0
    along = (c * d[0] + s * d[1]) if axis == 0 else (-s * d[0] + c * d[1])
    return float(sign * along)


def first_walking(result: dict, trials: int = 20, max_pos_err: float = 0.5, max_yaw_err: float = 0.5) -> dict:
    """The issue's "first walking" test on one policy's :func:`evaluate_policy` result: per primitive,
    at least ``trials`` trials, no fall, position error <= ``max_pos_err`` m (forward, lateral) or yaw
    error <= ``max_yaw_err`` rad (turning). Returns each check and ``walks`` (all of them)."""
    checks = {}
    for name in PRIMITIVES:
        r = result[name]
        err, limit = (r["yaw_err"], max_yaw_err) if name == "turning" else (r["pos_err"], max_pos_err)
        checks[name] = {"trials": r["trials"], "falls": r["falls"], "error": err, "limit": limit,
                        "ok": bool(r["trials"] >= trials and r["falls"] == 0 and err <= limit)}
    return {"checks": checks, "walks": all(c["ok"] for c in checks.values())}


class ArmReplay:
    """App. B.4 arm stream: random clips back to back at ``speed``x, ``amplitude``x about each
    clip's mean, plus Gaussian noise; clipped to the joint limits."""

    def __init__(self, clips, speed: float, amplitude: float, noise: float, rng: np.random.Generator):
        self.clips, self.speed, self.amplitude, self.noise, self.rng = clips, speed, amplitude, noise, rng
        self.lo, self.hi = limits("arms")
        self._next_clip()

    def _next_clip(self) -> None:
        t, q = self.clips[int(self.rng.integers(len(self.clips)))]
        mean = q.mean(axis=0)
        self.t, self.q = t - t[0], mean + self.amplitude * (q - mean)
        self.clock = 0.0

    def __call__(self, dt: float) -> np.ndarray:
        if self.clock > self.t[-1]:
            self._next_clip()
        q = np.array([np.interp(self.clock, self.t, self.q[:, j]) for j in range(self.q.shape[1])])
        self.clock += self.speed * dt
        return np.clip(q + self.rng.normal(0.0, self.noise, q.shape), self.lo, self.hi)


def sway_trial(sim: _Sim, cfg: EvalConfig, height: float, clips, rng: np.random.Generator) -> dict:
    """One CoM-sway trial at stance ``height`` with arm replay and pushes; Eq. 5 over the trial."""
    sim.reset(rng, cfg.init_noise)
    u = sim.command(None, 0, cfg.speed, height)
    arms = ArmReplay(clips, cfg.arm_speed, cfg.arm_amplitude, cfg.arm_noise, rng)
    first = arms(0.0)
    pre = max(1, round(cfg.sway_preroll_s / POLICY_DT))
    for k in range(pre):  # reach the stance height while the arms move to the clip's start
        w = (k + 1) / pre
        sim.ctrl.step(sim.data, u, (1 - w) * sim.arm_default + w * first)
        if sim.fallen():
            return {"fell": True}
    body = sim.idx.base_body
    next_push = cfg.push_interval_s + rng.uniform(-cfg.push_jitter_s, cfg.push_jitter_s)
    push_end, t, com = -1.0, 0.0, []
    for _ in range(round(cfg.sway_s / POLICY_DT)):
        if t >= next_push:
            angle = rng.uniform(0, 2 * math.pi)
            f = rng.uniform(0, cfg.push_force)
            sim.data.xfrc_applied[body, :3] = [f * math.cos(angle), f * math.sin(angle), 0.0]
            sim.data.xfrc_applied[body, 3:] = [0.0, 0.0, rng.uniform(-cfg.push_torque, cfg.push_torque)]
            push_end = t + cfg.push_duration_s
            next_push = t + cfg.push_interval_s + rng.uniform(-cfg.push_jitter_s, cfg.push_jitter_s)
        if push_end >= 0 and t >= push_end - 1e-9:
            sim.data.xfrc_applied[body] = 0.0
            push_end = -1.0
        sim.ctrl.step(sim.data, u, arms(POLICY_DT))
        t += POLICY_DT
        if sim.fallen():
            return {"fell": True}
        com.append(sim.com_xy())
    return {"fell": False, "com_sway": com_sway(np.array(com))}


def stand_trial(sim: _Sim, cfg: EvalConfig, rng: np.random.Generator, clips=None) -> dict:
    """A stand: zero command at the nominal height for ``cfg.stand_s``, no pushes (what the
    deployment sim twin asks of the LMO first). Arms held at their default, or with ``clips``
    replayed as recorded (1x speed and amplitude, no noise), starting from the default pose.
    CoM sway (Eq. 5) and the pelvis height at the end (a sinking stance shows there)."""
    sim.reset(rng, cfg.init_noise)
    u = sim.command(None, 0, cfg.speed, HeightConfig().nominal_height)
    arms = None if clips is None else ArmReplay(clips, 1.0, 1.0, 0.0, rng)
    com = []
    n = round(cfg.stand_s / POLICY_DT)
    blend = max(1, round(cfg.sway_preroll_s / POLICY_DT))
    for k in range(n):
        q_arm = sim.arm_default
        if arms is not None:  # blend from the default pose into the replay over the preroll time
            w = min(1.0, (k + 1) / blend)
            q_arm = (1 - w) * sim.arm_default + w * arms(POLICY_DT)
        sim.ctrl.step(sim.data, u, q_arm)
        if sim.fallen():
            return {"fell": True, "fell_at_s": (k + 1) * POLICY_DT}
        com.append(sim.com_xy())
    return {"fell": False, "com_sway": com_sway(np.array(com)),
            "final_height": float(sim.data.qpos[sim.idx.base_qpos + 2])}


def height_trial(sim: _Sim, cfg: EvalConfig, height: float, rng: np.random.Generator) -> dict:
    """A stand at h* = ``height`` (zero flags, default arms) for ``cfg.stand_s`` / 4 after the reset at
    the nominal stance: the pelvis height over the last second (its error to h* shows whether the
    policy tracks the squat command at all)."""
    sim.reset(rng, cfg.init_noise)
    u = sim.command(None, 0, cfg.speed, height)
    n = max(round(cfg.stand_s / 4 / POLICY_DT), round(2.0 / POLICY_DT))
    z = []
    for _ in range(n):
        sim.ctrl.step(sim.data, u)
        if sim.fallen():
            return {"fell": True}
        z.append(float(sim.data.qpos[sim.idx.base_qpos + 2]))
    last = np.array(z[-round(1.0 / POLICY_DT):])
    return {"fell": False, "height": float(last.mean()), "error": float(abs(last.mean() - height))}


def _stats(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def trial_traces(onnx_path: Path, cfg: EvalConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """One + direction trial per primitive; (T, 4) traces of the error to the reference."""
    sim = _Sim(LMOPolicy(onnx_path))
    out = {}
    for name, axis in PRIMITIVES.items():
        trace: list = []
        locomotion_trial(sim, cfg.resolved(), axis, 1.0, np.random.default_rng(seed), trace)
        out[name] = np.array(trace).reshape(-1, 4)
    return out


def _locomotion_stats(runs: list[dict]) -> dict:
    """Mean/std errors over the trials that stayed up, the distance moved, and the counts behind them."""
    ok = [r for r in runs if not r["fell"]]
    pos, pos_std = _stats([r["pos_err"] for r in ok])
    yaw, yaw_std = _stats([r["yaw_err"] for r in ok])
    moved, moved_std = _stats([r["moved"] for r in ok])
    return {"pos_err": pos, "yaw_err": yaw, "pos_std": pos_std, "yaw_std": yaw_std, "moved": moved,
            "moved_std": moved_std, "trials": len(runs), "falls": len(runs) - len(ok), "ok_trials": len(ok)}


def evaluate_policy(onnx_path: Path, cfg: EvalConfig) -> dict:
    """All App. B.4 trials for one policy."""
    sim = _Sim(LMOPolicy(onnx_path))
    rng = np.random.default_rng(cfg.seed)
    out, falls = {}, 0
    for name, axis in PRIMITIVES.items():
        signs = [1.0 if k % 2 == 0 else -1.0 for k in range(cfg.trials)]
        runs = [locomotion_trial(sim, cfg, axis, sign, rng) for sign in signs]
        out[name] = _locomotion_stats(runs)
        out[name]["by_sign"] = {label: _locomotion_stats([r for r, s in zip(runs, signs, strict=True) if s == value])
                                for label, value in (("+", 1.0), ("-", -1.0))}
        falls += out[name]["falls"]
    clips = load_clips()
    sway = {}
    for posture, height in (("standing", HeightConfig().nominal_height), ("squatting", cfg.squat_height)):
        runs = [sway_trial(sim, cfg, height, clips, rng) for _ in range(cfg.trials)]
        ok = [r["com_sway"] for r in runs if not r["fell"]]
        sway[posture], sway[f"{posture}_std"] = _stats(ok)
        sway[f"{posture}_falls"] = len(runs) - len(ok)
        sway[f"{posture}_ok_trials"] = len(ok)
        falls += len(runs) - len(ok)
    out["com_sway"] = sway
    for key, stand_clips in (("stand", None), ("stand_arms", clips)):
        stands = [stand_trial(sim, cfg, rng, stand_clips) for _ in range(cfg.trials)]
        ok = [r for r in stands if not r["fell"]]
        out[key] = {"seconds": cfg.stand_s, "trials": len(stands), "falls": len(stands) - len(ok),
                    "com_sway": _stats([r["com_sway"] for r in ok])[0],
                    "final_height": _stats([r["final_height"] for r in ok])[0],
                    "mean_fall_time_s": _stats([r["fell_at_s"] for r in stands if r["fell"]])[0],
                    "arms": "default pose" if stand_clips is None else "clips replayed at 1x, no noise"}
    heights = {}
    for h in HEIGHT_TRIALS:
        runs = [height_trial(sim, cfg, h, rng) for _ in range(max(1, cfg.trials // 4))]
        ok = [r for r in runs if not r["fell"]]
        heights[f"{h:.3f}"] = {"trials": len(runs), "falls": len(runs) - len(ok), "height": _stats([r["height"] for r in ok])[0],
                               "error": _stats([r["error"] for r in ok])[0]}
    out["stance_height"] = heights
    out["falls"] = falls
    out["total_trials"] = 5 * cfg.trials
    out["errors_over"] = "trials that did not fall (ok_trials of trials; NaN/null where every trial fell)"
    out["moved_is"] = ("displacement the commanded way during the 5 s active phase (m; rad for turning), "
                       "over the trials that did not fall; 1.5 for a perfect tracker of 0.3 x 5 s")
    out["first_walking"] = first_walking(out, cfg.trials)
    out["falls_counted"] = ("locomotion and CoM-sway trials (the App. B.4 protocol); the stands and stance-height trials "
                            "are reported apart")
    return out


def shipped_policies() -> dict[str, Path]:
    """The ONNX policies under ``data/lmo/`` (``lmo.onnx``, ``velocity_baseline.onnx``, ablations)."""
    names = {"LMO": "lmo.onnx", "velocity_baseline": "velocity_baseline.onnx", "LMO_no_eq3": "lmo_no_eq3.onnx",
             "LMO_no_stage2": "lmo_no_stage2.onnx", "LMO_no_stage1": "lmo_no_stage1.onnx"}
    return {k: data_dir() / "lmo" / v for k, v in names.items() if (data_dir() / "lmo" / v).exists()}


def evaluate(cfg: EvalConfig) -> dict:
    """Run the protocol for every policy of ``cfg`` (default: the shipped ones); returns the
    metrics dict written to ``figures/09_lmo_evaluation.json`` (paper numbers under ``paper``)."""
    cfg = cfg.resolved()
    policies = cfg.policies or shipped_policies()
    require(bool(policies), "no policies to evaluate: pass EvalConfig.policies or ship data/lmo/*.onnx")
    results = {name: evaluate_policy(Path(path), cfg) for name, path in policies.items()}
    results["paper"] = {k: v for k, v in PAPER_TABLE3.items() if k in policies}
    results["protocol"] = {k: v for k, v in asdict(cfg).items() if k not in ("policies", "smoke")}
    results["policy_files"] = {k: str(Path(v).name) for k, v in policies.items()}
    return results


def run_evaluation(cfg: EvalConfig) -> Path:
    """``wbvla lmo-eval``: evaluate and write ``figures/[smoke/]09_lmo_evaluation.json``."""
    import json

    results = evaluate(cfg)
    path = save_metrics("09_lmo_evaluation", results, {"trials": cfg.resolved().trials}, smoke=cfg.smoke)
    print(json.dumps({k: results[k] for k in results if k not in ("protocol",)}, indent=1, default=str))
    print(f"wrote {path}")
    return path
