"""``wbvla quickstart``: the main job. The shipped VLA does one task from its instruction.

1. Load the shipped tiny policy (``data/vla/tutorial``: VLA + execution decoder, safetensors and
   JSON only; nothing is downloaded or trained).
2. Build a held-out trial of the task (:func:`wbvla.tasks.specs.make_task`: a seed never seen in
   the teleoperation data) and run it through the closed-loop runner: ``act()`` on the head-camera
   image, the instruction and s_t at 10 Hz, arm targets interpolated to the 50 Hz control loop,
   u_t to the locomotion backend at 50 Hz, physics at 200 Hz, privileged subgoal checks (App. B.3).
   A trial whose scene and policy output stand still for ``stop_frozen_s`` ends there (a fixed
   point of the deterministic policy; the report says so).
3. Write to ``output_dir``: ``quickstart.mp4`` (head camera beside a third-person view),
   ``frame.png`` (one frame with the instruction and the verdicts: the first subgoal's success, or
   the moment the robot came closest to where it should grasp from; the README shows it) and
   ``report.json``: ``subgoals: {name: bool}``, the failure class of a failed trial (the Fig. 7
   rules of :mod:`wbvla.suite.failures`), the latents the VLA chose (per tick and how often), the
   video's file name, the backend (labelled), timings and provenance.

The default backend is the labelled **ideal base**: the shipped physics LMO still falls within
about 1.5 s whatever it is commanded, so only the kinematic stand-in lets the VLA's decisions play
out (``--backend lmo`` runs the physics legs and shows the fall).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from wbvla.data.teleop_schema import SUBGOALS
from wbvla.io import atomic_path, write_json_atomic
from wbvla.locomotion.base import LABELS
from wbvla.quickstart_config import QuickstartConfig
from wbvla.suite.failures import classify_failure
from wbvla.suite.trace import FrozenSceneConfig, TracedPolicy
from wbvla.suite.trials import backend_for, latent_usage, save_trial_video
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.viz.report import provenance
from wbvla.vla.policy import VLAPolicy
from wbvla.vla.variants import shipped_policy_dir


def load_policy(config: QuickstartConfig):
    """The policy of ``config`` (the shipped one by default), with a clear error when missing."""
    folder = Path(config.policy) if config.policy is not None else shipped_policy_dir()
    if not (folder / "policy.json").is_file():
        raise FileNotFoundError(f"no VLA policy at {folder} (policy.json missing). The repository ships one in "
                                "data/vla/tutorial; train your own with `wbvla vla-variant --name wholebodyvla` and pass "
                                "--policy <run>/policy")
    return VLAPolicy.load(folder, threads=config.threads)


class _TimedPolicy:
    """Forwards to a policy and keeps the wall time of every ``act()`` (ms)."""

    def __init__(self, policy):
        self.policy, self.ms = policy, []

    def __getattr__(self, name):
        if name == "policy":
            raise AttributeError(name)
        return getattr(self.policy, name)

    def act(self, image, instruction, state):
        t0 = time.perf_counter()
        out = self.policy.act(image, instruction, state)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out


def key_tick(result, trace=None) -> int:
    """The tick a still frame shows: the first subgoal's success; else the tick whose state came
    closest to the stance the scripted expert grasps from (``trace.goals['approach']``, where the
    trial was nearest to going right); else the middle of the trial."""
    t1 = result.subgoal_times[0]
    if t1 is not None:
        return min(int(round(t1 * 10)), result.ticks - 1)
    if trace is not None and "approach" in trace.goals and result.ticks > 0:
        dist = np.linalg.norm(trace.base[: result.ticks, :2] - np.asarray(trace.goals["approach"][:2]), axis=1)  # (T,)
        return int(np.argmin(dist))
    return result.ticks // 2


def frame_figure(result, instruction: str, backend_label: str, tick: int):
    """Head camera | third-person view at ``tick``, titled with the instruction and the verdicts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    axes[0].imshow(result.head_frames[tick])
    axes[0].set_title("X2 head camera (what the VLA sees)")
    axes[1].imshow(result.third_person_frames[tick])
    axes[1].set_title(f"t = {tick / 10:.1f} s, {backend_label.split(' (')[0]}")
    for ax in axes:
        ax.axis("off")
    verdicts = "   ".join(f"{n.replace('_', ' ')}: {'yes' if ok else 'no'}"
                           for n, ok in zip(SUBGOALS[result.task], result.success, strict=True))
    fig.suptitle(f"\u201c{instruction}\u201d\n{verdicts}" + ("   (FELL)" if result.fell else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def run(config: QuickstartConfig, policy=None) -> dict:
    """Run the main job (``policy`` overrides the configured one, e.g. in tests) and return the
    report that is also written to ``output_dir/report.json``."""
    import torch

    t_start = time.perf_counter()
    torch.set_num_threads(config.threads)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    policy = policy if policy is not None else load_policy(config)
    t_loaded = time.perf_counter()
    task = make_task(config.task, config.seed)
    backend = backend_for(config.backend, policy.command_kind)
    timed = _TimedPolicy(policy)
    traced = TracedPolicy(timed, FrozenSceneConfig(config.stop_frozen_s) if config.stop_frozen_s else None)
    result = run_trial(traced, task, RunnerConfig(backend=backend.name, time_limit_s=config.time_limit_s, third_person=True,
                                                   keep_head_frames=True, video_size=config.video_size), backend=backend,
                       stop_early=traced.observe)
    t_trial = time.perf_counter()
    trace = traced.finish()
    failure = classify_failure(trace, result.success, result.subgoal_times, result.fell)
    video = save_trial_video(result, out / "quickstart.mp4")
    tick = key_tick(result, trace)
    fig = frame_figure(result, task.instruction, LABELS[backend.name], tick)
    fig.savefig(out / "frame.png", dpi=90, bbox_inches="tight")
    if config.readme_frame is not None:
        with atomic_path(config.readme_frame) as tmp:
            fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    report = {
        "task": config.task, "instruction": task.instruction, "seed": config.seed, "variation": "none",
        "policy": getattr(policy, "model_id", type(policy).__name__),
        "backend": backend.name, "backend_label": LABELS[backend.name],
        "subgoals": {n: bool(ok) for n, ok in zip(SUBGOALS[config.task], result.success, strict=True)},
        "subgoal_times_s": {n: t for n, t in zip(SUBGOALS[config.task], result.subgoal_times, strict=True)},
        "fell": result.fell, "fall_time_s": result.fall_time, "fall_reason": result.info.get("fall_reason"),
        "simulated_s": result.duration_s,
        "failure": failure,
        "stopped_early": result.info.get("stopped_early"),
        "latents": {"per_tick": result.latents, "usage": latent_usage(result.latents)},
        "commands": {"u_t_per_tick": np.round(result.log["command"], 3).tolist()},
        "video": video.name, "frame": "frame.png", "frame_tick": tick,
        "timings_s": {"load_policy": round(t_loaded - t_start, 2), "trial": round(result.wall_s, 2),
                      "write_video_and_frame": round(time.perf_counter() - t_trial, 2),
                      "total": round(time.perf_counter() - t_start, 2)},
        "closed_loop_steps_per_s": round(result.steps_per_s, 1), "ticks": result.ticks,
        "provenance": provenance(),
    }
    if timed.ms:
        report["act_ms_median"] = round(float(np.median(timed.ms)), 2)
    report["timings_s"]["total"] = round(time.perf_counter() - t_start, 2)
    write_json_atomic(out / "report.json", report)
    verdict = ", ".join(f"{n}: {'yes' if ok else 'no'}" for n, ok in report["subgoals"].items())
    why = f" (failure: {failure['stage']} / {failure['mode']})" if failure["mode"] else ""
    print(f"quickstart: {config.task} on the {LABELS[backend.name]}\n  \u201c{task.instruction}\u201d\n  {verdict}{why}"
          f"; {result.duration_s:.1f} s simulated in {report['timings_s']['total']:.1f} s; "
          f"report in {out}")
    return report
