"""Angles: one wrap to [-pi, pi), for floats, numpy arrays and torch tensors alike."""

from __future__ import annotations

import math


def wrap_angle(a):
    """``a`` wrapped to [-pi, pi) (rad): a float for a float, an array for a numpy array or a torch
    tensor (``%`` is the floor modulo in Python, numpy and torch, so the result never leaves the
    interval; -pi and pi both map to -pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi
