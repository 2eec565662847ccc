"""Typed configs of the deployment: the ZeroMQ link and its security, the server, the robot
runner and the simulated twin. The same dataclasses drive ``deploy/`` (tyro), the CLI, the tests
and notebook 11. The safety limits (:class:`~wbvla.control.config.SafetyConfig`) are the control
tick's, shared with the suite's runner.

Units: seconds, radians (joints), metres (grippers, heights), rad/s and m/s (rates).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path

from wbvla.control.config import ExecutionConfig, SafetyConfig
from wbvla.control.policy_contract import DEFAULT_IMAGE_SIZE
from wbvla.data.teleop_schema import TASKS
from wbvla.lmo.config import CommandConfig
from wbvla.runtime.messages import IMAGE_ENCODINGS
from wbvla.validation import in_range, one_of, positive, require

_CMD = CommandConfig()


LOOPBACK_HOSTS = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (bare or in brackets)."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class LinkConfig:
    """Where the server listens and how the link is secured (both sides use the same fields).

    The server binds three TCP ports on ``host``: ``port`` (control: hello/welcome), ``port + 1``
    (observations in) and ``port + 2`` (commands out). Any non-loopback host requires CURVE.
    """

    host: str = "127.0.0.1"
    """Interface the server binds / address the robot connects to. ``0.0.0.0`` or a LAN address
    exposes the server and therefore requires CURVE keys."""
    port: int = 5750
    """First of the three consecutive ports."""
    curve_dir: Path | None = None
    """Folder made by ``wbvla deploy-keys``: ``server.key``/``server.key_secret``,
    ``robot.key``/``robot.key_secret`` and ``authorized/`` (the public keys of allowed robots).
    None: plaintext, allowed on loopback only."""
    max_observation_bytes: int = 4 * 2**20
    """Observation messages larger than this are dropped before decoding (server side)."""
    max_command_bytes: int = 64 * 2**10
    """Command / e-stop messages larger than this are dropped before decoding (robot side)."""
    max_control_bytes: int = 16 * 2**10
    """Hello / welcome messages larger than this are dropped before decoding."""

    def __post_init__(self) -> None:
        require(isinstance(self.host, str) and self.host and " " not in self.host, f"host must be a hostname or IP, got {self.host!r}")
        require(isinstance(self.port, int) and 1024 <= self.port <= 65533, f"port must be in [1024, 65533], got {self.port!r}")
        if self.curve_dir is not None:
            self.curve_dir = Path(self.curve_dir).expanduser()
        for name in ("max_observation_bytes", "max_command_bytes", "max_control_bytes"):
            v = getattr(self, name)
            require(isinstance(v, int) and 256 <= v <= 2**28, f"{name} must be an int in [256, 2^28], got {v!r}")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def endpoint(self, channel: str, bind: bool = False) -> str:
        """``tcp://host:port`` of ``control``, ``obs`` or ``cmd``."""
        offset = {"control": 0, "obs": 1, "cmd": 2}[channel]
        host = "*" if bind and self.host in ("0.0.0.0", "*") else self.host
        return f"tcp://{host}:{self.port + offset}"


@dataclass
class ServerConfig:
    """The VLA server (``deploy/vla_server.py``)."""

    link: LinkConfig = field(default_factory=LinkConfig)
    """Endpoints and security."""
    policy: str = "auto"
    """Which policy answers: ``auto`` (the shipped VLA ``data/vla/tutorial`` when it exists, else the
    stand-in of ``task``), a VLA policy folder (``policy.json`` + safetensors from ``wbvla
    vla-finetune``), ``standin:<task>`` (the labelled deterministic stand-in of
    :mod:`wbvla.runtime.standin`), ``timing:<preset>`` (an untrained VLA, for tick times only) or
    ``python:<module>:<factory>`` (any object with ``act()``); see :func:`wbvla.runtime.server.load_policy`."""
    task: str = "bag_packing"
    """The task: its canonical instruction is used when ``instruction`` is empty."""
    instruction: str = ""
    """The language instruction given to the policy; "" uses the task's canonical one."""
    valid_for_s: float = 0.25
    """Declared in each command: how long after its observation it may still be accepted (s)."""
    robot_id_allow: tuple[str, ...] = ()
    """If non-empty, only these robot ids may shake hands."""
    stats_every_s: float = 5.0
    """Log tick-time statistics this often (s); 0 disables."""
    threads: int = 1
    """torch threads of a VLA policy. 1 is the fast choice on a CPU that other processes share (on a
    busy 2-core machine 2 threads made torch ~20x slower); raise it on a dedicated GPU workstation's CPU."""
    warmup_ticks: int = 2
    """``act()`` calls on a blank observation before the server reports ready (then ``reset()``): the
    first calls of a freshly loaded VLA allocate and are many times slower than a steady tick, which
    a robot would otherwise see as stale commands right after every (re)start."""

    def __post_init__(self) -> None:
        positive("valid_for_s", self.valid_for_s)
        require(isinstance(self.threads, int) and self.threads >= 1, f"threads must be an int >= 1, got {self.threads!r}")
        require(isinstance(self.warmup_ticks, int) and self.warmup_ticks >= 0,
                f"warmup_ticks must be an int >= 0, got {self.warmup_ticks!r}")
        require(isinstance(self.policy, str) and self.policy, "policy must name a stand-in or a checkpoint")
        one_of("task", self.task, TASKS)
        positive("stats_every_s", self.stats_every_s, allow_zero=True)


