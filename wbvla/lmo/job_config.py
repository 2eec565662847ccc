"""Configs of the LMO jobs (``wbvla lmo-*``): training chunks, throughput benchmark, ONNX export,
the Table 3 evaluation and the clip library. Kept free of heavy imports so the CLI starts fast."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from wbvla.lmo.config import SMOKE_ENVS, LMOTaskConfig, PPOConfig
from wbvla.paths import cache_dir, data_dir
from wbvla.training.devices import DeviceName, check_device
from wbvla.validation import in_range, one_of, positive, require


@dataclass
class TrainConfig:
    """One training chunk of the LMO or the velocity baseline (``wbvla lmo-train``)."""

    task: LMOTaskConfig = field(default_factory=LMOTaskConfig)
    """The task: policy kind, stage, ablation, env count and all Table 4/5 settings."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO and network settings."""
    iterations: int = 100
    """PPO iterations to run in this call (a chunk; call again to continue)."""
    run_dir: Path | None = None
    """Run folder; default ``<cache>/lmo/runs/<task>_stage<k>[_<ablation>]``."""
    init_from: Path | None = None
    """Checkpoint to start from when ``run_dir`` has none (Stage II: the Stage I checkpoint)."""
    save_interval: int = 50
    """Save a checkpoint every this many iterations (and always at the end of the chunk)."""
    device: DeviceName = "auto"
    """Torch/Warp device (:data:`wbvla.training.devices.DEVICES`); ``auto`` picks CUDA when available."""
    threads: int = 1
    """torch CPU threads of a CPU run (on a shared 2-core box 1 thread is ~20x faster than 2)."""
    smoke: bool = False
    """Tiny CPU run: 16 envs, 2 iterations of 8 steps, small networks."""

    def __post_init__(self) -> None:
        require(isinstance(self.threads, int) and self.threads >= 1, f"threads must be an int >= 1, got {self.threads!r}")
        require(isinstance(self.iterations, int) and self.iterations >= 1,
                f"iterations must be an int >= 1, got {self.iterations!r}")
        require(isinstance(self.save_interval, int) and self.save_interval >= 1,
                f"save_interval must be an int >= 1, got {self.save_interval!r}")
        check_device(self.device)
        if self.init_from is not None:
            require(Path(self.init_from).is_file(), f"init_from checkpoint {self.init_from} does not exist")
        if self.task.ablation == "no_stage1":
            require(self.task.stage == 2 and self.init_from is None,
                    "ablation 'no_stage1' trains Stage II from scratch: use stage=2 and no init_from")
        if self.task.ablation == "no_stage2":
            require(self.task.stage == 1, "ablation 'no_stage2' is the Stage I policy: use stage=1")

    def resolved(self) -> TrainConfig:
        """Apply ``smoke`` and fill in the default run folder."""
        cfg = self
        if cfg.smoke:
            cfg = replace(cfg, iterations=min(cfg.iterations, 2), task=replace(cfg.task, num_envs=SMOKE_ENVS),
                          ppo=replace(cfg.ppo, num_steps_per_env=8, actor_hidden=(64, 64), critic_hidden=(64, 64),
                                      num_mini_batches=2, num_learning_epochs=2))
        if cfg.run_dir is None:
            name = f"{cfg.task.task}_stage{cfg.task.stage}" + ("" if cfg.task.ablation == "none" else f"_{cfg.task.ablation}")
            cfg = replace(cfg, run_dir=cache_dir() / "lmo" / "runs" / (name + ("_smoke" if cfg.smoke else "")))
        return cfg


@dataclass
class BenchmarkConfig:
    """Training throughput of the LMO task vs mjlab's ``Mjlab-Velocity-Flat-Unitree-G1`` (``wbvla lmo-bench``)."""

    num_envs: int = 256
    """Environments of both tasks (the same count, as the issue asks)."""
    iterations: int = 3
    """Timed PPO iterations per task, alternating between the two (after one warm-up round)."""
    device: DeviceName = "auto"
    """Device of both runs."""
    stage: int = 1
    """LMO stage to time."""
    threads: int = 1
    """torch CPU threads (CPU runs only)."""
    physics_threads: tuple[int, ...] = (1,)
    """Physics threads of the CPU engine (:attr:`~wbvla.lmo.cpu.config.CpuEngineConfig.threads`), one
    timed run each (``lmo_cpu_engine`` for 1, ``lmo_cpu_engine_<n>threads`` for n > 1): mjlab on CPU
    steps its batch on one core, the C engine can split it over several."""
    out: Path | None = field(default_factory=lambda: data_dir() / "lmo" / "benchmark_cpu.json")
    """JSON file the benchmark writes (None: print only). For a GPU run pass
    ``data/lmo/benchmark_gpu.json``."""

    def __post_init__(self) -> None:
        positive("num_envs", self.num_envs)
        positive("iterations", self.iterations)
        require(isinstance(self.threads, int) and self.threads >= 1, f"threads must be an int >= 1, got {self.threads!r}")
        self.physics_threads = tuple(self.physics_threads)
        require(len(self.physics_threads) > 0 and len(set(self.physics_threads)) == len(self.physics_threads)
                and all(isinstance(n, int) and n >= 1 for n in self.physics_threads),
                f"physics_threads must be distinct ints >= 1, got {self.physics_threads!r}")


