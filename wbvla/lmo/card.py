"""The LMO's robot-side interface, complete enough to write the observation builder from it alone.

:func:`interface_spec` gathers, from the code that defines them (joint table, observation layout,
action mapping, gait clock, physics settings), everything a robot engineer needs to run an exported
LMO: what goes in (terms, units, frames, joint order and defaults, history layout, the clock), what
comes out (joint order, scales, the default pose and reference gait it is added to, clipping), and
the timing (50 Hz policy over 200 Hz PD, gains, the lags the policy was trained to tolerate). It is
written into the ONNX metadata (``interface``), the model card JSON and, rendered, ``model_card.md``.
``tests/unit/test_lmo_card.py`` builds an observation from the spec alone and matches the project's
builder.
"""

from __future__ import annotations

from wbvla.lmo.config import SOLVER_ITERATIONS, SOLVER_LS_ITERATIONS, CommandConfig, HeightConfig
from wbvla.lmo.dr_config import DomainRandConfig
from wbvla.lmo.gait import STANCE_TABLE
from wbvla.lmo.lever_config import GAIT_TERM
from wbvla.lmo.proprio import NOISE, OBS_JOINTS, OBS_TERMS
from wbvla.sim.joints import JOINTS, joint_names
from wbvla.sim.robot import DECIMATION, PHYSICS_DT, POLICY_DT

TERM_DOCS = {
    "command": "u_t = [s_x, s_y, s_yaw, h*] as sent: flags in {-1, 0, 1} (+1: forward / left / counter-clockwise at the "
               "cruise speed), h* the pelvis height above the soles (m)",
    "base_ang_vel": "pelvis angular velocity (rad/s) in the pelvis frame (x forward, y left, z up): the gyro",
    "projected_gravity": "unit gravity direction in the pelvis frame, R^T (0, 0, -1) with R the pelvis-to-world "
                         "rotation ((0, 0, -1) when upright)",
    "joint_pos": "q - q_default (rad) of the observed joints, in `observed_joints` order",
    "joint_vel": "qdot (rad/s) of the observed joints, same order",
    "last_action": "the raw policy output of the previous step (12, before scaling); zeros after a reset",
    "gait_phase": "(sin 2 pi phi, cos 2 pi phi) of the gait clock (see `gait_clock`)",
}


