"""Stage III's localization auxiliary loss (``FinetuneConfig.aux_localization_weight``; issue 20).

Not in the paper (a deviation named in the model card): the learned policy places its hands
10-23 cm from where the grasp needs them (tolerance ~1.5 cm), and Stage III's action losses never
ask the image tokens *where* the hands are. Every teleoperation frame carries that for free: s_t
holds the 14 measured arm joints, and forward kinematics turns them into both hands' TCP
positions in the body frame (:meth:`wbvla.sim.kinematics.ArmKinematics.tcp_positions`: base fixed,
waist and legs at the default pose, so the hands are where the head camera sees them relative to
the torso). A small head reads the VLM's hidden states at the image tokens -- which, in the causal
text model, have seen only the image -- and predicts them:

    p_hat = p_0 + MLP(flatten(W_r LN(h_vis)))       h_vis (B, N_v, D), W_r: D -> 16   (B, 2, 3)
    p     = FK_tcp(s_t[:14])                                                           (B, 2, 3)
    L_loc = mean |p_hat - p|        (m)

with ``p_0`` the TCPs of the default arm pose. The head has the layout of the vision tower
pretraining's body-frame head (:class:`wbvla.vla.vision_pretrain.TowerHeads`: channels reduced
to 16, flattened so it is position-aware, an MLP). It is training-only: never exported, so the
policy folder and ``act()`` do not change.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wbvla.data import teleop_schema as ts
from wbvla.sim.joints import default_pose
from wbvla.vla.phase_metrics import arm_kinematics

REDUCED = 16
"""Channels per image token after the reduction (as in the vision pretraining's body head)."""


def tcp_targets(state: torch.Tensor) -> torch.Tensor:
    """Both hands' TCP positions (m, body frame) by FK of s_t's measured arm joints: (B, 17) -> (B, 2, 3)
    (left, right), float32 on ``state``'s device."""
    arms = state[..., ts.STATE_ARMS].detach().cpu().numpy()
    return torch.from_numpy(arm_kinematics().tcp_positions(arms).astype(np.float32)).to(state.device)


class LocalizationHead(nn.Module):
    """Image-token hidden states (B, N_v, D) -> both TCP positions (B, 2, 3) in metres (module docstring)."""

    def __init__(self, width: int, image_tokens: int, hidden: int = 256):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.reduce = nn.Linear(width, REDUCED)
        self.mlp = nn.Sequential(nn.Linear(REDUCED * image_tokens, hidden), nn.GELU(), nn.Linear(hidden, 6))
        rest = arm_kinematics().tcp_positions(default_pose("arms")).astype(np.float32)  # (2, 3)
        self.register_buffer("rest", torch.from_numpy(rest), persistent=False)

    def forward(self, visual: torch.Tensor) -> torch.Tensor:
        x = self.reduce(self.norm(visual)).flatten(1)  # (B, N_v * 16)
        return self.rest + self.mlp(x).view(-1, 2, 3)  # (B, 2, 3)


def localization_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_loc: mean absolute error (m) over both hands and x, y, z."""
    if pred.shape != target.shape or pred.shape[-2:] != (2, 3):
        raise ValueError(f"localization_l1 needs two (B, 2, 3) tensors, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return (pred - target.to(pred.device, pred.dtype)).abs().mean()
