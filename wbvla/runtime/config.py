"""Typed configs of the deployment: safety limits, the ZeroMQ link and its security, the server,
the robot runner and the simulated twin. The same dataclasses drive ``deploy/`` (tyro), the CLI,
the tests and notebook 11.

Units: seconds, radians (joints), metres (grippers, heights), rad/s and m/s (rates).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path

from wbvla.data.teleop_schema import TASKS
from wbvla.lmo.config import CommandConfig, HeightConfig, VelocityCommandConfig
from wbvla.runtime.messages import IMAGE_ENCODINGS, MAX_CHUNK
from wbvla.sim.joints import default_pose
from wbvla.validation import in_range, one_of, positive, require

_HEIGHT, _VEL, _CMD = HeightConfig(), VelocityCommandConfig(), CommandConfig()


@dataclass
class SafetyConfig:
    """What the robot runner accepts and how fast any target may move. Ranges come from the joint
    table (:mod:`wbvla.sim.joints`); the rates and timeouts are ours (the table has no rate limits)."""

    hold_after_s: float = 0.3
    """Watchdog: with no valid command for this long, stand (flags 0) and hold the arms. The
    target in effect at this instant is already the stand target (see :mod:`.supervisor`)."""
    watchdog_margin_s: float = 0.005
    """The watchdog acts this much earlier than needed on top of the one-period lead, so a tick
    that wakes a few ms late still has the stand target in effect by ``hold_after_s``."""
    safe_after_s: float = 1.0
    """Watchdog: with no valid command for this long, ramp the arms to the safe pose and h* to nominal."""
    max_command_age_s: float = 0.25
    """A command answering an observation older than this (robot clock) is stale and rejected."""
    arm_tolerance: float = 0.05
    """An arm target up to this far (rad) outside its joint range is clamped; farther: the command is rejected."""
    gripper_tolerance: float = 0.005
    """The same for gripper openings (m)."""
    height_tolerance: float = 0.01
    """The same for h* (m) around :attr:`height_range`."""
    arm_rate: float = 2.0
    """Largest arm target speed (rad/s): a target moves at most ``arm_rate * period`` per tick."""
    gripper_rate: float = 0.2
    """Largest gripper target speed (m/s); 0.2 opens a gripper fully in 0.2 s."""
    leg_rate: float = 20.0
    """Largest leg target speed (rad/s) of the LMO's output: a backstop against a broken policy
    (0.4 rad per tick), far above what a balancing policy commands."""
    height_rate: float = 0.15
    """Largest h* speed (m/s)."""
    safe_ramp_rate: float = 0.5
    """Arm target speed (rad/s) of the ramp to the safe pose (mode ``safe``); <= arm_rate."""
    safe_arm_pose: tuple[float, ...] = tuple(default_pose("arms"))
    """The 14 arm targets of the safe pose (default: the joint table's standing pose, arms down)."""
    height_range: tuple[float, float] = _HEIGHT.height_range
    """Accepted h* (m): the LMO's training range."""
    nominal_height: float = _HEIGHT.nominal_height
    """h* of the safe state (m)."""
    velocity_limits: tuple[tuple[float, float], ...] = (_VEL.lin_vel_x, _VEL.lin_vel_y, _VEL.ang_vel_z)
    """Accepted (v_x, v_y, w_z) of a ``velocity`` command: the baseline's training ranges."""
    max_chunk: int = MAX_CHUNK
    """Most rows of an accepted chunk."""
    chunk_dt_range: tuple[float, float] = (0.02, 0.5)
    """Accepted time between chunk rows (s)."""

    def __post_init__(self) -> None:
        positive("hold_after_s", self.hold_after_s)
        require(self.safe_after_s > self.hold_after_s,
                f"safe_after_s ({self.safe_after_s}) must exceed hold_after_s ({self.hold_after_s})")
        in_range("watchdog_margin_s", self.watchdog_margin_s, 0.0, 0.05)
        positive("max_command_age_s", self.max_command_age_s)
        for name in ("arm_tolerance", "gripper_tolerance", "height_tolerance"):
            positive(name, getattr(self, name), allow_zero=True)
        for name in ("arm_rate", "gripper_rate", "leg_rate", "height_rate", "safe_ramp_rate"):
            positive(name, getattr(self, name))
        require(self.safe_ramp_rate <= self.arm_rate,
                f"safe_ramp_rate ({self.safe_ramp_rate}) must not exceed arm_rate ({self.arm_rate})")
        require(len(self.safe_arm_pose) == 14, f"safe_arm_pose needs 14 values, got {len(self.safe_arm_pose)}")
        require(len(self.height_range) == 2 and self.height_range[0] < self.height_range[1],
                f"height_range must be (low, high), got {self.height_range!r}")
        in_range("nominal_height", self.nominal_height, *self.height_range)
        require(len(self.velocity_limits) == 3 and all(lo <= 0 <= hi for lo, hi in self.velocity_limits),
                f"velocity_limits must be three (low <= 0 <= high) pairs, got {self.velocity_limits!r}")
        require(isinstance(self.max_chunk, int) and 1 <= self.max_chunk <= MAX_CHUNK,
                f"max_chunk must be an int in [1, {MAX_CHUNK}], got {self.max_chunk!r}")
        require(0 < self.chunk_dt_range[0] < self.chunk_dt_range[1],
                f"chunk_dt_range must be (low, high) > 0, got {self.chunk_dt_range!r}")


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
    image_size: tuple[int, int] = (224, 224)
    """Head-camera image (height, width) served at ``camera_hz``."""
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
