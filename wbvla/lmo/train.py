"""Train the LMO (or its velocity baseline) with rsl-rl-lib PPO through mjlab's runner.

A run lives in one folder (``run_dir``): checkpoints ``model_<it>.pt`` (written atomically),
``curves.jsonl`` (one JSON row per PPO iteration, every scalar rsl-rl logs: rewards per term,
losses, episode length, fps), and ``run.json`` (configs plus one record per training chunk:
iterations, env steps, wall time, device, command). Calling :func:`train` again on the same folder
resumes from its latest checkpoint, so a long run can be done in chunks.

The two-stage curriculum is two calls: Stage I into one folder, then Stage II into another with
``init_from`` pointing at the Stage I checkpoint (actor, critic and normalizers are loaded).
The Table 3 ablations: ``no_stage2`` is the Stage I policy alone, ``no_stage1`` trains Stage II
from scratch, ``no_eq3`` runs Stage II with the J_dir weight at 0.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from rsl_rl.utils.log_writer import LogWriter

from wbvla.io import atomic_path, write_json_atomic
from wbvla.lmo.job_config import TrainConfig
from wbvla.paths import cache_dir
from wbvla.training.devices import resolve_device

_CKPT = re.compile(r"^model_(\d+)\.pt$")
LOGGER = {"class_name": "wbvla.lmo.train:JsonlLogWriter"}
"""rsl-rl logger config: one JSON row per iteration in the run folder's ``curves.jsonl``."""


class JsonlLogWriter(LogWriter):
    """rsl-rl log writer that appends one JSON row per iteration to ``curves.jsonl``."""

    def __init__(self, log_dir: str, **_: object) -> None:
        self.path = Path(log_dir) / "curves.jsonl"
        self.row: dict = {}
        self.step: int | None = None
        self.t0 = time.time()
        self.offset_s = _last_time(self.path)

    def add_scalar(self, tag: str, scalar_value, global_step: int) -> None:
        if tag.endswith("/time"):  # rsl-rl also logs some curves against wall time; skip those
            return
        if self.step is not None and global_step != self.step:
            self.flush()
        self.step = global_step
        self.row[tag] = float(f"{float(scalar_value):.6g}")  # 6 significant digits: the curves pack ~2x smaller

    def flush(self) -> None:
        if self.step is None or not self.row:
            return
        row = {"iteration": self.step, "time_s": self.offset_s + time.time() - self.t0, **self.row}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self.row, self.step = {}, None

    def stop(self) -> None:
        self.flush()


PACKED_CURVES = "curves.jsonl.gz"
"""The packed rows of a run's earlier chunks (:func:`pack_curves`); ``curves.jsonl`` holds the rows since."""


def _curve_lines(path: Path) -> list[str]:
    """The JSON rows of ``curves.jsonl`` and of the packed file beside it (packed first)."""
    lines: list[str] = []
    packed = path.with_name(PACKED_CURVES)
    if packed.exists():
        lines += gzip.decompress(packed.read_bytes()).decode().splitlines()
    if path.exists():
        lines += path.read_text().splitlines()
    return [line for line in lines if line.strip()]


def _last_time(path: Path) -> float:
    lines = _curve_lines(path)
    return json.loads(lines[-1]).get("time_s", 0.0) if lines else 0.0


def has_curves(run: Path) -> bool:
    """Whether the run folder ``run`` holds logged curves (plain or packed)."""
    return (Path(run) / "curves.jsonl").exists() or (Path(run) / PACKED_CURVES).exists()


def pack_curves(run: Path) -> Path | None:
    """Append the run's plain ``curves.jsonl`` rows to its gzip ``curves.jsonl.gz`` (atomically; the
    plain file is removed after). A 1,500-iteration curve file is ~4 MB plain and ~10x smaller packed,
    which is what keeps the committed plan small. Returns the packed file (None without curves)."""
    plain = Path(run) / "curves.jsonl"
    if not plain.exists():
        return Path(run) / PACKED_CURVES if (Path(run) / PACKED_CURVES).exists() else None
    packed = plain.with_name(PACKED_CURVES)
    data = gzip.compress(("\n".join(_curve_lines(plain)) + "\n").encode(), compresslevel=9, mtime=0)
    with atomic_path(packed) as tmp:
        tmp.write_bytes(data)
    plain.unlink()
    return packed


