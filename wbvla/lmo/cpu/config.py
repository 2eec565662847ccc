"""Configs of CPU training (the C MuJoCo engine): engine settings and one training run.

Light on purpose (no torch, no mujoco): ``wbvla lmo-train --engine cpu`` builds them at CLI start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from wbvla.lmo.config import ABLATIONS, LMOTaskConfig, PPOConfig
from wbvla.lmo.lever_config import LeverConfig
from wbvla.paths import cache_dir
from wbvla.validation import require

DR_ROWS = ("sensors", "pushes", "table5")
"""Values of :attr:`CpuEngineConfig.dr_rows`."""
LEGACY_DR_ROWS = "sensors"
"""What a stored run config without ``engine.dr_rows`` (a run started before the field) trained with."""
DR_ROW_DOCS = {
    "table5": "every Table 5 row (lags, actuation offset, initial joint scale, pushes, torque injection, "
              "friction, restitution, masses, payloads, CoM, Kp/Kd), scaled by the curriculum's DR level",
    "pushes": "the sensors rows plus Table 5's pushes (pelvis velocity kicks), scaled by the curriculum's DR level "
              "and ramped in over the run's first env steps (no action lag, torque injection or model draws)",
    "sensors": "joint-state and IMU lags, actuation offset and initial joint scale only (no pushes, action lag, "
               "torque injection or model draws), scaled by the curriculum's DR level",
    "none": "none",
}
"""What a policy trained with each setting saw (the model card says it; ``none``: randomization off)."""


@dataclass
class CpuEngineConfig:
    """How the CPU engine runs a task (the task itself is an :class:`LMOTaskConfig`)."""

    num_envs: int = 256
    """Environments stepped per policy step (one core steps ~4-6 k env steps/s of physics)."""
    threads: int = 1
    """Physics threads (MuJoCo releases the GIL in mj_step). 1 on a shared 2-core machine."""
    levers: LeverConfig = field(default_factory=LeverConfig)
    """Sample-efficiency levers (departures from the paper, each a named switch)."""
    seed: int = 0
    """Seed of the env's random draws (numpy and torch generators)."""
    dr_rows: Literal["sensors", "pushes", "table5"] = "table5"
    """Which Table 5 rows the engine randomizes (when the task's ``domain_rand`` is on, at the
    curriculum's DR level). ``table5``: every row, as mjlab does (:mod:`wbvla.lmo.cpu.env` lists
    them; each env steps with its own ``MjModel``, redrawn at its reset). ``sensors``: the rows of
    the engine before the full table came (:data:`LEGACY_DR_ROWS`): joint-state and IMU lags,
    actuation offset, initial joint scale; one shared model. A resumed run keeps the rows it was
    started with (:func:`wbvla.lmo.cpu.train.train_cpu`)."""
    push_ramp_env_steps: int = 0
    """Pushes grow linearly from nothing to the DR level's strength over this many env steps of the
    run (0: full strength from the start). A run that starts from a walking policy already at the
    curriculum's end would otherwise meet the full pushes at once."""

    def __post_init__(self) -> None:
        require(isinstance(self.num_envs, int) and self.num_envs >= 1, f"num_envs must be an int >= 1, got {self.num_envs!r}")
        require(isinstance(self.threads, int) and self.threads >= 1, f"threads must be an int >= 1, got {self.threads!r}")
        require(self.dr_rows in DR_ROWS, f"dr_rows must be one of {DR_ROWS}, got {self.dr_rows!r}")
        require(isinstance(self.push_ramp_env_steps, int) and self.push_ramp_env_steps >= 0,
                f"push_ramp_env_steps must be an int >= 0, got {self.push_ramp_env_steps!r}")



def cpu_ppo() -> PPOConfig:
    """PPO settings of CPU training: mjlab's G1 recipe with the learning-rate fix.

    Measured on the CPU engine (256 envs x 24 steps = 6,144 samples per iteration): with the adaptive
    KL schedule (desired KL 0.01) rsl-rl's learning rate sat at its 1e-5 floor in most iterations of
    every earlier CPU run (``data/lmo/curves``), so PPO barely moved. A fixed rate of 3e-4 (the rate
    rsl-rl's adaptive schedule settles near on large GPU batches) keeps learning; the logged KL
    shows whether it is too large."""
    return PPOConfig(actor_hidden=(256, 128, 128), critic_hidden=(256, 128, 128), learning_rate=3e-4, schedule="fixed")


@dataclass
class CpuTrainConfig:
    """One CPU training run (one stage of the plan); the same dataclass drives the CLI and notebooks."""

    run_dir: str = field(default_factory=lambda: str(cache_dir() / "lmo" / "cpu_runs" / "stage1"))
    """Run folder (created; an existing one is resumed from its newest checkpoint)."""
    task: Literal["lmo", "velocity"] = "lmo"
    """``lmo``: the paper's policy (discrete commands, Eq. 2); ``velocity``: the HOMIE-style baseline."""
    stage: int = 1
    """Curriculum stage (1: gait acquisition, 2: precision and stability)."""
    ablation: Literal["none", "no_eq3", "no_stage2", "no_stage1"] = "none"
    """Table 3 ablation (see :class:`~wbvla.lmo.config.LMOTaskConfig`)."""
    engine: CpuEngineConfig = field(default_factory=CpuEngineConfig)
    """Env count, threads and the sample-efficiency levers."""
    ppo: PPOConfig = field(default_factory=cpu_ppo)
    """PPO settings."""
    domain_rand: bool = True
    """Table 5 randomization, scaled by the curriculum (which rows: ``engine.dr_rows``)."""
    episode_length_s: float = 20.0
    """Episode length (s)."""
    max_env_steps: int = 50_000_000
    """Stop once the run (all chunks) has seen this many env steps."""
    minutes: float | None = None
    """Wall-clock budget of this chunk (None: until ``max_env_steps``)."""
    init_from: str | None = None
    """Checkpoint to start a new run from (Stage II from Stage I)."""
    save_interval: int = 50
    """Keep a checkpoint every this many iterations (the newest is always kept)."""
    torch_threads: int = 1
    """torch threads (1: on a busy 2-core machine 2 threads ran 20x slower)."""

    def __post_init__(self) -> None:
        require(self.stage in (1, 2), f"stage must be 1 or 2, got {self.stage!r}")
        require(self.ablation in ABLATIONS, f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")
        require(self.max_env_steps >= 1, f"max_env_steps must be >= 1, got {self.max_env_steps}")
        require(self.minutes is None or self.minutes > 0, f"minutes must be > 0, got {self.minutes}")
        require(self.torch_threads >= 1, f"torch_threads must be >= 1, got {self.torch_threads}")

    def task_config(self) -> LMOTaskConfig:
        t = LMOTaskConfig(task=self.task, stage=self.stage, ablation=self.ablation, num_envs=self.engine.num_envs,
                          episode_length_s=self.episode_length_s, seed=self.engine.seed)
        return t if self.domain_rand else replace(t, domain_rand=t.domain_rand.disabled())
