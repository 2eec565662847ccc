"""Showing and saving videos (mediapy): one helper for notebooks, the CLI and reports."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import mediapy
import numpy as np

from wbvla.io import atomic_path

# mediapy shells out to ffmpeg; use the static binary that imageio-ffmpeg ships so no system
# ffmpeg is needed.
mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected frames of shape (T, H, W, 3) with T > 0, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    return frames


def save_video(frames, path: str | Path, fps: float = 25.0) -> Path:
    """Write ``frames`` (T, H, W, 3) uint8 to ``path`` (mp4 with H.264 via ffmpeg), atomically."""
    frames = _check_frames(frames)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    with atomic_path(path) as tmp:
        mediapy.write_video(tmp, frames, fps=fps)
    return Path(path)


def show_video(frames, fps: float = 25.0, title: str | None = None, width: int | None = None) -> None:
    """Display frames inline in a notebook (no-op outside IPython)."""
    frames = _check_frames(frames)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    mediapy.show_video(frames, fps=fps, title=title, width=width)
