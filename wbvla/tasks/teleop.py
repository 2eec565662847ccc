"""``wbvla teleop-data``: the scripted expert's demonstrations as a LeRobot v3 dataset.

For every task, trials with consecutive training seeds are run through the closed-loop runner
(:func:`wbvla.tasks.runner.run_trial`) with the scripted expert; a trial is kept only if the
privileged checks judge both subgoals achieved (and the robot did not fall). Kept trials become
episodes of one dataset (10 Hz: head RGB, s_t, a_t, the Eq. 2 reference velocity, the subgoal
index, the expert's phase, the instruction; plus the trial's ``seed``), written through
:class:`wbvla.data.lerobot_v3.LeRobotV3Writer`. The dataset's ``meta/wbvla.json`` records the
locomotion backend; ``<root>_summary.json`` beside the dataset records every attempt, the expert's
success per subgoal, the generation time (episodes per hour) and the dataset size, and the
``validate_v3`` result. Generation resumes: a rerun continues after the seeds already tried.

Trials run in ``workers`` processes; results are consumed in submission order, so the dataset is
the same for any number of workers.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from wbvla.data import teleop_schema as ts
from wbvla.io import write_json_atomic
from wbvla.tasks.teleop_config import TRAIN_SEED_STOP, TeleopDataConfig
from wbvla.validation import require

SEED_KEY = "seed"
"""Extra per-frame column: the training seed of the episode's trial (provenance; resume)."""


def teleop_dataset_features(image_size: int) -> dict[str, dict]:
    """The features of the expert's dataset: :func:`teleop_features` plus :data:`SEED_KEY`."""
    from wbvla.data.lerobot_v3 import teleop_features  # lazy: pandas, pyarrow

    return {**teleop_features(image_size), SEED_KEY: {"dtype": "int64", "shape": [1], "names": None}}


def phase_meta(root: Path) -> dict:
    """``meta/wbvla.json`` entry naming the phase vocabulary of the dataset at ``root`` (new, or one
    with the phase column); empty for a dataset recorded before that column existed."""
    info = root / "meta" / "info.json"
    if info.is_file() and ts.PHASE_KEY not in json.loads(info.read_text()).get("features", {}):
        return {}
    return {ts.PHASES_META_KEY: list(ts.EXPERT_PHASES)}


def _recorded_meta(root: Path) -> dict:
    """The dataset's ``meta/wbvla.json`` (empty when absent)."""
    meta = Path(root) / "meta" / "wbvla.json"
    return json.loads(meta.read_text()) if meta.is_file() else {}


def command_labels(root: Path) -> str:
    """``intended`` or ``executed``: how the dataset at ``root`` labels the locomotion command
    (:attr:`TeleopDataConfig.labels`); datasets recorded before the switch existed are ``executed``."""
    return _recorded_meta(root).get("command_labels", "executed")


def dataset_frame(frame: dict, features: dict) -> dict:
    """A runner frame as a dataset with ``features`` stores it: one recorded before the expert-phase
    column existed (and now resumed) keeps its layout, without the phase."""
    return frame if ts.PHASE_KEY in features else {k: v for k, v in frame.items() if k != ts.PHASE_KEY}


class _FrameBuffer:
    """Collects a trial's frames in a worker process (the writer lives in the main process). With
    ``labels="intended"`` (:attr:`TeleopDataConfig.labels`) a frame's command is the one the
    noise-free ``expert`` meant at that tick, not the one it sent."""

    def __init__(self, expert=None, labels: str = "executed") -> None:
        self.frames: list[dict] = []
        self.expert, self.labels = expert, labels

    def add_frame(self, frame: dict, task: str) -> None:
        if self.labels == "intended":
            arms, grippers, _ = ts.split_action(frame[ts.ACTION_KEY])
            frame = {**frame, ts.ACTION_KEY: ts.join_action(arms, grippers, self.expert.intended_command)}
        self.frames.append(frame)


def _run_attempt(job: tuple[str, int, dict]) -> dict:
    """One expert trial (in a worker): the outcome, and the frames if it succeeded."""
    task_name, seed, opts = job
    import torch

    torch.set_num_threads(1)
    from wbvla.tasks.expert import (  # lazy: torch, MuJoCo (workers)
        ExpertConfig,
        ExpertNoiseConfig,
        ScriptedExpert,
    )
    from wbvla.tasks.runner import RunnerConfig, run_trial  # lazy: torch, MuJoCo (workers)
    from wbvla.tasks.specs import make_task  # lazy: MuJoCo (workers)

    noise = ExpertNoiseConfig(stance_offset=tuple(opts.get("stance_offset", (0.0, 0.0)))) if opts["noise"] else ExpertNoiseConfig.off()
    expert = ScriptedExpert(ExpertConfig(noise=noise, settle_before_arms=opts.get("settle_before_arms", True)), seed=seed)
    buffer = _FrameBuffer(expert, opts.get("labels", "executed"))
    result = run_trial(expert, make_task(task_name, seed), RunnerConfig(backend=opts["backend"], image_size=opts["image_size"]),
                       writer=buffer)
    ok = result.completed and not result.fell
    return {"task": task_name, "seed": seed, "success": list(result.success), "fell": result.fell,
            "subgoal_times": list(result.subgoal_times), "wall_s": result.wall_s, "ticks": result.ticks,
            "final_phase": result.info.get("final_phase"), "frames": buffer.frames if ok else None}