@dataclass
class EvalConfig:
    """The App. B.4 protocol and which policies to run (``wbvla lmo-eval``)."""

    policies: dict[str, Path] = field(default_factory=dict)
    """Name -> ONNX file. Names ``LMO``, ``velocity_baseline``, ``LMO_no_eq3``, ``LMO_no_stage2``,
    ``LMO_no_stage1`` get the paper's numbers beside them. Empty: the shipped policies."""
    trials: int = 20
    """Trials per primitive and per posture (directions alternate +, -)."""
    speed: float = 0.3
    """|v_x|, |v_y| (m/s) and |w_z| (rad/s) of the active phase."""
    active_s: float = 5.0
    """Active phase (s)."""
    settle_s: float = 10.0
    """Settling phase with zero command (s); the errors are measured here."""
    preroll_s: float = 1.0
    """Standing still before each trial starts (s), so every trial begins at rest."""
    init_noise: float = 0.02
    """Uniform noise on the initial leg joint angles (rad); the trials' only randomness besides
    the start heading (the protocol has no domain randomization)."""
    sway_s: float = 10.0
    """Length of one CoM-sway trial (s) ..."""
    sway_preroll_s: float = 2.0
    """... after this long reaching the stance height while the arms move to the clip start (s)."""
    stand_s: float = 20.0
    """Length of the plain zero-command stand test (s): arms at their default, no pushes."""
    squat_height: float = 0.55
    """Pelvis height commanded for the squatting trials (m); standing is the nominal 0.65."""
    arm_speed: float = 2.0
    """Replay speed of the arm clips."""
    arm_amplitude: float = 1.5
    """Amplitude scale of the arm clips about their mean pose."""
    arm_noise: float = 0.02
    """Std of the Gaussian noise on the replayed arm targets (rad)."""
    push_force: float = 150.0
    """Largest horizontal push (N)."""
    push_torque: float = 30.0
    """Largest yaw torque (N m)."""
    push_duration_s: float = 0.2
    """Length of each push (s)."""
    push_interval_s: float = 2.5
    """Mean time between pushes (s) ..."""
    push_jitter_s: float = 0.5
    """... with uniform jitter of this size (s)."""
    seed: int = 0
    """Seed of the trial randomness."""
    smoke: bool = False
    """Seconds-long version (2 trials, 1 s phases) that still runs every code path."""

    def __post_init__(self) -> None:
        require(isinstance(self.trials, int) and self.trials >= 1, f"trials must be an int >= 1, got {self.trials!r}")
        for name in ("speed", "active_s", "settle_s", "sway_s", "stand_s", "arm_speed", "arm_amplitude",
                     "push_duration_s", "push_interval_s"):
            positive(name, getattr(self, name))
        for name in ("preroll_s", "sway_preroll_s", "init_noise", "arm_noise", "push_force", "push_torque", "push_jitter_s"):
            positive(name, getattr(self, name), allow_zero=True)
        in_range("squat_height", self.squat_height, 0.5, 0.66)
        for name, path in self.policies.items():
            require(Path(path).exists(), f"policy {name!r}: no ONNX file at {path}")

    def resolved(self) -> EvalConfig:
        """``smoke`` applied: 2 trials, 1 s phases, pushes every 0.5 s."""
        if not self.smoke:
            return self
        return replace(self, trials=2, active_s=1.0, settle_s=1.0, preroll_s=0.2, sway_s=1.0, sway_preroll_s=0.2,
                       stand_s=1.0, push_interval_s=0.5, push_jitter_s=0.1)


@dataclass
class ExportConfig:
    """Export a checkpoint to ONNX, check it against torch, time it, and update the model card."""

    checkpoint: Path
    """rsl-rl checkpoint (``model_<it>.pt``) inside a run folder written by ``wbvla lmo-train``."""
    name: str = "lmo"
    """File stem under ``out_dir``: ``lmo``, ``velocity_baseline``, ``lmo_no_eq3``, ..."""
    out_dir: Path = field(default_factory=lambda: data_dir() / "lmo")
    """Where the ONNX file and the model card go (``data/lmo`` ships them)."""
    note: str = ""
    """Free text for the model card (e.g. what this policy is and is not)."""

    def __post_init__(self) -> None:
        require(Path(self.checkpoint).is_file(), f"checkpoint {self.checkpoint} does not exist")
        one_of("name", self.name, ("lmo", "velocity_baseline", "lmo_no_eq3", "lmo_no_stage2", "lmo_no_stage1"))


@dataclass
class ClipsConfig:
    """Rebuild a shipped arm clip library: ``data/lmo/arm_clips.npz`` from wbvla.sim.arm_motions
    (``synthetic``) or ``data/lmo/arm_clips_teleop.npz`` from a teleoperation dataset (``teleop``)."""

    source: Literal["synthetic", "teleop"] = "synthetic"
    """Where the clips come from (:mod:`wbvla.lmo.clips`)."""
    n: int = 48
    """Number of clips (``synthetic``: cycling through the motion kinds; ``teleop``: at most this many episodes)."""
    seed: int = 0
    """Library seed (``synthetic``)."""
    dataset: Path | None = None
    """``teleop``: the LeRobot dataset folder (None: ``cache_dir()/teleop/tutorial``, made by ``wbvla teleop-data``)."""

    def __post_init__(self) -> None:
        require(isinstance(self.n, int) and self.n >= 1, f"n must be an int >= 1, got {self.n!r}")
        require(self.source in ("synthetic", "teleop"), f"source must be 'synthetic' or 'teleop', got {self.source!r}")
