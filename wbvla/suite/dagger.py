"""``wbvla vla-dagger``: one DAgger round for a trained Stage III policy (not in the paper).

Why: a policy trained only on the expert's demonstrations sees, in the closed loop, states the
demonstrations never show (it sets off late, arrives off-axis), and nothing in the data says how
to recover; every learned row of the task suite fails that way (issue #11). DAgger (Ross, Gordon
and Bagnell, 2011) collects those states and asks the expert what to do there.

How, per rollout (a training seed, the closed-loop runner, the ideal base by default):

* the scripted expert runs beside the learner on the same scene and is asked every tick; its
  command is the frame's label (``action``), whoever drives;
* in the expert's locomotion phases (approach, carry, turn and walk, push) the learner's u_t
  drives the legs in randomly drawn blocks (``expert_share`` of the blocks stay the expert's);
  arms, grippers and the manipulation phases are the expert's, because its state machine assumes
  the grasp it made, unless ``learner_arm_phases`` names phases in which the learner's arm and
  gripper targets are sent in its blocks (labelled with the expert's, which stay on its own
  timeline); its Eq. 2 reference is kept in step with the flags actually sent;
  with ``accept_stance_m`` it grasps from where the learner stood still near the stance instead of
  re-stepping to its own tolerance (``ScriptedExpert.accept_stance``) (so the rollouts also show grasps from imprecise stances);
* every frame is recorded (LeRobot v3, the teleoperation layout plus ``dagger.latent_target`` and
  ``dagger.learner_codes``): where the expert drove, the LAM codes of the frame's own video are
  Eq. 1 targets as in teleoperation data; where the learner drove, the video shows the learner's
  motion, not the label's, so those frames carry no latent loss and the decoder is trained on the
  codes the learner itself chose there (what it will read at test time).

Then Stage III continues from the learner (``FinetuneConfig.init_policy``) on the teleoperation
data plus the rollouts (``extra_train_roots``) and exports the round's policy. The suite evaluates
it as a labelled extra row (``wbvla suite --extra-policies <round>/run/policy``).
"""

from __future__ import annotations

import copy
import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import LeRobotV3Writer, validate_v3
from wbvla.io import write_json_atomic
from wbvla.suite.dagger_config import DAGGER_SEED0, DAggerConfig
from wbvla.tasks.expert import (
    CONTROL_STEPS_PER_TICK,
    ExpertConfig,
    ExpertNoiseConfig,
    ScriptedExpert,
)
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.tasks.teleop import (
    SEED_KEY,
    dataset_frame,
    existing_seeds,
    phase_meta,
    teleop_dataset_features,
)
from wbvla.vla.config import finetune_config_from_dict
from wbvla.vla.latents import LatentVocabulary
from wbvla.vla.teleop_data import DAGGER_CODES_KEY, DAGGER_TARGET_KEY

LOCOMOTION_PHASES = frozenset({"approach", "carry", "turn_and_walk", "push"})
"""Phases of the scripted expert in which the learner may drive the legs."""


class ExpertBesideLearner:
    """A learned policy and the scripted expert acting on the same scene as one
    :class:`~wbvla.control.policy_contract.Policy` (subclasses decide whose output is sent): the expert is bound to
    the trial, the learner reset, and the policy's ``phase`` is the expert's."""

    command_kind = "flags"
    uses_image = True

    def __init__(self, learner, expert):
        if learner.command_kind != "flags":
            raise ValueError(f"the learner must command flags (the expert's kind of u_t), got {learner.command_kind!r}")
        self.learner, self.expert = learner, expert

    @property
    def phase(self) -> str:
        return self.expert.phase

    def bind(self, task) -> None:
        self.expert.bind(task)
        self.learner.reset()

    def reset(self) -> None:
        """The :class:`~wbvla.control.policy_contract.Policy` reset: the learner's; the expert starts over in :meth:`bind`."""
        self.learner.reset()


