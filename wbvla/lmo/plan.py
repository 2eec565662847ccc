"""The declared training plan of the LMO, its baseline and its ablations, as resumable chunks.

A plan is a list of :class:`PlanStep` (one run folder each) under one root folder. The plan
knows from the folders what is done (each run's ``run.json`` counts its iterations) and which
chunk comes next, so several short GPU slots add up to one run:

    python -m wbvla.lmo.plan status [--root data/lmo/plan]
    python -m wbvla.lmo.plan run --budget-s 480 [--device cuda] [--num-envs 4096] [--out DIR]
    python -m wbvla.lmo.plan unpack --out DIR      # here: put what a node brought back into the root
    python -m wbvla.lmo.plan export                # here: ONNX + model card for every finished step

``run`` trains the next unfinished steps until the time budget (counted from the start of the
process) is nearly spent, keeps only the newest checkpoint of each run folder, appends a record
to ``plan.json`` and, with ``--out``, packs the whole root into ``DIR/plan_state.tar.xz`` (split
into parts of at most 15 MiB) plus ``DIR/chunk_record.json``: what an offline GPU node brings back
(``tools/gpu_node.sh``). ``unpack`` puts such a pack back into the root here, to be committed.
No heavy import at module level.
"""

from __future__ import annotations

import argparse
import json
import tarfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from wbvla.io import write_json_atomic
from wbvla.lmo.config import CurriculumConfig, LMOTaskConfig, PPOConfig
from wbvla.lmo.job_config import ExportConfig, TrainConfig
from wbvla.paths import data_dir
from wbvla.training.devices import DEVICES, check_device
from wbvla.validation import in_range, require

PART_BYTES = 15 * 2**20
"""Largest part of a packed plan state (the node brings back files of at most 16 MiB)."""
MIN_CHUNK_S = 60.0
"""A step is not started when less than this is left of the budget."""


@dataclass(frozen=True)
class PlanStep:
    """One run of the plan: a task / stage / ablation trained for a number of PPO iterations."""

    name: str
    """Run folder under the plan root (also the record key)."""
    task: str
    """``lmo`` or ``velocity``."""
    stage: int
    """Curriculum stage of the run."""
    iterations: int
    """PPO iterations of the whole run (over all its chunks)."""
    ablation: str = "none"
    """Table 3 ablation of the run."""
    init_from: str | None = None
    """Step whose newest checkpoint starts this run (Stage II after Stage I); it must be done."""
    floor_ramp_fraction: float = 0.0
    """The curriculum floor reaches full Table 5 ranges / Table 4 weights after this fraction of
    the run's iterations (0: performance alone drives the curriculum)."""
    exports: tuple[tuple[str, str], ...] = ()
    """(ONNX name, Table 3 row) pairs this run is exported as once it is done."""

    def __post_init__(self) -> None:
        LMOTaskConfig(task=self.task, stage=self.stage, ablation=self.ablation)  # the task's own checks
        require(isinstance(self.iterations, int) and self.iterations >= 1,
                f"step {self.name}: iterations must be an int >= 1, got {self.iterations!r}")
        in_range("floor_ramp_fraction", self.floor_ramp_fraction, 0.0, 1.0)


LMO_PLAN: tuple[PlanStep, ...] = (
    PlanStep("lmo_stage1", "lmo", 1, 600, exports=(("lmo_no_stage2", "LMO_no_stage2"),)),
    PlanStep("lmo_stage2", "lmo", 2, 400, init_from="lmo_stage1", floor_ramp_fraction=0.6,
             exports=(("lmo", "LMO"),)),
    PlanStep("velocity", "velocity", 1, 1000, floor_ramp_fraction=0.6,
             exports=(("velocity_baseline", "velocity_baseline"),)),
    PlanStep("lmo_stage2_no_eq3", "lmo", 2, 400, ablation="no_eq3", init_from="lmo_stage1",
             floor_ramp_fraction=0.6, exports=(("lmo_no_eq3", "LMO_no_eq3"),)),
    PlanStep("lmo_stage2_no_stage1", "lmo", 2, 1000, ablation="no_stage1", floor_ramp_fraction=0.6,
             exports=(("lmo_no_stage1", "LMO_no_stage1"),)),
)
"""The plan: the LMO (Stage I 600 iterations, then Stage II 400 from it), the velocity baseline
(1000), and the ablations w/o Eq. 3 (Stage II from the same Stage I), w/o Stage I (Stage II from
scratch for the same 1000 iterations) and w/o Stage II (the Stage I policy). With 4096 envs and
24 steps per iteration one iteration is 98,304 env steps; the LMO itself is 98 M env steps."""