def existing_seeds(root: Path) -> dict[str, list[int]]:
    """Seeds of the episodes already in the dataset at ``root``, per task."""
    from wbvla.data.lerobot_v3 import LeRobotV3Dataset  # lazy: pandas, pyarrow

    ds = LeRobotV3Dataset(root)
    if ds.num_episodes == 0:
        return {}
    cols = ds.columns([SEED_KEY, "episode_index", "task_index"])
    by_instruction = {v: k for k, v in ts.INSTRUCTIONS.items()}
    out: dict[str, list[int]] = {}
    for ep in np.unique(cols["episode_index"]):
        i = int(np.flatnonzero(cols["episode_index"] == ep)[0])
        task = by_instruction[ds.tasks[int(cols["task_index"][i])]]
        out.setdefault(task, []).append(int(cols[SEED_KEY][i]))
    return out


def _jobs(config: TeleopDataConfig, have: dict[str, int], next_seed: dict[str, int], tried: dict[str, int]) -> list[tuple[str, int]]:
    """The attempts still allowed, tasks interleaved round-robin."""
    budget = {t: max(0, math.ceil(config.per_task * config.max_attempts_per_episode) - tried.get(t, 0))
              for t in config.tasks if have.get(t, 0) < config.per_task}
    per_task = {t: [(t, s) for s in range(next_seed[t], min(next_seed[t] + n, TRAIN_SEED_STOP))] for t, n in budget.items()}
    jobs = []
    for k in range(max((len(v) for v in per_task.values()), default=0)):
        jobs += [v[k] for v in per_task.values() if k < len(v)]
    return jobs


def _dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _rates(attempts: list[dict], tasks: tuple[str, ...]) -> dict:
    """Expert success per subgoal (sequential, App. B.3) over all attempts, per task."""
    out = {}
    for t in tasks:
        rows = [a for a in attempts if a["task"] == t]
        n = len(rows)
        out[t] = {"attempts": n, "falls": sum(a["fell"] for a in rows),
                  "subgoals": {name: (sum(a["success"][i] for a in rows) / n if n else None)
                               for i, name in enumerate(ts.SUBGOALS[t])},
                  "kept": sum(all(a["success"]) and not a["fell"] for a in rows)}
    return out


