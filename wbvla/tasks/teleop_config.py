"""Config of ``wbvla teleop-data``: the scripted expert's LeRobot v3 teleoperation dataset.

Light imports only (the CLI builds it for ``--help``). The generator is
:func:`wbvla.tasks.teleop.generate_teleop_data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wbvla.data.teleop_schema import TASKS
from wbvla.paths import cache_dir
from wbvla.validation import require

SIZE_PRESETS: dict[str, int] = {"smoke": 1, "tutorial": 25, "full": 100}
"""Successful demonstrations per task of each preset. ``full`` covers the task suite's data-scaling
study (up to 100 per task; the paper collected 50 per task on the real robot)."""
TRAIN_SEED_STOP = 100_000
"""Teleoperation data use training seeds only (``wbvla.tasks.specs.SEED_RANGES['train']``)."""


@dataclass
class TeleopDataConfig:
    """What ``wbvla teleop-data`` generates."""

    size: Literal["smoke", "tutorial", "full"] = "smoke"
    """Preset: demonstrations per task from :data:`SIZE_PRESETS`; also the default folder name."""
    episodes_per_task: int | None = None
    """Successful demonstrations per task; None uses the preset."""
    tasks: tuple[str, ...] = TASKS
    """Which tasks."""
    seed: int = 0
    """First training seed; trials use seeds seed, seed + 1, ... per task (all < 100 000, the
    training range; evaluation seeds never appear in teleoperation data)."""
    max_attempts_per_episode: float = 3.0
    """Give up on a task after this many attempts per wanted demonstration (failed expert runs
    are discarded, only successful ones are kept)."""
    image_size: int = 128
    """Head-camera frames are image_size x image_size (same intrinsics as the Stage I robot clips)."""
    backend: Literal["ideal_base", "lmo", "velocity_rl"] = "ideal_base"
    """Locomotion backend during collection (recorded in the dataset). Default: the labelled
    kinematic ideal base, since the shipped physics LMO cannot walk yet."""
    noise: bool = True
    """Command noise in the expert (late / wrong flags, then recoveries)."""
    stance_offset: tuple[float, float] = (0.0, 0.0)
    """With ``noise``: :attr:`~wbvla.tasks.expert_config.ExpertNoiseConfig.stance_offset` (metres,
    radians), the grasp stance moved per episode so the data show grasps from imprecise stances."""
    settle_before_arms: bool = True
    """:attr:`~wbvla.tasks.expert_config.ExpertConfig.settle_before_arms`: the expert waits for the
    base to coast to rest before each arm motion that follows a walk (True, every dataset recorded
    before this switch), or starts it as soon as the flags are released (False: no frames of a
    robot waiting at rest, which one head image cannot tell from the moment the arms should start)."""
    labels: Literal["intended", "executed"] = "intended"
    """Which locomotion command the ``action`` column records. ``intended``: what the noise-free
    expert commands in the state the noisy one reached (DART, Laskey et al. 2017: the data show the
    recoveries, the labels never show the errors); ``executed``: the flags actually sent, noise
    included (what a human teleoperator's log holds, and every dataset recorded before this
    switch). Why ``intended``: with ``executed`` the policy is trained to copy the injected late
    releases and wrong pulses; they are about as frequent as the lateral steps it must learn (issue
    20: held-out lateral-flag accuracy 0.85, below the 0.89 of always answering 0). Arms, grippers
    and h* are never noisy; ``reference_velocity`` is always what the backend was asked."""
    workers: int = 1
    """Parallel processes running trials (one writer in the main process)."""
    output_dir: Path | None = None
    """Dataset root; None: ``cache_dir()/teleop/<size>``. The summary JSON is written next to it
    (``<output_dir>_summary.json``)."""
    resume: bool = True
    """Append to an existing dataset at ``output_dir`` (continuing after the seeds it holds);
    False requires an empty or missing folder."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        require(self.size in SIZE_PRESETS, f"size must be one of {tuple(SIZE_PRESETS)}, got {self.size!r}")
        if self.episodes_per_task is not None:
            require(isinstance(self.episodes_per_task, int) and self.episodes_per_task >= 1,
                    f"episodes_per_task must be an int >= 1, got {self.episodes_per_task!r}")
        require(len(self.tasks) > 0 and all(t in TASKS for t in self.tasks) and len(set(self.tasks)) == len(self.tasks),
                f"tasks must be distinct names from {TASKS}, got {self.tasks!r}")
        require(isinstance(self.seed, int) and 0 <= self.seed < TRAIN_SEED_STOP,
                f"seed must be a training seed in [0, {TRAIN_SEED_STOP}), got {self.seed!r}")
        require(self.max_attempts_per_episode >= 1, f"max_attempts_per_episode must be >= 1, got {self.max_attempts_per_episode!r}")
        require(isinstance(self.image_size, int) and 16 <= self.image_size <= 512 and self.image_size % 2 == 0,
                f"image_size must be an even int in [16, 512], got {self.image_size!r}")
        require(self.backend in ("ideal_base", "lmo", "velocity_rl"),
                f"backend must be ideal_base, lmo or velocity_rl, got {self.backend!r}")
        require(self.labels in ("intended", "executed"), f"labels must be intended or executed, got {self.labels!r}")
        require(isinstance(self.workers, int) and self.workers >= 1, f"workers must be an int >= 1, got {self.workers!r}")

    @property
    def per_task(self) -> int:
        """Successful demonstrations wanted per task."""
        return self.episodes_per_task if self.episodes_per_task is not None else SIZE_PRESETS[self.size]

    def root(self) -> Path:
        """The dataset folder."""
        if self.output_dir is not None:
            return Path(self.output_dir)
        return cache_dir() / "teleop" / self.size

    def summary_path(self) -> Path:
        root = self.root()
        return root.with_name(f"{root.name}_summary.json")
