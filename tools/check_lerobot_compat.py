"""Cross-check our LeRobot v3.0 files with the real ``lerobot`` package, both ways.

``lerobot`` pins an older torch than wbvla, so it lives in its own interpreter (a separate venv, see
``tools/check_lerobot_compat.sh``). This script runs in both:

* in wbvla's venv (``python tools/check_lerobot_compat.py --lerobot-python VENV/bin/python``):
  1. writes small teleop datasets with :class:`~wbvla.data.lerobot_v3.LeRobotV3Writer` (:data:`VARIANTS`:
     one file, file/chunk rollover, resumed);
  2. has lerobot load it (``LeRobotDataset(repo_id, root=...)``), iterate every frame (decoding video)
     and one item with ``delta_timestamps``; compares every value with what was written;
  3. has lerobot write a small dataset itself, reads it with :class:`~wbvla.data.lerobot_v3.LeRobotV3Dataset`,
     runs :func:`~wbvla.data.lerobot_v3.validate_v3` on it and compares the values; optionally copies it
     into the test fixtures (``--fixture DIR``);
  4. prints a JSON report (also to ``--out``).
* in lerobot's venv (``--role lerobot-load ROOT OUT`` / ``--role lerobot-write ROOT``): only lerobot,
  torch and numpy are imported there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ID = "wbvla/compat_check"
WRITE_SEED, WRITE_LENGTHS, WRITE_SIZE = 3, (5, 7), 64


# --------------------------------------------------------------------------- lerobot's side


def _lerobot_imports():
    import torch

    torch.set_num_threads(1)
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:  # a CUDA torchvision wheel beside a CPU torch (only without a full install)
        if "torchvision::" not in str(err):
            raise
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _lerobot_imports.keep = lib
    import lerobot
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return lerobot, LeRobotDataset


def lerobot_load(root: str, out: str) -> None:
    """Load ``root`` with lerobot, iterate every item, save them to ``out`` (npz) + a JSON summary."""
    lerobot, LeRobotDataset = _lerobot_imports()
    from lerobot.utils.import_utils import get_safe_default_video_backend

    summary = {"lerobot_version": getattr(lerobot, "__version__", "?"), "default_backend": get_safe_default_video_backend()}
    arrays: dict[str, list] = {}
    for backend in dict.fromkeys([summary["default_backend"], "pyav"]):
        t0 = time.perf_counter()
        try:
            ds = LeRobotDataset(REPO_ID, root=root, video_backend=backend)
            items = [ds[i] for i in range(len(ds))]
        except Exception as err:  # report, do not hide: the caller prints it
            summary[f"load_{backend}"] = f"FAILED: {type(err).__name__}: {str(err)[:500]}"
            continue
        summary[f"load_{backend}"] = {"frames": len(ds), "episodes": ds.num_episodes, "s": round(time.perf_counter() - t0, 2),
                                      "features": list(ds.meta.features), "tasks": list(ds.meta.tasks.index),
                                      "stats_keys": sorted(ds.meta.stats) if ds.meta.stats else None}
        for item in items:
            for k, v in item.items():
                if k == "task":
                    arrays.setdefault(f"{backend}/task", []).append(v)
                elif hasattr(v, "numpy"):
                    arrays.setdefault(f"{backend}/{k}", []).append(v.numpy())
    try:
        cam = "observation.images.head"
        ds = LeRobotDataset(REPO_ID, root=root, video_backend="pyav",
                            delta_timestamps={"action": [-0.1, 0.0, 0.1], cam: [-0.1, 0.0]})
        item = ds[0]
        summary["delta_timestamps_item0"] = {"action": list(item["action"].shape), cam: list(item[cam].shape),
                                             "action_is_pad": item["action_is_pad"].tolist()}
    except Exception as err:
        summary["delta_timestamps_item0"] = f"FAILED: {type(err).__name__}: {str(err)[:500]}"
    np.savez(out, **{k: np.array(v) for k, v in arrays.items()})
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str))


def lerobot_write(root: str) -> None:
    """Write a small dataset with lerobot's own recorder (its default encoder) + the values it was given."""
    lerobot, LeRobotDataset = _lerobot_imports()
    s = WRITE_SIZE
    features = {"observation.images.cam": {"dtype": "video", "shape": (s, s, 3), "names": ["height", "width", "channels"]},
                "observation.state": {"dtype": "float32", "shape": (3,), "names": ["x", "y", "z"]},
                "action": {"dtype": "float32", "shape": (2,), "names": ["a", "b"]}}
    ds = LeRobotDataset.create(REPO_ID, fps=10, features=features, root=root, robot_type="toy")
    rng = np.random.default_rng(WRITE_SEED)
    yy, xx = np.mgrid[0:s, 0:s]
    written = {"state": [], "action": [], "image": []}
    for e, n in enumerate(WRITE_LENGTHS):
        for t in range(n):
            img = np.stack([xx * 3, yy * 3, np.full_like(xx, 60 + 80 * e)], -1).astype(np.uint8)
            img[8:24, 4 * t:4 * t + 16] = (240, 220, 30)
            st, ac = rng.normal(size=3).astype(np.float32), rng.normal(size=2).astype(np.float32)
            ds.add_frame({"observation.images.cam": img, "observation.state": st, "action": ac, "task": f"toy task {e}"})
            for k, v in (("state", st), ("action", ac), ("image", img)):
                written[k].append(v)
        ds.save_episode()
    ds.finalize()
    np.savez_compressed(Path(root).parent / "written.npz", **{k: np.stack(v) for k, v in written.items()})
    Path(root).parent.joinpath("written.json").write_text(json.dumps({"lerobot_version": getattr(lerobot, "__version__", "?")}))


