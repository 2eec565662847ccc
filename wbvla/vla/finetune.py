"""Stage III: LoRA fine-tuning of the VLA on teleoperation data, jointly with the execution decoder.

    L = CE(latent tokens; LAM codes of the robot's own video)            (Eq. 1, omitted w/o LAM)
      + L1(arm chunk) + L1(gripper chunk) + CE(s_x, s_y, s_yaw) + L1(h*)  (the decoder; L1 on
                                                                           velocity for the
                                                                           velocity baseline)
      [+ w_loc * L_loc]                                                   (ours, off by default:
                                                                           hand positions from the
                                                                           image tokens,
                                                                           :mod:`~wbvla.vla.localization`)

The VLM gets LoRA adapters (peft) on its text model and (``lora_vision``, default) on its vision
tower and connector; the embeddings stay frozen. Training is teacher-forced: the decoder reads the
hidden states of the sequence with the LAM codes in it. Validation, like :meth:`wbvla.vla.policy.VLAPolicy.act`, decodes the codes
greedily and reads the hidden states of the sequence with the *predicted* codes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from wbvla.data.teleop_schema import FPS
from wbvla.io import write_json_atomic
from wbvla.lam.train import load_lam
from wbvla.paths import cache_dir
from wbvla.training.devices import set_threads
from wbvla.training.harness import FitResult, L, config_json, fit_resumable, warmup_cosine
from wbvla.validation import require
from wbvla.vla.backbone import build_backbone, import_peft, peft_wrapping, save_backbone
from wbvla.vla.config import LAM_SOURCES, FinetuneConfig, finetune_config_from_dict
from wbvla.vla.corpus_data import lam_checkpoint, lam_pair_offset
from wbvla.vla.decoder import (
    ActionStats,
    ExecutionDecoder,
    decoder_losses,
    flag_class_weights,
    flag_classes,
    residual_parts,
)
from wbvla.vla.localization import LocalizationHead, localization_l1, tcp_targets
from wbvla.vla.model import TOKEN_VISUAL, LatentVLA, load_base, random_shift
from wbvla.vla.phase_metrics import hand_error_m, phase_report
from wbvla.vla.policy import export_policy
from wbvla.vla.pretrain import pretrain, pretrain_config_from_run
from wbvla.vla.teleop_data import (
    TeleopEpisode,
    TeleopFrames,
    collate_frames,
    latent_labels,
    load_teleop_episodes,
    split_episodes,
)

LORA_MODULE_PATTERN = r".*text_model\.layers\.\d+\.(self_attn|mlp)\.({names})"
LORA_VISION_PATTERN = r".*(vision_model\.encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.(fc1|fc2))|connector\.modality_projection\.proj)"


def lora_target_pattern(config: FinetuneConfig) -> str:
    """The regular expression of the module names that get LoRA adapters: the text model's linear
    layers named in ``config.lora_targets`` and, with ``config.lora_vision``, every linear layer of
    the vision tower's encoder and the connector's projection."""
    pattern = LORA_MODULE_PATTERN.format(names="|".join(config.lora_targets))
    return f"({pattern}|{LORA_VISION_PATTERN})" if config.lora_vision else pattern


def lora_config(config: FinetuneConfig):
    """peft LoraConfig on the modules :func:`lora_target_pattern` names."""
    return import_peft().LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=lora_target_pattern(config), bias="none")


class FinetuneModule(L.LightningModule):
    """LoRA on the VLA + the execution decoder; logs every loss term and held-out action metrics."""

    def __init__(self, base_dir: str, config: dict, stats: dict, flag_weights: list | None = None):
        super().__init__()
        self.save_hyperparameters()
        cfg = finetune_config_from_dict(config)
        self.cfg = cfg
        self.vla = load_base(Path(base_dir))
        self.vla.vlm.requires_grad_(False)
        # LoRA layers are injected into self.vla.vlm in place; keep the PeftModel wrapper out of the
        # module tree (its parameters are the same tensors) to save the adapter with peft later.
        with peft_wrapping():
            self.__dict__["peft"] = import_peft().get_peft_model(self.vla.vlm, lora_config(cfg))
        # load_base() returns the VLA in eval mode and Lightning keeps each module's mode: train mode, so
        # LoRA dropout (lora_dropout) applies; validation switches to eval and back (frozen weights stay frozen)
        self.vla.train()
        self.decoder = ExecutionDecoder(cfg.decoder, self.vla.backbone.hidden_size, cfg.chunk_size, cfg.command_kind,
                                        cfg.use_state, ActionStats(**{k: np.asarray(v, np.float32) for k, v in stats.items()}))
        if cfg.init_policy is not None:
            load_policy_weights(self.peft, self.decoder, Path(cfg.init_policy))
        # built after the decoder (the same initial weights as without it); training-only, never exported
        self.localization = (LocalizationHead(self.vla.backbone.hidden_size, self.vla.backbone.image_seq_len)
                             if cfg.aux_localization_weight > 0 else None)
        self.weights = {"arm": cfg.arm_weight, "gripper": cfg.gripper_weight, "command": cfg.flag_weight,
                        "height": cfg.height_weight}
        # FinetuneConfig.flag_class_balance: (3 axes, 3 classes), from the training frames; None: plain CE
        self.register_buffer("flag_weights", None if flag_weights is None else torch.tensor(flag_weights), persistent=False)
        self._val: list[dict] = []

    def _forward(self, batch, codes: torch.Tensor | None):
        """Teacher-forced pass with ``codes`` in the sequence (images randomly shifted) -> (hidden,
        prompts, pooled tokens (B, N, D), their kinds (N,), decoder output)."""
        n = self.vla.num_slots
        prompts = self.vla.prompts.batch(batch["instruction"], codes.cpu() if n else None)
        pixel_values = random_shift(self.vla.encode_images(batch["image"]), self.cfg.image_shift)
        hidden = self.vla.hidden_states(pixel_values, prompts)
        tokens, kinds = self.vla.pooled_tokens(hidden, prompts)
        return hidden, prompts, tokens, kinds, self.decoder(tokens, kinds, batch["state"] if self.cfg.use_state else None)

    def losses(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training loss of ``batch`` and its logged terms (module docstring)."""
        hidden, prompts, tokens, kinds, out = self._forward(batch, batch["codes"])
        terms = decoder_losses(self.decoder, out, batch, self.weights, self.flag_weights)
        latent = self.vla.latent_loss(self.vla.latent_logits(hidden, prompts), batch["codes"],
                                      batch.get("latent_target")).to(hidden.device)
        loss = self.cfg.latent_weight * latent + terms["action"]
        logged = {"train/latent_ce": latent.detach(), **{f"train/{k}": v.detach() for k, v in terms.items()}}
        if self.localization is not None:
            loc = localization_l1(self.localization(tokens[:, kinds == TOKEN_VISUAL]), tcp_targets(batch["state"]))
            loss = loss + self.cfg.aux_localization_weight * loc
            logged["train/aux_localization_l1_m"] = loc.detach()
        return loss, {"train/loss": loss.detach(), **logged}

    def training_step(self, batch, batch_idx):
        loss, logged = self.losses(batch)
        bs = len(batch["instruction"])
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=bs)
        self.log("loss", loss.detach(), prog_bar=True, batch_size=bs)
        return loss

    def validation_step(self, batch, batch_idx):
        self._val.append(predict_batch(self.vla, self.decoder, batch, self.cfg.use_state, self.localization))

    def on_validation_epoch_end(self):
        if self._val:
            self.log_dict({f"val/{k}": v for k, v in frame_metrics(self._val, self.cfg.command_kind).items()
                           if np.isscalar(v)})
            self._val.clear()

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(self.cfg.warmup_steps, self.cfg.max_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def load_policy_weights(peft_model, decoder: ExecutionDecoder, folder: Path) -> None:
    """Copy a policy folder's LoRA adapter into ``peft_model`` and its decoder (weights and
    normalization statistics) into ``decoder`` (``FinetuneConfig.init_policy``)."""
    from safetensors.torch import load_file

    adapter = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    result = import_peft().set_peft_model_state_dict(peft_model, adapter)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    require(not missing, f"{folder}/adapter: {len(missing)} LoRA tensors match no module here, e.g. {missing[:2]} "
                         "(another LoRA recipe than this run's?)")
    decoder.load_state_dict(load_file(str(folder / "decoder.safetensors")))


@torch.no_grad()
def predict_batch(vla: LatentVLA, decoder: ExecutionDecoder, batch: dict, use_state: bool,
                  localization: LocalizationHead | None = None) -> dict:
    """Greedy latent decoding + decoder on one batch: physical predictions next to the targets;
    with a ``localization`` head also its TCP positions (``tcp``) next to FK of s_t (``true_tcp``)."""
    dec = vla.greedy_codes(vla.encode_images(batch["image"]), batch["instruction"])
    out = decoder(dec.tokens, dec.kinds, batch["state"].to(dec.tokens.device) if use_state else None)
    phys = decoder.physical(out, batch["state"].to(dec.tokens.device))
    pred = {"arm": phys["arm"].cpu(), "gripper": phys["gripper"].cpu(), "command": phys["command"].cpu(),
            "codes": dec.codes, "true_codes": batch["codes"].cpu(), "true_arm": batch["arm"].cpu(),
            "true_gripper": batch["gripper"].cpu(), "true_flags": batch["flags"].cpu(), "true_height": batch["height"].cpu(),
            "true_velocity": batch["velocity"].cpu(), "episode": batch["episode"].cpu(), "t": batch["t"].cpu(),
            "phase": batch["phase"].cpu()}
    if localization is not None:  # the image tokens precede the latent ones: the same as teacher-forced
        pred["tcp"] = localization(dec.tokens[:, dec.kinds == TOKEN_VISUAL]).cpu()
        pred["true_tcp"] = tcp_targets(batch["state"]).cpu()
    return pred


def frame_metrics(preds: list[dict], command_kind: str) -> dict:
    """Held-out metrics over predicted frames: arm L1 (rad; whole chunk and row 0), gripper L1 (m),
    flag accuracy per axis (or velocity MAE), h* error (m), latent top-1; with the localization head,
    its L1 (m) and the median of the worse hand's distance (cm); and, per expert phase, the
    hand position error by forward kinematics of the chunk's first row (:func:`~wbvla.vla.phase_metrics.phase_report`:
    ``per_phase``, ``all``, the headline ``hand_error_cm`` at pre-grasp and grasp, and its scalars
    ``hand_error_cm_pregrasp`` / ``_grasp``, None where no frame has that phase)."""
    p = {k: torch.cat([d[k] for d in preds]) for k in preds[0]}
    m = {"arm_l1_rad": float((p["arm"] - p["true_arm"]).abs().mean()),
         "arm_l1_rad_now": float((p["arm"][:, 0] - p["true_arm"][:, 0]).abs().mean()),
         "gripper_l1_m": float((p["gripper"] - p["true_gripper"]).abs().mean()),
         "h_star_err_m": float((p["command"][:, 3] - p["true_height"]).abs().mean()), "frames": int(len(p["arm"]))}
    if command_kind == "flags":
        pred_c, true_c = flag_classes(p["command"][:, :3]), flag_classes(p["true_flags"])  # (N, 3) each
        hit = pred_c == true_c
        for i, axis in enumerate(("x", "y", "yaw")):
            m[f"flag_accuracy_{axis}"] = float(hit[:, i].float().mean())
            # mean recall over the classes present: 1/3 for a constant answer however rare the steps are
            recalls = [hit[true_c[:, i] == c, i].float().mean() for c in range(3) if bool((true_c[:, i] == c).any())]
            m[f"flag_balanced_accuracy_{axis}"] = float(torch.stack(recalls).mean())
    else:
        err = (p["command"][:, :3] - p["true_velocity"]).abs().mean(0)
        for i, axis in enumerate(("vx", "vy", "wz")):
            m[f"velocity_mae_{axis}"] = float(err[i])
    if p["codes"].shape[1]:
        m["latent_top1"] = float((p["codes"] == p["true_codes"]).float().mean())
    if "tcp" in p:  # the localization head (FinetuneConfig.aux_localization_weight)
        m["localization_l1_m"] = float(localization_l1(p["tcp"], p["true_tcp"]))
        m["localization_error_cm"] = float((p["tcp"] - p["true_tcp"]).norm(dim=-1).amax(dim=-1).median() * 100.0)
    if "phase" in p:
        m.update(phase_report(p["arm"].numpy(), p["true_arm"].numpy(), p["phase"].numpy(),
                              p["hand_error_m"].numpy() if "hand_error_m" in p else None))
    return m


def run_dir_for(config: FinetuneConfig) -> Path:
    if config.output_dir is not None:
        return Path(config.output_dir)
    return cache_dir() / "vla_runs" / config.pretrain.corpus_size / "finetune" / config.run_name()


def dataset_root(config: FinetuneConfig) -> Path:
    return Path(config.dataset_root) if config.dataset_root is not None else cache_dir() / "teleop" / config.dataset_size


def prepare_base(config: FinetuneConfig, run: Path) -> Path:
    """``<run>/base``: a copy of the Stage II export (trained first when missing), w/o LAM the bare
    backbone, or the ``init_policy``'s base (so a resumed run always starts from the same weights)."""
    base = Path(run) / "base"
    if (base / "vla.json").exists():
        return base
    tmp = base.with_name(".base.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if config.init_policy is not None:
        shutil.copytree(Path(config.init_policy) / "base", tmp)
    elif config.lam_variant == "none":
        bb = build_backbone(config.pretrain.backbone)
        save_backbone(bb, tmp)
        write_json_atomic(tmp / "vla.json", {"stage": "backbone", "vocabulary": {}, "lam_variant": "none",
                                             "backbone": asdict(config.pretrain.backbone), "source": bb.source})
    else:
        shutil.copytree(pretrain(config.pretrain).model_dir, tmp)
    tmp.rename(base)
    return base


def load_lams(config: FinetuneConfig) -> dict:
    """The Stage I LAMs of the variant, ``{lam: model}`` in slot order (empty w/o LAM)."""
    return {lam: load_lam(lam_checkpoint(config.pretrain, lam)) for lam in LAM_SOURCES[config.lam_variant]}


def latent_offset_frames(config: FinetuneConfig) -> int:
    """k in teleop frames: the LAMs' pair offset (s) at the dataset's 10 Hz (4 w/o LAM, unused)."""
    lams = LAM_SOURCES[config.lam_variant]
    if not lams:
        return 4
    return max(1, int(round(lam_pair_offset(lam_checkpoint(config.pretrain, lams[0])) * FPS)))


def extra_episodes(config: FinetuneConfig, image_size: int, first_index: int) -> list[TeleopEpisode]:
    """The episodes of ``config.extra_train_roots`` (all for training), renumbered from
    ``first_index`` so no two training episodes share an index."""
    out: list[TeleopEpisode] = []
    for root in config.extra_train_roots:
        for ep in load_teleop_episodes(root, image_size):
            out.append(replace(ep, index=first_index + len(out)))
    return out


def teleop_frames(config: FinetuneConfig, episodes: list[TeleopEpisode], lams: dict, k: int) -> TeleopFrames:
    return TeleopFrames(episodes, [latent_labels(e, lams, k) for e in episodes], config.chunk_size)


@dataclass
class FinetuneResult:
    """A finished (or resumed) Stage III run."""

    fit: FitResult
    policy_dir: Path
    """The exported policy (:meth:`wbvla.vla.policy.VLAPolicy.load`)."""
    train_episodes: int
    heldout_episodes: int
    train_frames: int


def finetune(config: FinetuneConfig, episodes: list[TeleopEpisode] | None = None) -> FinetuneResult:
    """Train Stage III per ``config`` (resumable) and export the policy. ``episodes`` overrides the
    dataset (e.g. :func:`~wbvla.vla.teleop_data.synthetic_episodes` in tests)."""
    if config.pretrain_run is not None:
        config = replace(config, pretrain=pretrain_config_from_run(config.pretrain_run), pretrain_run=None)
    set_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    run = run_dir_for(config)
    run.mkdir(parents=True, exist_ok=True)
    base = prepare_base(config, run)
    image_size = int(json.loads((base / "config.json").read_text())["vision_config"]["image_size"])
    episodes = episodes if episodes is not None else load_teleop_episodes(dataset_root(config), image_size)
    train_eps, held_eps = split_episodes(episodes, config.heldout_episodes_per_task, config.max_demos_per_task)
    require(len(held_eps) > 0, "no held-out episodes: set heldout_episodes_per_task >= 1")
    train_eps = train_eps + extra_episodes(config, image_size, first_index=max(e.index for e in episodes) + 1)
    lams = load_lams(config)
    k = latent_offset_frames(config)
    train, held = teleop_frames(config, train_eps, lams, k), teleop_frames(config, held_eps, lams, k)
    residual_arm, residual_gripper = residual_parts(config.decoder, config.use_state)
    stats = ActionStats.from_frames(**train.arrays(), residual=residual_arm, residual_gripper=residual_gripper)
    cfg_json = json.loads(json.dumps(asdict(config), default=str))
    flag_weights = (flag_class_weights(train.flags(), config.flag_class_balance).tolist()
                    if config.flag_class_balance > 0 and config.command_kind == "flags" else None)
    module = FinetuneModule(str(base), cfg_json, {k_: v.tolist() for k_, v in vars(stats).items()}, flag_weights)
    g = torch.Generator().manual_seed(config.seed)
    sampler = RandomSampler(train, replacement=True, num_samples=config.val_every_n_steps * config.batch_size, generator=g)
    train_loader = DataLoader(train, batch_size=config.batch_size, sampler=sampler, num_workers=0,
                              collate_fn=collate_frames, drop_last=True)
    val_loader = DataLoader(held, batch_size=64, shuffle=False, num_workers=0, collate_fn=collate_frames)
    fit = fit_resumable(module, train_loader, val_loader, run, config.max_steps, config.device, config.progress,
                        config.resume, cfg_json, log_every_n_steps=min(10, config.val_every_n_steps),
                        defaults=config_json(FinetuneConfig()))
    policy_dir = Path(config.export_dir) if config.export_dir is not None else run / "policy"
    if fit.steps_this_call > 0 or not (policy_dir / "policy.json").exists():
        if fit.steps_this_call == 0:
            module = FinetuneModule.load_from_checkpoint(str(fit.checkpoint), map_location="cpu", weights_only=False)
        export_policy(module, base, policy_dir, {"run": config.run_name(), "steps": fit.steps,
                                                 "train_episodes": len(train_eps), "train_frames": len(train)})
    return FinetuneResult(fit, policy_dir, len(train_eps), len(held_eps), len(train))


def heldout_frames(config: FinetuneConfig, image_size: int | None = None) -> TeleopFrames:
    """The held-out teleoperation frames of ``config`` (last episodes per task) with their LAM
    codes, as :func:`finetune` validates on them."""
    episodes = load_teleop_episodes(dataset_root(config), image_size)
    _, held = split_episodes(episodes, config.heldout_episodes_per_task, config.max_demos_per_task)
    return teleop_frames(config, held, load_lams(config), latent_offset_frames(config))


def evaluate_policy(policy, frames: TeleopFrames, batch_size: int = 64) -> tuple[dict, dict]:
    """Open-loop held-out evaluation of a :class:`~wbvla.vla.policy.VLAPolicy` (greedy latents, the
    hidden states of the predicted sequence, as in ``act()``): (metrics, per-frame predictions). The
    predictions include ``hand_error_m`` (N, 2): each hand's FK position error (m) of the chunk's first row."""
    preds = []
    for i in range(0, len(frames), batch_size):
        batch = collate_frames([frames[k] for k in range(i, min(i + batch_size, len(frames)))])
        preds.append(predict_batch(policy.vla, policy.decoder, batch, policy.use_state))
    p = {k: torch.cat([d[k] for d in preds]) for k in preds[0]}
    p["hand_error_m"] = torch.from_numpy(hand_error_m(p["arm"][:, 0].numpy(), p["true_arm"][:, 0].numpy()))
    return frame_metrics([p], policy.command_kind), p


def baselines(train_episodes: list[TeleopEpisode], held: TeleopFrames) -> dict:
    """Input-free references for the held-out metrics: arm L1 of holding the current pose (targets =
    s_t's joints over the chunk) and its FK hand error at pre-grasp and grasp (median, cm; None
    without such frames), per-axis accuracy of the training majority flag, h* error of the training mean."""
    import pandas as pd

    arr = held.arrays()
    train = np.concatenate([e.action for e in train_episodes])
    held_act = np.concatenate([e.action for e in held.episodes])
    axes = ("x", "y", "yaw")
    hold = np.repeat(arr["state"][:, None, :14], arr["arm"].shape[1], axis=1)  # (N, H, 14)
    phase = np.concatenate([e.phase for e in held.episodes])
    return {"arm_l1_rad_hold_pose": float(np.abs(arr["arm"] - hold).mean()),
            "hand_error_cm_hold_pose": phase_report(hold, arr["arm"], phase)["hand_error_cm"],
            "flag_accuracy_majority": {a: float(np.mean(held_act[:, 16 + i] == pd.Series(train[:, 16 + i]).mode()[0]))
                                       for i, a in enumerate(axes)},
            "h_star_err_m_train_mean": float(np.abs(arr["height"] - train[:, 19].mean()).mean())}
