"""Pretrain the VLA's vision tower offline on simulated renders with privileged labels (issue 20).

The paper's VLA inherits an internet-pretrained vision backbone; ours cannot be downloaded, so
the tower is pretrained here on what the simulator labels for free
(:mod:`wbvla.data.vision_renders`, training seeds only) -- a deviation named in the model card.
Heads on the tower's patch tokens (:class:`TowerHeads`) learn

* **where the work is**: per keypoint (left / right grasp target, left / right TCP) a heatmap
  over the patch grid; the keypoint is its expectation (soft-argmax, "integral regression"):

      p_k = sum_i softmax_i(h_ik) c_i ,  c_i = patch centre i (pixels)        (B, 4, 2)

  with an L1 loss on in-frame keypoints, and whether each keypoint is in frame (BCE);
* **where the hands and the bar are in the body frame**: both TCPs and the bar centre (m) and the
  bar's heading (rad), standardized, L1; from the tokens reduced to 16 channels and flattened
  (position-aware), then an MLP.

The tower and heads train with Lightning (:func:`wbvla.training.harness.fit_resumable`,
resumable). The result is written as a complete Idefics3 checkpoint (``<run>/tower``: the trained
tower, the connector and text model as built, tokenizer, safetensors) that the VLA loads through
the same ``from_pretrained`` path as any outside checkpoint:
``BackboneConfig(preset="pretrained", pretrained_path=<run>/tower)`` (:func:`tower_backbone_config`);
the heads and their label statistics go beside it (``vision_heads.safetensors``) for a Stage III
auxiliary loss.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wbvla.compat import import_lightning
from wbvla.data.vision_renders import VisionRenders, load_renders, render_dataset
from wbvla.io import replace_folder, write_json_atomic
from wbvla.lam.vision_tower import check_tower_folder
from wbvla.paths import cache_dir, portable_path, shipped_vision_tower
from wbvla.training.harness import config_json, fit_resumable, warmup_cosine
from wbvla.vla.backbone import Backbone, build_backbone, save_backbone
from wbvla.vla.config import BackboneConfig
from wbvla.vla.vision_pretrain_config import VisionPretrainConfig, config_from_json

L = import_lightning()
KEYPOINTS = 4
BODY_DIM = 10
"""Body-frame targets: left TCP (3), right TCP (3), bar centre (3), bar heading (1)."""
HEADS_FILE = "vision_heads.safetensors"


class TowerHeads(nn.Module):
    """Keypoint heatmaps, in-frame logits and body-frame regression on patch tokens (B, G*G, C)."""

    def __init__(self, width: int, grid: int, patch: int, body_mean: torch.Tensor, body_std: torch.Tensor):
        super().__init__()
        self.grid, self.patch = grid, patch
        self.norm = nn.LayerNorm(width)
        self.heatmap = nn.Linear(width, KEYPOINTS)
        self.reduce = nn.Linear(width, 16)
        self.mlp = nn.Sequential(nn.Linear(16 * grid * grid, 256), nn.GELU(), nn.Linear(256, BODY_DIM + KEYPOINTS))
        centres = (torch.arange(grid, dtype=torch.float32) + 0.5) * patch
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("centres", torch.stack([cx.reshape(-1), cy.reshape(-1)], -1))  # (G*G, 2) u, v
        self.register_buffer("body_mean", body_mean.float())
        self.register_buffer("body_std", body_std.float())

    def forward(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.norm(tokens)  # (B, N, C)
        weights = self.heatmap(x).softmax(dim=1)  # (B, N, K) over the patch grid
        uv = torch.einsum("bnk,nd->bkd", weights, self.centres)  # (B, K, 2) soft-argmax, pixels
        out = self.mlp(self.reduce(x).flatten(1))  # (B, BODY_DIM + K)
        return {"uv": uv, "visible_logit": out[:, BODY_DIM:], "body_z": out[:, :BODY_DIM]}

    def body(self, body_z: torch.Tensor) -> torch.Tensor:
        """Standardized body-frame prediction -> metres / radians (B, BODY_DIM)."""
        return body_z * self.body_std + self.body_mean


def body_targets(labels: dict[str, np.ndarray]) -> np.ndarray:
    """(N, BODY_DIM): both TCPs and the bar centre in the pelvis frame, the bar's heading."""
    return np.concatenate([labels["hands_body"].reshape(len(labels["hands_body"]), 6), labels["object_body"]], 1)


