"""Config of ``wbvla vla-dagger`` (light imports: the CLI builds it for ``--help``).

One DAgger round (Ross et al., 2011) for a trained Stage III policy: roll the learner out in the
closed loop, label every visited frame with what the scripted expert would command there, add
those frames to the teleoperation data and continue training. Not part of the paper's recipe: the
project's diagnostic for the closed-loop gap of the learned rows (issue #11), see
:mod:`wbvla.vla.dagger`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wbvla.data import teleop_schema as ts
from wbvla.data.teleop_schema import TASKS
from wbvla.validation import in_range, positive, require

EXPERT_PHASES = tuple(p for p in ts.EXPERT_PHASES if p not in ("start", "done") and not p.endswith("_timeout"))
"""The scripted expert's phases (:data:`wbvla.data.teleop_schema.EXPERT_PHASES`) a learner may drive the
arms in: all but the start, the end and the locomotion phases that gave up."""

DAGGER_SEED0 = 50_000
"""First training seed of DAgger rollouts: the teleoperation datasets start at 0 and hold a few
hundred seeds, so the rollouts see scenes the demonstrations did not (all < 100 000: training range)."""


@dataclass
class DAggerConfig:
    """One DAgger round: collect learner rollouts labelled by the expert, then fine-tune on all."""

    learner_run: Path
    """The Stage III run folder of the learner (``vla_runs/.../finetune/<name>``): its ``policy/``
    acts, its ``train_config.json`` is the recipe the round continues."""
    episodes_per_task: int = 20
    """Rollouts per task (every one is kept: failures are where the labels matter)."""
    tasks: tuple[str, ...] = TASKS
    """Which tasks."""
    first_seed: int | None = None
    """Seeds first_seed, first_seed + 1, ... per task (training range). None: :data:`DAGGER_SEED0`
    for a first round, and for a later one the seed after the highest one of the rounds the
    learner already trained on (each round sees new scenes)."""
    expert_share: float = 0.5
    """Probability that the expert, not the learner, drives a block of a locomotion phase (beta
    of DAgger). Manipulation phases are always the expert's (its state machine assumes the grasp
    it made), so the learner's states differ from the expert's where the suite's failures are."""
    learner_arm_phases: tuple[str, ...] = ()
    """Expert phases (:data:`EXPERT_PHASES`) in which the learner's arm and gripper targets are
    sent in its blocks, e.g. ``("approach", "pregrasp", "grasp")``: the rollouts then show the
    learner's own arm errors (drift, an early or late gripper close) labelled with the expert's
    targets, which its state machine keeps on its own timeline. Empty (default): the arms are
    always the expert's."""
    accept_stance_m: float | None = None
    """When the learner drives the approach and has stood still for ``accept_still_s`` within this
    distance (m) and ``accept_stance_rad`` of the grasp stance, the expert grasps from there instead
    of re-stepping to its own 1.5-3 cm: the rollouts then show grasps from the learner's imprecise
    stances (the suite's learned rows stop 7-8 cm off and miss). None: the expert always re-steps."""
    accept_stance_rad: float = 0.15
    """Heading tolerance of ``accept_stance_m`` (rad)."""
    accept_still_s: float = 1.0
    """How long the learner must have stood still (all flags 0 while driving) for ``accept_stance_m``."""
    block_s: float = 1.0
    """Who drives is drawn per block of this many seconds (a per-tick switch would chatter)."""
    time_limit_s: float = 30.0
    """Simulated seconds per rollout (the expert needs 12-25 s per task)."""
    backend: str = "ideal_base"
    """Locomotion backend of the rollouts (the learner's suite column)."""
    image_size: int = 128
    """Head-camera image given to the learner and recorded (the teleoperation data's size)."""
    finetune_steps: int = 1500
    """Stage III optimizer steps on the teleoperation data + the rollouts, starting from the learner."""
    workers: int = 2
    """Processes running rollouts."""
    threads: int = 1
    """torch threads per process (rollouts and training)."""
    output_dir: Path | None = None
    """Round folder (``data/`` the LeRobot v3 rollouts, ``run/`` the fine-tuning run, ``dagger.json``);
    None: ``<learner_run>_dagger``."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        self.learner_run = Path(self.learner_run)
        require((self.learner_run / "train_config.json").is_file() and (self.learner_run / "policy" / "policy.json").is_file(),
                f"learner_run {self.learner_run}: needs train_config.json and policy/policy.json (a finished Stage III run)")
        require(isinstance(self.episodes_per_task, int) and self.episodes_per_task >= 1,
                f"episodes_per_task must be an int >= 1, got {self.episodes_per_task!r}")
        require(len(self.tasks) > 0 and all(t in TASKS for t in self.tasks), f"tasks must be names from {TASKS}, got {self.tasks!r}")
        require(self.first_seed is None or (isinstance(self.first_seed, int) and 0 <= self.first_seed
                and self.first_seed + self.episodes_per_task <= 100_000),
                f"first_seed must keep every rollout seed in the training range [0, 100000), got {self.first_seed!r}")
        in_range("expert_share", self.expert_share, 0.0, 1.0)
        self.learner_arm_phases = tuple(self.learner_arm_phases)
        require(all(p in EXPERT_PHASES for p in self.learner_arm_phases),
                f"learner_arm_phases must be names from {EXPERT_PHASES}, got {self.learner_arm_phases!r}")
        positive("block_s", self.block_s)
        if self.accept_stance_m is not None:
            positive("accept_stance_m", self.accept_stance_m)
        positive("accept_stance_rad", self.accept_stance_rad)
        positive("accept_still_s", self.accept_still_s)
        positive("time_limit_s", self.time_limit_s)
        require(self.backend in ("ideal_base", "lmo"), f"backend must be ideal_base or lmo, got {self.backend!r}")
        require(isinstance(self.image_size, int) and 16 <= self.image_size <= 512 and self.image_size % 2 == 0,
                f"image_size must be an even int in [16, 512], got {self.image_size!r}")
        for name in ("finetune_steps", "workers", "threads"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"{name} must be an int >= 1, got {v!r}")

    def folder(self) -> Path:
        """The round folder."""
        return Path(self.output_dir) if self.output_dir is not None else self.learner_run.with_name(self.learner_run.name + "_dagger")