@dataclass
class PlanConfig:
    """Where the plan lives and how its chunks run (``python -m wbvla.lmo.plan``)."""

    root: Path = field(default_factory=lambda: data_dir() / "lmo" / "plan")
    """Folder holding one run folder per step and ``plan.json`` (committed after each GPU slot)."""
    num_envs: int = 4096
    """Parallel environments of every run."""
    device: str = "auto"
    """Torch / Warp device (``auto``: CUDA when available)."""
    steps: tuple[PlanStep, ...] = LMO_PLAN
    """The declared steps, in the order they are trained."""
    smoke: bool = False
    """Tiny networks and rollouts (tests and CPU dry runs); ``num_envs`` is used as given."""
    max_iterations: int | None = None
    """Cap every step's iterations (dry runs that should walk through the whole plan)."""

    def __post_init__(self) -> None:
        if self.max_iterations is not None:
            require(self.max_iterations >= 1, f"max_iterations must be >= 1, got {self.max_iterations!r}")
            self.steps = tuple(replace(s, iterations=min(s.iterations, self.max_iterations)) for s in self.steps)
        require(isinstance(self.num_envs, int) and self.num_envs >= 1, f"num_envs must be an int >= 1, got {self.num_envs!r}")
        check_device(self.device)
        names = [s.name for s in self.steps]
        require(len(set(names)) == len(names), f"plan step names must be unique, got {names}")
        for k, s in enumerate(self.steps):
            require(s.init_from is None or s.init_from in names[:k],
                    f"step {s.name}: init_from {s.init_from!r} must name an earlier step")


def _done_iterations(run_dir: Path) -> int:
    meta = run_dir / "run.json"
    if not meta.exists():
        return 0
    return sum(c["iterations"] for c in json.loads(meta.read_text()).get("chunks", []))


def status(cfg: PlanConfig) -> list[dict]:
    """Per step: iterations done of planned, whether it is done, its newest checkpoint."""
    from wbvla.lmo.train import latest_checkpoint  # lazy: torch, rsl-rl

    out = []
    for s in cfg.steps:
        run = Path(cfg.root) / s.name
        done = _done_iterations(run)
        ckpt = latest_checkpoint(run)
        out.append({"step": s.name, "iterations_done": done, "iterations": s.iterations, "done": done >= s.iterations,
                    "checkpoint": ckpt.name if ckpt else None})
    return out


def next_step(cfg: PlanConfig) -> PlanStep | None:
    """The first step that is not done and whose ``init_from`` step is done (None: all done)."""
    state = {r["step"]: r for r in status(cfg)}
    for s in cfg.steps:
        if not state[s.name]["done"] and (s.init_from is None or state[s.init_from]["done"]):
            return s
    return None


def _train_config(cfg: PlanConfig, step: PlanStep, remaining: int):
    from wbvla.lmo.train import latest_checkpoint  # lazy: torch, rsl-rl

    ppo = PPOConfig()
    if cfg.smoke:
        ppo = replace(ppo, num_steps_per_env=8, actor_hidden=(64, 64), critic_hidden=(64, 64), num_mini_batches=2,
                      num_learning_epochs=2)
    ramp = int(step.floor_ramp_fraction * step.iterations * ppo.num_steps_per_env)
    task = LMOTaskConfig(task=step.task, stage=step.stage, ablation=step.ablation, num_envs=cfg.num_envs,
                         curriculum=CurriculumConfig(floor_ramp_steps=ramp))
    run_dir = Path(cfg.root) / step.name
    init = None
    if step.init_from is not None and latest_checkpoint(run_dir) is None:
        init = latest_checkpoint(Path(cfg.root) / step.init_from)
    return TrainConfig(task=task, ppo=ppo, iterations=remaining, run_dir=run_dir, init_from=init,
                       save_interval=10**9, device=cfg.device)


def _keep_newest_checkpoint(run_dir: Path) -> None:
    """Only the newest checkpoint stays, without its optimizer state (the folder is committed)."""
    from wbvla.lmo.train import latest_checkpoint, slim_checkpoint  # lazy: torch, rsl-rl

    newest = latest_checkpoint(run_dir)
    for p in run_dir.glob("model_*.pt"):
        if p != newest:
            p.unlink()
    if newest is not None:
        slim_checkpoint(newest)
    if (run_dir / "git").is_dir() and not any((run_dir / "git").iterdir()):
        (run_dir / "git").rmdir()  # rsl-rl's (emptied) code-state folder


def run_chunk(cfg: PlanConfig, deadline: float) -> list[dict]:
    """Train the next steps of the plan until ``deadline`` (``time.time()``); one record per
    training call, also appended to ``<root>/plan.json``."""
    from wbvla.lmo.train import train  # lazy: torch, rsl-rl, mjlab

    root = Path(cfg.root)
    root.mkdir(parents=True, exist_ok=True)
    records = []
    while (step := next_step(cfg)) is not None and deadline - time.time() >= MIN_CHUNK_S:
        run_dir = root / step.name
        remaining = step.iterations - _done_iterations(run_dir)
        t0 = time.time()
        ckpt = train(_train_config(cfg, step, remaining), deadline=deadline)
        _keep_newest_checkpoint(run_dir)
        last = json.loads((run_dir / "run.json").read_text())["chunks"][-1]
        records.append({"step": step.name, "iterations": last["iterations"], "stopped_by": last["stopped_by"],
                        "env_steps": last["env_steps"], "wall_s": round(time.time() - t0, 1), "train_s": last["wall_s"],
                        "device": last["device"], "hardware": last["hardware"], "checkpoint": ckpt.name,
                        "curriculum": last.get("curriculum"), "finished_utc": last["finished_utc"]})
        if last["stopped_by"] == "deadline":
            break
    plan_file = root / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else {"steps": [], "chunks": []}
    plan["steps"] = [s.__dict__ | {"exports": [list(e) for e in s.exports]} for s in cfg.steps]
    plan["num_envs"] = cfg.num_envs
    plan["chunks"].extend(records)
    plan["status"] = status(cfg)
    write_json_atomic(plan_file, plan)
    return records


