"""Stage III data: teleoperation episodes (LeRobot v3, :mod:`wbvla.data.teleop_schema`) as
training frames for the VLA and its execution decoder.

Per frame t of an episode: the head image o_t, the instruction, s_t, the action chunk
a_t .. a_t+H-1 (the last row repeats past the episode's end: the expert holds its final pose),
the reference velocity, and the latent targets: the Stage I LAMs applied to the robot's own
video, c_t = E(o_t, o_t+k) with k = the LAMs' pair offset (o_t+k clamps to the last frame).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3.read import LeRobotV3Dataset
from wbvla.validation import require
from wbvla.vla.corpus_data import encode_pairs

DAGGER_TARGET_KEY = "dagger.latent_target"
"""Per-frame column of a DAgger dataset: 1 where the expert moved the robot (LAM codes are targets)."""
DAGGER_CODES_KEY = "dagger.learner_codes"
"""Per-frame column of a DAgger dataset: the learner's chosen slot codes."""


@dataclass
class TeleopEpisode:
    """One demonstration."""

    index: int
    """Episode index in the dataset."""
    instruction: str
    """The task's language instruction."""
    frames: np.ndarray
    """(T, H, W, 3) uint8 head-camera frames."""
    state: np.ndarray
    """(T, 17) s_t (teleop_schema.STATE_NAMES)."""
    action: np.ndarray
    """(T, 20) a_t (teleop_schema.ACTION_NAMES)."""
    reference_velocity: np.ndarray
    """(T, 3) v_x, v_y, w_z."""
    latent_target: np.ndarray | None = None
    """(T,) bool, DAgger episodes only (:mod:`wbvla.suite.dagger`): whether the LAM codes of the
    frame's own video are latent targets (the expert moved the robot). None: every frame."""
    learner_codes: np.ndarray | None = None
    """(T, n_slots) int, DAgger episodes only: the codes the learner chose at each frame; they stand
    in the sequence (teacher forcing, no latent loss) where ``latent_target`` is False."""
    phase: np.ndarray | None = None
    """(T,) int64 the expert's phase per frame (index into :data:`~wbvla.data.teleop_schema.EXPERT_PHASES`,
    -1: none). None (a dataset recorded before the phase column): -1 everywhere."""

    def __post_init__(self) -> None:
        t = len(self.frames)
        self.phase = np.full(t, ts.NO_PHASE, np.int64) if self.phase is None else np.asarray(self.phase, np.int64).reshape(-1)
        require(self.phase.shape == (t,), f"episode {self.index}: phase must be ({t},), got {self.phase.shape}")
        if self.latent_target is not None:
            self.latent_target = np.asarray(self.latent_target, bool).reshape(-1)
            require(self.latent_target.shape == (t,), f"episode {self.index}: latent_target must be ({t},), got {self.latent_target.shape}")
            require(self.learner_codes is not None and len(self.learner_codes) == t,
                    f"episode {self.index}: latent_target needs learner_codes with {t} rows")
        require(self.frames.ndim == 4 and self.frames.shape[-1] == 3 and self.frames.dtype == np.uint8,
                f"episode {self.index}: frames must be (T, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")
        for name, dim in (("state", ts.STATE_DIM), ("action", ts.ACTION_DIM), ("reference_velocity", 3)):
            v = getattr(self, name)
            require(v.shape == (t, dim), f"episode {self.index}: {name} must be ({t}, {dim}), got {v.shape}")
            require(bool(np.all(np.isfinite(v))), f"episode {self.index}: {name} has non-finite values")
        require(t >= 2, f"episode {self.index}: needs >= 2 frames, got {t}")

    def __len__(self) -> int:
        return len(self.frames)


