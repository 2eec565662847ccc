#!/usr/bin/env python
"""The VLA server (GPU workstation side, ~10 Hz): ``python deploy/vla_server.py loopback``.

Answers the robot runner's latest observation with an arm chunk, u_t and the chosen latents over
ZeroMQ (protocol: ``deploy/PROTOCOL.md``). Presets: ``loopback`` (stand-in policy, 127.0.0.1) and
``lan`` (0.0.0.0, CURVE keys required). ``kill -USR1 <pid>`` latches an e-stop: from then on the
robot only receives e-stop messages. Ctrl-C / SIGTERM stop the server (the robot's watchdog then
stands it within 0.3 s).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import SERVER_PRESETS, ServerJob  # noqa: E402


def main(job: ServerJob) -> None:
    from wbvla.runtime.server import VLAServer

    logging.basicConfig(level=job.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = VLAServer(job.config).start()
    signal.signal(signal.SIGUSR1, lambda *_: server.estop("SIGUSR1 on the server"))
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        main(tyro.extras.overridable_config_cli(SERVER_PRESETS))
    else:  # flags only: override the loopback preset (``--link.port 5800 --policy standin:box_loading``)
        default = SERVER_PRESETS["loopback"][1]
        main(ServerJob(tyro.cli(type(default.config), default=default.config), default.log_level))
