"""Typed settings of the LeRobot v3.0 dataset layer (light: dataclasses only, imported by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from wbvla.validation import one_of, positive, require

VIDEO_CODECS: dict[str, str] = {"libx264": "h264", "libsvtav1": "av1"}
"""ffmpeg encoder -> the codec name LeRobot records in a video feature's ``info`` (``video.codec``)."""


@dataclass(frozen=True)
class VideoEncoding:
    """How camera frames become mp4 files (recorded in each video feature's ``info`` block)."""

    vcodec: str = "libx264"
    """ffmpeg encoder: ``libx264`` (H.264, fast on CPU; the default) or ``libsvtav1`` (AV1, lerobot's own
    default). LeRobot decodes either with torchcodec or PyAV."""
    pix_fmt: str = "yuv420p"
    """Pixel format of the stream (yuv420p needs even image sizes)."""
    crf: int = 20
    """Constant rate factor: lower is better quality and bigger files."""
    g: int = 2
    """GOP size (a keyframe every ``g`` frames), lerobot's default: fast random access for training."""
    preset: str = "medium"
    """Encoder speed preset (x264 names; for libsvtav1 a number as a string, e.g. ``"8"``)."""

    def __post_init__(self):
        one_of("vcodec", self.vcodec, VIDEO_CODECS)
        one_of("pix_fmt", self.pix_fmt, ("yuv420p",))
        require(isinstance(self.crf, int) and 0 <= self.crf <= 63, f"crf must be an int in [0, 63], got {self.crf!r}")
        require(isinstance(self.g, int) and self.g >= 1, f"g must be an int >= 1, got {self.g!r}")
        require(isinstance(self.preset, str) and self.preset != "", f"preset must be a non-empty string, got {self.preset!r}")

    @property
    def codec(self) -> str:
        """The codec's canonical name (``h264`` / ``av1``), as ffmpeg and PyAV report it."""
        return VIDEO_CODECS[self.vcodec]


@dataclass(frozen=True)
class FileLimits:
    """When a data / video file is full and the next episode starts a new one (LeRobot's defaults)."""

    chunks_size: int = 1000
    """Files per ``chunk-NNN`` folder."""
    data_files_size_in_mb: float = 100.0
    """Rollover size of ``data/chunk-*/file-*.parquet`` (and of the episodes metadata files)."""
    video_files_size_in_mb: float = 200.0
    """Rollover size of ``videos/<key>/chunk-*/file-*.mp4``."""

    def __post_init__(self):
        require(isinstance(self.chunks_size, int) and self.chunks_size >= 1,
                f"chunks_size must be an int >= 1, got {self.chunks_size!r}")
        positive("data_files_size_in_mb", self.data_files_size_in_mb)
        positive("video_files_size_in_mb", self.video_files_size_in_mb)


@dataclass(frozen=True)
class LeRobotValidateConfig:
    """Check a dataset root against the LeRobot v3.0 layout (``wbvla lerobot-validate ROOT``)."""

    root: tyro.conf.Positional[Path]
    """Dataset root (the folder holding ``meta/info.json``)."""
    count_video_frames: bool = True
    """Also count every video file's frames (reads the packets, decodes nothing)."""
