"""Time the LeRobot v3.0 writer / reader / validator on teleop-sized episodes (CPU, one process).

    python tools/bench_lerobot_v3.py --size 224 --episodes 5 --frames 200 --out /tmp/bench.json

Frames are a smooth synthetic scene with a moving square, or with ``--rendered`` the X2's head camera
walking through a simulated room (:func:`wbvla.data.render_clips.render_robot_clip`, rendered before the
clock starts), for realistic video sizes and codec error.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import LeRobotV3Dataset, LeRobotV3Writer, teleop_features, validate_v3


def rendered_images(n: int, size: int, seed: int) -> np.ndarray:
    """(n, size, size, 3) head-camera frames of the X2 walking (clips repeated until n frames)."""
    from wbvla.data.render_clips import RenderSpec, render_robot_clip

    out, k = [], 0
    while sum(len(c) for c in out) < n:
        out.append(render_robot_clip(seed, 1000 * seed + k, RenderSpec(size=size, fps=10.0))[0])
        k += 1
    return np.concatenate(out)[:n]


def frames(n: int, size: int, seed: int, images: np.ndarray | None = None):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 60 + 30 * (seed % 5))], -1).astype(np.uint8)
    for t in range(n):
        img = base.copy()
        x0 = (3 * t) % (size - size // 4)
        img[size // 4: size // 2, x0:x0 + size // 4] = (230, 200, 40)
        yield {ts.IMAGE_KEY: img if images is None else images[t], ts.STATE_KEY: rng.normal(size=ts.STATE_DIM).astype(np.float32),
               ts.ACTION_KEY: rng.normal(size=ts.ACTION_DIM).astype(np.float32),
               ts.REFERENCE_VELOCITY_KEY: rng.uniform(-1, 1, 3).astype(np.float32), ts.SUBGOAL_KEY: int(t > n // 2),
               ts.PHASE_KEY: ts.NO_PHASE}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--rendered", action="store_true", help="rendered X2 head-camera frames instead of synthetic ones")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    images = [rendered_images(a.frames, a.size, e) if a.rendered else None for e in range(a.episodes)]
    with tempfile.TemporaryDirectory(prefix="bench_lerobot_") as d:
        root = Path(d) / "ds"
        w = LeRobotV3Writer(root, features=teleop_features(a.size))
        add_s, save_s, written = 0.0, [], []
        for e in range(a.episodes):
            data = list(frames(a.frames, a.size, e, images[e]))
            written.append(np.stack([f[ts.IMAGE_KEY] for f in data]))
            t0 = time.perf_counter()
            for f in data:
                w.add_frame(f, task=ts.INSTRUCTIONS["box_loading"])
            add_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            w.save_episode()
            save_s.append(time.perf_counter() - t0)
        w.finalize()
        t0 = time.perf_counter()
        problems = validate_v3(root)
        validate_s = time.perf_counter() - t0
        ds = LeRobotV3Dataset(root)
        t0 = time.perf_counter()
        decoded = [ds.episode(e)[ts.IMAGE_KEY] for e in range(a.episodes)]
        read_s = time.perf_counter() - t0
        err = np.concatenate([np.abs(d.astype(np.int16) - w.astype(np.int16)).ravel() for d, w in zip(decoded, written, strict=True)])
        sizes = {p.parent.parent.name if p.suffix == ".mp4" else p.name: p.stat().st_size
                 for p in root.rglob("*") if p.is_file() and p.suffix in (".mp4", ".parquet")}
        video_mb = sum(p.stat().st_size for p in root.rglob("*.mp4")) / 1024**2
    n = a.episodes * a.frames
    report = {"command": "python tools/bench_lerobot_v3.py " + " ".join(f"--{k}" if v is True else f"--{k} {v}"
                                                                    for k, v in vars(a).items() if v not in (None, False)),
              "cpu_count": os.cpu_count(), "loadavg_1min_at_end": os.getloadavg()[0], "frames": n,
              "image_size": a.size, "add_frame_ms": round(1000 * add_s / n, 3),
              "save_episode_s": [round(s, 3) for s in save_s], "save_ms_per_frame": round(1000 * sum(save_s) / n, 2),
              "validate_s": round(validate_s, 3), "read_episode_ms_per_frame": round(1000 * read_s / n, 2),
              "video_kb_per_frame": round(video_mb * 1024 / n, 2),
              "video_abs_err_0_255": {"mean": round(float(err.mean()), 3), "p99": float(np.percentile(err, 99))}, "validate_problems": problems, "file_bytes": sizes}
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
