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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import tyro  # light: only its markers, for the CLI

from wbvla.data.vision_renders import VisionRenderConfig
from wbvla.training.devices import DeviceName, check_device
from wbvla.validation import in_range, one_of, positive, require
from wbvla.vla.config import BackboneConfig


@dataclass
class VisionPretrainConfig:
    """What ``wbvla vision-pretrain`` renders, trains and writes."""

    renders: VisionRenderConfig = field(default_factory=VisionRenderConfig)
    """The render set (rendered first where shards are missing). Its last ``val_fraction`` of
    scenes is held out for the localization metrics."""
    tower_width: int = 192
    """Width of the vision tower (its MLP is twice as wide) ..."""
    tower_layers: int = 6
    """... its transformer layers ..."""
    tower_heads: int = 6
    """... its attention heads ..."""
    patch_size: int = 8
    """... and its patch size (pixels); it reads ``renders.image_size`` px. Default: 1.9 M
    parameters, a 16 x 16 patch grid at 128 px."""
    text: Annotated[BackboneConfig, tyro.conf.Suppress] = field(default_factory=BackboneConfig)
    """The rest of the VLM saved with the tower (preset ``tiny`` or ``smollm2``: connector and text
    model as built, untrained by this job); its vision fields are replaced by the ones above
    (:meth:`backbone`). Not a CLI option (its field names repeat the tower's)."""
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
        one_of("text.preset", self.text.preset, ("tiny", "smollm2"))
        self.backbone()  # the tower's shape checks (patch grid, heads)
        require(self.renders.scenes >= 2 or self.val_fraction == 0,
                f"a validation split needs >= 2 scenes, the render set has {self.renders.scenes}")
        require(self.threads is None or (isinstance(self.threads, int) and self.threads > 0),
                f"threads must be None or an int > 0, got {self.threads!r}")

    def backbone(self) -> BackboneConfig:
        """The VLM whose tower is trained: ``text`` with the tower fields above, reading the renders'
        image size (the keypoint labels are in the renders' pixels)."""
        return replace(self.text, image_size=self.renders.image_size, patch_size=self.patch_size,
                       vision_width=self.tower_width, vision_layers=self.tower_layers, vision_heads=self.tower_heads)

    def run_name(self) -> str:
        """``<render set name>_<tower width>x<layers>[_frozen][_s<seed>]``."""
        return (f"{self.renders.name}_{self.tower_width}x{self.tower_layers}" + ("_frozen" if self.freeze_tower else "")
                + (f"_s{self.seed}" if self.seed else ""))


@dataclass
class VisionShipConfig:
    """Ship a pretrained tower into the repository (``wbvla vision-ship``): copies ``<run>/<tower>`` to
    ``data/vla/vision_tower`` with its measurements (``provenance.json``), so Stage II-III, the LAMs'
    ``tower`` feature space and the notebooks find it in a fresh clone."""

    run: Path
    """A ``wbvla vision-pretrain`` run folder (``cache_dir()/vision_pretrain/<run name>``)."""
    tower: str = "tower"
    """Which export in it: ``tower`` (written when the run finishes) or a ``tower_step<N>`` snapshot
    (``tools/vision_tower_snapshot.py``)."""

    def __post_init__(self) -> None:
        self.run = Path(self.run).expanduser()
        require(self.run.is_dir(), f"run: {self.run} is not a folder (a wbvla vision-pretrain run folder)")
        require(self.tower == "tower" or self.tower.startswith("tower_step"),
                f"tower must be 'tower' or 'tower_step<N>', got {self.tower!r}")
        require((self.run / self.tower).is_dir(), f"run: {self.run} holds no {self.tower}/ (not finished, or no such snapshot)")


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def config_from_json(d: dict) -> VisionPretrainConfig:
    """A :class:`VisionPretrainConfig` from its JSON form (a run's ``train_config.json``)."""
    d = dict(d)
    d["renders"] = VisionRenderConfig(**{k: _tuples(v) for k, v in d["renders"].items()})
    d["text"] = BackboneConfig(**d["text"])
    if d.get("output_dir") is not None:
        d["output_dir"] = Path(d["output_dir"])
    if d["renders"].root is not None:
        d["renders"] = replace(d["renders"], root=Path(d["renders"].root))
    return VisionPretrainConfig(**d)
