"""How far the physics LMO moves for a flag held T seconds, then released (one axis at a time).

The scripted expert steers the LMO with discrete flags. On the kinematic ideal base a flag moves the
base exactly along Eq. 2's reference, so the expert may switch axes every tick; the physics LMO was
trained on one-axis segments of 2-6 s followed by a stop, and it falls under the expert's
multi-axis, every-0.6-s flag changes (issue 22). This measures what a one-axis pulse does, in plain
MuJoCo with the arms in the expert's raised pose: per axis, sign and pulse length, the displacement
along the axis once settled (m; rad for turning), the drift on the other axes, the time to settle and
the falls. The expert's ``navigation="pulses"`` mode reads the result (``--out``).

    python tools/lmo_pulse_response.py --trials 4 --out data/lmo/pulse_response.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from wbvla.io import write_json_atomic
from wbvla.lmo.evaluation import _Sim
from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.paths import data_dir
from wbvla.sim.angles import wrap_angle
from wbvla.sim.robot import POLICY_DT
from wbvla.tasks.expert import raised_arms

AXES = ("forward", "lateral", "turning")


def pulse_trial(sim: _Sim, axis: int, sign: float, seconds: float, arms: np.ndarray, rng: np.random.Generator,
                preroll_s: float = 2.0, settle_s: float = 3.0, still_speed: float = 0.05) -> dict:
    """One pulse: stand ``preroll_s`` with ``arms``, hold the flag ``seconds``, release, stand ``settle_s``."""
    sim.reset(rng, 0.02)
    h = 0.655
    stand = np.array([0, 0, 0, h], np.float32)
    go = stand.copy()
    go[axis] = sign
    for _ in range(round(preroll_s / POLICY_DT)):
        sim.ctrl.step(sim.data, stand, arms)
        if sim.fallen():
            return {"fell": True}
    p0, yaw0 = sim.pose()
    c, s = math.cos(yaw0), math.sin(yaw0)
    n_go, n_all = round(seconds / POLICY_DT), round((seconds + settle_s) / POLICY_DT)
    settled_at, last = None, (p0, yaw0)
    for k in range(n_all):
        sim.ctrl.step(sim.data, go if k < n_go else stand, arms)
        if sim.fallen():
            return {"fell": True}
        p, yaw = sim.pose()
        speed = np.linalg.norm(p - last[0]) / POLICY_DT
        rate = abs(wrap_angle(yaw - last[1])) / POLICY_DT
        last = (p, yaw)
        if k >= n_go and settled_at is None and speed < still_speed and rate < still_speed:
            settled_at = (k + 1 - n_go) * POLICY_DT
        elif speed >= still_speed or rate >= still_speed:
            settled_at = None if k >= n_go else settled_at
    d = p - p0
    moved = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], wrap_angle(yaw - yaw0)])  # start frame
    return {"fell": False, "along": float(sign * moved[axis]), "off_axis": [float(moved[a]) for a in range(3) if a != axis],
            "settle_s": settled_at}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", type=Path, default=data_dir() / "lmo" / "lmo.onnx")
    p.add_argument("--pulses", type=float, nargs="+", default=[0.3, 0.6, 1.0, 2.0], help="pulse lengths (s)")
    p.add_argument("--trials", type=int, default=4, help="trials per axis, sign and pulse")
    p.add_argument("--arms", choices=("raised", "default"), default="raised",
                   help="arm pose held throughout: the expert's raised_arms() or the default pose")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    sim, rng = _Sim(LMOPolicy(a.onnx)), np.random.default_rng(a.seed)
    arms = raised_arms() if a.arms == "raised" else sim.arm_default
    rows = []
    for axis, name in enumerate(AXES):
        for sign in (1.0, -1.0):
            for seconds in a.pulses:
                runs = [pulse_trial(sim, axis, sign, seconds, arms, rng) for _ in range(a.trials)]
                ok = [r for r in runs if not r["fell"]]
                along = [r["along"] for r in ok]
                row = {"axis": name, "sign": sign, "pulse_s": seconds, "trials": len(runs), "falls": len(runs) - len(ok),
                       "along_mean": float(np.mean(along)) if ok else None, "along_std": float(np.std(along)) if ok else None,
                       "off_axis_max": float(np.max(np.abs([r["off_axis"] for r in ok]))) if ok else None,
                       "unsettled": sum(r["settle_s"] is None for r in ok)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if a.out is not None:
        write_json_atomic(a.out, {"onnx": str(a.onnx), "arms": a.arms, "rows": rows})


if __name__ == "__main__":
    main()