def interface_spec(history: int, action_scale: list[float], levers: dict | None = None, dr_rows: str = "table5") -> dict:
    """The interface of one exported policy (JSON-ready). ``levers``: a CPU run's LeverConfig dict;
    ``dr_rows``: the Table 5 rows it trained with (``table5``, ``sensors``: no action lag, ``none``)."""
    gait = bool(levers and levers.get("gait_clock"))
    terms = list(OBS_TERMS) + ([GAIT_TERM] if gait else [])
    table = {j.name: j for j in JOINTS}
    legs = joint_names("legs")
    dr = DomainRandConfig()
    spec = {
        "timing": {"policy_dt_s": POLICY_DT, "physics_dt_s": PHYSICS_DT, "decimation": DECIMATION,
                   "pd_law": "tau = clip(kp (target - q) - kd qdot, -effort, effort), every physics step",
                   "simulator": f"MuJoCo implicitfast integrator, {SOLVER_ITERATIONS} solver iterations, "
                                f"{SOLVER_LS_ITERATIONS} line-search iterations"},
        "command": {"layout": "[s_x, s_y, s_yaw, h*]", "cruise": list(CommandConfig().cruise),
                    "cruise_units": "m/s, m/s, rad/s per flag of 1",
                    "height_range_m": list(HeightConfig().height_range), "nominal_height_m": HeightConfig().nominal_height},
        "observation": {
            "terms": [{"name": n, "size": d, "meaning": TERM_DOCS[n]} for n, d in terms],
            "history": history,
            "layout": "term-major: [term1 frames t-H+1..t, term2 frames t-H+1..t, ...], oldest frame first; on the first "
                      "step after a reset every frame of the history is that step's frame",
            "size": history * sum(d for _, d in terms),
            "observed_joints": [{"name": n, "default": table[n].default} for n in OBS_JOINTS],
            "sensor_lags_trained_physics_steps": {
                "joint_state": list(dr.dof_lag) if dr_rows != "none" else [0, 0],
                "imu": list(dr.imu_lag) if dr_rows != "none" else [0, 0],
                "action": list(dr.action_lag) if dr_rows == "table5" else [0, 0]},
            "training_noise_half_width": dict(NOISE),
        },
        "action": {
            "joints": [{"name": n, "default": table[n].default, "lower": table[n].lower, "upper": table[n].upper,
                        "scale": s, "kp": table[n].kp, "kd": table[n].kd, "effort": table[n].effort_limit}
                       for n, s in zip(legs, action_scale, strict=True)],
            "mapping": "target_i = clip(default_i + r_i(phi) + scale_i a_i, lower_i, upper_i); r = 0 without a reference gait",
            "other_joints": "waist held at its default; arms and grippers are driven by the caller (VLA or teleop), "
                            "with the gains of the joint table",
        },
    }
    if gait:
        spec["gait_clock"] = {
            "period_s": levers["gait_period_s"], "steps_per_period": round(levers["gait_period_s"] / POLICY_DT),
            "counter": "k = 0 at reset; at every policy step after the first, k <- k + 1 if any flag of the command "
                       "is non-zero, else k <- 0",
            "phase": "phi = (k mod steps_per_period) / steps_per_period",
            "swing": "s = sin 2 pi phi; left swing = s, right swing = -s, each set to 0 where below 0.1, and both 0 "
                     "while the flags are all zero",
        }
        if levers.get("reference_gait") == "sinusoid":
            spec["action"]["reference_gait"] = {
                "amplitude_rad": levers["reference_amplitude"],
                "r": "per leg with swing w: hip_pitch -A w, knee +2 A w, ankle_pitch -A w, other joints 0",
            }
    if levers and levers.get("stance_posture"):
        spec["action"]["mapping"] = spec["action"]["mapping"].replace(" + scale_i a_i", " + s_i(h*) + scale_i a_i")
        spec["action"]["stance_posture"] = {
            "s": "per leg: hip_pitch -a, knee +2a, ankle_pitch -a, other joints 0; a(h*) linear in the table (a, pelvis "
                 "height) of wbvla.lmo.gait.STANCE_TABLE, 0 at h* >= 0.655",
            "table": [list(r) for r in STANCE_TABLE],
        }
    return spec


def render_spec(spec: dict) -> list[str]:
    """Markdown lines of :func:`interface_spec` for the model card."""
    t, o, a = spec["timing"], spec["observation"], spec["action"]
    out = ["### Interface (what the robot side must do)", "",
           f"- timing: policy every {t['policy_dt_s']} s over {t['decimation']} physics steps of {t['physics_dt_s']} s; "
           f"{t['pd_law']}; {t['simulator']}",
           f"- command {spec['command']['layout']}: flag +-1 = {spec['command']['cruise']} "
           f"({spec['command']['cruise_units']}); h* in {spec['command']['height_range_m']} m, nominal "
           f"{spec['command']['nominal_height_m']} m",
           f"- observation ({o['size']} floats, history {o['history']}): {o['layout']}"]
    out += [f"  - `{term['name']}` ({term['size']}): {term['meaning']}" for term in o["terms"]]
    out.append("  - observed joints (name: default rad): " + ", ".join(f"{j['name']}: {j['default']:g}" for j in o["observed_joints"]))
    out.append(f"  - trained with sensor lags (physics steps) {o['sensor_lags_trained_physics_steps']}")
    out.append(f"- action: {a['mapping']}; {a['other_joints']}")
    out += [f"  - `{j['name']}`: default {j['default']:g}, range [{j['lower']:g}, {j['upper']:g}], scale {j['scale']:.4g} rad, "
            f"kp {j['kp']:g}, kd {j['kd']:g}, effort {j['effort']:g} N m" for j in a["joints"]]
    if "reference_gait" in a:
        r = a["reference_gait"]
        out.append(f"  - reference gait r(phi), A = {r['amplitude_rad']} rad: {r['r']}")
    if "stance_posture" in a:
        out.append(f"  - stance posture s(h*): {a['stance_posture']['s']}")
    if "gait_clock" in spec:
        g = spec["gait_clock"]
        out.append(f"- gait clock: period {g['period_s']} s ({g['steps_per_period']} steps); {g['counter']}; "
                   f"{g['phase']}; {g['swing']}")
    return out + [""]
