"""Feature spaces the LAM encodes and reconstructs: raw pixel patches, frozen DINOv2 patches, or
the patch tokens of the project's own frozen, offline-pretrained vision tower.

Each maps uint8 frames (B, 3, H, W) to patch features (B, N, C) on a ``grid`` x ``grid`` layout.
The LAM's reconstruction target and the RRG are measured in this space. The paper reconstructs
DINOv2 features of o_t+k (App. A.1); no DINOv2 weights can be had offline, so

* ``pixel`` (default) needs no weights;
* ``tower`` is a named deviation: the project's offline-pretrained tower (``wbvla vision-pretrain``,
  issue 20) stands in for DINOv2 (no pretrained weights offline);
* ``dinov2`` is the paper's choice, for a machine that has the weights.

Features are computed on the fly in every forward pass (the LAM pipeline caches no features); the
frozen backbones' weights are not stored in LAM checkpoints but reloaded from their path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wbvla.compat import ensure_torchvision_importable
from wbvla.lam.config import LAMConfig
from wbvla.lam.vision_tower import load_vision_tower, preprocess_images, to_float_images
from wbvla.paths import local_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


class FrozenBackbone(nn.Module):
    """A feature space around a pretrained ``self.backbone`` that is never trained: it stays in eval
    mode whatever mode the LAM is put in (dropout off, statistics fixed)."""

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()
        return self


class Dinov2Patches(FrozenBackbone):
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

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (to_float_images(frames, self.image_size) - self.mean) / self.std
        out = self.backbone(pixel_values=x).last_hidden_state  # (B, 1 + N, C)
        return out[:, 1:1 + self.grid * self.grid]  # (B, N, C)


class TowerPatches(FrozenBackbone):
    """Frozen patch tokens of the project's pretrained vision tower (last hidden state, after its
    final LayerNorm): (B, N, width), N = (image_size / patch_size)^2 of the tower.

    Frames are resized to the tower's own input size and normalized with its image statistics,
    exactly as the VLA feeds the same tower (:func:`wbvla.lam.vision_tower.preprocess_images`), so
    ``LAMConfig.image_size`` / ``patch_size`` are not used. ``pool`` > 1 averages the tokens of
    ``pool`` x ``pool`` blocks of the grid (fewer tokens: the LAM's cost grows with their number). Like DINOv2's, the tokens are used
    as they come out (no further standardization): the final LayerNorm already puts every token on
    a common scale."""

    def __init__(self, path: str, pool: int = 1):
        super().__init__()
        tower = load_vision_tower(path)
        if tower.grid % pool:
            raise ValueError(f"tower_pool {pool} must divide the patch grid {tower.grid} of the tower at {path}")
        self.backbone = tower.model
        self.backbone.requires_grad_(False)
        self.image_size, self.patch_size, self.dim = tower.image_size, tower.patch_size, tower.width
        self.tower_grid, self.pool = tower.grid, pool
        self.grid = tower.grid // pool
        self.fingerprint = tower.fingerprint  # LAM checkpoints record it and refuse another tower on load
        self.image_mean, self.image_std = tower.image_mean, tower.image_std

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        pixels = preprocess_images(frames, self.image_size, self.image_mean, self.image_std)[:, 0]  # (B, 3, S, S)
        tokens = self.backbone(pixel_values=pixels).last_hidden_state  # (B, N, width), row-major grid
        if self.pool == 1:
            return tokens
        b, g = tokens.shape[0], self.tower_grid
        grid = tokens.transpose(1, 2).reshape(b, self.dim, g, g)  # (B, width, g, g)
        return F.avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2)  # (B, (g / pool)^2, width)


def build_features(config: LAMConfig) -> nn.Module:
    """The feature space named by ``config.feature_space``."""
    if config.feature_space == "pixel":
        return PixelPatches(config.image_size, config.patch_size)
    if config.feature_space == "tower":
        return TowerPatches(str(local_path(config.tower_path)), config.tower_pool)
    return Dinov2Patches(config.dinov2_path, config.image_size)
