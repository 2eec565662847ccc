"""The execution decoder a_t = f(c_mani, c_loco, s_t) (paper §3.1, App. A.1) and its losses.

    pooled = AttnPool(queries; hidden states at the image, last-prompt and latent-token positions)
    trunk  = MLP([pooled, MLP(s_t)])                (s_t left out for Table 6's "w/o state")
    heads  : arm targets (H, 14) and gripper targets (H, 2)           L1
             s_x, s_y, s_yaw in {-1, 0, 1}: three 3-way classifiers    cross-entropy
             (or v_x, v_y, w_z for the velocity baseline)              L1
             h*                                                        L1

Regression heads work in standardized units (per-feature mean/std of the training data, stored as
buffers so they travel with the weights); :meth:`ExecutionDecoder.physical` maps back to rad / m.
With s_t and ``residual`` (default) the arm and gripper heads regress offsets from s_t's joint
positions and openings, so "hold the current pose" is the decoder's zero. ``state_groups`` picks the
parts of s_t the decoder reads; a part left out is fed as zero (its training mean) and its targets,
if any, are regressed absolutely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wbvla.data.teleop_schema import STATE_ARMS, STATE_DIM, STATE_GRIPPERS, STATE_HEIGHT
from wbvla.vla.config import DecoderConfig

NUM_TOKEN_KINDS = 3
FLAG_VALUES = (-1.0, 0.0, 1.0)
"""Class index -> flag value of each 3-way head."""


@dataclass
class ActionStats:
    """Per-feature mean and std of the decoder's inputs and targets (from the training split)."""

    state_mean: np.ndarray
    state_std: np.ndarray
    arm_mean: np.ndarray
    arm_std: np.ndarray
    gripper_mean: np.ndarray
    gripper_std: np.ndarray
    height_mean: np.ndarray
    height_std: np.ndarray
    velocity_mean: np.ndarray
    velocity_std: np.ndarray

    @classmethod
    def from_arrays(cls, state, arm, gripper, height, velocity, min_std: float = 1e-3) -> ActionStats:
        def ms(x):
            x = np.asarray(x, np.float64).reshape(len(x), -1)
            return x.mean(0).astype(np.float32), np.maximum(x.std(0), min_std).astype(np.float32)

        return cls(*ms(state), *ms(arm), *ms(gripper), *ms(height), *ms(velocity))

    @classmethod
    def from_frames(cls, state, arm, gripper, height, velocity, residual: bool,
                    residual_gripper: bool | None = None) -> ActionStats:
        """Statistics of the regression targets: state (N, 17), chunks arm (N, H, 14) and
        gripper (N, H, 2), height (N,), velocity (N, 3); with ``residual`` the arm targets (and
        the gripper targets, unless ``residual_gripper`` says otherwise) are offsets from s_t's
        joint positions / openings."""
        residual_gripper = residual if residual_gripper is None else residual_gripper
        state = np.asarray(state, np.float32)
        arm, gripper = np.asarray(arm, np.float32), np.asarray(gripper, np.float32)
        if residual:
            arm = arm - state[:, None, STATE_ARMS]
        if residual_gripper:
            gripper = gripper - state[:, None, STATE_GRIPPERS]
        return cls.from_arrays(state, arm.reshape(-1, 14), gripper.reshape(-1, 2), height, velocity)

    @classmethod
    def identity(cls) -> ActionStats:
        z, o = np.zeros, np.ones
        return cls(z(STATE_DIM, np.float32), o(STATE_DIM, np.float32), z(14, np.float32), o(14, np.float32),
                   z(2, np.float32), o(2, np.float32), z(1, np.float32), o(1, np.float32), z(3, np.float32), o(3, np.float32))


@dataclass
class DecoderOutput:
    """Decoder outputs in standardized units (see :meth:`ExecutionDecoder.physical`)."""

    arm: torch.Tensor
    """(B, H, 14) standardized arm targets."""
    gripper: torch.Tensor
    """(B, H, 2) standardized gripper targets."""
    command: torch.Tensor
    """(B, 3, 3) flag logits (axis, class) or (B, 3) standardized velocity."""
    height: torch.Tensor
    """(B,) standardized h*."""


STATE_GROUP_SLICES: dict[str, slice] = {"arms": STATE_ARMS, "grippers": STATE_GRIPPERS,
                                         "height": slice(STATE_HEIGHT, STATE_HEIGHT + 1)}
"""Where each of :data:`wbvla.vla.config.STATE_GROUPS` sits in s_t (17,)."""


def residual_parts(cfg: DecoderConfig, use_state: bool) -> tuple[bool, bool]:
    """Whether the arm / gripper targets are offsets from s_t: ``residual`` with s_t, and only for a
    part the decoder reads (``state_groups``)."""
    on = cfg.residual and use_state
    return on and "arms" in cfg.state_groups, on and "grippers" in cfg.state_groups


