"""Frame pairs (o_t, o_t+k) from real data on disk: a folder of egocentric mp4 files, or a
LeRobot v3 dataset root.

Both give the same interface as the simulated corpus (:class:`~wbvla.data.pairs.PairStore`):
items ``{"o_t", "o_tk", "index"}`` with uint8 (3, H, W) frames, a ``table`` of pairs, and
``errors`` mapping every file that could not be read to the reason. A corrupt or unreadable video
is reported by name (a warning, and in ``errors``) and the rest still loads; only when nothing
loads is it an error. ``k`` is given in frames (``k_frames``) or seconds (``k_seconds``, converted
with each video's frame rate).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from wbvla.data.lerobot_v3.read import LeRobotV3Dataset
from wbvla.data.lerobot_v3.video import resize_frames
from wbvla.data.pairs import PairStore, read_video_frames
from wbvla.validation import require


def _k_frames(k_frames: int | None, k_seconds: float | None, fps: float, source: str) -> int:
    require((k_frames is None) != (k_seconds is None), "give exactly one of k_frames or k_seconds")
    if k_frames is not None:
        require(isinstance(k_frames, int) and k_frames > 0, f"k_frames must be an int > 0, got {k_frames!r}")
        return k_frames
    require(k_seconds > 0, f"k_seconds must be > 0, got {k_seconds!r}")
    require(np.isfinite(fps) and fps > 0, f"{source}: unknown frame rate, cannot convert k_seconds; give k_frames")
    return max(1, int(round(k_seconds * fps)))


class VideoFolderPairs(PairStore):
    """Every ``*.mp4`` under ``root`` (recursively) is one egocentric clip.

    Args:
        root: the folder.
        k_frames / k_seconds: the pair offset k (exactly one).
        size: resize frames to ``size`` x ``size`` (None keeps them; all videos must then match).
        stride: take a pair starting every ``stride`` frames.

    Raises:
        ValueError: no mp4 files, or none could be read (the message lists each file and why).
    """

    def __init__(self, root: Path, k_frames: int | None = None, k_seconds: float | None = None,
                 size: int | None = 64, stride: int = 1):
        require((k_frames is None) != (k_seconds is None), "give exactly one of k_frames or k_seconds")
        root = Path(root)
        require(root.is_dir(), f"video folder not found: {root}")
        files = sorted(root.rglob("*.mp4"))
        require(len(files) > 0, f"no .mp4 files under {root}")
        self.errors: dict[str, str] = {}
        frames, rows, start = [], [], 0
        for f in files:
            try:
                video, fps = read_video_frames(f)
                k = _k_frames(k_frames, k_seconds, fps, str(f))
            except ValueError as err:
                self.errors[str(f)] = str(err)
                warnings.warn(f"skipping unreadable video {f}: {err}", stacklevel=2)
                continue
            video = resize_frames(video, size)
            frames.append(video)
            for t in range(0, len(video) - k, stride):
                rows.append((str(f.relative_to(root)), t, t / fps if fps == fps else np.nan, k, start + t, start + t + k))
            start += len(video)
        if not frames:
            raise ValueError(f"none of the {len(files)} videos under {root} could be read: {self.errors}")
        require(len(rows) > 0, f"videos under {root} are too short for k")
        self._finish(frames, rows, ["video", "frame", "time", "k", "i", "j"])


class LeRobotV3Pairs(PairStore):
    """Pairs from one camera of a LeRobot v3 dataset root (read with
    :class:`~wbvla.data.lerobot_v3.read.LeRobotV3Dataset`); pairs never cross episodes.

    Args:
        root: dataset root.
        camera: a video feature key (``observation.images.head``); the first one when None.
        k_frames / k_seconds: the pair offset k (seconds use ``info.json``'s ``fps``).
        size: resize frames to ``size`` x ``size``.

    Raises:
        ValueError: not a v3 dataset, malformed episode metadata (naming the file and column), unknown
            camera, or no episode's video could be read.
    """

    def __init__(self, root: Path, camera: str | None = None, k_frames: int | None = None,
                 k_seconds: float | None = None, size: int | None = 64, stride: int = 1):
        require((k_frames is None) != (k_seconds is None), "give exactly one of k_frames or k_seconds")
        ds = LeRobotV3Dataset(root)
        require(len(ds.video_keys) > 0, f"{ds.root}: info.json lists no video features")
        camera = camera or ds.video_keys[0]
        require(camera in ds.video_keys, f"{ds.root}: no video feature {camera!r}; cameras: {ds.video_keys}")
        k = _k_frames(k_frames, k_seconds, ds.fps, str(ds.root))
        self.errors: dict[str, str] = {}
        self.camera, self.fps, self.k = camera, ds.fps, k
        frames, rows, start = [], [], 0
        for ep in ds.episodes["episode_index"].astype(int):
            path = ds.video_path(ep, camera)
            if str(path) in self.errors:
                continue
            try:
                clip = ds.video(ep, camera, size)
            except ValueError as err:
                self.errors[str(path)] = str(err)
                warnings.warn(f"skipping unreadable video {path}: {err}", stacklevel=2)
                continue
            frames.append(clip)
            for t in range(0, len(clip) - k, stride):
                rows.append((ep, t, t / ds.fps, str(path.relative_to(ds.root)), start + t, start + t + k))
            start += len(clip)
        if not frames:
            raise ValueError(f"{ds.root}: no episode video of {camera!r} could be read: {self.errors}")
        require(len(rows) > 0, f"{ds.root}: episodes are too short for k={k} frames")
        self._finish(frames, rows, ["episode_index", "frame", "time", "video", "i", "j"])
