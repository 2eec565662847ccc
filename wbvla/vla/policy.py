"""The trained VLA as a :class:`~wbvla.control.policy_contract.Policy`: ``act(image, instruction, state)``.

A policy folder holds only safetensors and JSON (loading never unpickles)::

    policy.json            format, model_id, variant switches, decoder config, training provenance
    base/                  the VLM the adapter was trained on (Stage II export or the bare backbone):
                           config.json, model.safetensors, tokenizer files, vla.json
    adapter/               peft LoRA adapter: adapter_config.json, adapter_model.safetensors
    decoder.safetensors    execution decoder weights and its normalization statistics

:meth:`VLAPolicy.load` merges the LoRA weights into the base (``merge_lora=True``), so a tick is one
plain forward pass over the prompt plus one cached step per latent token, then the decoder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from wbvla.control.policy_contract import DEFAULT_IMAGE_SIZE, CommandKind, PolicyOutput, check_state
from wbvla.data.teleop_schema import FPS
from wbvla.io import write_json_atomic
from wbvla.lmo.config import HeightConfig
from wbvla.paths import portable_path
from wbvla.sim.joints import limits
from wbvla.validation import require
from wbvla.vla.backbone import import_peft, peft_wrapping
from wbvla.vla.config import DecoderConfig
from wbvla.vla.decoder import ExecutionDecoder
from wbvla.vla.model import LatentVLA, load_base

FORMAT = "wbvla-vla-policy/1"


def _digest(*files: Path) -> str:
    h = hashlib.sha1()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:10]


def export_policy(module, base: Path, folder: Path, extra: dict | None = None) -> Path:
    """Write a fine-tuned :class:`~wbvla.vla.finetune.FinetuneModule` as a policy folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp / "base")
    module.peft.save_pretrained(str(tmp / "adapter"), safe_serialization=True)
    make_adapter_portable(tmp / "adapter")
    save_file({k: v.detach().cpu().contiguous() for k, v in module.decoder.state_dict().items()},
              str(tmp / "decoder.safetensors"))
    cfg = module.cfg
    meta = {"format": FORMAT, "lam_variant": cfg.lam_variant, "command_kind": cfg.command_kind,
            "use_state": cfg.use_state, "chunk_size": cfg.chunk_size, "decoder": asdict(cfg.decoder),
            "vocabulary": module.vla.vocab.to_json(), "backbone_source": portable_path(module.vla.backbone.source),
            "human_video_fraction": cfg.pretrain.human_video_fraction,
            "robot_video_fraction": cfg.pretrain.robot_video_fraction, "max_demos_per_task": cfg.max_demos_per_task,
            "dt": 1.0 / FPS, **(extra or {})}
    meta["model_id"] = f"wbvla-vla:{meta.get('run', cfg.run_name())}:" + _digest(
        tmp / "adapter" / "adapter_model.safetensors", tmp / "decoder.safetensors")
    write_json_atomic(tmp / "policy.json", meta)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def make_adapter_portable(adapter_dir: Path) -> None:
    """peft writes the absolute path of the training run's base model into ``adapter_config.json``
    and a generated model-card README; a policy folder must not hold one machine's paths. The
    adapter's base is always the sibling ``base/`` folder (that is how :meth:`VLAPolicy.load` uses
    it), so record exactly that and drop peft's boilerplate card."""
    adapter_dir = Path(adapter_dir)
    cfg_file = adapter_dir / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["base_model_name_or_path"] = "../base"
    write_json_atomic(cfg_file, cfg)
    (adapter_dir / "README.md").unlink(missing_ok=True)


