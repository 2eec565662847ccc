"""Config of ``wbvla quickstart`` (kept free of heavy imports so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wbvla.config import positive, require
from wbvla.paths import REPO_ROOT


@dataclass
class QuickstartConfig:
    """The main job on its embedded default: scene, head camera, short physics rollout, report."""

    output_dir: Path = REPO_ROOT / "runs" / "quickstart"
    """Where the report (figures, metrics JSON, egocentric video) is written."""
    scene: str = "bag_packing"
    """Scene to build (see ``wbvla.sim.scene.SCENES``)."""
    seed: int = 0
    """Seed for the scene's layout, colours and textures."""
    width: int = 224
    """Head-camera image width (pixels)."""
    height: int = 224
    """Head-camera image height (pixels)."""
    duration_s: float = 4.0
    """Length of the physics rollout (s): PD hold, then a squat and rise."""
    video_fps: int = 25
    """Frame rate of the egocentric video."""

    def __post_init__(self) -> None:
        positive("width", self.width)
        positive("height", self.height)
        positive("duration_s", self.duration_s)
        positive("video_fps", self.video_fps)
        require(self.duration_s <= 60, f"duration_s must be <= 60 s for the quickstart, got {self.duration_s}")
