"""Open-loop arm accuracy where the grasp needs it: the hand position error per expert phase.

An arm L1 averaged over every held-out frame hides the frames that matter: a grasp works only when
both hands reach the bar within ~1.5-2 cm (issue 20), and most frames are walking or holding. Here
the predicted and the expert's arm targets (14 joints, the chunk's **first row**, the target the
robot is sent now) both go through the X2's forward kinematics
(:meth:`wbvla.sim.kinematics.ArmKinematics.tcp_positions`: the hands' TCP sites in the base frame,
waist and legs at the default pose, joints clipped to their ranges as the robot's target clamps
do), and the error of a hand is the distance between its two TCP positions:

    e_hand = || FK_hand(q_pred) - FK_hand(q_expert) ||_2     (m, per hand)
    e      = max(e_left, e_right)                             (the worse hand decides the grasp)

Both arms hang from the same torso, so the distance is the one the hands would have on the robot
(for the same body pose). :func:`phase_report` groups the frames by the expert's phase
(:data:`wbvla.data.teleop_schema.EXPERT_PHASES`, ``none`` for frames without one) and reports, per
phase, the frame count, the median and 90th percentile of ``e`` (cm), the median of each hand (cm)
and the mean arm L1 (rad, row 0 and the whole chunk); the headline is the median at pre-grasp and
grasp (goal <= 2 cm).
"""

from __future__ import annotations

import numpy as np

from wbvla.data import teleop_schema as ts
from wbvla.sim.kinematics import ArmKinematics

HEADLINE_PHASES: tuple[str, ...] = ("pregrasp", "grasp")
"""The phases of the headline ``hand_error_cm``: where the hands go to the bar."""

_KINEMATICS: list[ArmKinematics] = []


def arm_kinematics() -> ArmKinematics:
    """One FK model per process (parsing the MJCF takes longer than thousands of FK calls); also
    the Stage III localization target's (:mod:`wbvla.vla.localization`)."""
    if not _KINEMATICS:
        _KINEMATICS.append(ArmKinematics())
    return _KINEMATICS[0]


def hand_error_m(pred_arms: np.ndarray, true_arms: np.ndarray) -> np.ndarray:
    """Per-frame hand position error (m) of predicted vs expert arm targets: (N, 14) each -> (N, 2)
    (left, right), the distance of each hand's TCP under the two joint vectors.

    Raises:
        ValueError: shapes that differ or are not (N, 14), or non-finite values.
    """
    pred, true = np.asarray(pred_arms, np.float64), np.asarray(true_arms, np.float64)
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 14:
        raise ValueError(f"hand_error_m needs two (N, 14) arm-target arrays, got {pred.shape} and {true.shape}")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(true))):
        raise ValueError("hand_error_m: arm targets have non-finite values")
    fk = arm_kinematics()
    return np.linalg.norm(fk.tcp_positions(pred) - fk.tcp_positions(true), axis=-1)  # (N, 2)


def _group(hand_err: np.ndarray, l1_now: np.ndarray, l1_chunk: np.ndarray, sel: np.ndarray) -> dict:
    worst = hand_err[sel].max(axis=1) * 100.0  # (n,) cm
    return {"frames": int(sel.sum()),
            "hand_error_cm_median": float(np.median(worst)), "hand_error_cm_p90": float(np.percentile(worst, 90)),
            "hand_error_cm_median_left": float(np.median(hand_err[sel, 0]) * 100.0),
            "hand_error_cm_median_right": float(np.median(hand_err[sel, 1]) * 100.0),
            "arm_l1_rad_now": float(l1_now[sel].mean()), "arm_l1_rad": float(l1_chunk[sel].mean())}


def phase_report(pred_arm: np.ndarray, true_arm: np.ndarray, phase: np.ndarray,
                 hand_err: np.ndarray | None = None) -> dict:
    """Per-phase open-loop arm metrics of predicted arm chunks (see the module docstring).

    Args:
        pred_arm, true_arm: (N, H, 14) predicted and expert arm-target chunks (rad).
        phase: (N,) the expert's phase per frame (:data:`~wbvla.data.teleop_schema.PHASE_KEY` values).
        hand_err: (N, 2) :func:`hand_error_m` of the chunks' first rows, if already computed.

    Returns:
        ``per_phase``: {phase name: {frames, hand_error_cm_median, hand_error_cm_p90,
        hand_error_cm_median_left / _right, arm_l1_rad_now (row 0), arm_l1_rad (chunk)}} in
        vocabulary order (``none`` last), ``all`` the same over every frame, ``hand_error_cm``
        {headline phase: median or None}, and the scalars ``hand_error_cm_<phase>``.
    """
    pred_arm, true_arm = np.asarray(pred_arm, np.float64), np.asarray(true_arm, np.float64)
    phase = np.asarray(phase, np.int64).reshape(-1)
    if pred_arm.shape != true_arm.shape or pred_arm.ndim != 3 or pred_arm.shape[2] != 14 or len(phase) != len(pred_arm):
        raise ValueError(f"phase_report needs (N, H, 14) chunks and (N,) phases, got {pred_arm.shape}, "
                         f"{true_arm.shape}, {phase.shape}")
    if hand_err is None:
        hand_err = hand_error_m(pred_arm[:, 0], true_arm[:, 0])
    hand_err = np.asarray(hand_err, np.float64)
    if hand_err.shape != (len(phase), 2):
        raise ValueError(f"hand_err must be ({len(phase)}, 2), got {hand_err.shape}")
    l1_now = np.abs(pred_arm[:, 0] - true_arm[:, 0]).mean(axis=1)  # (N,)
    l1_chunk = np.abs(pred_arm - true_arm).mean(axis=(1, 2))  # (N,)
    present = set(np.unique(phase).tolist())
    order = [i for i in range(len(ts.EXPERT_PHASES)) if i in present] + ([ts.NO_PHASE] if ts.NO_PHASE in present else [])
    per_phase = {ts.phase_name(i): _group(hand_err, l1_now, l1_chunk, phase == i) for i in order}
    out = {"per_phase": per_phase,
           "all": _group(hand_err, l1_now, l1_chunk, np.ones(len(phase), bool)) if len(phase) else None,
           "hand_error_cm": {p: per_phase[p]["hand_error_cm_median"] if p in per_phase else None for p in HEADLINE_PHASES}}
    out.update({f"hand_error_cm_{p}": v for p, v in out["hand_error_cm"].items()})
    return out


def phase_table(report: dict):
    """:func:`phase_report` -> a pandas DataFrame, one row per phase (and ``all``), rounded for printing."""
    import pandas as pd

    rows = {**report["per_phase"], **({"all": report["all"]} if report.get("all") else {})}
    return pd.DataFrame(rows).T.astype({"frames": int}).round(3)
