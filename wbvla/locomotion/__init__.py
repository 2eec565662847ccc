"""Locomotion backends behind one interface (:class:`~wbvla.locomotion.base.LocomotionBackend`):
the physics LMO, the velocity-tracking baseline, and the labelled kinematic "ideal base".

    backend = make_backend("ideal_base")          # or "lmo", "velocity_rl"
    backend.reset(scene.model, scene.data, scene.robot)
    backend.step(scene.data, u_t, arm_targets, grippers)   # one 50 Hz control period
"""

from __future__ import annotations

from pathlib import Path

from wbvla.control.policy_contract import CommandKind
from wbvla.lmo.config import CommandConfig
from wbvla.locomotion.base import BACKENDS, LABELS, LocomotionBackend, is_fallen
from wbvla.locomotion.ideal_base import IdealBase, IdealBaseConfig
from wbvla.locomotion.physics import PhysicsLMO, VelocityRL
from wbvla.locomotion.reference import VelocityReference
from wbvla.validation import one_of

__all__ = [
    "BACKENDS", "LABELS", "IdealBase", "IdealBaseConfig", "LocomotionBackend", "PhysicsLMO",
    "VelocityRL", "VelocityReference", "is_fallen", "make_backend",
]


def make_backend(name: str, *, onnx_path: str | Path | None = None, command: CommandConfig | None = None,
                 command_kind: CommandKind | None = None, threads: int = 1) -> LocomotionBackend:
    """Build a backend by name (one of :data:`BACKENDS`).

    Args:
        name: ``lmo`` (physics LMO), ``velocity_rl`` (velocity baseline) or ``ideal_base``.
        onnx_path: the policy of a physics backend; defaults to the shipped ``data/lmo`` ONNX.
        command: Eq. 2 parameters of the ideal base (default ``CommandConfig()``).
        command_kind: what the ideal base is fed (``flags``, the default, or ``velocity``); the
            physics backends have a fixed kind (lmo: flags, velocity_rl: velocity).
        threads: onnxruntime intra-op threads of a physics backend.
    """
    one_of("locomotion backend", name, BACKENDS)
    if name == "ideal_base":
        if onnx_path is not None:
            raise ValueError("the ideal base runs no policy; do not pass onnx_path")
        return IdealBase(IdealBaseConfig(command=command or CommandConfig()), command_kind=command_kind or "flags")
    cls = PhysicsLMO if name == "lmo" else VelocityRL
    if command_kind not in (None, cls.command_kind):
        raise ValueError(f"the {name} backend takes {cls.command_kind!r} commands, got command_kind={command_kind!r}")
    return cls(onnx_path, threads=threads)
