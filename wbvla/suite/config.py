"""Configs of the closed-loop task suite (light imports: the CLI builds them for ``--help``).

* :class:`SuiteConfig` — the Table 2 / Table 6 analog: every row on every backend, the same
  held-out seeds (``wbvla suite``);
* :class:`ScalingConfig` — the Fig. 3 analog: success vs teleoperation demonstrations for Stage II
  models pretrained on a fraction of the human locomotion video (start-pose variations) or of the
  robot manipulation video (scene variations) (``wbvla suite-scaling``).

Both run trials as independent units (row or model, backend, task, variation, seed) in a worker
pool and keep them in a resumable store (:mod:`wbvla.suite.store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wbvla.control.config import ExecutionConfig
from wbvla.data.teleop_schema import TASKS
from wbvla.validation import one_of, positive, require

ROWS: tuple[str, ...] = ("wholebodyvla", "no_lam", "manip_lam", "shared_lam", "velocity_rl", "no_state", "expert")
"""Table 2 rows (+ Table 6's w/o state and the scripted expert, the ceiling), in table order."""
ROW_VARIANT: dict[str, str] = {"wholebodyvla": "wholebodyvla", "no_lam": "no_lam", "manip_lam": "mani_lam",
                               "shared_lam": "shared_lam", "velocity_rl": "velocity_rl", "no_state": "no_state"}
"""The :data:`wbvla.vla.variants.VARIANTS` entry behind each learned row."""
SPLIT_PARTS = ("arms", "legs")
"""What the learner drives in a split-control row (:mod:`wbvla.suite.split`; the expert drives the rest)."""
ROW_LABELS: dict[str, str] = {"wholebodyvla": "WholeBodyVLA", "no_lam": "w/o LAM", "manip_lam": "w/ manip. LAM",
                              "shared_lam": "w/ shared LAM", "velocity_rl": "w/ velocity-based RL",
                              "no_state": "w/o state (Table 6)", "expert": "scripted expert (ceiling)"}
SUITE_BACKENDS: tuple[str, ...] = ("lmo", "ideal_base")
"""Columns: ``lmo`` = the physics legs (the LMO; for the velocity-RL row its velocity-tracking
policy, the row's point), ``ideal_base`` = the labelled kinematic stand-in."""
PAPER_TABLE2: dict[str, dict[str, int]] = {
    "wholebodyvla": {"grasp_bags": 23, "move_and_squat": 13, "squat_and_grasp": 19, "rise_and_turn": 17,
                     "grab_handle": 23, "push_ahead": 22},
    "velocity_rl": {"grasp_bags": 22, "move_and_squat": 1, "squat_and_grasp": 16, "rise_and_turn": 3,
                    "grab_handle": 24, "push_ahead": 15},
    "no_lam": {"grasp_bags": 15, "move_and_squat": 4, "squat_and_grasp": 8, "rise_and_turn": 6,
               "grab_handle": 16, "push_ahead": 10},
    "manip_lam": {"grasp_bags": 24, "move_and_squat": 7, "squat_and_grasp": 17, "rise_and_turn": 11,
                  "grab_handle": 20, "push_ahead": 14},
    "shared_lam": {"grasp_bags": 18, "move_and_squat": 11, "squat_and_grasp": 16, "rise_and_turn": 16,
                   "grab_handle": 20, "push_ahead": 18},
    "no_state": {"grasp_bags": 21, "move_and_squat": 12, "squat_and_grasp": 22, "rise_and_turn": 14,
                 "grab_handle": 24, "push_ahead": 22},
}
"""The paper's successes out of 25 (Table 2 and Table 6), for side-by-side plots."""
EVAL_SEED0 = 1_000_000
"""First held-out seed (``wbvla.tasks.specs.SEED_RANGES['eval']``)."""
START_POSE_CELLS: tuple[tuple[str, str], ...] = tuple(
    (t, v) for v in ("start_distance", "start_lateral", "start_orientation") for t in TASKS)
"""Fig. 3 (a) analog: the App. C.1 (1)-(3) start-pose variations on every task."""
SCENE_CELLS: tuple[tuple[str, str], ...] = (
    ("bag_packing", "unseen_table"), ("box_loading", "unseen_table"), ("bag_packing", "unseen_object"),
    ("bag_packing", "object_position"), ("box_loading", "object_position"))
"""Fig. 3 (b) analog: the App. C.1 (5)-(7) scene variations where they apply."""


def _ints(name: str, values, minimum: int = 1) -> None:
    require(isinstance(values, tuple) and len(values) > 0 and all(isinstance(v, int) and v >= minimum for v in values),
            f"{name} must be a non-empty tuple of ints >= {minimum}, got {values!r}")


@dataclass
class TrainingSizes:
    """How the learned rows / models are trained when missing (``train_missing``)."""

    corpus_size: str = "tutorial"
    """Stage I corpus and LAMs of Stage II."""
    dataset_size: str = "full"
    """Teleoperation dataset of Stage III (``cache_dir()/teleop/<dataset_size>``; ``full``: made by
    ``wbvla teleop-data --size full``, several times the tutorial's 75 episodes; each trained policy
    records how many episodes it saw in its ``policy.json``)."""
    pretrain_steps: int = 1500
    """Stage II optimizer steps (the tutorial default)."""
    finetune_steps: int = 3000
    """Stage III optimizer steps (twice the tutorial's, for the larger dataset)."""
    vision_tower: Path | None = None
    """A pretrained VLM folder (``wbvla vision-pretrain``'s ``<run>/tower``) the learned rows start
    from instead of the preset's random weights (:func:`wbvla.vla.config.with_vision_tower`)."""
    lam_features: str = "pixel"
    """Feature space of the LAMs that label Stage II (:attr:`wbvla.vla.config.PretrainConfig.lam_features`)."""

    def __post_init__(self) -> None:
        one_of("corpus_size", self.corpus_size, ("smoke", "tutorial", "full"))
        require(isinstance(self.dataset_size, str) and self.dataset_size, "dataset_size must be a non-empty string")
        _ints("steps", (self.pretrain_steps, self.finetune_steps))


@dataclass
class RunSettings:
    """How trials run (shared by the suite and the scaling study)."""

    workers: int = 2
    """Worker processes (each with ``threads`` torch threads)."""
    threads: int = 1
    """torch threads per worker (1 is fastest on a shared 2-core machine)."""
    image_size: int | None = None
    """Head-camera image given to the policy; None: what the policy consumes
    (:func:`wbvla.control.policy_contract.image_size_of`: its ``image_size``, else the one default)."""
    time_limit_s: float | None = None
    """Simulated seconds per trial; None: each task's ``time_limit_s`` (45 / 60 / 40 s)."""
    output_dir: Path | None = None
    """Run folder (``results.jsonl``, ``logs/``, ``videos/``); None: ``cache_dir()/suite/<run_name>``."""
    missing: str = "error"
    """A learned row / model whose policy folder is missing: ``error`` (a clear error naming it),
    ``train`` (train it first, resumable) or ``skip`` (run the others; the report lists it)."""
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    """How the control tick follows the policy's chunks (:class:`~wbvla.control.config.ExecutionConfig`):
    the newest (``chunk``, default) or ACT's temporal ensemble (``temporal_ensemble``). Part of each
    trial's key unless ``chunk``, so trials of different modes never mix in one run folder."""
    stop_frozen_s: float | None = 3.0
    """End an unfinished trial once its scene and the policy's output have stood still this long
    (a fixed point of a deterministic policy: the rest would look the same; the record says so).
    None: always run to the time limit."""
    stop_away_m: float | None = 4.0
    """End an unfinished trial once the base is farther than this (m) from the task's object while
    the object has not moved (the robot walked away from the task; every start pose is within 2 m
    of it). Applies with ``stop_frozen_s`` only. None: never."""
    rerun_stale: bool = False
    """Run again the stored trials whose recorded versions (task sources, expert sources, locomotion
    policy; :func:`wbvla.suite.trials.versions`) differ from the current ones."""
    run_missing: bool = True
    """Run the planned trials that are not in the store yet. False: only aggregate what is stored
    (the planned trials without a record are counted in ``RunResult.not_run``, never hidden)."""
    save_logs: bool = True
    """Write each trial's runner log + trace as ``logs/<key>.npz``."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        _ints("workers/threads", (self.workers, self.threads))
        require(self.image_size is None or (isinstance(self.image_size, int) and self.image_size >= 16),
                f"image_size must be None or an int >= 16, got {self.image_size!r}")
        one_of("missing", self.missing, ("error", "train", "skip"))
        if self.time_limit_s is not None:
            positive("time_limit_s", self.time_limit_s)
        if self.stop_away_m is not None:
            positive("stop_away_m", self.stop_away_m)


@dataclass
class SuiteConfig:
    """The Table 2 analog (``wbvla suite``): rows x backends x tasks x held-out seeds."""

    rows: tuple[str, ...] = ROWS
    """Which rows (:data:`ROWS`)."""
    backends: tuple[str, ...] = SUITE_BACKENDS
    """Which columns (:data:`SUITE_BACKENDS`)."""
    tasks: tuple[str, ...] = TASKS
    """Which tasks."""
    trials_per_task: int = 25
    """Held-out seeds per task (App. B.3: 25), the same for every row and backend."""
    variations: tuple[str, ...] = ("none",)
    """App. C.1 / C.2 variations to run (``none`` is Table 2; others where they apply to a task)."""
    first_seed: int = EVAL_SEED0
    """Seeds first_seed .. first_seed + trials_per_task - 1 (held-out range)."""
    shipped_wholebodyvla: bool = False
    """The wholebodyvla row from the shipped tutorial policy (``data/vla/tutorial``: the tutorial
    dataset and recipe, no training needed; the SMOKE runs and a quick look) instead of the variant
    trained with ``training`` like every other row (the fair comparison, the default)."""
    expert_noise: bool = False
    """Command noise of the scripted expert row (off: the clean ceiling)."""
    videos_per_task: int = 1
    """Record head-camera + third-person videos of the first this many seeds of every row and task
    on the ideal base (0: none)."""
    run_name: str = "table2"
    """Folder name under ``cache_dir()/suite``."""
    training: TrainingSizes = field(default_factory=TrainingSizes)
    """Sizes of the learned rows (the tutorial defaults: the cached ``build_variant`` runs)."""
    extra_policies: tuple[Path, ...] = ()
    """Policy folders run on the same trials as extra rows labelled ``extra:<run name>`` (from their
    ``policy.json``), beside the table, never in the paper's orderings: e.g. a DAgger round
    (``wbvla vla-dagger``), a diagnostic that is not in the paper."""
    split_rows: tuple[str, ...] = ()
    """Split-control diagnostic rows ``ROW:PART`` (:mod:`wbvla.suite.split`), e.g.
    ``wholebodyvla:arms`` (the row's arms, the expert's legs) or ``wholebodyvla:legs``; ROW may also
    be an ``extra:<run>`` row of ``extra_policies``. Labelled ``split:ROW:PART``, run on the ideal
    base only, beside the table, never in the paper's orderings."""
    run: RunSettings = field(default_factory=RunSettings)
    """Workers, time limit, output folder."""

    def __post_init__(self) -> None:
        for entry in self.split_rows:
            row, _, part = str(entry).rpartition(":")
            require((row.startswith("extra:") or (row in ROW_VARIANT and row != "velocity_rl")) and part in SPLIT_PARTS,
                    f"split_rows entries must be ROW:PART with ROW a learned row that commands flags "
                    f"({[r for r in ROW_VARIANT if r != 'velocity_rl']}) or an extra:<run> row, and PART one of "
                    f"{SPLIT_PARTS}, got {entry!r}")
        self.extra_policies = tuple(Path(p) for p in self.extra_policies)
        for p in self.extra_policies:
            require((p / "policy.json").is_file(), f"extra_policies: no policy.json in {p} (not a policy folder)")
        require(len(self.rows) > 0 and all(r in ROWS for r in self.rows), f"rows must be names from {ROWS}, got {self.rows!r}")
        require(len(self.backends) > 0 and all(b in SUITE_BACKENDS for b in self.backends),
                f"backends must be names from {SUITE_BACKENDS}, got {self.backends!r}")
        require(len(self.tasks) > 0 and all(t in TASKS for t in self.tasks), f"tasks must be names from {TASKS}, got {self.tasks!r}")
        _ints("trials_per_task", (self.trials_per_task,))
        require(EVAL_SEED0 <= self.first_seed and self.first_seed + self.trials_per_task <= EVAL_SEED0 + 100_000,
                f"first_seed must leave all seeds in the held-out range, got {self.first_seed}")
        require(isinstance(self.videos_per_task, int) and self.videos_per_task >= 0,
                f"videos_per_task must be an int >= 0, got {self.videos_per_task!r}")
        require(bool(self.run_name) and "/" not in self.run_name, f"run_name must be a folder name, got {self.run_name!r}")


@dataclass
class ScalingConfig:
    """The Fig. 3 analog (``wbvla suite-scaling``), on the ideal base (the physics LMO falls)."""

    human_fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    """Stage II human locomotion video fractions (robot video 100 %), tried on :data:`START_POSE_CELLS`."""
    robot_fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    """Stage II robot manipulation video fractions (human video 100 %), tried on :data:`SCENE_CELLS`."""
    demos: tuple[int, ...] = (10, 25, 50, 100)
    """Stage III demonstrations per task (needs a dataset with at least max + held-out per task)."""
    trials_per_cell: int = 2
    """Held-out seeds per (task, variation) cell for every model."""
    start_pose_cells: tuple[tuple[str, str], ...] = START_POSE_CELLS
    """(task, variation) cells of the human-video group (default: all start-pose variations)."""
    scene_cells: tuple[tuple[str, str], ...] = SCENE_CELLS
    """(task, variation) cells of the robot-video group (default: all scene variations)."""
    first_seed: int = EVAL_SEED0 + 50_000
    """First seed (held-out range, apart from the Table 2 seeds)."""
    backend: str = "ideal_base"
    """Locomotion backend of every trial."""
    run_name: str = "scaling"
    """Folder name under ``cache_dir()/suite``."""
    stand_in_policy: Path | None = None
    """Run every model of the grid as this policy folder instead (plumbing checks in SMOKE runs
    and tests; the records carry its model id). None: the grid's own trained models."""
    training: TrainingSizes = field(default_factory=lambda: TrainingSizes(dataset_size="full", pretrain_steps=500,
                                                                          finetune_steps=500))
    """Sizes of the grid's models (the defaults keep 7 Stage II and 28 Stage III runs affordable on 2 cores)."""
    run: RunSettings = field(default_factory=RunSettings)

    def __post_init__(self) -> None:
        for name in ("human_fractions", "robot_fractions"):
            v = getattr(self, name)
            require(isinstance(v, tuple) and len(v) > 0 and all(0.0 <= f <= 1.0 for f in v),
                    f"{name} must be a non-empty tuple of fractions in [0, 1], got {v!r}")
        _ints("demos", self.demos)
        _ints("trials_per_cell", (self.trials_per_cell,))
        from wbvla.tasks.specs import VARIATIONS  # lazy: MuJoCo (the CLI builds this config)

        for name in ("start_pose_cells", "scene_cells"):
            cells = getattr(self, name)
            require(len(cells) > 0 and all(v in VARIATIONS and t in VARIATIONS[v].tasks for t, v in cells),
                    f"{name} must be (task, variation) pairs where the variation applies to the task, got {cells!r}")
        require(EVAL_SEED0 <= self.first_seed and self.first_seed + self.trials_per_cell <= EVAL_SEED0 + 100_000,
                f"first_seed must leave all seeds in the held-out range, got {self.first_seed}")
        one_of("backend", self.backend, ("ideal_base", "lmo"))
        require(bool(self.run_name) and "/" not in self.run_name, f"run_name must be a folder name, got {self.run_name!r}")