class DAggerPolicy(ExpertBesideLearner):
    """The learner and the scripted expert as one :class:`~wbvla.control.policy_contract.Policy` (module docstring).

    After each ``act()``: ``label`` (20,) is the expert's action, ``learner_drove`` whether the
    learner's u_t or (``learner_arms``, in ``arm_phases``) its arm and gripper targets were sent,
    ``learner_codes`` the learner's slot codes."""

    def __init__(self, learner, expert, expert_share: float, block_ticks: int, seed: int = 0,
                 accept_stance: tuple[float, float, int] | None = None, arm_phases: tuple[str, ...] = ()):
        super().__init__(learner, expert)
        self.expert_share, self.block_ticks, self.seed = float(expert_share), int(block_ticks), seed
        self.model_id = f"dagger({learner.model_id})"
        self.vocab = learner.vla.vocab if hasattr(learner, "vla") else None
        self.accept = accept_stance  # (metres, radians, still ticks): DAggerConfig.accept_stance_*
        self.arm_phases = frozenset(arm_phases)  # DAggerConfig.learner_arm_phases
        if accept_stance is not None:
            expert.accept_stance = self._accept

    def _accept(self, err: np.ndarray) -> bool:
        """The expert grasps from here: the learner drove and stood still long enough, close enough."""
        metres, radians, ticks = self.accept
        return self.still >= ticks and float(np.hypot(err[0], err[1])) <= metres and abs(float(err[2])) <= radians

    def bind(self, task) -> None:
        super().bind(task)
        self.rng = np.random.default_rng([self.seed, task.seed])
        self.tick, self.learner_block, self.still = 0, False, 0
        self.label, self.learner_drove, self.learner_arms, self.learner_codes = None, False, False, []

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        ref = copy.deepcopy(self.expert.ref)  # the backend's Eq. 2 state before this tick
        e = self.expert.act(image, instruction, state)  # label (steps its reference with its own flags)
        lrn = self.learner.act(image, instruction, state)
        if self.tick % self.block_ticks == 0:
            self.learner_block = bool(self.rng.random() >= self.expert_share)
        self.tick += 1
        legs = self.learner_block and self.expert.phase in LOCOMOTION_PHASES
        self.learner_arms = self.learner_block and self.expert.phase in self.arm_phases
        self.learner_drove = legs or self.learner_arms  # the video shows the learner's motion
        self.still = self.still + 1 if legs and not np.any(lrn.command[:3]) else 0
        command = e.command
        if legs:
            command = np.array([*lrn.command[:3], e.command[3]], np.float32)  # the learner's flags, the expert's h*
            self.expert.ref = ref
            for _ in range(CONTROL_STEPS_PER_TICK):  # keep the expert's model of the backend in step
                self.expert.ref.step(command[:3])
        self.label = ts.join_action(e.arm_targets[0], e.grippers[0], e.command)
        self.learner_codes = self.vocab.join_codes(lrn.latents) if self.vocab is not None and lrn.latents else []
        arms, grippers = (lrn.arm_targets, lrn.grippers) if self.learner_arms else (e.arm_targets, e.grippers)
        return PolicyOutput(arms, grippers, command, "flags", latents=lrn.latents,
                            info={"phase": self.expert.phase, "learner_drove": self.learner_drove, "learner_arms": self.learner_arms})


class _Recorder:
    """Collects a rollout's frames with the expert's labels (a runner ``writer``)."""

    def __init__(self, policy: DAggerPolicy, n_codes: int):
        self.policy, self.n_codes, self.frames = policy, n_codes, []

    def add_frame(self, frame: dict, task: str) -> None:
        p = self.policy
        codes = np.asarray(p.learner_codes, np.int64) if self.n_codes else np.full(1, -1, np.int64)
        self.frames.append({**frame, ts.ACTION_KEY: p.label.astype(np.float32),
                            DAGGER_TARGET_KEY: np.array([0 if p.learner_drove else 1], np.int64),
                            DAGGER_CODES_KEY: codes})


