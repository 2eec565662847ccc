"""Named configurations of the deployment scripts (``python deploy/robot_runner.py <preset> ...``).

Every field can be overridden on the command line (``--config.link.port 5800``); the dataclasses
and their documentation live in :mod:`wbvla.runtime.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wbvla.runtime.config import LinkConfig, RunnerConfig, ServerConfig, SimTwinConfig

KEYS = Path("~/.config/wbvla/deploy_keys")
"""Where ``wbvla deploy-keys`` puts the CURVE keys by default."""


@dataclass
class ServerJob:
    config: ServerConfig = field(default_factory=ServerConfig)
    """The server's settings."""
    log_level: str = "INFO"
    """Python logging level."""


@dataclass
class RunnerJob:
    config: RunnerConfig = field(default_factory=RunnerConfig)
    """The runner's settings."""
    duration_s: float | None = None
    """Stop after this long (s); None runs until Ctrl-C (first Ctrl-C: e-stop, second: exit)."""
    log_path: Path | None = None
    """If set, save the per-tick log and events here (``.npz``) on exit."""
    log_level: str = "INFO"
    """Python logging level."""


SERVER_PRESETS = {
    "loopback": ("127.0.0.1 (plaintext; for the sim twin on this machine); the shipped VLA (data/vla/tutorial) "
                 "if present, else the labelled stand-in.", ServerJob(ServerConfig(policy="auto"))),
    "lan": ("Listen on every interface with CURVE (keys from `wbvla deploy-keys`); set --config.policy to a "
            "VLA checkpoint.", ServerJob(ServerConfig(link=LinkConfig(host="0.0.0.0", curve_dir=KEYS)))),
}

RUNNER_PRESETS = {
    "sim-ideal-base": ("The MuJoCo twin with the labelled kinematic ideal base, loopback server.",
                       RunnerJob(RunnerConfig(sim=SimTwinConfig(locomotion="ideal_base")))),
    "sim-lmo": ("The physics twin driven by data/lmo/lmo.onnx (today's LMO falls within seconds).",
                RunnerJob(RunnerConfig(sim=SimTwinConfig(locomotion="lmo")))),
    "x2": ("The real X2 through the AgiBot SDK seam; server on the LAN with CURVE. Set --config.link.host.",
           RunnerJob(RunnerConfig(backend="x2", robot_id="x2", link=LinkConfig(host="192.168.1.10", curve_dir=KEYS)))),
}
