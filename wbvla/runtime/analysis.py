"""Numbers from the runner's own log: loop timing, latency, and the watchdog's reaction time.

Everything here reads :meth:`wbvla.runtime.runner.TickLog.arrays` and the runner's event list,
so the figures in ``figures/11_deployment.json`` come from what the loop itself recorded.
"""

from __future__ import annotations

import numpy as np

from wbvla.control.tick import MODES, STAND_MODES

STAND_CODES = np.array([MODES.index(m) for m in STAND_MODES])


def percentiles(x, qs=(50, 99)) -> dict:
    """``{"p50": .., "p99": .., "max": .., "n": ..}`` of ``x`` (NaNs when empty)."""
    x = np.asarray(x, np.float64)
    if not x.size:
        return {**{f"p{q}": float("nan") for q in qs}, "max": float("nan"), "n": 0}
    return {**{f"p{q}": float(np.percentile(x, q)) for q in qs}, "max": float(x.max()), "n": int(x.size)}


def loop_timing(log: dict, period_s: float) -> dict:
    """Tick period, wake-up lateness after the deadline and period jitter |period - nominal| (ms),
    and the same for the moments the targets reached the backend (``write_*``: wake-up + tick work).

    Ticks follow absolute deadlines: the period between two wake-ups is nominal plus the
    difference of their lateness. Gaps where whole periods were skipped are excluded from the
    period statistics (they are counted in ``missed_deadlines`` by the runner).
    """
    wake = log["wake_ns"].astype(np.int64)
    dl = log["deadline_ns"].astype(np.int64)
    nominal = period_s * 1e3
    consecutive = np.diff(dl) == round(period_s * 1e9)
    period = np.diff(wake)[consecutive] / 1e6
    late = (wake - dl) / 1e6
    work = (log["written_ns"] - wake) / 1e6
    written = np.diff(log["written_ns"].astype(np.int64))[consecutive] / 1e6
    return {"period_ms": percentiles(period), "jitter_ms": percentiles(np.abs(period - nominal)),
            "lateness_ms": percentiles(late), "tick_work_ms": percentiles(work),
            "write_period_ms": percentiles(written), "write_jitter_ms": percentiles(np.abs(written - nominal)),
            "nominal_ms": nominal}


def stand_latencies(log: dict, fault_ns: list[int]) -> list[dict]:
    """For each fault injected at ``fault_ns``: the last valid command before the robot stood,
    the first tick whose written target is the stand state, and the time between them.

    The stand state: the tick's mode is hold/safe/estop and its u_t has all locomotion components
    0 (see :mod:`wbvla.control.tick`). Latency = when that target was written minus when the
    last accepted command was received (both on the runner's clock).
    """
    written = log["written_ns"].astype(np.int64)
    stand = np.isin(log["mode"], STAND_CODES) & np.all(log["u"][:, :3] == 0.0, axis=1)
    out = []
    for t_f in fault_ns:
        after = np.flatnonzero((written >= t_f) & stand)
        if not after.size:
            out.append({"fault_ns": t_f, "stood": False, "latency_ms": float("nan")})
            continue
        i = after[0]
        t_valid = int(log["valid_ns"][i])
        out.append({"fault_ns": t_f, "stood": True, "stand_tick": int(i),
                    "latency_ms": (written[i] - t_valid) / 1e6 if t_valid else float("nan"),
                    "fault_to_stand_ms": (written[i] - t_f) / 1e6})
    return out


def mode_timeline(log: dict) -> list[tuple[int, str]]:
    """(tick index, mode) at every mode change."""
    m = log["mode"]
    idx = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    return [(int(i), MODES[int(m[i])]) for i in idx]