def teleop_summary(root: Path) -> dict:
    """``<root>_summary.json`` written by ``wbvla teleop-data`` (episodes per task, expert success,
    locomotion backend, wall time); empty when absent."""
    path = Path(root).with_name(f"{Path(root).name}_summary.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def teleop_ready(root: Path, per_task: int, tasks: tuple[str, ...] = ts.TASKS) -> bool:
    """Whether the dataset at ``root`` was finished with at least ``per_task`` episodes of every task."""
    s = teleop_summary(root)
    return bool(s.get("finished")) and all(s.get("episodes_per_task", {}).get(t, 0) >= per_task for t in tasks)


def load_teleop_episodes(root: Path, image_size: int | None = None) -> list[TeleopEpisode]:
    """Every episode of a LeRobot v3 teleoperation dataset, frames resized to ``image_size``; the expert
    phase is -1 everywhere in a dataset recorded before that column existed."""
    root = Path(root)
    if not (root / "meta" / "info.json").is_file():
        raise FileNotFoundError(f"no teleoperation dataset at {root} (meta/info.json missing); "
                                "generate it with `wbvla teleop-data`")
    ds = LeRobotV3Dataset(root)
    out = []
    for ep in ds.episodes.episode_index.astype(int):
        d = ds.episode(int(ep), size=image_size)
        task = d.get("task") or [ts.INSTRUCTIONS.get(str(ds.row(int(ep)).get("task", "")), "")]
        target, phase = d.get(DAGGER_TARGET_KEY), d.get(ts.PHASE_KEY)
        out.append(TeleopEpisode(int(ep), str(task[0]), d[ts.IMAGE_KEY], np.asarray(d[ts.STATE_KEY], np.float32),
                                 np.asarray(d[ts.ACTION_KEY], np.float32),
                                 np.asarray(d[ts.REFERENCE_VELOCITY_KEY], np.float32).reshape(-1, 3),
                                 None if target is None else np.asarray(target).reshape(-1).astype(bool),
                                 None if target is None else np.asarray(d[DAGGER_CODES_KEY], np.int64).reshape(len(target), -1),
                                 None if phase is None else ts.remap_phases(np.asarray(phase).reshape(-1),
                                                                            ds.extra_meta.get(ts.PHASES_META_KEY))))
    require(len(out) > 0, f"{root}: the dataset has no episodes")
    return out


def split_episodes(episodes: list[TeleopEpisode], heldout_per_task: int, max_demos_per_task: int | None = None
                   ) -> tuple[list[TeleopEpisode], list[TeleopEpisode]]:
    """(train, held-out): per instruction (task), the last ``heldout_per_task`` episodes by index are
    held out; training keeps the first ``max_demos_per_task`` of the rest."""
    by_task: dict[str, list[TeleopEpisode]] = defaultdict(list)
    for ep in sorted(episodes, key=lambda e: e.index):
        by_task[ep.instruction].append(ep)
    train, held = [], []
    for task, eps in by_task.items():
        require(len(eps) > heldout_per_task, f"task {task[:40]!r}: {len(eps)} episodes, cannot hold out {heldout_per_task}")
        cut = len(eps) - heldout_per_task
        train += eps[:cut][:max_demos_per_task]
        held += eps[cut:]
    return train, held


def latent_labels(episode: TeleopEpisode, models: dict, k: int) -> np.ndarray:
    """Codes (T, n_slots) of each LAM (in ``models`` order) on (o_t, o_min(t+k, T-1)); in a DAgger
    episode, the learner's own codes where the frame is no latent target."""
    if not models:
        return np.zeros((len(episode), 0), np.int64)
    frames = torch.from_numpy(episode.frames).permute(0, 3, 1, 2)  # (T, 3, H, W)
    nxt = np.minimum(np.arange(len(episode)) + k, len(episode) - 1)
    codes = np.concatenate([encode_pairs(m, frames, frames[nxt]) for m in models.values()], axis=1)  # (T, n_slots)
    if episode.latent_target is not None:
        require(episode.learner_codes.shape == codes.shape,
                f"episode {episode.index}: learner codes {episode.learner_codes.shape} vs LAM codes {codes.shape} "
                "(a DAgger dataset of another LAM variant?)")
        codes = np.where(episode.latent_target[:, None], codes, episode.learner_codes)
    return codes


class TeleopFrames(Dataset):
    """Every frame of some episodes as a Stage III example.

    Items: ``image (3, H, W) uint8, instruction, state (17,), arm (H, 14), gripper (H, 2), flags (3,),
    height (), velocity (3,), codes (n_slots,), latent_target ()`` (bool: the codes are Eq. 1 targets)
    plus ``episode``, ``t`` and ``phase`` (the expert's phase index, -1: none; evaluation only).
    """

    def __init__(self, episodes: list[TeleopEpisode], codes: list[np.ndarray], chunk_size: int):
        require(len(episodes) > 0, "TeleopFrames needs at least one episode")
        require(len(codes) == len(episodes), f"{len(codes)} code arrays for {len(episodes)} episodes")
        self.episodes, self.chunk_size = episodes, chunk_size
        self.frames = [torch.from_numpy(np.ascontiguousarray(e.frames)).permute(0, 3, 1, 2) for e in episodes]
        self.codes = [torch.as_tensor(c, dtype=torch.long) for c in codes]
        self.items = [(e, t) for e, ep in enumerate(episodes) for t in range(len(ep))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        e, t = self.items[i]
        ep = self.episodes[e]
        rows = np.minimum(np.arange(t, t + self.chunk_size), len(ep) - 1)  # hold the last action past the end
        chunk = ep.action[rows]  # (H, 20)
        return {"image": self.frames[e][t], "instruction": ep.instruction, "state": torch.from_numpy(ep.state[t]),
                "arm": torch.from_numpy(chunk[:, ts.ACTION_ARMS]), "gripper": torch.from_numpy(chunk[:, ts.ACTION_GRIPPERS]),
                "flags": torch.from_numpy(ep.action[t, ts.ACTION_FLAGS]), "height": torch.tensor(ep.action[t, ts.ACTION_HEIGHT]),
                "velocity": torch.from_numpy(ep.reference_velocity[t]), "codes": self.codes[e][t],
                "latent_target": torch.tensor(True if ep.latent_target is None else bool(ep.latent_target[t])),
                "episode": ep.index, "t": t, "phase": int(ep.phase[t])}

    def flags(self) -> np.ndarray:
        """Every frame's locomotion flags (N, 3) in {-1, 0, 1} (the flag heads' targets)."""
        return np.concatenate([ep.action[:, ts.ACTION_FLAGS] for ep in self.episodes])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every frame's state (N, 17), arm (N, H, 14) and gripper (N, H, 2) chunks, height (N,),
        velocity (N, 3): the inputs of :meth:`~wbvla.vla.decoder.ActionStats.from_frames`."""
        out: dict[str, list] = {"state": [], "arm": [], "gripper": [], "height": [], "velocity": []}
        for ep in self.episodes:
            t = np.arange(len(ep))
            rows = np.minimum(t[:, None] + np.arange(self.chunk_size)[None], len(ep) - 1)  # (T, H)
            out["state"].append(ep.state)
            out["arm"].append(ep.action[rows][..., ts.ACTION_ARMS])
            out["gripper"].append(ep.action[rows][..., ts.ACTION_GRIPPERS])
            out["height"].append(ep.action[:, ts.ACTION_HEIGHT])
            out["velocity"].append(ep.reference_velocity)
        return {k: np.concatenate(v) for k, v in out.items()}


def collate_frames(items: list[dict]) -> dict:
    out = {k: torch.stack([it[k] for it in items]) for k in ("image", "state", "arm", "gripper", "flags", "height",
                                                             "velocity", "codes", "latent_target")}
    out["instruction"] = [it["instruction"] for it in items]
    out["episode"] = torch.tensor([it["episode"] for it in items])
    out["t"] = torch.tensor([it["t"] for it in items])
    out["phase"] = torch.tensor([it.get("phase", ts.NO_PHASE) for it in items], dtype=torch.long)
    return out


def synthetic_episodes(per_task: int = 3, length: int = 24, size: int = 64, seed: int = 0) -> list[TeleopEpisode]:
    """Small made-up episodes in the teleop layout, for tests and for smoke runs without the real
    dataset: the image's colour bands encode the phase of the motion, the arms follow smooth
    phase-dependent targets, the flags switch with the phase, h* dips in the middle. Learnable,
    but nothing like the expert's data (never use it for reported numbers)."""
    rng = np.random.default_rng(seed)
    out, idx = [], 0
    for task_i, task in enumerate(ts.TASKS):
        for _ in range(per_task):
            t = np.arange(length)
            phase = t / (length - 1)  # (T,) 0 -> 1
            frames = np.zeros((length, size, size, 3), np.uint8)
            frames[..., task_i] = 200
            band = (phase * (size - 8)).astype(int)
            for k in range(length):
                frames[k, band[k]:band[k] + 8, :, (task_i + 1) % 3] = 255
            frames = np.clip(frames.astype(int) + rng.integers(0, 20, frames.shape), 0, 255).astype(np.uint8)
            arms = 0.5 * np.sin(2 * np.pi * phase[:, None] + np.arange(14)[None] * 0.3 + task_i)  # (T, 14)
            grip = np.where(phase[:, None] > 0.5, 0.0, 0.04) * np.ones((1, 2))
            flags = np.zeros((length, 3))
            flags[:, task_i] = np.where(phase < 0.3, 1.0, np.where(phase < 0.6, -1.0, 0.0))
            height = 0.7 - 0.2 * np.sin(np.pi * phase)
            action = np.concatenate([arms, grip, flags, height[:, None]], 1).astype(np.float32)
            state = np.concatenate([np.roll(arms, 1, 0), grip, height[:, None] + 0.05], 1).astype(np.float32)
            vel = (flags * np.array([0.3, 0.2, 0.5])).astype(np.float32)
            out.append(TeleopEpisode(idx, ts.INSTRUCTIONS[task], frames, state, action, vel))
            idx += 1
    return out
