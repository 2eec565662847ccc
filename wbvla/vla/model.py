"""The latent VLA: a VLM that reads (o_t, instruction) and predicts latent action tokens (Eq. 1).

Training is teacher-forced (the ground-truth codes are in the sequence, the loss reads the
positions before them). Inference decodes greedily, slot by slot, each slot restricted to its
LAM's codebook; :meth:`LatentVLA.decode` does it with a KV cache, so its hidden states are those
of one teacher-forced pass over the prompt and the predicted latent tokens -- the positions the
execution decoder was trained on (checked in the tests).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from wbvla.vla.backbone import Backbone, load_backbone
from wbvla.vla.latents import LatentVocabulary, PromptBatch, PromptEncoder

TOKEN_VISUAL, TOKEN_QUERY, TOKEN_LATENT = 0, 1, 2
"""Kinds of hidden state the execution decoder pools over."""


def _kv_cache_name(model: nn.Module) -> str:
    """The name of the KV cache in ``model.forward`` and its output: ``cache`` in transformers 5.x
    (where ``past_key_values`` is deprecated: a FutureWarning on every call), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@dataclass
class Decoded:
    """One greedy decode: chosen codes and the hidden states the execution decoder reads."""

    codes: torch.Tensor
    """(B, n_slots) code indices."""
    tokens: torch.Tensor
    """(B, N, D) hidden states at the visual, query and latent positions."""
    kinds: torch.Tensor
    """(N,) :data:`TOKEN_VISUAL` / :data:`TOKEN_QUERY` / :data:`TOKEN_LATENT` of each of them."""


