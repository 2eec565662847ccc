"""A pretrained vision tower checkpoint (Idefics3 / SmolVLM layout): check it, read its image
statistics, preprocess frames for it, load its vision transformer alone.

``wbvla vision-pretrain`` writes ``<run>/tower``: a complete Idefics3 checkpoint (``config.json``,
``model.safetensors``, tokenizer, ``preprocessor_config.json``) whose vision tower is the project's
offline stand-in for an internet-pretrained backbone (issue 20). Two components read it:

* the VLA loads the whole model (``BackboneConfig(preset="pretrained")``, :mod:`wbvla.vla.backbone`);
* the LAM's ``tower`` feature space (:mod:`wbvla.lam.features`) loads only the vision transformer.

Both use the checks, statistics and preprocessing defined here (the LAM sits below the VLA, so the
shared code lives on the LAM's side), so a frame reaches the tower the same way in both.

Light imports at module level (torch and transformers load inside the functions that need them):
``LAMConfig`` validates ``tower_path`` with :func:`check_tower_folder` before anything heavy loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wbvla.compat import ensure_torchvision_importable

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "model.safetensors"
VISION_PREFIX = "model.vision_model."
"""Key prefix of the vision tower's tensors in an ``Idefics3ForConditionalGeneration`` checkpoint."""


def to_float_images(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (B, 3, H, W) or (B, H, W, 3) -> float (B, 3, size, size) in [0, 1] (area-resized if needed)."""
    import torch
    import torch.nn.functional as F

    if frames.ndim != 4:
        raise ValueError(f"expected frames of shape (B, 3, H, W) or (B, H, W, 3), got {tuple(frames.shape)}")
    if frames.shape[1] != 3 and frames.shape[-1] == 3:
        frames = frames.permute(0, 3, 1, 2)
    if frames.shape[1] != 3:
        raise ValueError(f"expected 3 colour channels, got frames of shape {tuple(frames.shape)}")
    x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x


def preprocess_images(images: torch.Tensor, size: int, mean, std, dtype: torch.dtype | None = None) -> torch.Tensor:
    """uint8 (B, 3, H, W) or channels-last (B, H, W, 3) -> (B, 1, 3, size, size) float, (x/255 - mean)/std
    (resized like the LAM's inputs, :func:`to_float_images`)."""
    import torch

    x = to_float_images(torch.as_tensor(images), size)  # (B, 3, S, S) in [0, 1]
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x - m) / s).unsqueeze(1).to(dtype or torch.float32)  # (B, 1, 3, S, S)


def image_stats(path: str | Path) -> tuple[tuple, tuple]:
    """image_mean / image_std of a checkpoint's image processor (0.5 / 0.5 when it has none)."""
    f = Path(path) / "preprocessor_config.json"
    if f.is_file():
        d = json.loads(f.read_text())
        return tuple(d.get("image_mean", (0.5,) * 3)), tuple(d.get("image_std", (0.5,) * 3))
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def check_tower_folder(path: str | Path | None) -> Path:
    """``path`` as a Path if it holds an Idefics3 checkpoint with a vision tower; else an error naming it."""
    if path is None:
        raise ValueError("no vision tower path given (a <run>/tower folder written by `wbvla vision-pretrain`)")
    folder = Path(path).expanduser()
    hint = "not a pretrained tower folder; run wbvla vision-pretrain"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder ({hint})")
    config = folder / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{folder}: no config.json ({hint})")
    try:
        cfg = json.loads(config.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{config}: not valid JSON ({e})") from e
    if cfg.get("model_type") != "idefics3" or "vision_config" not in cfg:
        raise ValueError(f"{config}: model_type {cfg.get('model_type')!r} with no Idefics3 vision_config ({hint})")
    if not (folder / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {WEIGHTS_FILE} ({hint})")
    return folder


@dataclass
class VisionTower:
    """The vision transformer of a tower checkpoint and how frames are fed to it."""

    model: torch.nn.Module
    """``Idefics3VisionTransformer``; ``model(pixel_values=x).last_hidden_state`` is (B, N, width)."""
    image_size: int
    """Square input size (pixels); frames are resized to it."""
    patch_size: int
    width: int
    """Hidden size of the patch tokens."""
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    fingerprint: str
    """SHA-256 of the tower's tensors (names, shapes, fp32 values): tells whether two loads are the same weights."""
    path: Path

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames -> normalized pixel values (B, 3, S, S), as the VLA feeds its tower."""
        return preprocess_images(frames, self.image_size, self.image_mean, self.image_std)[:, 0]


def load_vision_tower(path: str | Path) -> VisionTower:
    """The vision transformer of the checkpoint at ``path`` (fp32, eval mode), without its text model.

    Builds ``Idefics3VisionTransformer`` from the checkpoint's ``vision_config`` the way
    ``from_pretrained`` builds the full model (same attention implementation) and loads exactly the
    ``model.vision_model.*`` tensors of ``model.safetensors`` (strict: a missing or extra tensor is an
    error naming the file)."""
    folder = check_tower_folder(path)
    import torch

    ensure_torchvision_importable()
    from safetensors import safe_open
    from transformers import Idefics3Config
    from transformers.models.idefics3.modeling_idefics3 import Idefics3VisionTransformer

    vision_config = Idefics3Config.from_pretrained(str(folder)).vision_config
    model = Idefics3VisionTransformer._from_config(vision_config, dtype=torch.float32)
    weights = folder / WEIGHTS_FILE
    with safe_open(str(weights), framework="pt") as f:
        state = {k[len(VISION_PREFIX):]: f.get_tensor(k).float() for k in f.keys() if k.startswith(VISION_PREFIX)}
    if not state:
        raise ValueError(f"{weights}: no {VISION_PREFIX}* tensors (not an Idefics3 checkpoint with a vision tower)")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{weights}: the vision tensors do not fit its config.json: missing {missing}, unexpected {unexpected}")
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(f"{name}{tuple(state[name].shape)}".encode())
        digest.update(state[name].numpy().tobytes())
    mean, std = image_stats(folder)
    return VisionTower(model.eval(), int(vision_config.image_size), int(vision_config.patch_size),
                       int(vision_config.hidden_size), tuple(mean), tuple(std), digest.hexdigest(), folder)
