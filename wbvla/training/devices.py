"""Device names, one mapping: what a training config may say and what Lightning and torch get.

Light (no torch at import): every training config validates its ``device`` field against
:data:`DEVICES`, and the CLI builds configs before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wbvla.validation import one_of, require

DeviceName = Literal["auto", "cpu", "gpu", "cuda"]
"""A config's ``device``: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, or
``gpu`` (``cuda`` is the same, the name torch and mjlab use)."""
DEVICES: tuple[str, ...] = ("auto", "cpu", "gpu", "cuda")


@dataclass(frozen=True)
class Device:
    """A resolved device."""

    accelerator: str
    """Lightning's name: ``cpu`` or ``gpu``."""
    torch: str
    """torch's (and mjlab's / rsl-rl's) name: ``cpu`` or ``cuda:0``."""


def check_device(name: str) -> None:
    """``name`` must be one of :data:`DEVICES` (raises ValueError naming it)."""
    one_of("device", name, DEVICES)


def resolve_device(name: str) -> Device:
    """The device ``name`` means on this machine; a GPU that torch cannot see is a clear error."""
    check_device(name)
    import torch  # only when a job starts (configs import this module for DEVICES)

    if name in ("gpu", "cuda") or (name == "auto" and torch.cuda.is_available()):
        require(torch.cuda.is_available(), f"device={name!r} but torch sees no CUDA device")
        return Device("gpu", "cuda:0")
    return Device("cpu", "cpu")


def set_threads(threads: int | None) -> None:
    """torch's CPU threads from a config's ``threads`` (None leaves torch's default). 1 is the
    configs' default: on a shared 2-core machine one thread is the fastest."""
    require(threads is None or (isinstance(threads, int) and not isinstance(threads, bool) and threads > 0),
            f"threads must be None or an int > 0, got {threads!r}")
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
