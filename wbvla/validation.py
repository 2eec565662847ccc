"""Validation of the typed config dataclasses' fields (was ``wbvla/config.py``).

Every config in wbvla is a dataclass whose ``__post_init__`` calls these, so a bad value fails
at construction with a message that names the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


def positive(name: str, value: float, allow_zero: bool = False) -> None:
    """``value`` must be a finite number > 0 (or >= 0 with ``allow_zero``)."""
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    require(ok, f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def in_range(name: str, value: float, lo: float, hi: float) -> None:
    """``lo <= value <= hi``."""
    ok = isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi
    require(ok, f"{name} must be in [{lo}, {hi}], got {value!r}")


def one_of(name: str, value: Any, choices: Iterable[Any]) -> None:
    """``value`` must be one of ``choices``."""
    choices = tuple(choices)
    require(value in choices, f"{name} must be one of {choices}, got {value!r}")