class ExecutionDecoder(nn.Module):
    """Attention pooling over VLA hidden states + an MLP on s_t -> action heads."""

    def __init__(self, cfg: DecoderConfig, hidden_size: int, chunk_size: int, command_kind: str = "flags",
                 use_state: bool = True, stats: ActionStats | None = None):
        super().__init__()
        if command_kind not in ("flags", "velocity"):
            raise ValueError(f"command_kind must be 'flags' or 'velocity', got {command_kind!r}")
        self.cfg, self.chunk_size, self.command_kind, self.use_state = cfg, chunk_size, command_kind, use_state
        self.residual = cfg.residual and use_state
        self.residual_arm, self.residual_gripper = residual_parts(cfg, use_state)
        w = cfg.width
        self.in_norm = nn.LayerNorm(hidden_size)
        self.in_proj = nn.Linear(hidden_size, w)
        self.kind_embed = nn.Embedding(NUM_TOKEN_KINDS, w)
        self.queries = nn.Parameter(torch.randn(cfg.queries, w) * 0.02)
        self.pool = nn.MultiheadAttention(w, cfg.heads, batch_first=True)
        self.pool_norm = nn.LayerNorm(w)
        trunk_in = cfg.queries * w
        if use_state:
            self.state_mlp = nn.Sequential(nn.Linear(STATE_DIM, cfg.state_width), nn.GELU(),
                                           nn.Linear(cfg.state_width, cfg.state_width))
            trunk_in += cfg.state_width
            mask = torch.zeros(STATE_DIM)
            for group in cfg.state_groups:
                mask[STATE_GROUP_SLICES[group]] = 1.0
            self.register_buffer("state_mask", mask, persistent=False)  # (17,) 1 = read, 0 = fed as its mean
        layers, d = [], trunk_in
        for _ in range(cfg.mlp_layers):
            layers += [nn.Linear(d, w), nn.GELU(), nn.Dropout(cfg.dropout)]
            d = w
        self.trunk = nn.Sequential(*layers)
        self.arm_head = nn.Linear(w, chunk_size * 14)
        self.gripper_head = nn.Linear(w, chunk_size * 2)
        self.command_head = nn.Linear(w, 9 if command_kind == "flags" else 3)
        self.height_head = nn.Linear(w, 1)
        self.set_stats(stats or ActionStats.identity())

    def set_stats(self, stats: ActionStats) -> None:
        for name, value in vars(stats).items():
            self.register_buffer(name, torch.as_tensor(np.asarray(value, np.float32)).reshape(-1))

    def stats(self) -> ActionStats:
        return ActionStats(**{k: getattr(self, k).detach().cpu().numpy() for k in vars(ActionStats.identity())})

    def forward(self, tokens: torch.Tensor, kinds: torch.Tensor, state: torch.Tensor | None = None) -> DecoderOutput:
        """tokens (B, N, D) hidden states, kinds (N,) token kinds, state (B, 17) s_t (physical units)."""
        b = tokens.shape[0]
        x = self.in_proj(self.in_norm(tokens.float())) + self.kind_embed(kinds)[None]  # (B, N, W)
        q = self.queries[None].expand(b, -1, -1)  # (B, Q, W)
        pooled = self.pool_norm(self.pool(q, x, x, need_weights=False)[0]).reshape(b, -1)  # (B, Q W)
        if self.use_state:
            if state is None:
                raise ValueError("this decoder uses s_t (use_state=True): pass state")
            s = (state.float() - self.state_mean) / self.state_std * self.state_mask  # (B, 17)
            pooled = torch.cat([pooled, self.state_mlp(s)], dim=1)
        h = self.trunk(pooled)  # (B, W)
        cmd = self.command_head(h)
        return DecoderOutput(self.arm_head(h).view(b, self.chunk_size, 14), self.gripper_head(h).view(b, self.chunk_size, 2),
                             cmd.view(b, 3, 3) if self.command_kind == "flags" else cmd, self.height_head(h)[:, 0])

    def _reference(self, state: torch.Tensor | None, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What arm (B, 1, 14) / gripper (B, 1, 2) outputs are offsets from: s_t's joints (residual) or 0."""
        arm_ref, grip_ref = like.new_zeros(1, 1, 14), like.new_zeros(1, 1, 2)
        if not (self.residual_arm or self.residual_gripper):
            return arm_ref, grip_ref
        if state is None:
            raise ValueError("this decoder predicts offsets from s_t (residual=True): pass state")
        state = state.to(like.device, like.dtype)
        return (state[:, None, STATE_ARMS] if self.residual_arm else arm_ref,
                state[:, None, STATE_GRIPPERS] if self.residual_gripper else grip_ref)

    @torch.no_grad()
    def physical(self, out: DecoderOutput, state: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Standardized outputs -> arm (B, H, 14) rad, gripper (B, H, 2) m, command (B, 4) = u_t."""
        arm_ref, grip_ref = self._reference(state, out.arm)
        arm = out.arm * self.arm_std + self.arm_mean + arm_ref
        grip = (out.gripper * self.gripper_std + self.gripper_mean + grip_ref).clamp_min(0.0)
        height = out.height * self.height_std[0] + self.height_mean[0]
        if self.command_kind == "flags":
            vals = torch.tensor(FLAG_VALUES, device=out.command.device)
            head3 = vals[out.command.argmax(-1)]  # (B, 3) in {-1, 0, 1}
        else:
            head3 = out.command * self.velocity_std + self.velocity_mean
        return {"arm": arm, "gripper": grip, "command": torch.cat([head3, height[:, None]], dim=1)}

    def standardize(self, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Physical targets (``arm (B, H, 14)``, ``gripper (B, H, 2)``, ``height (B,)``, ``velocity
        (B, 3)``, and ``state (B, 17)`` when residual) -> the standardized quantities the heads regress."""
        arm_ref, grip_ref = self._reference(targets.get("state"), targets["arm"])
        return {"arm": (targets["arm"] - arm_ref - self.arm_mean) / self.arm_std,
                "gripper": (targets["gripper"] - grip_ref - self.gripper_mean) / self.gripper_std,
                "height": (targets["height"] - self.height_mean[0]) / self.height_std[0],
                "velocity": (targets["velocity"] - self.velocity_mean) / self.velocity_std}


def flag_classes(flags: torch.Tensor) -> torch.Tensor:
    """Flags in {-1, 0, 1} (..., 3) -> class indices {0, 1, 2}."""
    return (torch.round(flags).long() + 1).clamp(0, 2)


def flag_class_weights(flags: np.ndarray, power: float) -> np.ndarray:
    """Class weights (3 axes, 3 classes) of the flag heads for ``FinetuneConfig.flag_class_balance``:
    ``w[a, c] = freq[a, c] ** -power`` over the training frames' flags (N, 3) in {-1, 0, 1}, scaled
    per axis so that ``sum_c freq[a, c] w[a, c] = 1`` (the frame-weighted mean weight is 1, so the
    loss keeps its scale). A class absent from the frames is never a target; its weight is 1.
    ``power`` 0: all ones."""
    cls = np.clip(np.round(np.asarray(flags)).astype(int) + 1, 0, 2)  # (N, 3)
    freq = np.stack([np.bincount(cls[:, a], minlength=3) for a in range(3)]).astype(np.float64) / len(cls)  # (3, 3)
    w = np.power(np.where(freq > 0, freq, 1.0), -power)
    w = w / (freq * w).sum(axis=1, keepdims=True)
    return np.where(freq > 0, w, 1.0).astype(np.float32)


def decoder_losses(dec: ExecutionDecoder, out: DecoderOutput, targets: dict[str, torch.Tensor],
                   weights: dict[str, float], flag_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Action losses of Stage III: L1 on standardized arm / gripper / h* (and velocity), mean 3-way
    cross-entropy over the flag axes. ``targets`` holds physical ``arm (B, H, 14)``, ``gripper
    (B, H, 2)``, ``flags (B, 3)``, ``height (B,)``, ``velocity (B, 3)`` (and ``state (B, 17)`` for a residual decoder). Returns each term and
    ``action`` = the weighted sum. A target whose shape differs from the prediction's is refused (a
    silent broadcast would average the wrong differences). ``flag_weights`` (3 axes, 3 classes):
    per-class weights of each axis' cross-entropy (:func:`flag_class_weights`; a weighted mean per
    axis, then the mean over the axes); None: plain cross-entropy."""
    for key, pred in (("arm", out.arm), ("gripper", out.gripper), ("height", out.height)):
        if tuple(targets[key].shape) != tuple(pred.shape):
            raise ValueError(f"target {key!r} has shape {tuple(targets[key].shape)}, the decoder predicts {tuple(pred.shape)}")
    z = dec.standardize(targets)
    terms = {"arm_l1": F.l1_loss(out.arm, z["arm"]), "gripper_l1": F.l1_loss(out.gripper, z["gripper"]),
             "height_l1": F.l1_loss(out.height, z["height"])}
    if dec.command_kind == "flags":
        cls = flag_classes(targets["flags"])  # (B, 3) class per axis
        if flag_weights is None:
            terms["flag_ce"] = F.cross_entropy(out.command.reshape(-1, 3), cls.reshape(-1))
        else:  # out.command (B, 3 axes, 3 classes)
            terms["flag_ce"] = torch.stack([F.cross_entropy(out.command[:, a], cls[:, a], weight=flag_weights[a])
                                            for a in range(3)]).mean()
    else:
        terms["velocity_l1"] = F.l1_loss(out.command, z["velocity"])
    cmd_key = "flag_ce" if dec.command_kind == "flags" else "velocity_l1"
    terms["action"] = (weights["arm"] * terms["arm_l1"] + weights["gripper"] * terms["gripper_l1"]
                       + weights["command"] * terms[cmd_key] + weights["height"] * terms["height_l1"])
    return terms
