"""The one angle wrap (wbvla.sim.angles), for every type the project passes it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wbvla.sim.angles import wrap_angle


def test_wrap_angle_on_floats():
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(-3 * math.pi / 2) == pytest.approx(math.pi / 2)
    assert wrap_angle(-0.1) == pytest.approx(-0.1)
    assert wrap_angle(math.pi) == pytest.approx(-math.pi)  # [-pi, pi): +pi maps to -pi
    assert wrap_angle(7 * 2 * math.pi + 0.25) == pytest.approx(0.25)
    assert isinstance(wrap_angle(1.0), float)


def test_wrap_angle_on_arrays_and_tensors_matches_atan2():
    a = np.linspace(-20.0, 20.0, 401)
    want = np.arctan2(np.sin(a), np.cos(a))  # the same angle, in (-pi, pi]
    got = wrap_angle(a)
    assert got.shape == a.shape and np.all(got >= -math.pi) and np.all(got < math.pi)
    np.testing.assert_allclose(np.cos(got), np.cos(want), atol=1e-12)
    np.testing.assert_allclose(np.sin(got), np.sin(want), atol=1e-12)
    t = wrap_angle(torch.tensor(a, dtype=torch.float64))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), got, atol=1e-12)
    # across the seam: 3.1 -> -3.1 is a +0.083 rad step, not -6.2
    assert wrap_angle(-3.1 - 3.1) == pytest.approx(2 * math.pi - 6.2)
