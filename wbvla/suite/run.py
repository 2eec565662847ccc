"""Scheduling: plan the trial units of an experiment, get its policies, run the units in a pool.

    result = run_suite(SuiteConfig())          # Table 2 analog, resumable
    result = run_scaling(ScalingConfig())      # Fig. 3 analog, resumable

Units whose key is already in the run's ``results.jsonl`` are skipped; the others run in
``workers`` spawned processes (1 torch thread each), grouped by policy so a worker loads a policy
once, and every finished record is appended at once (a crash loses only running trials). Every
call that ran units appends a session (units, wall time, workers, load average) to
``sessions.json``, so the suite's total wall time is known across resumes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from wbvla.io import write_json_atomic
from wbvla.paths import cache_dir
from wbvla.suite.config import ScalingConfig, SuiteConfig, TrainingSizes
from wbvla.suite.store import ResultStore
from wbvla.suite.trials import (
    PolicySpec,
    TrialUnit,
    finetune_config,
    model_id,
    policy_dir,
    pretrain_policy,
    row_spec,
    run_unit,
    train_policy,
    versions,
)
from wbvla.validation import require
from wbvla.vla.variants import variant_of_policy


@dataclass
class RunResult:
    """What an experiment call returns."""

    records: list[dict]
    """Records of the planned units (stale records of other model ids are left out)."""
    out_dir: Path
    missing: dict[str, str] = field(default_factory=dict)
    """Policies that were skipped: label -> folder that holds no policy."""
    sessions: list[dict] = field(default_factory=list)
    """Every call that ran units (this one last, if it ran any)."""
    trained: dict[str, str] = field(default_factory=dict)
    """Policies trained by this call: label -> folder."""
    not_run: int = 0
    """Planned trials with no record (``RunSettings.run_missing=False`` left them out)."""


def output_dir(run_name: str, configured: Path | None) -> Path:
    return Path(configured) if configured is not None else cache_dir() / "suite" / run_name


def _pool_map(fn, items: list, workers: int):
    """Results of ``fn`` over ``items`` as they finish (a spawn pool when workers > 1)."""
    if workers > 1 and len(items) > 1:
        pool = mp.get_context("spawn").Pool(min(workers, len(items)), maxtasksperchild=200)
        try:
            yield from pool.imap_unordered(fn, items)
            pool.close()
            pool.join()
        finally:
            pool.terminate()
    else:
        yield from map(fn, items)


def _train_one(spec: PolicySpec, sizes: TrainingSizes, threads: int, stage: str) -> tuple[str, str | None]:
    os.environ.setdefault("MUJOCO_GL", "egl")
    folder = pretrain_policy(spec, sizes, threads) if stage == "pretrain" else train_policy(spec, sizes, threads)
    return spec.label, folder


def ensure_policies(specs: list[PolicySpec], sizes: TrainingSizes, missing: str, workers: int, threads: int
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """Model ids of ``specs`` (label -> id), training or skipping the missing ones per ``missing``;
    returns (ids, skipped label -> folder). Training runs the distinct Stage II runs first, then
    the Stage III runs, each in a pool."""
    ids = {s.label: model_id(s, sizes) for s in specs}
    absent = [s for s in specs if ids[s.label] is None]
    if not absent:
        return ids, {}
    folders = {s.label: str(policy_dir(s, sizes)) for s in absent}
    explicit = [s.label for s in absent if s.folder is not None]
    require(not explicit, f"no policy.json in the given policy folder(s): { {k: folders[k] for k in explicit} }")
    if missing == "error":
        listing = "\n".join(f"  {label}: {folder}" for label, folder in folders.items())
        raise FileNotFoundError(f"no trained policy for {len(absent)} row(s)/model(s):\n{listing}\n"
                                "train them with --missing train (or `wbvla vla-variant`), or run the others with --missing skip")
    if missing == "skip":
        return {k: v for k, v in ids.items() if v is not None}, folders
    by_pretrain = {}
    for s in absent:
        cfg = finetune_config(s, sizes)
        if cfg.lam_variant != "none":
            by_pretrain.setdefault(cfg.pretrain.run_name() + str(cfg.pretrain.output_dir), s)
    for label, _ in _pool_map(partial(_train_one, sizes=sizes, threads=threads, stage="pretrain"), list(by_pretrain.values()), workers):
        print(f"suite: Stage II of {label} ready", flush=True)
    distinct = list({folders[s.label]: s for s in absent}.values())  # a split row trains its row's policy
    for label, folder in _pool_map(partial(_train_one, sizes=sizes, threads=threads, stage="finetune"), distinct, workers):
        print(f"suite: {label} trained -> {folder}", flush=True)
    ids = {s.label: model_id(s, sizes) for s in specs}
    return ids, {}


def _run_unit_job(unit: TrialUnit, sizes: TrainingSizes, settings: dict, out_dir: str) -> dict:
    os.environ.setdefault("MUJOCO_GL", "egl")
    return run_unit(unit, sizes, settings, out_dir)


def run_units(units: list[TrialUnit], sizes: TrainingSizes, settings: dict, out_dir: Path, progress: bool = True,
              label: str = "suite") -> tuple[list[dict], dict | None]:
    """Run the units not yet in ``out_dir/results.jsonl``; returns (records of ``units``, the
    session of this call or None if nothing ran)."""
    from tqdm.auto import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out_dir / "results.jsonl")
    if settings.get("rerun_stale"):
        stored = {r["key"]: r.get("versions") for r in store.records()}
        done = {u.key for u in units if u.key in stored and stored[u.key] == versions(u)}
    else:
        done = store.keys()
    todo = [u for u in units if u.key not in done] if settings.get("run_missing", True) else []
    todo.sort(key=lambda u: (u.policy.label, u.backend, u.task, u.variation, u.seed))
    session = None
    if todo:
        workers = settings["workers"]
        session = {"started_utc": datetime.now(UTC).isoformat(timespec="seconds"), "units": 0, "workers": workers,
                   "threads": settings["threads"], "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()[0]}
        t0 = time.perf_counter()
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=label, unit="trial", disable=not progress)
        job = partial(_run_unit_job, sizes=sizes, settings=settings, out_dir=str(out_dir))
        for rec in _pool_map(job, todo, workers):
            store.append(rec)
            session["units"] += 1
            bar.update(1)
        bar.close()
        session["wall_s"] = round(time.perf_counter() - t0, 1)
        session["load_avg_end"] = os.getloadavg()[0]
        sessions_path = out_dir / "sessions.json"
        import json

        sessions = json.loads(sessions_path.read_text()) if sessions_path.is_file() else []
        write_json_atomic(sessions_path, [*sessions, session])
    wanted = {u.key for u in units}
    return [r for r in store.records() if r["key"] in wanted], session


def _sessions(out_dir: Path) -> list[dict]:
    import json

    path = out_dir / "sessions.json"
    return json.loads(path.read_text()) if path.is_file() else []


def _settings(run) -> dict:
    return {"workers": run.workers, "threads": run.threads, "image_size": run.image_size, "time_limit_s": run.time_limit_s,
            "save_logs": run.save_logs, "stop_frozen_s": run.stop_frozen_s, "stop_away_m": run.stop_away_m, "rerun_stale": run.rerun_stale,
            "run_missing": run.run_missing, "execution": asdict(run.execution)}


def plan_suite(config: SuiteConfig, ids: dict[str, str]) -> list[TrialUnit]:
    """Every unit of the Table 2 analog for the rows in ``ids`` (label -> model id)."""
    from wbvla.tasks.specs import VARIATIONS  # lazy: MuJoCo

    units = []
    specs = [row_spec(row, config.shipped_wholebodyvla, config.expert_noise) for row in config.rows]
    for spec in specs + extra_specs(config):
        row = spec.label
        if row not in ids:
            continue
        for backend in config.backends:
            if spec.split is not None and backend != "ideal_base":
                continue  # a split row asks which half fails; on the physics legs the expert cannot walk either
            for task in config.tasks:
                for variation in config.variations:
                    if task not in VARIATIONS[variation].tasks:
                        continue
                    for i in range(config.trials_per_task):
                        video = backend == "ideal_base" and variation == "none" and i < config.videos_per_task
                        units.append(TrialUnit(spec, ids[row], backend, task, variation, config.first_seed + i, "table2", video,
                                               config.run.execution.label()))
    return units


def extra_specs(config: SuiteConfig) -> list[PolicySpec]:
    """The :class:`PolicySpec` of each of ``config.extra_policies`` (label ``extra:<run name>``) and of
    ``config.split_rows`` (label ``split:<row>:<part>``)."""
    out = []
    for folder in config.extra_policies:
        meta = json.loads((Path(folder) / "policy.json").read_text())
        out.append(PolicySpec(f"extra:{meta.get('run', Path(folder).parent.name)}", variant_of_policy(meta), folder=str(folder)))
    require(len({s.label for s in out}) == len(out), f"extra_policies: two folders share a run name: {config.extra_policies}")
    extras = {s.label: s for s in out}
    for entry in config.split_rows:  # the row's own policy, half of it driven by the expert
        row, _, part = entry.rpartition(":")
        require(not row.startswith("extra:") or row in extras,
                f"split_rows: {entry!r} names no row of extra_policies (there: {sorted(extras)})")
        base = extras[row] if row in extras else row_spec(row, config.shipped_wholebodyvla)
        out.append(replace(base, label=f"split:{row}:{part}", split=part))
    return out


def run_suite(config: SuiteConfig) -> RunResult:
    """The Table 2 analog (see :class:`~wbvla.suite.config.SuiteConfig`); resumable."""
    out = output_dir(config.run_name, config.run.output_dir)
    specs = [row_spec(r, config.shipped_wholebodyvla, config.expert_noise) for r in config.rows] + extra_specs(config)
    ids, skipped = ensure_policies(specs, config.training, config.run.missing, config.run.workers, config.run.threads)
    units = plan_suite(config, ids)
    records, _ = run_units(units, config.training, _settings(config.run), out, config.run.progress, "table2")
    write_json_atomic(out / "config.json", asdict(config))
    return RunResult(records, out, skipped, _sessions(out), not_run=len(units) - len(records))


def scaling_specs(config: ScalingConfig) -> list[tuple[str, PolicySpec]]:
    """(group, spec) of every model of the Fig. 3 grid; the 100 % / 100 % models are shared by
    both groups (one spec, listed under both)."""
    out = []
    for group, fractions in (("start_pose", config.human_fractions), ("scene", config.robot_fractions)):
        for f in fractions:
            for d in config.demos:
                h, r = (f, 1.0) if group == "start_pose" else (1.0, f)
                folder = str(config.stand_in_policy) if config.stand_in_policy is not None else None
                out.append((group, PolicySpec(f"h{h:g}_r{r:g}_d{d}", "wholebodyvla", h, r, d, own_dirs=True, folder=folder)))
    return out


def plan_scaling(config: ScalingConfig, ids: dict[str, str]) -> list[TrialUnit]:
    """Every unit of the Fig. 3 analog for the models in ``ids``."""
    units = {}
    for group, spec in scaling_specs(config):
        if spec.label not in ids:
            continue
        for task, variation in config.start_pose_cells if group == "start_pose" else config.scene_cells:
            for i in range(config.trials_per_cell):
                u = TrialUnit(spec, ids[spec.label], config.backend, task, variation, config.first_seed + i, "scaling",
                              execution=config.run.execution.label())
                units[u.key] = u
    return list(units.values())


def run_scaling(config: ScalingConfig) -> RunResult:
    """The Fig. 3 analog (see :class:`~wbvla.suite.config.ScalingConfig`); resumable."""
    out = output_dir(config.run_name, config.run.output_dir)
    specs = list({s.label: s for _, s in scaling_specs(config)}.values())
    require(len(specs) > 0, "the scaling grid is empty")
    ids, skipped = ensure_policies(specs, config.training, config.run.missing, config.run.workers, config.run.threads)
    units = plan_scaling(config, ids)
    records, _ = run_units(units, config.training, _settings(config.run), out, config.run.progress, "scaling")
    write_json_atomic(out / "config.json", asdict(config))
    return RunResult(records, out, skipped, _sessions(out), not_run=len(units) - len(records))