def dagger_features(image_size: int, n_codes: int) -> dict[str, dict]:
    """The teleoperation features + the seed + the two DAgger columns (codes: at least 1 wide; -1
    for a learner without latent actions)."""
    return {**teleop_dataset_features(image_size),
            DAGGER_TARGET_KEY: {"dtype": "int64", "shape": [1], "names": None},
            DAGGER_CODES_KEY: {"dtype": "int64", "shape": [max(1, n_codes)], "names": None}}


_LEARNER: dict = {}


def _rollout(job: tuple[str, int, dict]) -> dict:
    """One rollout (in a worker): outcome + frames."""
    task_name, seed, opts = job
    import torch

    from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers (workers only)

    torch.set_num_threads(opts["threads"])

    if opts["policy"] not in _LEARNER:
        _LEARNER.clear()
        _LEARNER[opts["policy"]] = VLAPolicy.load(Path(opts["policy"]), threads=opts["threads"])
    learner = _LEARNER[opts["policy"]]
    policy = DAggerPolicy(learner, ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off()), seed=seed),
                          opts["expert_share"], opts["block_ticks"], seed, opts["accept_stance"], opts["arm_phases"])
    rec = _Recorder(policy, opts["n_codes"])
    result = run_trial(policy, make_task(task_name, seed), RunnerConfig(backend=opts["backend"], image_size=opts["image_size"],
                                                                        time_limit_s=opts["time_limit_s"], settle_s=0.5),
                       writer=rec)
    driven = sum(int(f[DAGGER_TARGET_KEY][0] == 0) for f in rec.frames)
    return {"task": task_name, "seed": seed, "success": list(result.success), "fell": result.fell,
            "frames": len(rec.frames), "learner_frames": driven, "final_phase": result.info.get("final_phase"),
            "wall_s": result.wall_s, "data": rec.frames}


def first_rollout_seed(config: DAggerConfig) -> int:
    """``config.first_seed``, or (None) the seed after every seed of the rollout datasets the
    learner already trained on (its ``extra_train_roots``), :data:`DAGGER_SEED0` for a first round."""
    if config.first_seed is not None:
        return config.first_seed
    learner = json.loads((config.learner_run / "train_config.json").read_text())
    seen = [s for root in learner.get("extra_train_roots") or () if (Path(root) / "meta" / "info.json").is_file()
            for seeds in existing_seeds(Path(root)).values() for s in seeds]
    seed = max(seen) + 1 if seen else DAGGER_SEED0
    if seed + config.episodes_per_task > 100_000:
        raise ValueError(f"{config.learner_run}: the next rollout seeds ({seed}..) leave the training range; give first_seed")
    return seed


