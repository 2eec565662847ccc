"""The pure functions of the LMO's reference shaping (Eq. 2) and heading drift (Eq. 3).

Torch only (no mjlab), so the mjlab command terms (:mod:`wbvla.lmo.commands`), the plain-MuJoCo
evaluation and the kinematic "ideal base" of :mod:`wbvla.locomotion` share one implementation.
All functions work on batched tensors and are tested against hand-computed values.
"""

from __future__ import annotations

import math

import torch

from wbvla.lmo.config import REFERENCE_FORMS
from wbvla.sim.angles import wrap_angle


# --- Eq. 2: reference shaping -------------------------------------------------------------------
def smooth_flags(s_bar: torch.Tensor, s: torch.Tensor, lam: float) -> torch.Tensor:
    """One step of the flag smoother of Eq. 2, for (..., 3) tensors."""
    # Eq. 2:  s_bar_k(t) <- (1 - lambda) s_bar_k(t-1) + lambda s_k
    return (1.0 - lam) * s_bar + lam * s


def reference_as_printed(s: torch.Tensor, s_bar: torch.Tensor, v_goal: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 2 exactly as printed. Note: it decays to 0 while a flag is held (s_bar -> s)."""
    # Eq. 2:  v_ref_k(t) = v_goal_k tanh(alpha (s_k - s_bar_k(t)))
    return v_goal * torch.tanh(alpha * (s - s_bar))


def reference_gated(s_bar: torch.Tensor, v_goal: torch.Tensor, alpha: float) -> torch.Tensor:
    """The "soft gate" of App. A.2: the smoothed flag through a tanh, scaled by the goal speed."""
    # App. A.2 soft gate:  v_ref_k(t) = v_goal_k sigma(alpha s_bar_k(t)),  sigma = tanh
    return v_goal * torch.tanh(alpha * s_bar)


def reference_symmetric(s_bar: torch.Tensor, v_goal: torch.Tensor, alpha: float) -> torch.Tensor:
    """The soft gate with a point-symmetric saturating gate, applied to |s_bar| with s_bar's sign:
    v_goal sign(s_bar) g(|s_bar|), g(x) = 1/2 + tanh(alpha (x - 1/2)) / (2 tanh(alpha / 2)).

    g(0) = 0, g(1) = 1 and g(1 - x) = 1 - g(x). After a flag is released s_bar decays as
    (1 - lambda)^k = 1 - (its rise after the flip), so the distance a perfect tracker loses while
    the reference ramps up is exactly the distance it gains while it ramps down: its net
    displacement equals that of the step command v_goal over the time the flag was held (the
    reference App. B.4 integrates)."""
    # App. A.2 soft gate, sigma = point-symmetric tanh:  v_ref_k = v_goal_k sign(s_bar_k) g(|s_bar_k|)
    x = s_bar.abs()
    g = 0.5 + 0.5 * torch.tanh(alpha * (x - 0.5)) / math.tanh(alpha / 2.0)
    return v_goal * torch.sign(s_bar) * g


def reference_velocity(
    s: torch.Tensor, s_bar: torch.Tensor, v_goal: torch.Tensor, alpha: float, form: str
) -> torch.Tensor:
    """v_ref (..., 3) from flags s, smoothed flags s_bar and goal speed magnitudes v_goal >= 0."""
    if form == "symmetric":
        return reference_symmetric(s_bar, v_goal, alpha)
    if form == "gated":
        return reference_gated(s_bar, v_goal, alpha)
    if form == "as_printed":
        return reference_as_printed(s, s_bar, v_goal, alpha)
    raise ValueError(f"unknown reference form {form!r}; choose one of {REFERENCE_FORMS}")


# --- Eq. 3: heading drift of a flag episode ------------------------------------------------------
def heading_drift(psi_start: torch.Tensor, psi_end: torch.Tensor, intended: torch.Tensor | float = 0.0) -> torch.Tensor:
    """J_dir of Eq. 3. ``intended`` is the yaw the shaped reference asked for during the episode
    (0 when s_yaw stayed 0, which gives Eq. 3 exactly; for turning episodes it is the integral
    of v_ref_yaw, so a commanded turn is not counted as drift)."""
    # Eq. 3:  J_dir = | wrap(psi_end - psi_start) |
    return torch.abs(wrap_angle(psi_end - psi_start - intended))
