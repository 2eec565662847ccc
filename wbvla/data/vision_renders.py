"""Head-camera renders with privileged dense labels, for pretraining the VLA's vision tower offline.

The paper's VLA starts from an internet-pretrained VLM (Prismatic-7B: DINOv2 + SigLIP) that
cannot be downloaded here. Its stand-in is a vision tower pretrained on what the simulator gives
for free (:mod:`wbvla.vla.vision_pretrain`); this module makes the images and labels.

**What is rendered.** The three task layouts (``bag_packing``, ``box_loading``,
``cart_pushing``) in turn, each built from a scene seed (layout jitter, floor / wall / prop
textures and colours, lights: :func:`wbvla.sim.scene.build_scene`), ``renders_per_scene`` images
per scene. For each image the robot is placed kinematically (no physics) facing the task's grasp
object from the approach to the grasp: the bar ``stance_distance`` ahead of the pelvis, offset
``stance_lateral`` and turned ``stance_yaw``, its pelvis at a balanced squat height
(:func:`wbvla.sim.stance.squat_pose`); each arm reaches a random TCP point of ``hand_box`` with
the fingers forward (IK, :class:`wbvla.sim.kinematics.ArmKinematics`) plus joint noise
``arm_joint_noise``, grippers randomly open; the key light is dimmed or brightened by
``light_scale`` and moved. A pose whose robot (any part) penetrates the scene by more than
``max_penetration`` is drawn again.

**Labels** (privileged, from the simulator state of the rendered image):

* ``keypoints`` (N, 4, 3): u, v (pixels of the ``image_size`` image) and depth (m) of the four work
  keypoints of :mod:`wbvla.sim.head_view` (left / right grasp target, left / right TCP);
  ``inside`` (N, 4): in frame;
* ``hands_body`` (N, 2, 3): left / right TCP in the pelvis frame (x forward, y left, z up; m);
* ``object_body`` (N, 4): the grasp object's bar centre in the pelvis frame (m) and its heading
  relative to the pelvis (rad);
* ``task`` (N,) index into ``TASK_LAYOUTS``, ``seed`` (N,) scene seed, ``pelvis_height`` (N,).

**Seeds.** Only training seeds (:data:`wbvla.data.seed_splits.SEED_RANGES` ``train``): scene
``k`` is built from seed ``first_seed + k``; a config whose seeds leave the training range is
refused with the first offending seed named, so no held-out evaluation scene (seeds from
1,000,000) can appear in pretraining.

**Storage.** Shards of ``shard_size`` renders, ``shard_00000.npz`` ... (compressed), and
``meta.json`` (config, counts, seeds, rate) under ``cache_dir()/vision_renders/<name>``; each shard
is deterministic (render ``n`` uses scene ``n // renders_per_scene`` and its own random stream),
written atomically, and an existing shard is kept (a stopped run resumes).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from wbvla.data.seed_splits import SEED_RANGES, check_seed
from wbvla.io import atomic_path, write_json_atomic
from wbvla.paths import cache_dir
from wbvla.sim.angles import wrap_angle
from wbvla.validation import in_range, positive, require

TASK_LAYOUTS: tuple[str, ...] = ("bag_packing", "box_loading", "cart_pushing")
"""Scene layouts rendered, in turn (scene k has layout ``TASK_LAYOUTS[k % 3]``)."""
HEIGHT_LEVELS = 12
"""Pelvis heights are drawn from this many balanced squat poses spanning the stance range."""
ARM_POOL = 96
"""IK solutions per side computed once per process; arm poses are drawn from them + joint noise."""


def _pair(name: str, v: tuple[float, float], lo: float, hi: float) -> None:
    require(len(v) == 2 and lo <= v[0] <= v[1] <= hi, f"{name} must be (low, high) with {lo} <= low <= high <= {hi}, got {v!r}")


@dataclass
class VisionRenderConfig:
    """What ``wbvla vision-renders`` renders (see the module docstring)."""

    renders: int = 4096
    """Images in all."""
    renders_per_scene: int = 32
    """Images per built scene (different robot poses and lights; building a scene and its GL
    context costs about as much as 15 renders)."""
    first_seed: int = 0
    """Scene k is built from seed ``first_seed + k``; every seed must be a training seed."""
    image_size: int = 128
    """Side of the square head-camera image (the same 16:9 sensor squeezed, as the teleop data)."""
    stance_distance: tuple[float, float] = (0.30, 0.90)
    """The grasp object's bar this far ahead of the pelvis along the object's axis (m, uniform):
    from the approach to the grasp (the expert grasps at 0.38, the cart handle at 0.42)."""
    stance_lateral: tuple[float, float] = (-0.15, 0.15)
    """Sideways offset of the pelvis from the bar's line (m, uniform)."""
    stance_yaw: tuple[float, float] = (-0.35, 0.35)
    """Heading of the robot relative to the object's axis (rad, uniform)."""
    hand_box: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] = ((0.28, 0.55), (0.02, 0.25), (0.72, 1.00))
    """TCP targets of the arm pool in the arm base frame (x forward, |y| outward, z up; m)."""
    arm_joint_noise: float = 0.08
    """Gaussian noise (rad, std) added to every arm joint of a pooled pose."""
    light_scale: tuple[float, float] = (0.6, 1.4)
    """The scene's key light diffuse colour is scaled by this (uniform) per image ..."""
    light_shift: float = 1.5
    """... and its position moved up to this far in x and y (m)."""
    max_penetration: float = 0.01
    """A pose whose robot penetrates the scene deeper than this (m) is drawn again."""
    shard_size: int = 1024
    """Renders per shard file."""
    name: str = "default"
    """Folder name under ``cache_dir()/vision_renders``."""
    root: Path | None = None
    """Output folder; None: ``cache_dir()/vision_renders/<name>``."""

    def __post_init__(self) -> None:
        for n in ("renders", "renders_per_scene", "shard_size"):
            v = getattr(self, n)
            require(isinstance(v, int) and not isinstance(v, bool) and v > 0, f"{n} must be an int > 0, got {v!r}")
        require(isinstance(self.image_size, int) and 16 <= self.image_size <= 512,
                f"image_size must be an int in [16, 512], got {self.image_size!r}")
        require(isinstance(self.first_seed, int), f"first_seed must be an int, got {self.first_seed!r}")
        for seed in (self.first_seed, self.last_seed):  # the range is contiguous: its ends decide
            try:
                check_seed(seed, "train")
            except ValueError as err:
                raise ValueError(f"vision renders use training seeds only ({err}); scenes need seeds "
                                 f"{self.first_seed}..{self.last_seed}: lower first_seed or renders, or raise "
                                 "renders_per_scene") from err
        _pair("stance_distance", self.stance_distance, 0.1, 3.0)
        _pair("stance_lateral", self.stance_lateral, -1.0, 1.0)
        _pair("stance_yaw", self.stance_yaw, -np.pi, np.pi)
        _pair("light_scale", self.light_scale, 0.0, 3.0)
        require(len(self.hand_box) == 3, f"hand_box must be three (low, high) ranges, got {self.hand_box!r}")
        for axis, r in zip("xyz", self.hand_box, strict=True):
            _pair(f"hand_box {axis}", r, -0.5, 1.5)
        positive("arm_joint_noise", self.arm_joint_noise, allow_zero=True)
        positive("light_shift", self.light_shift, allow_zero=True)
        in_range("max_penetration", self.max_penetration, 0.0, 0.2)

    @property
    def scenes(self) -> int:
        return -(-self.renders // self.renders_per_scene)

    @property
    def last_seed(self) -> int:
        """Seed of the last scene."""
        return self.first_seed + self.scenes - 1

    @property
    def shards(self) -> int:
        return -(-self.renders // self.shard_size)

    def folder(self) -> Path:
        return Path(self.root) if self.root is not None else cache_dir() / "vision_renders" / self.name

    def scene_of(self, n: int) -> tuple[str, int]:
        """Layout and seed of render ``n``."""
        k = n // self.renders_per_scene
        return TASK_LAYOUTS[k % len(TASK_LAYOUTS)], self.first_seed + k


@lru_cache(maxsize=1)
def _leg_levels() -> tuple[np.ndarray, np.ndarray]:
    """Pelvis heights (L,) and the balanced joint poses (L, 29) at them."""
    from wbvla.sim.stance import squat_pose, stance_height_range  # lazy: scipy

    lo, hi = stance_height_range()
    heights = np.linspace(lo + 1e-3, hi - 1e-3, HEIGHT_LEVELS)
    return heights, np.stack([squat_pose(float(h)) for h in heights])


@lru_cache(maxsize=4)
def _arm_pool(hand_box: tuple, size: int = ARM_POOL) -> dict[str, np.ndarray]:
    """Per side, ``size`` arm poses (size, 7) reaching random points of ``hand_box`` with the
    fingers forward (turned up to 0.4 rad in yaw), closing vertically; deterministic."""
    from wbvla.sim.kinematics import READY_ARM_POSE, ArmKinematics  # lazy: MuJoCo model load

    kin, rng = ArmKinematics(), np.random.default_rng(1234)
    pool = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        poses = []
        for _ in range(size):
            x, y, z = (rng.uniform(*r) for r in hand_box)
            yaw = rng.uniform(-0.4, 0.4)
            res = kin.solve(side, np.array([x, sign * y, z]), np.array([np.cos(yaw), np.sin(yaw), 0.0]),
                            q_init=READY_ARM_POSE, closing_axis=np.array([0.0, 0.0, 1.0]), iterations=150)
            poses.append(res.q_arm)
        pool[side] = np.stack(poses)
    return pool


class _SceneRenderer:
    """One built scene, its renderer and what a pose draw needs."""

    def __init__(self, config: VisionRenderConfig, layout: str, seed: int):
        from wbvla.sim.camera import CameraRenderer  # lazy: MuJoCo rendering
        from wbvla.sim.contacts import robot_geoms  # lazy: MuJoCo
        from wbvla.sim.scene import SceneConfig, build_scene  # lazy: MuJoCo

        check_seed(seed, "train")
        self.cfg, self.layout, self.seed = config, layout, seed
        self.scene = build_scene(SceneConfig(name=layout, seed=seed))
        m = self.scene.model
        self.renderer = CameraRenderer(m, config.image_size, config.image_size)
        self.robot_mask = robot_geoms(m, self.scene.robot).robot
        self.floor = m.geom_type == 0  # mjGEOM_PLANE
        self.key = m.light("key").id
        self.key_diffuse, self.key_pos = m.light_diffuse[self.key].copy(), m.light_pos[self.key].copy()

    def close(self) -> None:
        self.renderer.close()

    def draw(self, rng: np.random.Generator) -> dict:
        """Place the robot and the light (module docstring), render, label."""
        import mujoco  # lazy: MuJoCo

        from wbvla.sim.head_view import GRASP_OBJECT, visible_in_head_camera  # lazy: MuJoCo
        from wbvla.sim.joints import GRIPPER_OPEN, group_slice  # lazy: MuJoCo
        from wbvla.sim.robot import HEAD_CAMERA, TCP_SITES, yaw_quat  # lazy: MuJoCo

        cfg, sc = self.cfg, self.scene
        m, d, idx = sc.model, sc.data, sc.robot
        obj = GRASP_OBJECT[self.layout]
        sc.reset()
        bar = d.site(sc.objects[obj].sites["handle"]).xpos.copy()
        rot = d.body(obj).xmat.reshape(3, 3)
        heading = float(np.arctan2(rot[1, 0], rot[0, 0]))
        heights, poses = _leg_levels()
        pool = _arm_pool(cfg.hand_box)
        for _ in range(20):
            dist, lat, dyaw = (rng.uniform(*r) for r in (cfg.stance_distance, cfg.stance_lateral, cfg.stance_yaw))
            u, n = np.array([np.cos(heading), np.sin(heading)]), np.array([-np.sin(heading), np.cos(heading)])
            xy = bar[:2] - dist * u + lat * n
            level = int(rng.integers(len(heights)))
            q = poses[level].copy()
            arms = q[group_slice("arms")]
            arms[:7] = pool["left"][rng.integers(len(pool["left"]))]
            arms[7:] = pool["right"][rng.integers(len(pool["right"]))]
            q[group_slice("arms")] = np.clip(arms + rng.normal(0.0, cfg.arm_joint_noise, 14), *_arm_limits())
            q[group_slice("grippers")] = rng.uniform(0.0, GRIPPER_OPEN, 2)
            idx.set_base_pose(d, np.array([xy[0], xy[1], heights[level]]), yaw_quat(heading + dyaw))
            idx.set_joint_pos(d, q)
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            if not self._penetrates(d):
                break
        m.light_diffuse[self.key] = np.clip(self.key_diffuse * rng.uniform(*cfg.light_scale), 0.0, 1.0)
        m.light_pos[self.key] = self.key_pos + np.array([*rng.uniform(-cfg.light_shift, cfg.light_shift, 2), 0.0])
        mujoco.mj_camlight(m, d)
        image = self.renderer.render(d, HEAD_CAMERA)
        m.light_diffuse[self.key], m.light_pos[self.key] = self.key_diffuse, self.key_pos
        view = visible_in_head_camera(sc, self.layout, cfg.image_size)
        pelvis, prot = d.xpos[idx.base_body].copy(), d.xmat[idx.base_body].reshape(3, 3)
        hands = np.stack([d.site(s).xpos for s in TCP_SITES]) - pelvis  # (2, 3) world offsets
        return {"image": image, "keypoints": view.uv.astype(np.float32), "inside": view.inside,
                "hands_body": (hands @ prot).astype(np.float32),  # rows rotated into the pelvis frame
                "object_body": np.array([*((bar - pelvis) @ prot), wrap_angle(-dyaw)], np.float32),
                "task": TASK_LAYOUTS.index(self.layout), "seed": self.seed, "pelvis_height": float(pelvis[2])}

    def _penetrates(self, d) -> bool:
        n = d.ncon
        if n == 0:
            return False
        g = d.contact.geom[:n]
        robot = self.robot_mask[g[:, 0]] | self.robot_mask[g[:, 1]]
        inner = self.robot_mask[g[:, 0]] & self.robot_mask[g[:, 1]]  # self-contacts are excluded by the model
        floor = self.floor[g[:, 0]] | self.floor[g[:, 1]]
        return bool(np.any(robot & ~inner & ~floor & (d.contact.dist[:n] < -self.cfg.max_penetration)))


@lru_cache(maxsize=1)
def _arm_limits() -> tuple[np.ndarray, np.ndarray]:
    from wbvla.sim.joints import limits  # lazy: MuJoCo

    return limits("arms")


LABEL_KEYS = ("keypoints", "inside", "hands_body", "object_body", "task", "seed", "pelvis_height")


def render_shard(config: VisionRenderConfig, shard: int) -> dict[str, np.ndarray]:
    """Renders ``shard * shard_size`` .. of ``config`` (arrays keyed ``image`` + :data:`LABEL_KEYS`)."""
    require(0 <= shard < config.shards, f"shard must be in [0, {config.shards}), got {shard!r}")
    start, stop = shard * config.shard_size, min((shard + 1) * config.shard_size, config.renders)
    rows: list[dict] = []
    current: _SceneRenderer | None = None
    try:
        for n in range(start, stop):
            layout, seed = config.scene_of(n)
            if current is None or current.seed != seed:
                if current is not None:
                    current.close()
                current = _SceneRenderer(config, layout, seed)
            rows.append(current.draw(np.random.default_rng([seed, n % config.renders_per_scene, 11])))
    finally:
        if current is not None:
            current.close()
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in ("image", *LABEL_KEYS)}


def shard_path(folder: Path, shard: int) -> Path:
    return Path(folder) / f"shard_{shard:05d}.npz"


def render_dataset(config: VisionRenderConfig, progress: bool = True) -> dict:
    """Render every missing shard of ``config`` to its folder; writes and returns ``meta.json``'s content
    (config, renders, seeds used, this call's and every rendering call's time and renders per
    second, so a later call that finds every shard made keeps the rate)."""
    folder = config.folder()
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    calls: list[dict] = []
    if meta_path.is_file():
        old_meta = json.loads(meta_path.read_text())
        old = old_meta["config"]
        calls = old_meta.get("render_calls", [old_meta["this_call"]] if old_meta.get("this_call", {}).get("rendered") else [])
        new = json.loads(json.dumps(asdict(config), default=str))
        same = {k: v for k, v in new.items() if k not in ("renders", "root")} == {k: v for k, v in old.items() if k not in ("renders", "root")}
        require(same, f"{folder} holds renders of another config; use another name or root")
    t0, c0, made = time.perf_counter(), time.process_time(), 0
    for shard in range(config.shards):
        path = shard_path(folder, shard)
        if path.is_file():
            continue
        arrays = render_shard(config, shard)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
        made += len(arrays["image"])
        if progress:
            print(f"{path.name}: {len(arrays['image'])} renders, {made / (time.perf_counter() - t0):.1f}/s wall", flush=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    this_call = {"rendered": made, "wall_s": wall, "cpu_s": cpu, "renders_per_cpu_s": made / cpu if made and cpu > 0 else None}
    calls += [this_call] if made else []
    done_cpu = sum(c["cpu_s"] for c in calls)
    meta = {"config": json.loads(json.dumps(asdict(config), default=str)), "renders": config.renders, "shards": config.shards,
            "seeds": [config.first_seed, config.last_seed], "seed_split": "train",
            "train_range": [SEED_RANGES["train"].start, SEED_RANGES["train"].stop - 1],
            "this_call": this_call, "render_calls": calls,
            "renders_per_cpu_s": sum(c["rendered"] for c in calls) / done_cpu if done_cpu > 0 else None,
            "renders_per_wall_s": sum(c["rendered"] for c in calls) / sum(c["wall_s"] for c in calls) if calls else None}
    write_json_atomic(meta_path, meta)
    return meta


@dataclass
class VisionRenders:
    """A rendered dataset in memory: ``images`` (N, H, W, 3) uint8 and the label arrays."""

    images: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)


def load_renders(folder: Path, limit: int | None = None) -> VisionRenders:
    """The shards of a rendered folder (in order, up to ``limit`` renders). Refuses a folder
    without ``meta.json`` or one whose seeds leave the training range."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    require(meta_path.is_file(), f"{folder}: no meta.json (not a vision-renders folder; run render_dataset)")
    paths = sorted(folder.glob("shard_*.npz"))
    require(len(paths) > 0, f"{folder}: no shard_*.npz files")
    images, labels, have = [], {k: [] for k in LABEL_KEYS}, 0
    for p in paths:
        with np.load(p) as z:
            images.append(z["image"])
            for k in LABEL_KEYS:
                labels[k].append(z[k])
        have += len(images[-1])
        if limit is not None and have >= limit:
            break
    out = VisionRenders(np.concatenate(images)[:limit], {k: np.concatenate(v)[:limit] for k, v in labels.items()})
    bad = [int(s) for s in np.unique(out.labels["seed"]) if int(s) not in SEED_RANGES["train"]]
    require(not bad, f"{folder}: renders from non-training seeds {bad[:5]} (held-out scenes must never be used)")
    return out
