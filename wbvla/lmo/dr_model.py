"""Table 5's model-field rows as math on the nominal fields, shared by both training engines.

Friction, restitution, link mass scale, torso CoM ("COM displacement"), pelvis CoM ("body
displacement"), torso and hand payloads and the Kp / Kd scales live in the MuJoCo model. Each env
draws one uniform number u in [0, 1) per randomized quantity (:func:`draw_model_u`); the value it
gets is u's point of the row's range (:func:`model_fields`, for a config already at its DR level,
:meth:`~wbvla.lmo.dr_config.DomainRandConfig.at_level`), always computed from the compiled defaults
so repeated writes never accumulate. mjlab's :class:`~wbvla.lmo.events.ModelRandomization` writes
the result into its batched model; the CPU engine (:mod:`wbvla.lmo.cpu.env`) into each env's own
``MjModel``. torch only (no mjlab), any float dtype.
"""

from __future__ import annotations

import math

import torch

from wbvla.lmo.dr_config import DomainRandConfig

MODEL_ROWS: tuple[str, ...] = ("friction", "restitution", "link_mass_scale", "torso_payload", "hand_payload",
                               "com_displacement", "body_displacement", "kp_scale", "kd_scale")
"""The Table 5 rows written into the model (names of :class:`~wbvla.lmo.dr_config.DomainRandConfig`)."""


def restitution_to_damping_ratio(e: torch.Tensor, min_ratio: float) -> torch.Tensor:
    """Damping ratio of a spring-damper contact whose coefficient of restitution is ``e``.

    For an underdamped oscillator e = exp(-zeta pi / sqrt(1 - zeta^2)), hence
    zeta = -ln e / sqrt(pi^2 + ln^2 e); e = 0 gives zeta = 1 (MuJoCo's default critical damping).
    Floored at ``min_ratio`` (:attr:`DomainRandConfig.min_damping_ratio` says why).
    """
    log_e = torch.log(e.clamp_min(1e-12))
    zeta = -log_e / torch.sqrt(math.pi**2 + log_e**2)
    zeta = torch.where(e <= 0, torch.ones_like(zeta), zeta)  # the limit e -> 0
    return zeta.clamp(min_ratio, 1.0)


def draw_model_u(num_envs: int, num_bodies: int, num_hands: int, num_actuators: int, device="cpu",
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One uniform draw in [0, 1) per env and randomized quantity: friction and restitution are
    shared by both feet (n,), the link mass scale is per body (n, B), the hand payload per hand,
    the displacements per axis (n, 3), the PD scales per actuator (n, A)."""
    shapes = {"friction": (num_envs,), "restitution": (num_envs,), "link_mass_scale": (num_envs, num_bodies),
              "torso_payload": (num_envs,), "hand_payload": (num_envs, num_hands), "com_displacement": (num_envs, 3),
              "body_displacement": (num_envs, 3), "kp_scale": (num_envs, num_actuators),
              "kd_scale": (num_envs, num_actuators)}
    assert tuple(shapes) == MODEL_ROWS
    return {k: torch.rand(*s, device=device, generator=generator) for k, s in shapes.items()}


def model_fields(dr: DomainRandConfig, u: dict[str, torch.Tensor], body_mass: torch.Tensor,
                 body_inertia: torch.Tensor, body_ipos: torch.Tensor, gain: torch.Tensor, bias_p: torch.Tensor,
                 bias_d: torch.Tensor, torso: int, base: int, hands: list[int] | tuple[int, ...]) -> dict[str, torch.Tensor]:
    """The randomized model fields of n envs from their draws ``u`` (:func:`draw_model_u`).

    ``dr``: the Table 5 config at the DR level to apply (``DomainRandConfig.at_level(level)``);
    nominal fields of the robot's B bodies: ``body_mass`` (B,), ``body_inertia`` (B, 3),
    ``body_ipos`` (B, 3); of its A PD actuators: ``gain`` (A,) (actuator_gainprm[:, 0] = kp),
    ``bias_p`` (A,) (actuator_biasprm[:, 1] = -kp) and ``bias_d`` (A,) (actuator_biasprm[:, 2] =
    -kd); ``torso``, ``base``, ``hands``: indices into the B bodies.

    Returns ``friction`` and ``damping_ratio`` (n,) of the foot geoms (solref[1]), ``body_mass``
    (n, B), ``body_inertia`` (n, B, 3) (scaled with the mass; payloads add mass only, each body
    keeps at least 0.1 of its nominal mass), ``body_ipos`` (n, B, 3), and ``gain``, ``bias_p``
    (scaled by the Kp draw) and ``bias_d`` (by the Kd draw) (n, A).
    At the neutral values (DR level 0) every field equals its nominal value exactly.
    """

    def value(key: str) -> torch.Tensor:
        lo, hi = getattr(dr, key)
        return lo + (hi - lo) * u[key]

    n = u["friction"].shape[0]
    scale = value("link_mass_scale")  # (n, B)
    mass, inertia = body_mass[None] * scale, body_inertia[None] * scale[..., None]
    ipos = body_ipos[None].repeat(n, 1, 1)
    mass[:, torso] = (mass[:, torso] + value("torso_payload")).clamp_min(0.1 * body_mass[torso])
    payload = value("hand_payload")
    for k, h in enumerate(hands):
        mass[:, h] = (mass[:, h] + payload[:, k]).clamp_min(0.1 * body_mass[h])
    ipos[:, torso] += value("com_displacement")
    ipos[:, base] += value("body_displacement")
    kp = value("kp_scale")
    return {"friction": value("friction"),
            "damping_ratio": restitution_to_damping_ratio(value("restitution"), dr.min_damping_ratio),
            "body_mass": mass, "body_inertia": inertia, "body_ipos": ipos,
            "gain": gain[None] * kp, "bias_p": bias_p[None] * kp, "bias_d": bias_d[None] * value("kd_scale")}
