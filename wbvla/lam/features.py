"""Feature spaces the LAM encodes and reconstructs: raw pixel patches or frozen DINOv2 patches.

Both map uint8 frames (B, 3, H, W) to patch features (B, N, C) on a ``grid`` x ``grid`` layout.
The LAM's reconstruction target and the RRG are measured in this space (the paper reconstructs
DINOv2 features of o_t+k, App. A.1; the pixel space needs no weights and is the offline default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wbvla.compat import ensure_torchvision_importable
from wbvla.lam.config import LAMConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_float_images(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (B, 3, H, W) or (B, H, W, 3) -> float (B, 3, size, size) in [0, 1] (area-resized if needed)."""
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


class PixelPatches(nn.Module):
    """Non-overlapping ``patch_size`` RGB patches in [-0.5, 0.5]: (B, N, 3 p^2). No parameters."""

    def __init__(self, image_size: int, patch_size: int):
        super().__init__()
        self.image_size, self.patch_size = image_size, patch_size
        self.grid = image_size // patch_size
        self.dim = 3 * patch_size * patch_size

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = to_float_images(frames, self.image_size) - 0.5  # (B, 3, S, S)
        p = self.patch_size
        x = F.unfold(x, kernel_size=p, stride=p)  # (B, 3 p^2, N)
        return x.transpose(1, 2).contiguous()  # (B, N, 3 p^2)

    def to_images(self, patches: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`forward`: (B, N, 3 p^2) -> (B, 3, S, S) in [0, 1] (clamped)."""
        s, p = self.image_size, self.patch_size
        x = F.fold(patches.transpose(1, 2), output_size=(s, s), kernel_size=p, stride=p)
        return (x + 0.5).clamp(0, 1)


class Dinov2Patches(nn.Module):
    """Frozen DINOv2 patch tokens (last layer, CLS dropped): (B, N, hidden). Loaded with
    ``transformers.Dinov2Model.from_pretrained(path)``; the image is resized to ``image_size``."""

    def __init__(self, path: str, image_size: int):
        super().__init__()
        ensure_torchvision_importable()
        from transformers import Dinov2Model

        self.backbone = Dinov2Model.from_pretrained(path)
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        p = int(self.backbone.config.patch_size)
        if image_size % p:
            raise ValueError(f"image_size {image_size} must be a multiple of the DINOv2 patch size {p}")
        self.image_size, self.patch_size = image_size, p
        self.grid = image_size // p
        self.dim = int(self.backbone.config.hidden_size)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # the backbone stays frozen in eval mode
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (to_float_images(frames, self.image_size) - self.mean) / self.std
        out = self.backbone(pixel_values=x).last_hidden_state  # (B, 1 + N, C)
        return out[:, 1:1 + self.grid * self.grid]  # (B, N, C)


def build_features(config: LAMConfig) -> nn.Module:
    """The feature space named by ``config.feature_space``."""
    if config.feature_space == "pixel":
        return PixelPatches(config.image_size, config.patch_size)
    return Dinov2Patches(config.dinov2_path, config.image_size)
