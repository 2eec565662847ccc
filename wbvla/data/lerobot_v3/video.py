"""mp4 files of a LeRobot v3 dataset with imageio-ffmpeg's static ffmpeg: encode an episode, append it to
a file by stream copy (no re-encoding), cut a file back to its first frames, probe, decode a time range,
resize decoded frames.

Timestamps are exact multiples of 1/fps (the mp4 time base is a multiple of fps), so an episode that
starts ``n`` frames into a file has ``from_timestamp = n / fps``, as lerobot's loaders expect.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from wbvla.data.lerobot_v3.config import VideoEncoding
from wbvla.io import atomic_path

_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]


def _ffmpeg(args: list[str], what: str) -> str:
    """Run ffmpeg; return its stderr; raise ValueError naming ``what`` on failure."""
    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tail = r.stderr.strip().splitlines()[-3:]
        raise ValueError(f"ffmpeg failed on {what}: {' | '.join(tail)[:400]}")
    return r.stderr


def encode_frames(frames: np.ndarray, path: Path, fps: int, enc: VideoEncoding) -> Path:
    """Write (T, H, W, 3) uint8 frames to a new mp4 at ``path`` (deterministic bit-exact output)."""
    t, h, w, _ = frames.shape
    params = ["-crf", str(enc.crf), "-g", str(enc.g), "-preset", enc.preset, *_BITEXACT]
    if enc.vcodec == "libx264":
        params += ["-bf", "0", "-threads", "1"]  # no B-frames: every prefix of the stream decodes
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec=enc.vcodec, pix_fmt_out=enc.pix_fmt,
                                         quality=None, macro_block_size=1, ffmpeg_log_level="error",
                                         output_params=params)
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return Path(path)


def append_video(target: Path, segment: Path) -> None:
    """``target`` := ``target`` followed by ``segment`` (same codec/size/fps), atomically, by stream copy."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tmp_concat_") as d:
        listing = Path(d) / "list.txt"
        listing.write_text(f"file '{target.resolve()}'\nfile '{Path(segment).resolve()}'\n")
        with atomic_path(target) as tmp:
            _ffmpeg(["-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v",
                     "-c", "copy", *_BITEXACT, str(tmp)], f"appending {segment} to {target}")


def truncate_video(path: Path, n_frames: int) -> None:
    """Keep only the first ``n_frames`` frames of ``path`` (stream copy; valid because our streams have
    no B-frames), atomically. Used to drop an unfinished episode after a crash."""
    with atomic_path(path) as tmp:
        _ffmpeg(["-y", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-frames:v", str(n_frames),
                 *_BITEXACT, str(tmp)], f"truncating {path} to {n_frames} frames")


def stream_errors(path: Path) -> str:
    """What ffmpeg reports wrong while reading every packet of ``path``'s video stream ("" if nothing),
    e.g. ``partial file`` for an mp4 cut short after its index."""
    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
                        "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], capture_output=True, text=True)
    lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
    return "; ".join(lines[-2:])[:300] if (lines or r.returncode) else ""


@dataclass(frozen=True)
class VideoProbe:
    """What the container of one mp4 says about its first video stream."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    duration_s: float
    """Container duration (ffmpeg prints it to 10 ms)."""
    n_frames: int | None
    """Packets of the video stream (counted without decoding), when requested."""


def probe_video(path: Path, count_frames: bool = True) -> VideoProbe:
    """Probe ``path`` with ffmpeg (no decoding). Raises ValueError naming the file if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path}")
    args = ["-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"] if count_frames else ["-i", str(path)]
    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                       capture_output=True, text=True)
    err = r.stderr
    stream = re.search(r"Stream #0:\d+.*?: Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?, ([\d.]+) fps", err)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    if stream is None or duration is None or (count_frames and r.returncode != 0):
        tail = err.strip().splitlines()[-1:] if err.strip() else ["no output"]
        raise ValueError(f"cannot read video {path}: {tail[0][:200]}")
    h_, m_, s_ = duration.groups()
    frames = re.findall(r"frame=\s*(\d+)", err) if count_frames else []
    return VideoProbe(codec=stream.group(1), pix_fmt=stream.group(2), width=int(stream.group(3)),
                      height=int(stream.group(4)), fps=float(stream.group(5)),
                      duration_s=int(h_) * 3600 + int(m_) * 60 + float(s_),
                      n_frames=int(frames[-1]) if frames else (0 if count_frames else None))


def decode_range(path: Path, start_s: float, n_frames: int, fps: float) -> np.ndarray:
    """Decode the ``n_frames`` frames of ``path`` starting at ``start_s`` -> (n, H, W, 3) uint8.

    Raises:
        ValueError: the file is unreadable or holds fewer frames there (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path}")
    seek = max(0.0, start_s - 0.5 / fps)  # half a frame early: the first frame kept is the one at start_s
    try:
        gen = imageio_ffmpeg.read_frames(str(path), input_params=["-ss", f"{seek:.6f}"],
                                         output_params=["-frames:v", str(n_frames)])
        meta = next(gen)
        w, h = meta["size"]
        frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    except Exception as err:  # ffmpeg reports corrupt files in many ways
        msg = str(err).strip().splitlines()
        raise ValueError(f"cannot decode video {path}: {type(err).__name__}: {(msg[-1] if msg else '')[:200]}") from None
    if len(frames) != n_frames:
        raise ValueError(f"video {path} holds {len(frames)} frames from t={start_s:.3f} s, expected {n_frames} "
                         "(truncated or corrupt file?)")
    return np.stack(frames)


def resize_frames(frames: np.ndarray, size: int | None) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, size, size, 3) (antialiased bilinear); ``size=None`` keeps them."""
    if size is None or frames.shape[1:3] == (size, size):
        return frames
    import torch  # only where frames are resized: the validator and the CLI never need torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