def random_shift(pixel_values: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels per image (edge-replicate padding, then a random
    crop back to size; DrQ-style augmentation). (B, 1, 3, S, S) -> the same shape."""
    if pad <= 0:
        return pixel_values
    b, n, c, h, w = pixel_values.shape
    x = F.pad(pixel_values.reshape(b * n, c, h, w), (pad, pad, pad, pad), mode="replicate")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b * n), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (B n, S)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)
    idx = torch.arange(b * n, device=x.device)[:, None, None]
    out = x.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (B n, S, S, C)
    return out.permute(0, 3, 1, 2).reshape(b, n, c, h, w)


class LatentVLA(nn.Module):
    """Backbone + latent vocabulary + prompt layout."""

    def __init__(self, backbone: Backbone, vocab: LatentVocabulary):
        super().__init__()
        self.vlm = backbone.model
        self.backbone = backbone
        self.vocab = vocab
        self.prompts = PromptEncoder(backbone.tokenizer, backbone.image_seq_len, vocab)
        for j, ids in enumerate(self.prompts.slot_ids):
            self.register_buffer(f"slot_ids_{j}", ids, persistent=False)

    @property
    def num_slots(self) -> int:
        return len(self.vocab)

    def _slot_ids(self, j: int) -> torch.Tensor:
        return getattr(self, f"slot_ids_{j}")

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) or (B, H, W, 3) -> pixel_values on the model's device."""
        return self.backbone.preprocess(images).to(self.vlm.device)

    def hidden_states(self, pixel_values: torch.Tensor, batch: PromptBatch) -> torch.Tensor:
        """Last-layer hidden states (B, S, D) of one (teacher-forced) pass."""
        dev = self.vlm.device
        out = self.vlm.model(input_ids=batch.input_ids.to(dev), attention_mask=batch.attention_mask.to(dev),
                             pixel_values=pixel_values, use_cache=False)
        return out.last_hidden_state

    def slot_logits(self, h: torch.Tensor, j: int) -> torch.Tensor:
        """Logits over slot ``j``'s codebook from the hidden state before it: (B, D) -> (B, K)."""
        w = self.vlm.get_output_embeddings().weight[self._slot_ids(j)]  # (K, D), tied to the embeddings
        return F.linear(h, w)

    def latent_logits(self, hidden: torch.Tensor, batch: PromptBatch) -> list[torch.Tensor]:
        """Teacher-forced logits of every slot, [(B, K_j)]."""
        prev = (batch.latent_pos - 1).to(hidden.device)  # (B, n): the position before each latent token
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return [self.slot_logits(hidden[rows, prev[:, j]], j) for j in range(self.num_slots)]

    def latent_loss(self, logits: list[torch.Tensor], codes: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 1: -log pi(c_mani, c_loco | o_t, l) = sum over slots of the cross-entropy, averaged over the batch.

        ``weight`` (B,) in {0, 1} (optional): average over the examples whose codes are targets only
        (a DAgger frame driven by the learner has no LAM target, :mod:`wbvla.suite.dagger`); 0 if none is."""
        if not logits:
            return codes.new_zeros((), dtype=torch.float32)
        codes = codes.to(logits[0].device)
        # Eq. 1: min_theta -log pi_theta(c^mani_t, c^loco_t | o_t, l) = sum_j CE(slot j)
        ce = torch.stack([F.cross_entropy(lg, codes[:, j], reduction="none") for j, lg in enumerate(logits)]).sum(0)  # (B,)
        if weight is None:
            return ce.mean()
        w = weight.to(ce.device, ce.dtype)
        return (ce * w).sum() / w.sum().clamp(min=1.0)

    def pooled_tokens(self, hidden: torch.Tensor, batch: PromptBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states the execution decoder attends over: the image tokens (which precede the
        instruction in a causal model), the last prompt token (has read the instruction) and the
        latent tokens. Returns (B, N, D) and kinds (N,)."""
        b = hidden.shape[0]
        vis = self.prompts.visual_positions.to(hidden.device).expand(b, -1)  # (B, Nv)
        pos = torch.cat([vis, batch.query_pos.to(hidden.device)[:, None], batch.latent_pos.to(hidden.device)], dim=1)
        kinds = torch.tensor([TOKEN_VISUAL] * vis.shape[1] + [TOKEN_QUERY] + [TOKEN_LATENT] * self.num_slots,
                             device=hidden.device)
        rows = torch.arange(b, device=hidden.device)[:, None]
        return hidden[rows, pos], kinds

    @torch.no_grad()
    def greedy_codes(self, pixel_values: torch.Tensor, instructions: Sequence[str]) -> Decoded:
        """Batched greedy decoding by repeated teacher-forced passes (n_slots + 1 passes); for
        evaluation. The last pass runs over the prompt and the predicted tokens."""
        b = len(instructions)
        codes = torch.zeros(b, self.num_slots, dtype=torch.long)
        for j in range(self.num_slots):
            batch = self.prompts.batch(instructions, codes)
            hidden = self.hidden_states(pixel_values, batch)
            codes[:, j] = self.latent_logits(hidden, batch)[j].argmax(-1).cpu()
        batch = self.prompts.batch(instructions, codes if self.num_slots else None)
        hidden = self.hidden_states(pixel_values, batch)
        tokens, kinds = self.pooled_tokens(hidden, batch)
        return Decoded(codes, tokens, kinds)

    @torch.inference_mode()
    def decode(self, pixel_values: torch.Tensor, instruction: str) -> Decoded:
        """Greedy decoding of one example with a KV cache: one pass over the prompt, then one
        single-token step per latent slot (the same hidden states as a teacher-forced pass)."""
        dev = self.vlm.device
        ids = torch.tensor([self.prompts.prompt_ids(instruction)], device=dev)
        kv = _kv_cache_name(self.vlm.model)
        out = self.vlm.model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixel_values, use_cache=True)
        hs, past = [out.last_hidden_state], out[kv]
        codes = []
        for j in range(self.num_slots):
            code = int(self.slot_logits(hs[-1][:, -1], j).argmax(-1))
            codes.append(code)
            tok = self._slot_ids(j)[code].view(1, 1)
            mask = torch.ones(1, ids.shape[1] + j + 1, dtype=torch.long, device=dev)
            out = self.vlm.model(input_ids=tok, attention_mask=mask, use_cache=True, **{kv: past})
            hs.append(out.last_hidden_state)
            past = out[kv]
        hidden = torch.cat(hs, dim=1)  # (1, P + n, D)
        p = ids.shape[1]
        batch = PromptBatch(ids, torch.ones_like(ids), torch.tensor([p - 1]), torch.arange(p, p + self.num_slots)[None])
        tokens, kinds = self.pooled_tokens(hidden, batch)
        return Decoded(torch.tensor([codes], dtype=torch.long), tokens, kinds)


def load_base(folder: Path) -> LatentVLA:
    """The VLM a fine-tuning run or a policy starts from (a Stage II export with its ``vla.json``,
    or a bare backbone), in eval mode."""
    meta = json.loads((Path(folder) / "vla.json").read_text())
    return LatentVLA(load_backbone(folder), LatentVocabulary.from_json(meta["vocabulary"])).eval()