def load_curves(run: Path):
    """Logged curves as a pandas DataFrame (one row per iteration, last write wins); ``run`` is a
    run folder (plain and packed rows, :func:`pack_curves`) or a ``.jsonl`` file written by
    :class:`JsonlLogWriter`."""
    import io

    import pandas as pd

    path = Path(run) if Path(run).suffix == ".jsonl" else Path(run) / "curves.jsonl"
    lines = _curve_lines(path)
    if not lines:
        raise FileNotFoundError(f"no curves at {path} (nor {path.with_name(PACKED_CURVES)})")
    df = pd.read_json(io.StringIO("\n".join(lines)), lines=True)
    return df.drop_duplicates("iteration", keep="last").sort_values("iteration").reset_index(drop=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest iteration in ``run_dir`` (None if there is none)."""
    if not Path(run_dir).is_dir():
        return None
    found = [(int(m.group(1)), p) for p in Path(run_dir).iterdir() if (m := _CKPT.match(p.name))]
    return max(found)[1] if found else None


def _runner_class():
    from mjlab.rl import MjlabOnPolicyRunner

    class AtomicRunner(MjlabOnPolicyRunner):
        """mjlab's runner with checkpoints written to a temp file, then renamed."""

        def save(self, path: str, infos=None) -> None:
            with atomic_path(path) as tmp:
                super().save(str(tmp), infos)
            if isinstance(self.logger.writer, JsonlLogWriter):
                self.logger.writer.flush()

    return AtomicRunner


def _positive_wrapper_class():
    from mjlab.rl import RslRlVecEnvWrapper

    class PositiveRewardWrapper(RslRlVecEnvWrapper):
        """rsl-rl env wrapper that clips each step's total reward at 0 (PPOConfig.only_positive_rewards)."""

        def step(self, actions):
            obs, rew, dones, extras = super().step(actions)
            return obs, rew.clamp_min(0.0), dones, extras

    return PositiveRewardWrapper


def make_runner(cfg: TrainConfig, log_dir: Path | None, device: str):
    """Build the mjlab env, its rsl-rl wrapper and the PPO runner for ``cfg`` (already resolved)."""
    from mjlab.envs import ManagerBasedRlEnv
    from mjlab.rl import RslRlVecEnvWrapper

    from wbvla.lmo.env_cfg import make_env_cfg, make_runner_cfg  # lazy: mjlab

    env = ManagerBasedRlEnv(cfg=make_env_cfg(cfg.task), device=device)
    wrapped = (_positive_wrapper_class() if cfg.ppo.only_positive_rewards else RslRlVecEnvWrapper)(env)
    agent = asdict(make_runner_cfg(cfg.ppo, f"wbvla_{cfg.task.task}", seed=cfg.task.seed))
    agent["save_interval"] = cfg.save_interval
    agent["logger"] = dict(LOGGER)
    runner = _runner_class()(wrapped, agent, None if log_dir is None else str(log_dir), device)
    # rsl-rl would write `git diff` of the whole checkout into the run folder; run folders ship
    # (data/lmo/plan, curves), and the run record already names the command and the code.
    runner.logger.git_status_repos = []
    return env, wrapped, runner


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _write_json(path: Path, obj: dict) -> None:
    write_json_atomic(path, obj)


def _check_same_run(run_dir: Path, cfg: TrainConfig) -> None:
    """Refuse to resume a run folder that holds another task, stage or ablation."""
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        return
    old = json.loads(meta_path.read_text())["task"]
    for key in ("task", "stage", "ablation"):
        if old[key] != getattr(cfg.task, key):
            raise ValueError(f"{run_dir} holds a run with {key}={old[key]!r}, not {getattr(cfg.task, key)!r}; "
                             "pass another --run-dir")


def _last_chunk(run_dir: Path) -> dict | None:
    meta = Path(run_dir) / "run.json"
    if not meta.exists():
        return None
    chunks = json.loads(meta.read_text()).get("chunks", [])
    return chunks[-1] if chunks else None


def _start_progress(run_dir: Path, resume: Path | None, init_from: Path | None) -> float | None:
    """Curriculum progress to continue from: the last chunk of this run (resume) or of the run
    ``init_from`` belongs to (Stage II after Stage I); None when there is nothing to continue."""
    source = run_dir if resume is not None else (Path(init_from).parent if init_from is not None else None)
    last = _last_chunk(source) if source is not None else None
    return None if last is None or "curriculum" not in last else float(last["curriculum"]["progress"])


def _curriculum_term(env):
    from wbvla.lmo.curriculum import TERM_NAME  # lazy: mjlab

    cm = env.curriculum_manager
    return cm.get_term_cfg(TERM_NAME).func if TERM_NAME in getattr(cm, "active_terms", ()) else None


def _curriculum_state(env) -> dict | None:
    term = _curriculum_term(env)
    return None if term is None else {k: round(float(v), 6) for k, v in term.state().items()}


def _prune_checkpoints(run_dir: Path, save_interval: int) -> None:
    """Keep the newest checkpoint and those at multiples of ``save_interval``."""
    found = sorted((int(m.group(1)), p) for p in Path(run_dir).iterdir() if (m := _CKPT.match(p.name)))
    for it, path in found[:-1]:
        if it % save_interval:
            path.unlink()


def _learn(runner, iterations: int, deadline: float | None) -> tuple[int, str]:
    """Run up to ``iterations`` PPO iterations, stopping before ``deadline`` (time.time()) when
    set; returns (iterations done, why it stopped). Without a deadline: one ``learn`` call."""
    if deadline is None:
        runner.learn(num_learning_iterations=iterations, init_at_random_ep_len=True)
        return iterations, "iterations"
    done, per_it, first = 0, None, True
    while done < iterations:
        left = deadline - time.time()
        n = 1 if per_it is None else min(iterations - done, 50, int(left / (1.25 * per_it)))
        if n < 1:
            return done, "deadline"
        if not first:
            runner.current_learning_iteration += 1
            runner.logger.cfg["logger"] = dict(LOGGER)  # rsl-rl pops its class name on every learn()
        t0 = time.time()
        runner.learn(num_learning_iterations=n, init_at_random_ep_len=first)
        per_it = (time.time() - t0) / n if per_it is None else 0.5 * per_it + 0.5 * (time.time() - t0) / n
        done, first = done + n, False
    return done, "iterations"


def _resume(runner, checkpoint: Path, device: str) -> None:
    """Load a checkpoint to continue its run; a slim one (no optimizer state, see
    :func:`slim_checkpoint`) restarts Adam's moments at its saved learning rate."""
    import torch

    ckpt = torch.load(checkpoint, map_location=device, weights_only=False)
    if "optimizer_state_dict" in ckpt:
        runner.load(str(checkpoint), map_location=device)
    else:
        runner.load(str(checkpoint), load_cfg={"actor": True, "critic": True, "iteration": True}, map_location=device)
        runner.alg.learning_rate = float(ckpt["learning_rate"])
        for group in runner.alg.optimizer.param_groups:
            group["lr"] = runner.alg.learning_rate
    runner.current_learning_iteration += 1


def slim_checkpoint(path: Path) -> Path:
    """Drop the optimizer state of an rsl-rl checkpoint in place (keeping its learning rate):
    a third of the size, for run folders that are committed (``data/lmo/plan``)."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "optimizer_state_dict" in ckpt:
        ckpt["learning_rate"] = float(ckpt.pop("optimizer_state_dict")["param_groups"][0]["lr"])
        with atomic_path(path) as tmp:
            torch.save(ckpt, tmp)
    return path


def train(config: TrainConfig, deadline: float | None = None) -> Path:
    """Run one training chunk; returns the path of the checkpoint it ends with.

    ``deadline`` (a ``time.time()`` value): stop after the last PPO iteration that fits before it
    (the GPU node's time-budgeted chunks); the chunk record says why it stopped. The learning
    curriculum and the env step counter (which drives the Stage I arm range and the curriculum
    floor) continue from the previous chunk of the run, or from the run ``init_from`` belongs to."""
    import torch

    cfg = config.resolved()
    device = resolve_device(cfg.device).torch
    if device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_same_run(run_dir, cfg)
    resume = latest_checkpoint(run_dir)
    progress = _start_progress(run_dir, resume, cfg.init_from)
    if progress is not None:
        cfg = replace(cfg, task=replace(cfg.task, curriculum=replace(cfg.task.curriculum, start_progress=progress)))
    env, wrapped, runner = make_runner(cfg, run_dir, device)
    try:
        if resume is not None:
            _resume(runner, resume, device)
            print(f"[wbvla] resuming {run_dir.name} from {resume.name}")
        elif cfg.init_from is not None:
            runner.load(str(cfg.init_from), load_cfg={"actor": True, "critic": True}, map_location=device)
            print(f"[wbvla] initialized from {cfg.init_from}")
        start_it = runner.current_learning_iteration
        env.common_step_counter = start_it * cfg.ppo.num_steps_per_env  # schedules continue across chunks
        if (term := _curriculum_term(env)) is not None:
            term.restart(env.common_step_counter)  # the jump is no fall-free window
        t0 = time.time()
        done, stop = _learn(runner, cfg.iterations, deadline)
        wall = time.time() - t0
        curriculum = _curriculum_state(env)
    finally:
        env.close()
    _prune_checkpoints(run_dir, cfg.save_interval)
    ckpt = latest_checkpoint(run_dir)
    meta_path = run_dir / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "task": asdict(cfg.task), "ppo": asdict(cfg.ppo),
        "init_from": str(Path(cfg.init_from).relative_to(run_dir.parent)) if _inside(cfg.init_from, run_dir.parent)
        else (Path(cfg.init_from).name if cfg.init_from else None),
        "chunks": []}
    meta["chunks"].append({
        "start_iteration": start_it, "end_iteration": start_it + done - 1, "iterations": done, "stopped_by": stop,
        "env_steps": done * cfg.task.num_envs * cfg.ppo.num_steps_per_env,
        "wall_s": round(wall, 1), "device": device, "hardware": _hardware(device),
        "command": os.environ.get("WBVLA_COMMAND") or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": ckpt.name if ckpt else None, "curriculum": curriculum,
    })
    _write_json(meta_path, meta)
    print(f"[wbvla] {done} iterations in {wall:.0f} s ({stop}) -> {ckpt}")
    return ckpt


def _inside(path: Path | None, root: Path) -> bool:
    if path is None:
        return False
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def run_summary(run_dir: Path, up_to_iteration: int | None = None) -> dict:
    """Totals of a run folder: iterations, env steps, wall time, hardware (for model cards). With
    ``up_to_iteration`` (the ``iter`` of an exported checkpoint that is not the run's newest, e.g. a
    probed ``best.pt``) only the training before it counts: whole chunks, and the share of the chunk
    it falls in (env steps and wall time pro rata)."""
    meta = json.loads((Path(run_dir) / "run.json").read_text())
    chunks = meta["chunks"]
    iterations, env_steps, wall_s, used = 0, 0, 0.0, []
    for c in chunks:
        take = c["iterations"] if up_to_iteration is None else min(c["iterations"], up_to_iteration - iterations)
        if take <= 0:
            break
        share = take / c["iterations"]
        iterations, env_steps, wall_s = iterations + take, env_steps + round(share * c["env_steps"]), wall_s + share * c["wall_s"]
        used.append(c)
    chunks = used
    return {
        "iterations": iterations,
        "env_steps": env_steps,
        "wall_s": round(wall_s, 1),
        "hardware": sorted({c["hardware"] for c in chunks}),
        "commands": [portable(c["command"]) for c in chunks],
        "curriculum": chunks[-1].get("curriculum") if chunks else None,
        "num_envs": meta["task"]["num_envs"],
        "stage": meta["task"]["stage"],
        "task": meta["task"]["task"],
        "ablation": meta["task"]["ablation"],
        "init_from": portable(meta["init_from"]) if meta.get("init_from") else None,
    }


def portable(text: str) -> str:
    """``text`` with this machine's absolute paths replaced: the cache dir by ``$WBVLA_CACHE``,
    the repository by ``.`` and the home directory by ``~`` (model cards and records ship)."""
    repo = Path(__file__).resolve().parents[2]
    for path, token in ((cache_dir(), "$WBVLA_CACHE"), (repo, "."), (Path.home(), "~")):
        text = text.replace(str(Path(path).resolve()) + "/", token + "/").replace(str(path) + "/", token + "/")
    return text