def collect(config: DAggerConfig, root: Path) -> dict:
    """Roll out ``config``'s learner with the expert labelling (resumable: seeds already in the
    dataset at ``root`` are skipped) and return the collection record."""
    policy_dir = config.learner_run / "policy"
    meta = json.loads((policy_dir / "policy.json").read_text())
    n_codes = len(LatentVocabulary.from_json(meta.get("vocabulary", {})).slots)
    image_size = config.image_size
    extra = {"generator": "wbvla vla-dagger (learner rollouts, scripted-expert labels)", "learner": meta["model_id"],
             "locomotion_backend": config.backend, "image_size": image_size, "expert_share": config.expert_share,
             "learner_arm_phases": list(config.learner_arm_phases), **phase_meta(root)}
    if (root / "meta" / "info.json").is_file():
        writer, have = LeRobotV3Writer.open(root, extra_meta=extra), existing_seeds(root)
    else:
        writer, have = LeRobotV3Writer(root, ts.FPS, dagger_features(image_size, n_codes), extra_meta=extra), {}
    seed0 = first_rollout_seed(config)
    jobs = [(t, s) for k in range(config.episodes_per_task) for t in config.tasks
            if (s := seed0 + k) not in have.get(t, [])]
    opts = {"policy": str(policy_dir), "threads": config.threads, "expert_share": config.expert_share,
            "block_ticks": max(1, round(config.block_s * ts.FPS)), "n_codes": n_codes, "backend": config.backend,
            "image_size": image_size, "time_limit_s": config.time_limit_s, "arm_phases": config.learner_arm_phases,
            "accept_stance": None if config.accept_stance_m is None else
            (config.accept_stance_m, config.accept_stance_rad, max(1, round(config.accept_still_s * ts.FPS)))}
    records_path = root.with_name(root.name + "_rollouts.jsonl")
    t0 = time.perf_counter()
    pool = mp.get_context("spawn").Pool(config.workers) if config.workers > 1 and len(jobs) > 1 else None
    results = pool.imap(_rollout, [(t, s, opts) for t, s in jobs]) if pool else map(_rollout, ((t, s, opts) for t, s in jobs))
    try:
        for res in tqdm(results, total=len(jobs), desc="dagger rollouts", unit="ep", disable=not config.progress):
            frames = res.pop("data")
            for f in frames:
                writer.add_frame(dataset_frame({**f, SEED_KEY: np.array([res["seed"]], np.int64)}, writer.features),
                                 task=ts.INSTRUCTIONS[res["task"]])
            writer.save_episode()
            with open(records_path, "a") as fh:
                fh.write(json.dumps(res) + "\n")
    finally:
        if pool is not None:
            pool.terminate()
    writer.finalize()
    problems = validate_v3(root)
    if problems:
        raise RuntimeError(f"{root}: the rollouts' dataset is not valid LeRobot v3: {problems[:3]}")
    rows = [json.loads(line) for line in records_path.read_text().splitlines()] if records_path.is_file() else []
    return {"dataset": str(root), "first_seed": seed0, "rollouts": len(rows), "frames": sum(r["frames"] for r in rows),
            "learner_frames": sum(r["learner_frames"] for r in rows), "wall_s_this_call": time.perf_counter() - t0,
            "rollout_success": {t: [sum(all(r["success"]) for r in rows if r["task"] == t), sum(r["task"] == t for r in rows)]
                                for t in config.tasks},
            "falls": sum(r["fell"] for r in rows)}


def round_finetune_config(config: DAggerConfig, data_root: Path):
    """The learner's Stage III recipe, continued from the learner on its data + the rollouts."""
    learner = finetune_config_from_dict(json.loads((config.learner_run / "train_config.json").read_text()))
    return replace(learner, extra_train_roots=(*learner.extra_train_roots, Path(data_root)),
                   init_policy=config.learner_run / "policy", max_steps=config.finetune_steps,
                   output_dir=config.folder() / "run", export_dir=None, threads=config.threads,
                   progress=config.progress, resume=True)


def run_dagger(config: DAggerConfig) -> dict:
    """Collect the rollouts, fine-tune, export; writes and returns ``<round>/dagger.json``."""
    import torch

    from wbvla.vla.finetune import finetune  # lazy: torch, Lightning, transformers

    torch.set_num_threads(config.threads)
    folder = config.folder()
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    collected = collect(config, folder / "data")
    t1 = time.perf_counter()
    result = finetune(round_finetune_config(config, folder / "data"))
    summary = {"command": os.environ.get("WBVLA_COMMAND", ""), "config": json.loads(json.dumps(asdict(config), default=str)),
               "learner_policy": str(config.learner_run / "policy"), "collection": collected,
               "policy_dir": str(result.policy_dir), "train_frames": result.train_frames, "steps": result.fit.steps,
               "collect_wall_s": t1 - t0, "finetune_wall_s": time.perf_counter() - t1}
    write_json_atomic(folder / "dagger.json", summary)
    return summary
