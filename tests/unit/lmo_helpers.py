"""Shared helpers of the LMO tests: a tiny random actor checkpoint and its ONNX export."""

from pathlib import Path

import torch

from wbvla.lmo.export import export_onnx, policy_metadata
from wbvla.lmo.proprio import obs_dim


def tiny_checkpoint(path: Path, history: int = 5, hidden=(32, 32), seed: int = 0, frame: int | None = None) -> Path:
    """An rsl-rl style checkpoint of a random actor with non-trivial normalizer statistics
    (``frame``: values per observation frame, default the paper's 76)."""
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    torch.manual_seed(seed)
    d = obs_dim(history) if frame is None else frame * history
    model = MLPModel(TensorDict({"actor": torch.zeros(1, d)}, batch_size=[1]), {"actor": ["actor"]}, "actor", 12,
                     hidden_dims=hidden, obs_normalization=True,
                     distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "scalar"})
    model.obs_normalizer.update(torch.randn(64, d) * 3 + 1)
    torch.save({"actor_state_dict": model.state_dict(), "critic_state_dict": {}, "iter": 0, "infos": None}, path)
    return path


def tiny_policy(tmp: Path, task: str = "lmo", history: int = 5) -> tuple[Path, Path]:
    ckpt = tiny_checkpoint(tmp / "model_0.pt", history)
    onnx = export_onnx(ckpt, tmp / f"{task}.onnx", policy_metadata(history, 0.25, task, 2))
    return ckpt, onnx
