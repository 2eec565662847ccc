#!/usr/bin/env python
"""The 50 Hz robot runner (robot's computer): ``python deploy/robot_runner.py sim-ideal-base``.

Owns the control loop: reads the robot (``sim`` twin or ``x2``) and runs the control tick of
``wbvla.control`` on wall time (the LMO, the VLA server's commands through the watchdog, every
target clamped and rate-limited; the same tick the task suite runs on a simulated clock).
Presets: ``sim-ideal-base``, ``sim-lmo``, ``x2``. First Ctrl-C or ``kill -USR1``: e-stop (latched;
the robot stands and keeps balancing). Second Ctrl-C or SIGTERM: exit (on hardware the SDK's own
damping mode takes over; do this with the robot on its gantry).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import RUNNER_PRESETS, RunnerJob  # noqa: E402


def main(job: RunnerJob) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from wbvla.runtime.analysis import loop_timing
    from wbvla.runtime.runner import build_runner, save_log

    logging.basicConfig(level=job.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("robot_runner")
    runner = build_runner(job.config)
    stop = threading.Event()

    def on_sigint(*_):
        if runner.sup.mode != "estop":
            runner.estop("Ctrl-C")
            log.warning("E-stop latched; press Ctrl-C again to exit")
        else:
            stop.set()

    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGUSR1, lambda *_: runner.estop("SIGUSR1"))
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run(job.duration_s, stop=stop)
    finally:
        timing = loop_timing(runner.log.arrays(), job.config.period_s)
        log.info("ticks %d, missed deadlines %d, period %s ms, accepted %d, rejected %s", runner.log.n,
                 runner.missed_deadlines, {k: round(v, 3) for k, v in timing["period_ms"].items()}, runner.accepted,
                 dict(runner.rejected))
        if job.log_path:
            save_log(runner, job.log_path)
        runner.close()


if __name__ == "__main__":
    main(tyro.extras.overridable_config_cli(RUNNER_PRESETS))
