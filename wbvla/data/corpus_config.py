"""Config of the Stage I corpora (light imports only: the CLI builds it before any rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wbvla.paths import cache_dir
from wbvla.validation import in_range, one_of, positive, require

SIZES: dict[str, dict[str, int]] = {
    # clips per (corpus, split) and goals per locomotion clip
    "smoke": dict(human_train=2, human_heldout=1, robot_heldout=1, mani_train=6, mani_heldout=6, goals=1),
    "tutorial": dict(human_train=48, human_heldout=12, robot_heldout=12, mani_train=240, mani_heldout=48, goals=2),
    "full": dict(human_train=800, human_heldout=60, robot_heldout=60, mani_train=4000, mani_heldout=240, goals=3),
}
"""Corpus sizes. smoke: seconds (tests, SMOKE notebooks); tutorial: about 10-15 min on a 2-core
CPU; full: hours (a larger machine or patience)."""

SEED_BASE = {("loco_human", "train"): 1_000, ("loco_human", "heldout"): 500_000,
             ("loco_robot", "train"): 300_000, ("loco_robot", "heldout"): 600_000,
             ("mani", "train"): 100_000, ("mani", "heldout"): 700_000}
"""First scene seed of each (corpus, split): the ranges never overlap, so held-out clips come from
rooms and tables never seen in training."""


@dataclass
class CorpusConfig:
    """What corpus to generate and where."""

    size: str = "tutorial"
    """Preset in :data:`SIZES`: ``smoke``, ``tutorial`` or ``full``."""
    root: Path | None = None
    """Output folder; ``None`` means ``cache_dir()/lam_corpus/<size>``."""
    seed: int = 0
    """Offsets every scene and clip seed (another seed gives another, disjoint-in-seed corpus)."""
    image_size: int = 64
    """Square frame size in pixels (frames are rendered at 2x and box-filtered down)."""
    fps: float = 10.0
    """Video frame rate (frames/s)."""
    workers: int = 1
    """Parallel rendering processes (each renders whole clips)."""
    video_qp: int = 12
    """H.264 quantization parameter (0 = lossless luma, 51 = worst)."""
    human_train: int | None = None
    """Override the preset's number of human-like locomotion training clips."""
    human_heldout: int | None = None
    """Override the preset's number of held-out human-like clips (unseen rooms)."""
    robot_heldout: int | None = None
    """Override the preset's number of X2 head-camera locomotion clips (all held out)."""
    mani_train: int | None = None
    """Override the preset's number of manipulation training clips."""
    mani_heldout: int | None = None
    """Override the preset's number of held-out manipulation clips (unseen tables)."""
    goals: int | None = None
    """Override the number of targets approached per locomotion clip."""

    def __post_init__(self) -> None:
        one_of("size", self.size, SIZES)
        require(isinstance(self.seed, int) and 0 <= self.seed < 100, f"seed must be an int in [0, 100), got {self.seed!r}")
        in_range("image_size", self.image_size, 16, 512)
        require(self.image_size % 2 == 0, f"image_size must be even (H.264), got {self.image_size}")
        in_range("fps", self.fps, 1.0, 60.0)
        positive("workers", self.workers)
        in_range("video_qp", self.video_qp, 0, 51)
        for name in ("human_train", "human_heldout", "robot_heldout", "mani_train", "mani_heldout", "goals"):
            v = getattr(self, name)
            require(v is None or (isinstance(v, int) and v >= 0), f"{name} must be None or an int >= 0, got {v!r}")

    def count(self, name: str) -> int:
        v = getattr(self, name)
        return SIZES[self.size][name] if v is None else v

    @property
    def path(self) -> Path:
        return Path(self.root) if self.root is not None else cache_dir() / "lam_corpus" / self.size


