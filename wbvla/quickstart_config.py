"""Config of ``wbvla quickstart`` (kept free of heavy imports so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wbvla.data.teleop_schema import TASKS
from wbvla.paths import REPO_ROOT
from wbvla.validation import one_of, positive, require


@dataclass
class QuickstartConfig:
    """The main job: the shipped VLA runs one task from its instruction, closed loop, and reports."""

    output_dir: Path = REPO_ROOT / "runs" / "quickstart"
    """Where ``report.json``, the video and the frame PNG are written."""
    task: str = "cart_pushing"
    """Task whose instruction the policy gets (``bag_packing``, ``box_loading``, ``cart_pushing``)."""
    seed: int = 1_000_000
    """Held-out trial seed (scene layout, textures, start pose; never in the teleoperation data)."""
    backend: str = "ideal_base"
    """Locomotion backend: ``ideal_base`` (the labelled kinematic stand-in, which shows the VLA's decisions
    play out whatever the LMO can do) or ``lmo`` (the shipped physics LMO: it walks, but falls in some
    trials and does not squat; ``data/lmo/model_card.md`` says what it passes)."""
    policy: Path | None = None
    """A VLA policy folder; None: the shipped ``data/vla/tutorial`` policy (no download, no training)."""
    time_limit_s: float | None = None
    """Simulated seconds; None: the task's limit (the trial also ends 1 s after both subgoals)."""
    stop_frozen_s: float | None = 3.0
    """End the trial once the scene and the policy's output have stood still this long (None: run
    to the time limit)."""
    video_size: int = 256
    """Side of the third-person view (the head camera is shown beside it, upscaled)."""
    threads: int = 1
    """torch threads (1 is fastest on a busy 2-core machine)."""
    readme_frame: Path | None = None
    """Also copy the frame PNG here. Notebook 10's full run passes ``figures/quickstart_frame.png`` (the
    README's image); ``make quickstart`` leaves it None so a fresh clone stays clean."""

    def __post_init__(self) -> None:
        one_of("task", self.task, TASKS)
        one_of("backend", self.backend, ("ideal_base", "lmo"))
        require(isinstance(self.seed, int) and 1_000_000 <= self.seed < 1_100_000,
                f"seed must be a held-out seed in [1000000, 1100000), got {self.seed!r}")
        if self.time_limit_s is not None:
            positive("time_limit_s", self.time_limit_s)
            require(self.time_limit_s <= 120, f"time_limit_s must be <= 120 s for the quickstart, got {self.time_limit_s}")
        if self.stop_frozen_s is not None:
            positive("stop_frozen_s", self.stop_frozen_s)
        require(isinstance(self.video_size, int) and 64 <= self.video_size <= 1024 and self.video_size % 2 == 0,
                f"video_size must be an even int in [64, 1024], got {self.video_size!r}")
        require(isinstance(self.threads, int) and self.threads >= 1, f"threads must be an int >= 1, got {self.threads!r}")
