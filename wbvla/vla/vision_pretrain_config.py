"""Config of the offline vision-tower pretraining (``wbvla vision-pretrain``; light imports only).

The stand-in for the paper's internet-pretrained vision backbone (issue 20 part 2, a deviation
listed in the model card): the VLA's own vision tower (:class:`BackboneConfig`'s SigLIP-style
tower) learns, on simulated head-camera renders from training seeds
(:mod:`wbvla.data.vision_renders`), to locate the grasp targets and both hands in the image and
to regress the hands' and the bar's positions in the body frame. The result is a complete
Idefics3 checkpoint folder that the VLA loads like any outside weights:
``BackboneConfig(preset="pretrained", pretrained_path=<folder>)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wbvla.data.vision_renders import VisionRenderConfig
from wbvla.training.devices import DeviceName, check_device
from wbvla.validation import in_range, one_of, positive, require
from wbvla.vla.config import BackboneConfig


def _tower() -> BackboneConfig:
    return BackboneConfig(preset="tiny", image_size=128, patch_size=8, vision_width=192, vision_layers=6, vision_heads=6)


@dataclass
class VisionPretrainConfig:
    """What ``wbvla vision-pretrain`` renders, trains and writes."""

    renders: VisionRenderConfig = field(default_factory=VisionRenderConfig)
    """The render set (rendered first where shards are missing). Its last ``val_fraction`` of
    scenes is held out for the localization metrics."""
    backbone: BackboneConfig = field(default_factory=_tower)
    """The VLM whose vision tower is trained (``vision_*`` fields, ``image_size``, ``patch_size``);
    its text model and connector are saved untrained beside it. Default: a 6-layer, 192-wide
    tower (2.7 M parameters) on 128 px in 8 px patches."""
    val_fraction: float = 0.1
    """Share of the render set's scenes (the last ones) kept for validation."""
    steps: int = 2000
    """Optimizer steps."""
    batch_size: int = 32
    """Renders per step."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warmup, cosine decay to 10 %)."""
    warmup_steps: int = 100
    """Linear warmup steps."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    image_shift: int = 1
    """Random translation (pixels at the tower's input, each axis) of training images; labels move with it."""
    keypoint_weight: float = 1.0
    """Weight of the L1 on in-frame keypoint positions (pixels / image size)."""
    visibility_weight: float = 0.2
    """Weight of the in-frame / out-of-frame binary cross-entropy per keypoint."""
    body_weight: float = 1.0
    """Weight of the L1 on the standardized hand and bar positions in the body frame (and bar heading)."""
    freeze_tower: bool = False
    """Train the heads only, on the randomly initialised tower (the baseline the pretraining beats)."""
    val_every_n_steps: int = 500
    """Validation (and a checkpoint) every this many steps."""
    seed: int = 0
    """Seeds the tower's and heads' init and the batch order."""
    device: DeviceName = "auto"
    """``auto``, ``cpu`` or ``gpu``."""
    threads: int | None = 1
    """torch CPU threads."""
    resume: bool = True
    """Continue from ``checkpoints/last.ckpt`` in the run folder when it exists."""
    progress: bool = True
    """Lightning's progress bar."""
    output_dir: Path | None = None
    """Run folder; None: ``cache_dir()/vision_pretrain/<run_name()>``. The checkpoint folder the VLA
    loads is ``<output_dir>/tower``."""

    def __post_init__(self) -> None:
        check_device(self.device)
        in_range("val_fraction", self.val_fraction, 0.0, 0.5)
        for n in ("steps", "batch_size", "val_every_n_steps"):
            v = getattr(self, n)
            require(isinstance(v, int) and not isinstance(v, bool) and v > 0, f"{n} must be an int > 0, got {v!r}")
        for n in ("warmup_steps", "image_shift"):
            v = getattr(self, n)
            require(isinstance(v, int) and v >= 0, f"{n} must be an int >= 0, got {v!r}")
        positive("lr", self.lr)
        for n in ("weight_decay", "keypoint_weight", "visibility_weight", "body_weight"):
            positive(n, getattr(self, n), allow_zero=True)
        one_of("backbone.preset", self.backbone.preset, ("tiny", "smollm2"))
        require(self.backbone.image_size == self.renders.image_size,
                f"backbone.image_size {self.backbone.image_size} must equal renders.image_size {self.renders.image_size} "
                "(the keypoint labels are in the render's pixels)")
        require(self.renders.scenes >= 2 or self.val_fraction == 0,
                f"a validation split needs >= 2 scenes, the render set has {self.renders.scenes}")
        require(self.threads is None or (isinstance(self.threads, int) and self.threads > 0),
                f"threads must be None or an int > 0, got {self.threads!r}")

    def run_name(self) -> str:
        """``<render set name>_<tower width>x<layers>[_frozen][_s<seed>]``."""
        b = self.backbone
        return (f"{self.renders.name}_{b.vision_width}x{b.vision_layers}" + ("_frozen" if self.freeze_tower else "")
                + (f"_s{self.seed}" if self.seed else ""))