class RenderSet(torch.utils.data.Dataset):
    """Rows ``index`` of a :class:`VisionRenders` as training examples."""

    def __init__(self, renders: VisionRenders, index: np.ndarray):
        self.r, self.index = renders, np.asarray(index)
        self.body = body_targets(renders.labels).astype(np.float32)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        lab = self.r.labels
        return {"image": torch.from_numpy(self.r.images[j]), "uv": torch.from_numpy(lab["keypoints"][j, :, :2].copy()),
                "depth": torch.from_numpy(lab["keypoints"][j, :, 2].copy()), "inside": torch.from_numpy(lab["inside"][j].copy()),
                "body": torch.from_numpy(self.body[j])}


def shift_with_labels(pixels: torch.Tensor, uv: torch.Tensor, pad: int, generator: torch.Generator | None = None):
    """Random translation of (B, 3, S, S) images by up to ``pad`` px per axis (edge-replicate pad,
    random crop back) and the same move of the keypoints (B, K, 2)."""
    if pad <= 0:
        return pixels, uv
    b, c, h, w = pixels.shape
    x = F.pad(pixels, (pad, pad, pad, pad), mode="replicate")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=generator)
    rows = dy[:, None] + torch.arange(h)[None]  # (B, S)
    cols = dx[:, None] + torch.arange(w)[None]
    idx = torch.arange(b)[:, None, None]
    out = x.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    move = torch.stack([pad - dx, pad - dy], -1).to(uv.dtype)[:, None, :]  # content moves by (pad - d)
    return out, uv + move