@dataclass
class SimTwinConfig:
    """The simulated X2 twin (``sim`` backend): a MuJoCo task scene stepped in real time."""

    scene: str = "bag_packing"
    """Task scene of :func:`wbvla.sim.scene.build_scene`."""
    seed: int = 0
    """Scene seed."""
    locomotion: str = "ideal_base"
    """``lmo``: the physics X2, legs driven by the runner's LMO (today's LMO falls within
    seconds). ``ideal_base``: a clearly labelled kinematic stand-in: the floating base realizes u_t
    (Eq. 2-shaped reference) exactly and h* through balanced leg poses; arms stay physical."""
    image_size: tuple[int, int] = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    """Head-camera image (height, width) served at ``camera_hz``; the default is the one image size of
    :data:`wbvla.control.policy_contract.DEFAULT_IMAGE_SIZE` (the server's policy resizes what it gets)."""
    camera_hz: float = 10.0
    """Rate of the camera thread (Hz)."""

    def __post_init__(self) -> None:
        from wbvla.sim.scene import SCENES  # lazy: MuJoCo (the CLI builds this config)

        one_of("scene", self.scene, SCENES)
        one_of("locomotion", self.locomotion, ("lmo", "ideal_base"))
        require(len(self.image_size) == 2 and all(isinstance(n, int) and 8 <= n <= 1024 for n in self.image_size),
                f"image_size must be two ints in [8, 1024], got {self.image_size!r}")
        in_range("camera_hz", self.camera_hz, 0.5, 60.0)


@dataclass
class RunnerConfig:
    """The 50 Hz robot runner (``deploy/robot_runner.py``)."""

    link: LinkConfig = field(default_factory=LinkConfig)
    """Endpoints and security."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """Acceptance rules, rate limits and watchdog times."""
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    """How the tick follows the accepted chunks: the newest (``chunk``, default) or ACT's temporal
    ensemble of the overlapping ones (``temporal_ensemble``); the suite's runner has the same switch."""
    backend: str = "sim"
    """``sim`` (the MuJoCo twin) or ``x2`` (the AgiBot SDK seam)."""
    sim: SimTwinConfig = field(default_factory=SimTwinConfig)
    """The twin's settings (``backend = sim``)."""
    lmo_path: Path | None = None
    """The LMO ONNX file (``data/lmo/lmo.onnx`` when None). Not used by the ideal base."""
    robot_id: str = "x2-sim"
    """Announced in the handshake."""
    model_id: str = ""
    """The model the robot insists on; "" accepts whatever the server runs (it is logged)."""
    period_s: float = 0.02
    """Control period (s): 50 Hz, the LMO rate (paper App. B)."""
    obs_every: int = 5
    """Send an observation every this many ticks (5 -> 10 Hz)."""
    image_encoding: str = "raw"
    """``raw`` (uint8 RGB bytes) or ``jpeg``."""
    jpeg_quality: int = 90
    """JPEG quality when ``image_encoding = jpeg``."""
    spin_s: float = 0.0005
    """The last part of each wait is a busy spin on the clock (s): sleep/poll overshoots by ~0.1 ms."""
    rehandshake_s: float = 0.5
    """Retry the handshake this often while no command is accepted (s), e.g. after a server restart."""
    handshake_timeout_s: float = 0.5
    """How long one handshake attempt waits for the welcome (s)."""
    cpu_affinity: tuple[int, ...] = ()
    """Documented option: pin the runner process to these CPUs (``os.sched_setaffinity``); () = off."""
    realtime_priority: int = 0
    """Documented option: SCHED_FIFO priority 1-99 for the runner (needs CAP_SYS_NICE); 0 = off."""
    log_ticks: int = 0
    """Keep at most this many per-tick records in memory (0: as many as the run needs)."""

    def __post_init__(self) -> None:
        one_of("backend", self.backend, ("sim", "x2"))
        in_range("period_s", self.period_s, 0.002, 0.1)
        require(isinstance(self.obs_every, int) and self.obs_every >= 1, f"obs_every must be an int >= 1, got {self.obs_every!r}")
        one_of("image_encoding", self.image_encoding, IMAGE_ENCODINGS)
        in_range("jpeg_quality", self.jpeg_quality, 10, 100)
        in_range("spin_s", self.spin_s, 0.0, 0.005)
        positive("rehandshake_s", self.rehandshake_s)
        positive("handshake_timeout_s", self.handshake_timeout_s)
        require(all(isinstance(c, int) and c >= 0 for c in self.cpu_affinity), f"cpu_affinity must be CPU numbers, got {self.cpu_affinity!r}")
        in_range("realtime_priority", self.realtime_priority, 0, 99)
        if self.lmo_path is not None:
            self.lmo_path = Path(self.lmo_path).expanduser()
        require(math.isfinite(self.period_s), "period_s must be finite")


def nominal_v_goal() -> tuple[float, float, float]:
    """Cruise speeds (m/s, m/s, rad/s) a flag of +-1 means (LMO Stage II, App. B.4)."""
    return _CMD.cruise


@dataclass
class DeployKeysConfig:
    """``wbvla deploy-keys``: CURVE keypairs for the server and the robots, plus the allow-list."""

    out_dir: Path = Path("~/.config/wbvla/deploy_keys")
    """Folder for ``server.key(_secret)``, ``<client>.key(_secret)`` and ``authorized/``."""
    clients: tuple[str, ...] = ("robot",)
    """One keypair (and allow-list entry) per robot."""
    force: bool = False
    """Overwrite existing keys (every robot then needs its new secret key)."""

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir).expanduser()
        require(len(self.clients) >= 1 and all(c.isidentifier() and c != "server" for c in self.clients),
                f"clients must be identifiers other than 'server', got {self.clients!r}")