def pack_state(root: Path, out: Path) -> list[Path]:
    """``root`` as ``out/plan_state.tar.xz`` (parts ``.partNN`` when over :data:`PART_BYTES`)."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "plan_state.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(root, arcname=".")
    if archive.stat().st_size <= PART_BYTES:
        return [archive]
    data, parts = archive.read_bytes(), []
    for k in range(0, len(data), PART_BYTES):
        part = out / f"plan_state.tar.xz.part{k // PART_BYTES:02d}"
        part.write_bytes(data[k : k + PART_BYTES])
        parts.append(part)
    archive.unlink()
    return parts


def unpack_state(src: Path, root: Path) -> Path:
    """Put a state packed by :func:`pack_state` (a folder holding the archive or its parts) into
    ``root``, replacing the run folders it contains."""
    import io
    import shutil

    files = sorted(Path(src).glob("plan_state.tar.xz.part*")) or [Path(src) / "plan_state.tar.xz"]
    require(all(f.exists() for f in files), f"no plan_state.tar.xz (or parts) in {src}")
    data = b"".join(f.read_bytes() for f in files)
    root = Path(root)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
        names = {Path(m.name).parts[0] for m in tar.getmembers() if len(Path(m.name).parts) > 1}  # run folders
        for name in names:
            if (root / name).is_dir():
                shutil.rmtree(root / name)
        root.mkdir(parents=True, exist_ok=True)
        tar.extractall(root, filter="data")
    return root


def export_done(cfg: PlanConfig, out_dir: Path | None = None, partial: bool = False) -> list[dict]:
    """Export every finished step (with ``partial``: every step with a checkpoint) to the ONNX
    names it declares, with model-card entries (``wbvla lmo-export`` for each)."""
    from wbvla.lmo.export import run_export  # lazy: torch, onnx
    from wbvla.lmo.train import latest_checkpoint  # lazy: torch, rsl-rl

    done = {r["step"]: r for r in status(cfg)}
    entries = []
    for s in cfg.steps:
        ckpt = latest_checkpoint(Path(cfg.root) / s.name)
        if ckpt is None or not (done[s.name]["done"] or partial):
            continue
        note = (f"Plan step {s.name}: {done[s.name]['iterations_done']} of {s.iterations} planned PPO iterations"
                f" ({'finished' if done[s.name]['done'] else 'unfinished'}).")
        for name, _ in s.exports:
            kw = {} if out_dir is None else {"out_dir": Path(out_dir)}
            entries.append(run_export(ExportConfig(checkpoint=ckpt, name=name, note=note, **kw)))
    return entries


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m wbvla.lmo.plan", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("status", "run", "unpack", "export"))
    p.add_argument("--root", type=Path, default=None, help="plan root (default data/lmo/plan)")
    p.add_argument("--budget-s", type=float, default=480.0, help="run: seconds from process start to stop by")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--smoke", action="store_true", help="tiny networks and rollouts (CPU dry run)")
    p.add_argument("--max-iterations", type=int, default=None, help="cap every step's iterations (dry runs)")
    p.add_argument("--out", type=Path, default=None, help="run: pack the state here; unpack: read it from here")
    a = p.parse_args(argv)
    t_start = time.time()
    cfg = PlanConfig(num_envs=a.num_envs, device=a.device, smoke=a.smoke, max_iterations=a.max_iterations,
                     **({"root": a.root} if a.root else {}))
    if a.action == "export":
        for e in export_done(cfg):
            print(f"exported {e['file']} from {e['checkpoint']}")
    elif a.action == "unpack":
        require(a.out is not None, "unpack needs --out (the folder the node's files were brought back to)")
        print(f"unpacked into {unpack_state(a.out, cfg.root)}")
    elif a.action == "run":
        records = run_chunk(cfg, t_start + a.budget_s - 20.0)  # 20 s to pack and write
        if a.out is not None:
            parts = pack_state(Path(cfg.root), a.out)
            record = {"records": records, "status": status(cfg), "parts": [q.name for q in parts],
                      "wall_s": round(time.time() - t_start, 1)}
            write_json_atomic(a.out / "chunk_record.json", record)
    print(json.dumps(status(cfg), indent=1))


if __name__ == "__main__":
    main()