class VisionPretrainModule(L.LightningModule):
    """The tower and its heads; losses in the module docstring; validation metrics in pixels and cm."""

    def __init__(self, cfg: VisionPretrainConfig, backbone: Backbone, heads: TowerHeads, focal_px: tuple[float, float]):
        super().__init__()
        self.cfg, self.backbone, self.heads, self.focal_px = cfg, backbone, heads, focal_px
        self.tower = backbone.model.model.vision_model
        if cfg.freeze_tower:
            self.tower.requires_grad_(False)
        self._val: list[dict] = []

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """uint8 images (B, H, W, 3) -> head outputs (uv in the tower's input pixels)."""
        pixels = self.backbone.preprocess(images)[:, 0]  # (B, 3, S, S)
        return self.heads(self.tower(pixel_values=pixels).last_hidden_state)

    def _losses(self, batch, train: bool) -> tuple[torch.Tensor, dict, dict]:
        pixels = self.backbone.preprocess(batch["image"])[:, 0]  # (B, 3, S, S)
        uv, inside = batch["uv"], batch["inside"]
        if train:
            pixels, uv = shift_with_labels(pixels, uv, self.cfg.image_shift)
        out = self.heads(self.tower(pixel_values=pixels).last_hidden_state)
        size = float(pixels.shape[-1])
        mask = inside.float()[..., None]  # (B, K, 1)
        kp = (torch.abs(out["uv"] - uv) * mask).sum() / (mask.sum() * 2).clamp(min=1) / size
        vis = F.binary_cross_entropy_with_logits(out["visible_logit"], inside.float())
        body_z = (batch["body"] - self.heads.body_mean) / self.heads.body_std
        body = torch.abs(out["body_z"] - body_z).mean()
        loss = self.cfg.keypoint_weight * kp + self.cfg.visibility_weight * vis + self.cfg.body_weight * body
        return loss, {"keypoint_l1": kp, "visibility_bce": vis, "body_l1": body}, out

    def training_step(self, batch, batch_idx):
        loss, terms, _ = self._losses(batch, train=True)
        self.log_dict({"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in terms.items()}},
                      on_step=True, on_epoch=False, batch_size=len(batch["image"]))
        self.log("loss", loss.detach(), prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, _, out = self._losses(batch, train=False)
        self._val.append({"loss": float(loss), **errors(out, batch, self.heads, self.focal_px)})

    def on_validation_epoch_end(self):
        if self._val:
            self.log_dict({f"val/{k}": v for k, v in summarize_errors(self._val).items() if np.isfinite(v)})
        self._val = []

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(self.cfg.warmup_steps, self.cfg.steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def errors(out: dict, batch: dict, heads: TowerHeads, focal_px: tuple[float, float]) -> dict:
    """Per-example errors of one batch (numpy arrays): keypoint pixel error and its size in cm at
    the keypoint's depth (du z / f_x, dv z / f_y) for in-frame keypoints, in-frame accuracy,
    TCP and bar position errors (cm, 3-D) and bar heading error (deg)."""
    with torch.no_grad():
        du = (out["uv"] - batch["uv"]).float()  # (B, K, 2) pixels
        inside = batch["inside"].bool()
        px = du.norm(dim=-1)
        z = batch["depth"].float()
        cm = torch.hypot(du[..., 0] * z / focal_px[0], du[..., 1] * z / focal_px[1]) * 100
        body = heads.body(out["body_z"].float())
        err = body - batch["body"].float()
        return {"kp_px": px[inside].cpu().numpy(), "kp_cm": cm[inside].cpu().numpy(),
                "hand_kp_px": px[:, 2:][inside[:, 2:]].cpu().numpy(), "grasp_kp_px": px[:, :2][inside[:, :2]].cpu().numpy(),
                "visible_acc": ((out["visible_logit"] > 0) == inside).float().mean(1).cpu().numpy(),
                "hand_cm": (err[:, :6].reshape(-1, 2, 3).norm(dim=-1) * 100).reshape(-1).cpu().numpy(),
                "bar_cm": (err[:, 6:9].norm(dim=-1) * 100).cpu().numpy(),
                "bar_heading_deg": torch.rad2deg(err[:, 9].abs()).cpu().numpy()}


def summarize_errors(rows: list[dict]) -> dict[str, float]:
    """Medians (and keypoint means / p90) over the per-example errors of :func:`errors`."""
    cat = {k: np.concatenate([np.atleast_1d(r[k]) for r in rows]) for k in rows[0] if k != "loss"}
    out = {"loss": float(np.mean([r["loss"] for r in rows]))} if "loss" in rows[0] else {}
    for k, v in cat.items():
        out[f"{k}_median"] = float(np.median(v)) if len(v) else float("nan")
    for k in ("kp_px", "kp_cm"):
        out[f"{k}_mean"] = float(np.mean(cat[k])) if len(cat[k]) else float("nan")
        out[f"{k}_p90"] = float(np.percentile(cat[k], 90)) if len(cat[k]) else float("nan")
    return out


def run_dir(config: VisionPretrainConfig) -> Path:
    return Path(config.output_dir) if config.output_dir else cache_dir() / "vision_pretrain" / config.run_name()


def split_by_scene(renders: VisionRenders, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation scenes (the last ``val_fraction`` of the seeds)."""
    seeds = renders.labels["seed"]
    unique = np.unique(seeds)
    n_val = int(round(len(unique) * val_fraction))
    val_seeds = unique[len(unique) - n_val:] if n_val else unique[:0]
    is_val = np.isin(seeds, val_seeds)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def build_module(config: VisionPretrainConfig, renders: VisionRenders | None = None,
                 train_idx: np.ndarray | None = None) -> VisionPretrainModule:
    """The tower (built from ``config.backbone``) and fresh heads, label statistics from the training
    rows of ``renders``; without renders, placeholder statistics (a checkpoint's state dict restores them)."""
    from wbvla.sim.camera import HeadCameraConfig  # lazy: MuJoCo

    torch.manual_seed(config.seed)
    b = config.backbone()
    backbone = build_backbone(b)
    if renders is None:
        mean, std = torch.zeros(BODY_DIM), torch.ones(BODY_DIM)
    else:
        body = body_targets(renders.labels)[train_idx]
        mean, std = torch.from_numpy(body.mean(0)), torch.from_numpy(body.std(0) + 1e-3)
    heads = TowerHeads(b.vision_width, b.image_size // b.patch_size, b.patch_size, mean, std)
    focal = HeadCameraConfig().focal_pixels(b.image_size, b.image_size)  # the renders' head camera
    return VisionPretrainModule(config, backbone, heads, focal)


def pretrain_vision_tower(config: VisionPretrainConfig) -> dict:
    """Render what is missing, train, evaluate on the held-out scenes, write the tower checkpoint.
    Returns the metrics (also in ``<run>/vision_pretrain.json``)."""
    render_dataset(config.renders)
    renders = load_renders(config.renders.folder(), limit=config.renders.renders)
    train_idx, val_idx = split_by_scene(renders, config.val_fraction)
    module = build_module(config, renders, train_idx)
    g = torch.Generator().manual_seed(config.seed)
    sampler = torch.utils.data.RandomSampler(train_idx, replacement=True, num_samples=config.val_every_n_steps * config.batch_size,
                                             generator=g)
    train = torch.utils.data.DataLoader(RenderSet(renders, train_idx), batch_size=config.batch_size, sampler=sampler)
    val = torch.utils.data.DataLoader(RenderSet(renders, val_idx), batch_size=64)
    run = run_dir(config)
    fit = fit_resumable(module, train, val, run, config.steps, config.device, config.progress, config.resume,
                        config_json(config), defaults=config_json(VisionPretrainConfig()))
    module.eval()
    metrics = evaluate(module, val)
    baseline = mean_baseline(renders, train_idx, val_idx, module.focal_px)
    export = save_tower(module, run / "tower")
    out = {"run": str(run), "tower": str(export), "steps": fit.steps, "wall_s_this_call": fit.wall_s,
           "examples_per_s": fit.examples_per_s, "train_renders": int(len(train_idx)), "val_renders": int(len(val_idx)),
           "val": metrics, "val_mean_predictor": baseline, "config": config_json(config)}
    write_json_atomic(run / "vision_pretrain.json", out)
    return out


def snapshot_tower(run: Path) -> Path:
    """Export the tower of an unfinished run's newest checkpoint (``<run>/checkpoints/last.ckpt``) to
    ``<run>/tower_step<N>``, loadable like the final ``<run>/tower``; ``snapshot.json`` beside it holds
    the step and the held-out metrics logged at that step (no re-evaluation). The run resumes as before."""
    run = Path(run)
    cfg_path, ckpt_path = run / "train_config.json", run / "checkpoints" / "last.ckpt"
    for f in (cfg_path, ckpt_path):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: missing (not a wbvla vision-pretrain run folder with a checkpoint)")
    config = config_from_json(json.loads(cfg_path.read_text()))
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    step = int(ckpt["global_step"])
    module = build_module(config)
    module.load_state_dict(ckpt["state_dict"])  # the body statistics are buffers: restored too
    folder = save_tower(module, run / f"tower_step{step}")
    write_json_atomic(folder / "snapshot.json", {"run": str(run), "step": step, "planned_steps": config.steps,
                                                 "val": logged_val_metrics(run, step)})
    return folder


def logged_val_metrics(run: Path, step: int) -> dict[str, float]:
    """The ``val/*`` metrics Lightning's CSV logger wrote at optimizer step ``step`` (the validation
    that ran when the checkpoint was saved), from every ``logs/version_*/metrics.csv`` of the run."""
    import csv

    out: dict[str, float] = {}
    for f in sorted(Path(run).glob("logs/version_*/metrics.csv")):
        with open(f) as fh:
            for row in csv.DictReader(fh):
                if row.get("step") and int(row["step"]) in (step, step - 1):  # logged at the last batch's index
                    out |= {k[4:]: float(v) for k, v in row.items() if k.startswith("val/") and v}
    return out


def evaluate(module: VisionPretrainModule, loader) -> dict[str, float]:
    rows = []
    with torch.no_grad():
        for batch in loader:
            _, _, out = module._losses(batch, train=False)
            rows.append(errors(out, batch, module.heads, module.focal_px))
    return summarize_errors(rows)


def mean_baseline(renders: VisionRenders, train_idx, val_idx, focal_px) -> dict[str, float]:
    """The errors of predicting every keypoint at its mean training position (what an uninformed
    tower gives): the floor the pretraining must beat."""
    lab = renders.labels
    kp, inside = lab["keypoints"], lab["inside"]
    mean_uv = np.stack([kp[train_idx][inside[train_idx][:, k], k, :2].mean(0) for k in range(KEYPOINTS)])  # (K, 2)
    body = body_targets(lab)
    heads = TowerHeads(1, 1, 1, torch.from_numpy(body[train_idx].mean(0)), torch.ones(BODY_DIM))
    n = len(val_idx)
    out = {"uv": torch.from_numpy(np.broadcast_to(mean_uv, (n, KEYPOINTS, 2)).copy()).float(),
           "visible_logit": torch.full((n, KEYPOINTS), 1.0), "body_z": torch.zeros(n, BODY_DIM)}
    batch = {"uv": torch.from_numpy(kp[val_idx, :, :2]), "depth": torch.from_numpy(kp[val_idx, :, 2]),
             "inside": torch.from_numpy(inside[val_idx]), "body": torch.from_numpy(body[val_idx]).float()}
    return summarize_errors([errors(out, batch, heads, focal_px)])


def save_tower(module: VisionPretrainModule, folder: Path) -> Path:
    """The complete backbone with the trained tower (:func:`wbvla.vla.backbone.save_backbone`,
    fp16 safetensors) + the heads (weights fp16 like the backbone, their label statistics fp32) and
    their sizes; loadable as ``preset='pretrained'``. fp16 heads keep the folder under the 20 MB a
    shipped checkpoint may take (``wbvla vision-ship``): the body head's 1 M weights are 4.2 MB in fp32."""
    from safetensors.torch import save_file

    folder = save_backbone(module.backbone, Path(folder))
    weights = {name for name, _ in module.heads.named_parameters()}
    state = {k: (v.half() if k in weights else v).detach().cpu().contiguous() for k, v in module.heads.state_dict().items()}
    save_file(state, str(folder / HEADS_FILE))
    b = module.cfg.backbone()
    write_json_atomic(folder / "vision_heads.json", {"width": b.vision_width, "grid": b.image_size // b.patch_size,
                                                     "patch": b.patch_size, "keypoints": KEYPOINTS, "body_dim": BODY_DIM})
    return folder


SHIP_LIMIT_MB = 20.0
"""Largest tower folder ``wbvla vision-ship`` copies into the repository (small shipped checkpoints only)."""


def ship_tower(run: Path, tower: str = "tower", dest: Path | None = None) -> Path:
    """Copy ``<run>/<tower>`` (the final ``tower`` or a ``tower_step<N>`` snapshot) to the shipped
    folder (``data/vla/vision_tower``; replaced atomically by rename) with ``provenance.json``: the
    held-out localization errors, the pretraining's steps, wall and CPU time (every resumed call of
    ``train_log.json`` added up) and the render set's rate, so the committed folder carries its own
    measurements. Refuses a folder that does not load as a tower or is over :data:`SHIP_LIMIT_MB`."""
    import shutil

    run = Path(run).expanduser()
    src = check_tower_folder(run / tower)
    load_tower_heads(src)  # refuse a folder without the localization heads
    size_mb = sum(f.stat().st_size for f in src.rglob("*") if f.is_file()) / 2**20
    if size_mb > SHIP_LIMIT_MB:
        raise ValueError(f"{src} is {size_mb:.1f} MB, more than the {SHIP_LIMIT_MB:g} MB a shipped checkpoint may take in git")
    result = run / ("vision_pretrain.json" if tower == "tower" else f"{tower}/snapshot.json")
    if not result.is_file():
        raise FileNotFoundError(f"{result}: missing (the pretraining has not finished writing {tower})")
    metrics = json.loads(result.read_text())
    calls = json.loads((run / "train_log.json").read_text()) if (run / "train_log.json").is_file() else []
    config = json.loads((run / "train_config.json").read_text())
    meta_path = config_from_json(config).renders.folder() / "meta.json"
    renders = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    provenance = {"run": portable_path(run), "tower": tower, "size_mb": round(size_mb, 2),
                  "steps": metrics.get("steps", metrics.get("step")), "val": metrics["val"],
                  "val_mean_predictor": metrics.get("val_mean_predictor"),
                  "pretrain_wall_s": round(sum(c["wall_s"] for c in calls), 1),
                  "pretrain_cpu_s": round(sum(c.get("cpu_s", float("nan")) for c in calls), 1),
                  "pretrain_calls": calls, "renders": renders, "config": config}
    dest = Path(dest) if dest is not None else shipped_vision_tower()
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("snapshot.json"))
    write_json_atomic(tmp / "provenance.json", provenance)
    return replace_folder(tmp, dest)


def tower_backbone_config(folder: Path, **overrides) -> BackboneConfig:
    """The VLA backbone config that loads a pretrained tower folder (``<run>/tower``)."""
    folder = check_tower_folder(folder)
    return replace(BackboneConfig(), preset="pretrained", pretrained_path=str(folder), **overrides)


def load_tower_heads(folder: Path) -> TowerHeads:
    """The heads saved beside a pretrained tower (for an auxiliary localization loss)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta_path = folder / "vision_heads.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: no vision_heads.json (not a pretrained tower folder)")
    meta = json.loads(meta_path.read_text())
    state = load_file(str(folder / HEADS_FILE))
    heads = TowerHeads(meta["width"], meta["grid"], meta["patch"], state["body_mean"], state["body_std"])
    heads.load_state_dict(state)
    return heads