class VLAPolicy:
    """The VLA + execution decoder behind the :class:`~wbvla.control.policy_contract.Policy` protocol."""

    def __init__(self, vla: LatentVLA, decoder: ExecutionDecoder, meta: dict):
        self.vla, self.decoder, self.meta = vla.eval(), decoder.eval(), meta
        self.model_id: str = meta["model_id"]
        self.command_kind: CommandKind = meta["command_kind"]
        self.use_state: bool = bool(meta["use_state"])
        self.dt = float(meta.get("dt", 1.0 / FPS))
        self.image_size = int(meta.get("image_size", DEFAULT_IMAGE_SIZE))
        """Side of the head-camera image it consumes (the runners render this size; it resizes to its
        vision tower itself): the policy.json's ``image_size``, else the teleoperation frames' default."""

    @classmethod
    def load(cls, folder: Path, merge_lora: bool = True, threads: int | None = None) -> VLAPolicy:
        """Load a policy folder (safetensors + JSON only)."""
        from safetensors.torch import load_file

        PeftModel = import_peft().PeftModel

        folder = Path(folder)
        meta_path = folder / "policy.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no policy.json in {folder}: not a VLA policy folder (train one with `wbvla vla-finetune`)")
        meta = json.loads(meta_path.read_text())
        require(meta.get("format") == FORMAT, f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        if threads is not None:
            torch.set_num_threads(threads)
        vla = load_base(folder / "base")
        with peft_wrapping():
            peft_model = PeftModel.from_pretrained(vla.vlm, str(folder / "adapter"))
        if merge_lora:
            vla.vlm = peft_model.merge_and_unload()
            vla.backbone.model = vla.vlm
        decoder = ExecutionDecoder(DecoderConfig(**meta["decoder"]), vla.backbone.hidden_size, int(meta["chunk_size"]),
                                   meta["command_kind"], bool(meta["use_state"]))
        decoder.load_state_dict(load_file(str(folder / "decoder.safetensors")))
        return cls(vla, decoder, meta)

    def reset(self) -> None:
        """Nothing to forget: each tick reads only the current image, instruction and state."""

    @torch.inference_mode()
    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        """One tick: image (H, W, 3) uint8, instruction, s_t (17,) -> arm/gripper chunk and u_t."""
        t0 = time.perf_counter()
        state = check_state(state)
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        pv = self.vla.encode_images(torch.from_numpy(image)[None])
        t1 = time.perf_counter()
        dec = self.vla.decode(pv, instruction)
        t2 = time.perf_counter()
        s = torch.from_numpy(state)[None]
        phys = self.decoder.physical(self.decoder(dec.tokens, dec.kinds, s if self.use_state else None), s)
        t3 = time.perf_counter()
        ms = {"preprocess": (t1 - t0) * 1e3, "vlm": (t2 - t1) * 1e3, "decoder": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}
        arm, grippers, command, clipped = clip_to_ranges(phys["arm"][0].numpy(), phys["gripper"][0].numpy(),
                                                         phys["command"][0].numpy())
        return PolicyOutput(arm_targets=arm, grippers=grippers, command=command, command_kind=self.command_kind,
                            latents=self.vla.vocab.split_codes(dec.codes[0].tolist()), dt=self.dt,
                            info={"ms": {k: round(v, 3) for k, v in ms.items()}, "model_id": self.model_id,
                                  "clipped": clipped})


def clip_to_ranges(arm: np.ndarray, grippers: np.ndarray, command: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The decoder regresses targets (L1) without bounds, so a chunk can end slightly past a joint's
    range (the tutorial decoder put a wrist at 0.58 rad, range +-0.52) and h* past the stance (0.666 m,
    range 0.53-0.655). The policy's contract is targets *within* the joint table
    (:mod:`wbvla.sim.joints`) and h* within :class:`~wbvla.lmo.config.HeightConfig`'s range, which
    is also what the simulator's actuators and the LMO apply and what a robot runner checks (it
    refuses commands beyond range + tolerance). Returns the clipped arm (T, 14), grippers (T, 2),
    command (4,) (only h*, index 3, is touched) and how many values were moved."""
    a_lo, a_hi = limits("arms")
    g_lo, g_hi = limits("grippers")
    h_lo, h_hi = HeightConfig().height_range
    arm_c = np.clip(arm, a_lo, a_hi).astype(arm.dtype)
    grip_c = np.clip(grippers, g_lo, g_hi).astype(grippers.dtype)
    cmd_c = command.copy()
    cmd_c[3] = np.clip(command[3], h_lo, h_hi)
    moved = (arm_c != arm).sum() + (grip_c != grippers).sum() + (cmd_c != command).sum()
    return arm_c, grip_c, cmd_c, int(moved)


def parameter_counts(folder: Path) -> dict[str, int]:
    """Parameters of a policy folder's parts (read from the safetensors headers, no weights loaded)."""
    from safetensors import safe_open

    def count(path: Path) -> int:
        with safe_open(str(path), "pt") as f:
            return int(sum(np.prod(f.get_slice(k).get_shape()) for k in f.keys()))

    folder = Path(folder)
    return {"base": count(folder / "base" / "model.safetensors"),
            "adapter": count(folder / "adapter" / "adapter_model.safetensors"),
            "decoder": count(folder / "decoder.safetensors")}