# --------------------------------------------------------------------------- wbvla's side


def _run(python: str, *args: str) -> list[str]:
    """Run this file in lerobot's interpreter; return the warnings it logged (lerobot logs e.g. unknown
    ``info.json`` keys or timestamp problems as warnings)."""
    r = subprocess.run([python, __file__, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed in {python}:\n{r.stderr[-3000:]}")
    return [ln[:300] for ln in r.stderr.splitlines() if "warn" in ln.lower()]


VARIANTS = ("one_file", "rollover", "resumed")
"""Datasets of our writer given to lerobot: 3 episodes in one data/video file; each episode in its own
file with 2 files per chunk (chunk-001 used); 2 episodes, then ``LeRobotV3Writer.open`` and one more."""


def _write_variant(root: Path, variant: str) -> list:
    from lerobot_helpers import write

    from wbvla.data.lerobot_v3 import FileLimits, LeRobotV3Writer

    if variant == "one_file":
        return write(root, [6, 9, 4])[1]
    if variant == "rollover":
        return write(root, [3, 4, 2], limits=FileLimits(chunks_size=2, data_files_size_in_mb=1e-4,
                                                        video_files_size_in_mb=1e-4))[1]
    first = write(root, [4, 5])[1]
    return first + write(root, [3], seed=9, writer=LeRobotV3Writer.open(root))[1]


def check_ours_in_lerobot(python: str, work: Path, variant: str) -> dict:
    """Our writer -> lerobot's loader; every value compared."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
    from lerobot_helpers import SIZE, TASKS, stacked

    from wbvla.data import teleop_schema as ts

    root = work / variant
    written = _write_variant(root, variant)
    loaded = work / f"{variant}_loaded.npz"
    warnings = _run(python, "--role", "lerobot-load", str(root), str(loaded))
    summary = json.loads(loaded.with_suffix(".json").read_text())
    summary["lerobot_warnings"] = warnings
    summary["files"] = sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file() and "meta" not in f.parts)
    got = dict(np.load(loaded, allow_pickle=False))
    report = {"summary": summary, "comparisons": {}}
    for backend in dict.fromkeys([summary["default_backend"], "pyav"]):
        if f"{backend}/index" not in got:
            continue
        cmp = {}
        for key in (ts.STATE_KEY, ts.ACTION_KEY, ts.REFERENCE_VELOCITY_KEY, ts.SUBGOAL_KEY, ts.PHASE_KEY):
            want = np.concatenate([stacked(f, key) for f in written]).astype(np.int64 if key in (ts.SUBGOAL_KEY, ts.PHASE_KEY) else np.float32)
            cmp[key] = "equal" if np.array_equal(got[f"{backend}/{key}"].reshape(want.shape), want) else "DIFFERENT"
        want_img = np.concatenate([stacked(f, ts.IMAGE_KEY) for f in written]).astype(np.float32) / 255  # (N, H, W, 3)
        img = got[f"{backend}/{ts.IMAGE_KEY}"].transpose(0, 2, 3, 1)  # lerobot: (N, 3, H, W) float in [0, 1]
        cmp[ts.IMAGE_KEY] = {"shape": list(img.shape), "mean_abs_err_0_255": round(float(np.abs(img - want_img).mean() * 255), 3),
                             "max_abs_err_0_255": round(float(np.abs(img - want_img).max() * 255), 1)}
        tasks = [TASKS[e % 2] for e, f in enumerate(written) for _ in f]
        cmp["task"] = "equal" if got[f"{backend}/task"].tolist() == tasks else "DIFFERENT"
        np.testing.assert_array_equal(got[f"{backend}/index"], np.arange(len(tasks)))
        cmp["image_size"] = SIZE
        report["comparisons"][backend] = cmp
    return report


def check_lerobot_in_ours(python: str, work: Path, fixture: Path | None) -> dict:
    """lerobot's recorder -> our reader and validator."""
    from wbvla.data.lerobot_v3 import LeRobotV3Dataset, validate_v3

    root = work / "theirs" / "ds"
    root.parent.mkdir(parents=True)
    warnings = _run(python, "--role", "lerobot-write", str(root))
    written = dict(np.load(root.parent / "written.npz"))
    ds = LeRobotV3Dataset(root)
    eps = [ds.episode(int(e)) for e in ds.episodes.episode_index]
    state = np.concatenate([e["observation.state"] for e in eps])
    action = np.concatenate([e["action"] for e in eps])
    video = np.concatenate([e["observation.images.cam"] for e in eps]).astype(np.float32)
    size_kb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1024
    report = {"written_by": json.loads((root.parent / "written.json").read_text()), "lerobot_warnings": warnings,
              "validate_v3": validate_v3(root), "episodes": ds.episodes["length"].tolist(),
              "tasks": ds.tasks, "state": "equal" if np.array_equal(state, written["state"]) else "DIFFERENT",
              "action": "equal" if np.array_equal(action, written["action"]) else "DIFFERENT",
              "video_codec": ds.features["observation.images.cam"].get("info", {}).get("video.codec"),
              "video_mean_abs_err_0_255": round(float(np.abs(video - written["image"]).mean()), 3),
              "size_kb": round(size_kb, 1), "files": sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())}
    if fixture is not None:
        if size_kb > 200:
            report["fixture"] = f"not copied: {size_kb:.0f} KB > 200 KB"
        else:
            shutil.rmtree(fixture, ignore_errors=True)
            shutil.copytree(root, fixture)
            shutil.copy(root.parent / "written.npz", fixture.parent / f"{fixture.name}_written.npz")
            report["fixture"] = str(fixture)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=["check", "lerobot-load", "lerobot-write"], default="check")
    ap.add_argument("args", nargs="*")
    ap.add_argument("--lerobot-python", default="/tmp/lerobot312_venv/bin/python")
    ap.add_argument("--fixture", type=Path, default=None, help="copy lerobot's dataset here (tests/fixtures/...)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.role == "lerobot-load":
        return lerobot_load(*a.args)
    if a.role == "lerobot-write":
        return lerobot_write(*a.args)
    with tempfile.TemporaryDirectory(prefix="lerobot_compat_") as d:
        report = {"ours_in_lerobot": {v: check_ours_in_lerobot(a.lerobot_python, Path(d), v) for v in VARIANTS},
                  "lerobot_in_ours": check_lerobot_in_ours(a.lerobot_python, Path(d), a.fixture)}
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