def generate_teleop_data(config: TeleopDataConfig) -> dict:
    """Generate (or extend) the dataset of ``config``; returns the summary that is also written."""
    from tqdm.auto import tqdm

    from wbvla.data.lerobot_v3 import LeRobotV3Writer, validate_v3  # lazy: pandas, pyarrow
    from wbvla.locomotion.base import LABELS  # lazy: torch (the locomotion backends)

    root, summary_path = config.root(), config.summary_path()
    meta = {"locomotion_backend": config.backend, "locomotion_backend_label": LABELS[config.backend],
            "generator": "wbvla teleop-data (scripted privileged expert)", "image_size": config.image_size,
            "expert_command_noise": config.noise, "command_labels": config.labels,
            "expert_stance_offset": list(config.stance_offset) if config.noise else [0.0, 0.0],
            "expert_settle_before_arms": config.settle_before_arms, **phase_meta(root)}
    exists = (root / "meta" / "info.json").is_file()
    if exists:
        require(config.resume, f"{root} already holds a dataset; pass --resume (default) to extend it or choose another output_dir")
        recorded = _recorded_meta(root)
        had = recorded.get("command_labels", "executed")
        require(had == config.labels, f"{root} holds episodes labelled {had!r} (meta/wbvla.json command_labels); extending "
                f"it with labels={config.labels!r} would mix the two: pass --labels {had} or choose another output_dir")
        for key, before in (("expert_stance_offset", [0.0, 0.0]), ("expert_settle_before_arms", True)):  # value before the switch
            old = recorded.get(key, before)
            require(old == meta[key], f"{root} holds episodes with {key}={old} (meta/wbvla.json); extending it with "
                    f"{meta[key]} would mix the two: choose another output_dir")
        writer = LeRobotV3Writer.open(root, extra_meta=meta)
    else:
        require(not root.exists() or not any(root.iterdir()), f"{root} exists and is not a dataset; give an empty or new folder")
        writer = LeRobotV3Writer(root, ts.FPS, teleop_dataset_features(config.image_size), extra_meta=meta)
    old = __import__("json").loads(summary_path.read_text()) if (exists and summary_path.is_file()) else {}
    attempts: list[dict] = list(old.get("attempts", []))
    episodes: list[dict] = list(old.get("episodes", []))
    sessions: list[dict] = list(old.get("sessions", []))
    in_data = existing_seeds(root) if exists else {}
    episodes = [e for e in episodes if e["seed"] in in_data.get(e["task"], [])]  # drop records of unsaved episodes
    have = {t: len(in_data.get(t, [])) for t in config.tasks}
    tried = {t: sum(a["task"] == t for a in attempts) for t in config.tasks}
    next_seed = {t: max([config.seed - 1, *in_data.get(t, []), *(a["seed"] for a in attempts if a["task"] == t)]) + 1
                 for t in config.tasks}
    jobs = _jobs(config, have, next_seed, tried)
    opts = {"noise": config.noise, "backend": config.backend, "image_size": config.image_size, "labels": config.labels,
            "stance_offset": config.stance_offset, "settle_before_arms": config.settle_before_arms}
    wanted = config.per_task * len(config.tasks)
    bar = tqdm(total=wanted, initial=sum(min(have[t], config.per_task) for t in config.tasks),
               desc=f"teleop-data {root.name}", unit="ep", disable=not config.progress)
    session = {"workers": config.workers, "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg(),
               "attempts": 0, "episodes": 0}
    t0 = time.perf_counter()

    def write_summary(final: bool, problems: list[str] | None = None) -> dict:
        all_sessions = sessions if final else [*sessions, session]  # the final call has appended it
        wall = sum(s.get("wall_s", 0.0) for s in all_sessions)
        n_ep = len(episodes)
        tasks = tuple(t for t in ts.TASKS if t in config.tasks or any(a["task"] == t for a in attempts))
        summary = {
            "dataset": str(root), "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
            "command": os.environ.get("WBVLA_COMMAND", ""), "locomotion_backend": config.backend,
            "locomotion_backend_label": LABELS[config.backend], "episodes_total": n_ep,
            "episodes_per_task": {t: sum(e["task"] == t for e in episodes) for t in tasks},
            "frames_total": sum(e["frames"] for e in episodes), "expert_success": _rates(attempts, tasks),
            "generation_wall_s": wall, "episodes_per_hour": (n_ep / wall * 3600.0) if wall > 0 else None,
            "dataset_bytes": _dir_bytes(root) if root.exists() else 0, "finished": final,
            "validation_problems": problems, "sessions": all_sessions,
            "episodes": episodes, "attempts": attempts,
        }
        write_json_atomic(summary_path, summary)
        return summary

    if threading.current_thread() is threading.main_thread():  # a kill still stops the workers (finally below)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pool = mp.get_context("spawn").Pool(config.workers) if config.workers > 1 and jobs else None
    results = pool.imap(_run_attempt, [(t, s, opts) for t, s in jobs]) if pool else map(_run_attempt, ((t, s, opts) for t, s in jobs))
    try:
        for res in results:
            frames = res.pop("frames")
            if have[res["task"]] >= config.per_task:
                continue  # a worker ran ahead of a task that is already complete
            attempts.append(res)
            session["attempts"] += 1
            if frames is not None:
                for f in frames:
                    writer.add_frame(dataset_frame({**f, SEED_KEY: np.array([res["seed"]], np.int64)}, writer.features),
                                     task=ts.INSTRUCTIONS[res["task"]])
                ep = writer.save_episode()
                episodes.append({"episode_index": ep, "task": res["task"], "seed": res["seed"], "frames": len(frames),
                                 "subgoal_times": res["subgoal_times"], "wall_s": res["wall_s"]})
                have[res["task"]] += 1
                session["episodes"] += 1
                bar.update(1)
            session["wall_s"] = time.perf_counter() - t0
            write_summary(False)
            if all(have[t] >= config.per_task for t in config.tasks):
                break
    finally:
        if pool is not None:
            pool.terminate()
        bar.close()
    writer.finalize()
    session["wall_s"] = time.perf_counter() - t0
    session["load_avg_end"] = os.getloadavg()
    sessions.append(session)
    problems = validate_v3(root)
    summary = write_summary(True, problems)
    short = [t for t in config.tasks if have[t] < config.per_task]
    if short:
        print(f"teleop-data: gave up on {short} after {config.max_attempts_per_episode} attempts per wanted episode "
              f"(have {have}); see {summary_path}")
    return summary
