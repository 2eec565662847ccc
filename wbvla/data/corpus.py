"""Generate the Stage I video corpora: mp4 clips + a parquet index with per-frame metadata.

Layout under the corpus root (default ``cache_dir()/lam_corpus/<size>``)::

    videos/<corpus>/<clip_id>.mp4        H.264, ``image_size`` square, ``fps``
    arm_trajectories/<clip_id>.npz       manipulation clips: t (T,), q (T, 14), gripper (T, 2) at 50 Hz
    index/<clip_id>.parquet              one row per frame (written last: marks the clip complete)
    index.parquet                        all rows, rebuilt at the end of every run

Per-frame columns: ``clip_id, frame, time, corpus, domain, primitive, target, scene_seed,
split, video, camera, cam_x, cam_y, cam_z, cam_qw, cam_qx, cam_qy, cam_qz``. ``primitive`` is ground
truth for evaluation only. Generation is seeded (the same config gives the same clips),
resumable (complete clips are skipped; each file is written to a temp name then renamed) and
shows a tqdm bar. Train and held-out clips come from disjoint scene-seed ranges.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wbvla.data.corpus_config import SEED_BASE, SIZES, CorpusConfig  # noqa: F401  (re-exported)
from wbvla.data.primitives import DOMAIN, MANI_PRIMITIVES
from wbvla.io import atomic_path
from wbvla.validation import require


@dataclass(frozen=True)
class ClipJob:
    """One clip to render."""

    clip_id: str
    corpus: str
    split: str
    scene_seed: int
    clip_seed: int
    kind: str | None = None  # manipulation primitive


def plan_jobs(config: CorpusConfig) -> list[ClipJob]:
    """Every clip of the corpus, deterministically."""
    jobs = []
    off = config.seed * 10_000
    for corpus, split, count in (("loco_human", "train", "human_train"), ("loco_human", "heldout", "human_heldout"),
                                 ("loco_robot", "heldout", "robot_heldout"), ("mani", "train", "mani_train"),
                                 ("mani", "heldout", "mani_heldout")):
        for i in range(config.count(count)):
            seed = SEED_BASE[(corpus, split)] + off + i
            kind = MANI_PRIMITIVES[i % len(MANI_PRIMITIVES)] if corpus == "mani" else None
            jobs.append(ClipJob(f"{corpus}_{split}_{i:05d}", corpus, split, seed, seed * 7 + 3, kind))
    return jobs


def _atomic(path: Path, write) -> None:
    """Call ``write(tmp)`` and move ``tmp`` over ``path`` only if it succeeded (:mod:`wbvla.io`)."""
    with atomic_path(path) as tmp:
        write(tmp)


def _index_path(root: Path, clip_id: str) -> Path:
    return root / "index" / f"{clip_id}.parquet"


_BUILDER = None


def render_job(job: ClipJob, config: CorpusConfig) -> int:
    """Render, encode and index one clip; returns its number of frames."""
    import mediapy

    import wbvla.viz.video  # noqa: F401  # lazy: mediapy (this points it at imageio-ffmpeg's ffmpeg)
    from wbvla.data.render_clips import (  # lazy: MuJoCo rendering (workers)
        RenderSpec,
        render_human_clip,
        render_mani_clip,
        render_robot_clip,
    )
    from wbvla.sim.arm_motions import ClipBuilder  # lazy: MuJoCo (workers)

    global _BUILDER
    root = config.path
    spec = RenderSpec(size=config.image_size, fps=config.fps)
    goals = config.count("goals")
    if job.corpus == "loco_human":
        frames, meta = render_human_clip(job.scene_seed, job.clip_seed, spec, n_goals=goals)
    elif job.corpus == "loco_robot":
        frames, meta = render_robot_clip(job.scene_seed, job.clip_seed, spec, n_goals=goals)
    else:
        _BUILDER = _BUILDER or ClipBuilder()
        frames, meta, clip = render_mani_clip(job.scene_seed, job.kind, job.clip_seed, spec, _BUILDER)
        _atomic(root / "arm_trajectories" / f"{job.clip_id}.npz",
                lambda p: np.savez(p, t=clip.t, q=clip.q, gripper=clip.gripper, kind=clip.kind, arms=clip.arms,
                                   seed=clip.seed, video_time=meta["time"]))
    video = Path("videos") / job.corpus / f"{job.clip_id}.mp4"
    _atomic(root / video, lambda p: mediapy.write_video(p, frames, fps=config.fps, qp=config.video_qp))
    n = len(frames)
    cam_pos, cam_quat = meta["cam_pos"], meta["cam_quat"]
    rows = pd.DataFrame({
        "clip_id": job.clip_id, "frame": np.arange(n), "time": np.arange(n) / config.fps,
        "corpus": job.corpus, "domain": DOMAIN[job.corpus], "primitive": meta["primitive"], "target": meta["target"],
        "scene_seed": job.scene_seed, "split": job.split, "video": str(video), "camera": meta["camera"],
        "cam_x": cam_pos[:, 0], "cam_y": cam_pos[:, 1], "cam_z": cam_pos[:, 2],
        "cam_qw": cam_quat[:, 0], "cam_qx": cam_quat[:, 1], "cam_qy": cam_quat[:, 2], "cam_qz": cam_quat[:, 3],
    })
    _atomic(_index_path(root, job.clip_id), lambda p: rows.to_parquet(p, index=False))
    return n


def _worker(args):
    job, config = args
    return job.clip_id, render_job(job, config)


def generate_corpus(config: CorpusConfig, progress: bool = True) -> pd.DataFrame:
    """Render every missing clip of ``config`` and (re)write ``index.parquet``; returns the index.

    Interrupt it at any time: finished clips are kept and skipped on the next run.
    """
    import json
    import time

    from tqdm.auto import tqdm

    root = config.path
    root.mkdir(parents=True, exist_ok=True)
    jobs = [j for j in plan_jobs(config) if not _index_path(root, j.clip_id).exists()]
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), desc=f"corpus {config.size}", unit="clip", disable=not progress)
    done = 0
    try:
        if config.workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(config.workers) as pool:
                for _ in pool.imap_unordered(_worker, [(j, config) for j in jobs]):
                    done += 1
                    bar.update()
        else:
            for job in jobs:
                render_job(job, config)
                done += 1
                bar.update()
    finally:
        bar.close()
        if done:  # log every run that rendered something: the corpus's generation time is their sum
            log_path = root / "generation_log.json"
            log = json.loads(log_path.read_text()) if log_path.exists() else []
            log.append({"clips_rendered": done, "wall_s": round(time.perf_counter() - start, 1),
                        "workers": config.workers, "host_cpus": os.cpu_count(), "complete": done == len(jobs)})
            _atomic(log_path, lambda p: p.write_text(json.dumps(log, indent=1)))
    return write_index(root)


def generation_log(root: Path) -> list[dict]:
    """Every logged generation run of the corpus at ``root`` (clips rendered, wall time, workers)."""
    import json

    path = Path(root) / "generation_log.json"
    return json.loads(path.read_text()) if path.exists() else []


def generation_time_s(root: Path) -> float | None:
    """Total wall time spent rendering the corpus at ``root`` (summed over resumed runs)."""
    import json

    path = Path(root) / "generation_log.json"
    return sum(r["wall_s"] for r in json.loads(path.read_text())) if path.exists() else None


def write_index(root: Path) -> pd.DataFrame:
    """Concatenate the per-clip index files into ``index.parquet`` (atomically)."""
    files = sorted((Path(root) / "index").glob("*.parquet"))
    require(len(files) > 0, f"no clips under {root}/index; generate the corpus first")
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    _atomic(Path(root) / "index.parquet", lambda p: df.to_parquet(p, index=False))
    return df


def load_index(root: Path) -> pd.DataFrame:
    """The corpus index (one row per frame)."""
    path = Path(root) / "index.parquet"
    require(path.exists(), f"no corpus index at {path}; run `wbvla lam-data` (or generate_corpus) first")
    return pd.read_parquet(path)


def load_arm_trajectories(root: Path, split: str | None = None) -> list:
    """The manipulation corpus's 14-DoF arm trajectories as :class:`~wbvla.sim.arm_motions.ArmClip`
    (50 Hz), for the LMO's structured upper-body perturbations (App. A.2)."""
    from wbvla.sim.arm_motions import ArmClip  # lazy: MuJoCo

    files = sorted((Path(root) / "arm_trajectories").glob("*.npz"))
    if split is not None:
        files = [f for f in files if f"_{split}_" in f.stem]
    require(len(files) > 0, f"no arm trajectories under {root}/arm_trajectories")
    out = []
    for f in files:
        z = np.load(f)
        out.append(ArmClip(str(z["kind"]), str(z["arms"]), z["t"], z["q"], z["gripper"], {}, int(z["seed"])))
    return out
