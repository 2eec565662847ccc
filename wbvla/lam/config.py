"""Configs of the latent action models (LAMs) and their training (light imports only).

Choice of latent size (the issue asks to say it): **one latent token over 16 codes** per LAM by
default. UniVLA uses 4 tokens over 16 codes (16^4 combinations) for real, diverse video; our
simulated corpora hold 8 locomotion and 6 manipulation primitives at a few speeds, which 16
codes cover, and a single token makes every code one retrievable "latent action" (Fig. 8), makes
Stage II a 16-way classification per LAM, and keeps the VQ bottleneck tight enough that codes
must describe the motion rather than the scene. Both numbers are fields; ``num_latent_tokens=4``
reproduces UniVLA's layout.

Model size: 64x64 frames in 8x8 pixel patches (64 tokens per frame), width 128, 3 encoder and 3
decoder blocks, 16-d codes: 1.09 M parameters, sized for a 2-core CPU (1500 steps of 32 pairs per
LAM; measured throughput and wall time are in ``figures/02_lam_pretraining.json``). At 64 px the
eight locomotion primitives still move the image by several pixels over k = 0.4 s, and the arms
cover a large part of the head camera's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wbvla.lam.vision_tower import check_tower_folder
from wbvla.paths import canonical_path, local_path
from wbvla.training.devices import DeviceName, check_device
from wbvla.validation import in_range, one_of, positive, require

FEATURE_SPACES = ("pixel", "tower", "dinov2")
VARIANTS = ("mani", "loco", "shared")
"""The three LAMs of the paper: manipulation, locomotion, and the shared ablation (App. B)."""


@dataclass
class LAMConfig:
    """Architecture of one LAM (VQ-VAE over frame pairs, App. A.1)."""

    feature_space: str = "pixel"
    """``pixel``: 8x8 RGB patches, no weights needed (default, offline). ``tower``: patch tokens (last
    hidden state) of the project's frozen, offline-pretrained vision tower at ``tower_path``, a named
    deviation: it stands in for DINOv2 (no pretrained weights offline). ``dinov2``: patch features of
    a frozen DINOv2 loaded with ``Dinov2Model.from_pretrained(dinov2_path)`` (the paper's choice)."""
    dinov2_path: str | None = None
    """Folder or hub id of a DINOv2 checkpoint; required for ``feature_space='dinov2'``."""
    tower_path: str | None = None
    """Folder of a pretrained vision tower (``<run>/tower`` written by ``wbvla vision-pretrain``: an
    Idefics3 checkpoint, safetensors); required for ``feature_space='tower'``. Its weights are not
    copied into LAM checkpoints: a trained LAM reloads them from here (and refuses other weights)."""
    tower_pool: int = 1
    """``feature_space='tower'``: average-pool the tower's patch grid in ``tower_pool`` x ``tower_pool``
    blocks before the LAM (1: the tower's own grid, 16x16 = 256 tokens for a 128 px tower with 8 px
    patches, as DINOv2's 224 px / 14 px grid; 2: 8x8 = 64 tokens, the pixel space's count, for about
    the pixel space's training cost). Must divide the tower's grid."""
    image_size: int = 64
    """Square input size (pixels) the frames are resized to (DINOv2: a multiple of its patch size;
    ``tower``: not used, frames go in at the tower's own input size, as the VLA feeds it)."""
    patch_size: int = 8
    """Pixel patch size for ``feature_space='pixel'`` (DINOv2 and the tower use their own)."""
    model_dim: int = 128
    """Transformer width."""
    position_embedding: str = "learned"
    """``learned`` (random init) or ``sincos`` (fixed 2-D sine-cosine, as in MAE) patch positions."""
    num_heads: int = 4
    """Attention heads."""
    encoder_layers: int = 3
    """Spatio-temporal blocks in the encoder."""
    encoder_attention: str = "factorized"
    """``factorized``: Genie's blocks (attention within each frame, then across time at each patch
    position); ``joint``: one block-causal attention over the patches of both frames (ViViT)."""
    decoder_layers: int = 3
    """Transformer blocks in the decoder."""
    mlp_ratio: float = 2.0
    """MLP hidden width / model width."""
    num_latent_tokens: int = 1
    """Learned action-query tokens; each is quantized to one code (UniVLA: 4)."""
    codebook_size: int = 16
    """Codes in the codebook (UniVLA: 16)."""
    code_dim: int = 16
    """Dimension of a code vector."""
    beta: float = 0.25
    """The paper's beta ("commitment cost") in L = L_mse + ||sg[c]-z||^2 + beta ||c - sg[z]||^2."""
    dead_code_steps: int = 20
    """A code unused for this many training steps is restarted on the worst-served encoder output."""
    normalize_codes: bool = True
    """Compare z_t and codes on the unit sphere (cosine codebook); the App. A.1 loss is applied to the
    normalized vectors. Keeps the codebook from collapsing onto one code early in training."""
    predict_residual: bool = True
    """Decoder predicts o_t+k - o_t (added to the o_t features); at init it reproduces o_t exactly."""

    def features_name(self) -> str:
        """``pixel``, ``tower`` (``tower_pool<n>`` when pooled) or ``dinov2``: the feature space as Stage II
        names it (:attr:`wbvla.vla.config.PretrainConfig.lam_features`)."""
        return self.feature_space + (f"_pool{self.tower_pool}" if self.feature_space == "tower" and self.tower_pool > 1 else "")

    def runs_tag(self) -> str:
        """Suffix of the default LAM runs folder (``lam_runs/<corpus_size><tag>``): empty for the
        ``pixel`` default, else ``_`` + :meth:`features_name`, so LAMs of different feature spaces never
        resume each other's checkpoints."""
        return "" if self.feature_space == "pixel" else f"_{self.features_name()}"

    def __post_init__(self) -> None:
        one_of("feature_space", self.feature_space, FEATURE_SPACES)
        one_of("position_embedding", self.position_embedding, ("learned", "sincos"))
        one_of("encoder_attention", self.encoder_attention, ("factorized", "joint"))
        if self.feature_space == "dinov2":
            require(self.dinov2_path is not None, "feature_space='dinov2' needs dinov2_path (a local folder or hub id)")
        if self.feature_space == "tower":
            require(self.tower_path is not None,
                    "feature_space='tower' needs tower_path (a <run>/tower folder written by `wbvla vision-pretrain`)")
            self.tower_path = canonical_path(self.tower_path)  # one folder, one value, from any working folder
            try:
                check_tower_folder(local_path(self.tower_path))
            except FileNotFoundError as e:  # a config error like any other bad field value
                raise ValueError(f"tower_path: {e}") from e
        require(isinstance(self.tower_pool, int) and self.tower_pool > 0, f"tower_pool must be an int > 0, got {self.tower_pool!r}")
        in_range("image_size", self.image_size, 16, 1024)
        positive("patch_size", self.patch_size)
        if self.feature_space == "pixel":
            require(self.image_size % self.patch_size == 0,
                    f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        for name in ("model_dim", "num_heads", "encoder_layers", "decoder_layers", "num_latent_tokens",
                     "codebook_size", "code_dim", "dead_code_steps"):
            v = getattr(self, name)
            require(isinstance(v, int) and v > 0, f"{name} must be an int > 0, got {v!r}")
        require(self.model_dim % self.num_heads == 0,
                f"model_dim {self.model_dim} must be divisible by num_heads {self.num_heads}")
        if self.position_embedding == "sincos":
            require(self.model_dim % 4 == 0, f"position_embedding='sincos' needs model_dim divisible by 4, got {self.model_dim}")
        require(self.codebook_size >= 2, f"codebook_size must be >= 2, got {self.codebook_size}")
        positive("mlp_ratio", self.mlp_ratio)
        positive("beta", self.beta, allow_zero=True)


@dataclass
class LAMTrainConfig:
    """Training of one LAM variant on the simulated corpora (or on pairs you pass in)."""

    variant: str = "loco"
    """``mani`` (manipulation corpus), ``loco`` (human-like locomotion corpus) or ``shared``
    (both, balanced: every batch is half manipulation, half locomotion; App. B)."""
    corpus_size: str = "tutorial"
    """Corpus preset to train on (``smoke``/``tutorial``/``full``; see ``wbvla lam-data``)."""
    corpus_root: Path | None = None
    """Corpus folder; ``None``: ``cache_dir()/lam_corpus/<corpus_size>``."""
    pair_offset_s: float = 0.4
    """k, the time between o_t and o_t+k (seconds; converted to frames with the video fps)."""
    batch_size: int = 32
    """Frame pairs per step (the paper: 256 on 8 GPUs)."""
    max_steps: int = 1500
    """Optimizer steps (the paper: 30,000)."""
    lr: float = 6e-4
    """Peak AdamW learning rate (linear warmup, cosine decay)."""
    warmup_steps: int = 100
    """Linear warmup steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    val_pairs: int = 256
    """Held-out pairs used for the validation RRG."""
    val_every_n_steps: int = 250
    """Validate (held-out RRG) and checkpoint every this many steps."""
    seed: int = 0
    """Seeds model init and sampling."""
    device: DeviceName = "auto"
    """``auto`` (GPU if present), ``cpu`` or ``gpu`` (alias ``cuda``; :mod:`wbvla.training.devices`)."""
    threads: int | None = 1
    """torch CPU threads (1 is fastest on a shared 2-core machine); ``None`` leaves torch's default."""
    output_dir: Path | None = None
    """Run folder (checkpoints, logs); ``None``: ``cache_dir()/lam_runs/<corpus_size><model.runs_tag()>/<variant>``
    (e.g. ``lam_runs/tutorial/loco``, ``lam_runs/tutorial_tower_pool2/loco``)."""
    resume: bool = True
    """Continue from ``last.ckpt`` in the run folder when it exists."""
    progress: bool = True
    """Show Lightning's progress bar."""
    model: LAMConfig = field(default_factory=LAMConfig)
    """Architecture."""

    def __post_init__(self) -> None:
        one_of("variant", self.variant, VARIANTS)
        one_of("corpus_size", self.corpus_size, ("smoke", "tutorial", "full"))
        check_device(self.device)
        positive("pair_offset_s", self.pair_offset_s)
        for name in ("batch_size", "max_steps", "val_pairs", "val_every_n_steps"):
            v = getattr(self, name)
            require(isinstance(v, int) and v > 0, f"{name} must be an int > 0, got {v!r}")
        require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.variant == "shared":
            require(self.batch_size % 2 == 0, f"the shared LAM balances two sources: batch_size must be even, got {self.batch_size}")
        positive("lr", self.lr)
        positive("weight_decay", self.weight_decay, allow_zero=True)
        require(self.threads is None or (isinstance(self.threads, int) and self.threads > 0),
                f"threads must be None or an int > 0, got {self.threads!r}")
