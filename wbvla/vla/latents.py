"""The latent vocabulary and the prompt layout of the VLA (Eq. 1).

Every code of every Stage I LAM becomes one special token: ``<mani_i>`` and ``<loco_j>`` (and
``<shared_k>`` for the shared-LAM ablation). A training sequence is

    <|im_start|>User:<fake_token_around_image><global-img><image> x N<fake_token_around_image>
    {instruction}<end_of_utterance>\\nAssistant: <mani_c1> <loco_c2>

(with Q tokens per LAM when a LAM emits Q codes). The model is trained to predict the latent
tokens only, left to right, so pi(c_mani, c_loco | o_t, l) = pi(c_mani | o_t, l) pi(c_loco | c_mani,
o_t, l). Each latent position's softmax runs over its own LAM's codebook (the VLA's output
distribution is over codes; decoding is constrained to the same tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from wbvla.validation import require
from wbvla.vla.backbone import END_OF_UTTERANCE, FAKE_IMAGE_TOKEN, GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN

USER_PREFIX = "<|im_start|>User:"
ASSISTANT_PREFIX = "\nAssistant:"
MAX_INSTRUCTION_TOKENS = 48
"""Instructions are cut to this many tokens (the longest task instruction is ~25)."""


def latent_token(lam: str, code: int) -> str:
    """The token of code ``code`` of LAM ``lam``: ``<mani_3>``."""
    return f"<{lam}_{code}>"


@dataclass(frozen=True)
class LatentSlot:
    """One latent position of the sequence: which LAM, which of its Q tokens, how many codes."""

    lam: str
    index: int
    codebook_size: int


class LatentVocabulary:
    """The LAMs whose codes the VLA predicts, in generation order: ``{lam: (tokens Q, codebook K)}``."""

    def __init__(self, lams: dict[str, tuple[int, int]]):
        for lam, (q, k) in lams.items():
            require(q > 0 and k > 1, f"LAM {lam!r}: need >= 1 token and >= 2 codes, got Q={q}, K={k}")
        self.lams = {lam: (int(q), int(k)) for lam, (q, k) in lams.items()}
        self.slots = [LatentSlot(lam, i, k) for lam, (q, k) in self.lams.items() for i in range(q)]

    def tokens(self) -> list[str]:
        """Every latent token string, LAM by LAM, code by code."""
        return [latent_token(lam, c) for lam, (_, k) in self.lams.items() for c in range(k)]

    def __len__(self) -> int:
        return len(self.slots)

    def slot_token_ids(self, tokenizer) -> list[torch.Tensor]:
        """For each slot, the token ids of its LAM's codes, (K,) each."""
        out = []
        for slot in self.slots:
            ids = tokenizer.convert_tokens_to_ids([latent_token(slot.lam, c) for c in range(slot.codebook_size)])
            require(all(i is not None and i != tokenizer.unk_token_id for i in ids),
                    f"the tokenizer lacks the {slot.lam} latent tokens; build the backbone with them")
            out.append(torch.tensor(ids, dtype=torch.long))
        return out

    def to_json(self) -> dict:
        return {lam: list(v) for lam, v in self.lams.items()}

    @classmethod
    def from_json(cls, d: dict) -> LatentVocabulary:
        return cls({lam: tuple(v) for lam, v in d.items()})

    def split_codes(self, codes: Sequence[int]) -> dict[str, tuple[int, ...]]:
        """A row of slot codes -> ``{"mani": (3,), "loco": (11,)}`` (the PolicyOutput layout)."""
        out: dict[str, list[int]] = {lam: [] for lam in self.lams}
        for slot, c in zip(self.slots, codes, strict=True):
            out[slot.lam].append(int(c))
        return {lam: tuple(v) for lam, v in out.items()}

    def join_codes(self, latents: dict[str, Sequence[int]]) -> list[int]:
        """The inverse of :meth:`split_codes`: ``{"mani": (3,), "loco": (11,)}`` -> slot codes."""
        taken = {lam: list(latents[lam]) for lam in self.lams}
        return [int(taken[slot.lam].pop(0)) for slot in self.slots]


@dataclass
class PromptBatch:
    """Token inputs of a batch (right-padded)."""

    input_ids: torch.Tensor
    """(B, S) token ids."""
    attention_mask: torch.Tensor
    """(B, S) 1 for real tokens."""
    query_pos: torch.Tensor
    """(B,) position of the last prompt token ("Assistant:"); it predicts the first latent token."""
    latent_pos: torch.Tensor
    """(B, n_slots) positions of the latent tokens (empty without latents)."""


class PromptEncoder:
    """Builds the Idefics3 prompt around an instruction, plus the latent tokens for teacher forcing."""

    def __init__(self, tokenizer, image_seq_len: int, vocab: LatentVocabulary):
        self.tokenizer, self.vocab = tokenizer, vocab
        tid = tokenizer.convert_tokens_to_ids
        head = tokenizer(USER_PREFIX, add_special_tokens=False).input_ids
        self.prefix = [*head, tid(FAKE_IMAGE_TOKEN), tid(GLOBAL_IMAGE_TOKEN),
                       *[tid(IMAGE_TOKEN)] * image_seq_len, tid(FAKE_IMAGE_TOKEN)]
        self.visual_start = len(head) + 2
        self.image_seq_len = image_seq_len
        self.suffix = [tid(END_OF_UTTERANCE), *tokenizer(ASSISTANT_PREFIX, add_special_tokens=False).input_ids]
        self.slot_ids = vocab.slot_token_ids(tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._encode = lru_cache(maxsize=4096)(self._encode_uncached)

    @property
    def visual_positions(self) -> torch.Tensor:
        """(N,) positions of the image tokens (the same in every sequence)."""
        return torch.arange(self.visual_start, self.visual_start + self.image_seq_len)

    def _encode_uncached(self, instruction: str) -> tuple[int, ...]:
        ids = self.tokenizer(instruction.strip(), add_special_tokens=False).input_ids[:MAX_INSTRUCTION_TOKENS]
        return (*self.prefix, *ids, *self.suffix)

    def prompt_ids(self, instruction: str) -> list[int]:
        """Token ids of the prompt (without latent tokens)."""
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction must be a non-empty string, got {instruction!r}")
        return list(self._encode(instruction))

    def codes_to_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, n_slots) code indices -> (B, n_slots) token ids."""
        if len(self.slot_ids) == 0:
            return torch.zeros(codes.shape[0], 0, dtype=torch.long)
        return torch.stack([self.slot_ids[j][codes[:, j]] for j in range(len(self.slot_ids))], dim=1)

    def batch(self, instructions: Sequence[str], codes: torch.Tensor | None = None) -> PromptBatch:
        """Right-padded prompts, with the latent tokens of ``codes`` (B, n_slots) appended when given."""
        n = len(self.vocab)
        if codes is not None:
            codes = torch.as_tensor(codes, dtype=torch.long).reshape(len(instructions), n)
        latent_ids = self.codes_to_ids(codes) if codes is not None else None
        rows = [self.prompt_ids(s) for s in instructions]
        length = max(len(r) for r in rows) + (n if codes is not None else 0)
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        query = torch.zeros(len(rows), dtype=torch.long)
        lpos = torch.zeros(len(rows), n, dtype=torch.long)
        for b, r in enumerate(rows):
            p = len(r)
            ids[b, :p] = torch.tensor(r)
            query[b] = p - 1
            if latent_ids is not None:
                ids[b, p:p + n] = latent_ids[b]
                lpos[b] = torch.arange(p, p + n)
                p += n
            mask[b, :p] = 1
        return PromptBatch(ids, mask, query, lpos)
