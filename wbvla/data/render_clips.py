"""Render the three kinds of clip: human-like locomotion, X2 locomotion, X2 manipulation.

Each renderer returns ``(frames, meta)``: frames (T, H, W, 3) uint8 and per-frame metadata
(primitive label, camera position and quaternion in the world frame). Rendering happens at
``supersample`` times the output size and is box-filtered down, so thin edges and floor textures
do not alias into flicker that a LAM would have to explain.

* human locomotion: the scene's free (mocap) camera at eye height 1.5-1.7 m, with gait bob, sway
  and small head jitter; like the paper's operators (App. A.1) it is either a GoPro-like wide
  field of view or a RealSense D435i-like one (69.4 x 42.5 degrees, looking further down);
* robot locomotion: the X2 moved kinematically along the same kind of path (base teleported each
  frame with a small bob, legs swinging, knees bending to squat), seen from its head camera;
* manipulation: the X2 standing at a table, arms replaying a scripted clip
  (:func:`wbvla.sim.arm_motions.generate_clip`) whose object point is the prop it acts on; grasped
  props follow the TCP while the gripper is closed, pushed props slide ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from wbvla.data.locomotion_paths import HUMAN_GAIT, ROBOT_GAIT, Path, Target, plan_path
from wbvla.sim.arm_motions import ArmClip, ClipBuilder, generate_clip
from wbvla.sim.camera import CameraRenderer, HeadCameraConfig, apply_camera_intrinsics
from wbvla.sim.joints import GRIPPER_OPEN, default_pose, group_slice
from wbvla.sim.robot import base_height_for, yaw_quat
from wbvla.sim.scene import FREE_CAMERA, build_scene

TARGET_KINDS = ("table", "carton", "cart", "shelf", "drawer")
"""Props the locomotion paths approach (potential manipulation targets)."""
D435I_SHARE = 0.35
"""Share of human-like clips filmed with a D435i-like head camera (the rest: GoPro-like wide FOV)."""
SQUAT_LEG_OFFSET = np.array([-0.5, 0.0, 0.0, 1.0, -0.5, 0.0])
"""Per-leg joint change of a full squat (hip pitch, hip roll, hip yaw, knee, ankle pitch, ankle roll)."""


@dataclass(frozen=True)
class RenderSpec:
    """Output size and frame rate shared by all renderers."""

    size: int = 64
    fps: float = 10.0
    supersample: int = 2


def quat_ypr(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Quaternion (w x y z) of R = Rz(yaw) Ry(pitch) Rx(roll); positive pitch tilts +x downward."""
    cy, sy = np.cos(yaw / 2), np.sin(yaw / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    return np.array([
        cy * cp * cr + sy * sp * sr,
        cy * cp * sr - sy * sp * cr,
        cy * sp * cr + sy * cp * sr,
        sy * cp * cr - cy * sp * sr,
    ])


def _kinematics(scene) -> None:
    """Body, site and camera poses for the current ``qpos``/mocap (no dynamics needed for video)."""
    mujoco.mj_kinematics(scene.model, scene.data)
    mujoco.mj_camlight(scene.model, scene.data)


def _downsample(img: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return img
    h, w, c = img.shape
    return img.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3)).round().astype(np.uint8)


def _targets(scene) -> list[Target]:
    out = []
    for name, obj in scene.objects.items():
        if obj.kind in TARGET_KINDS:
            body = name if obj.kind != "drawer" else f"{name}_cabinet"
            xy = scene.model.body(body).pos[:2].copy() if obj.kind == "drawer" else scene.data.body(name).xpos[:2].copy()
            out.append(Target(name, np.asarray(xy, float), float(obj.top_z)))
    return out


def _meta(path: Path, cam_pos: np.ndarray, cam_quat: np.ndarray) -> dict:
    return {"primitive": list(path.labels), "target": list(path.targets), "time": path.t,
            "cam_pos": np.asarray(cam_pos), "cam_quat": np.asarray(cam_quat)}


def render_human_clip(scene_seed: int, clip_seed: int, spec: RenderSpec, n_goals: int = 2) -> tuple[np.ndarray, dict]:
    """A head-mounted wide-FOV camera walking goal-directed primitive sequences in a ``room`` scene."""
    rng = np.random.default_rng([clip_seed, 1])
    # App. A.1: operators wore a GoPro (wide field of view) or a RealSense D435i on the head.
    camera = "d435i" if rng.random() < D435I_SHARE else "gopro"
    fovy = 42.5 if camera == "d435i" else float(rng.uniform(80.0, 100.0))  # GoPro: wide view, square crop
    scene = build_scene(name="room", seed=scene_seed, with_robot=False, free_camera_fovy=fovy)
    if camera == "d435i":  # the same 69.4 x 42.5 degree sensor as the X2's head camera
        apply_camera_intrinsics(scene.model, FREE_CAMERA, HeadCameraConfig())
    path = plan_path(rng, _targets(scene), spec.fps, HUMAN_GAIT, n_goals=n_goals,
                     bounds=scene.config.room_half_size - 0.6)
    eye = float(rng.uniform(1.5, 1.7))
    squat_eye = float(rng.uniform(0.95, 1.1))
    pitch0 = np.radians(rng.uniform(25.0, 42.0) if camera == "d435i" else rng.uniform(15.0, 32.0))
    # slow head drift: a few random sinusoids (yaw/pitch jitter of ~1-2 degrees)
    drift_f = rng.uniform(0.1, 0.4, 2)
    drift_p = rng.uniform(0, 2 * np.pi, 2)
    n = len(path.t)
    cam_pos, cam_quat, frames = np.zeros((n, 3)), np.zeros((n, 4)), []
    with CameraRenderer(scene.model, spec.size * spec.supersample, spec.size * spec.supersample) as r:
        for i in range(n):
            s, ph, e, yaw = path.squat[i], path.phase[i], path.stepping[i], path.yaw[i]
            z = eye + (squat_eye - eye) * s + HUMAN_GAIT.bob * e * np.cos(2 * ph)
            lateral = HUMAN_GAIT.sway * e * np.sin(ph)
            xy = path.xy[i] + lateral * np.array([-np.sin(yaw), np.cos(yaw)])
            jitter_yaw = np.radians(1.5) * np.sin(2 * np.pi * drift_f[0] * path.t[i] + drift_p[0])
            pitch = pitch0 + np.radians(10.0) * s + np.radians(1.5) * np.sin(2 * np.pi * drift_f[1] * path.t[i] + drift_p[1])
            pitch += np.radians(0.8) * e * np.sin(2 * ph)  # head nod with each step
            roll = np.radians(1.5) * e * np.sin(ph)
            cam_pos[i] = (xy[0], xy[1], z)
            cam_quat[i] = quat_ypr(yaw + jitter_yaw, pitch, roll)
            scene.set_free_camera(cam_pos[i], cam_quat[i])
            _kinematics(scene)
            frames.append(_downsample(r.render(scene.data, FREE_CAMERA), spec.supersample))
    return np.stack(frames), {**_meta(path, cam_pos, cam_quat), "camera": camera}


class _SquatHeights:
    """Pelvis height as a function of squat fraction (precomputed; ``base_height_for`` is slow)."""

    def __init__(self, n: int = 11):
        self.s = np.linspace(0.0, 1.0, n)
        self.h = np.array([base_height_for(self.pose(s)) for s in self.s])

    @staticmethod
    def pose(s: float, phase: float = 0.0, stepping: float = 0.0) -> np.ndarray:
        q = default_pose()
        legs = group_slice("legs")
        ql = q[legs].copy()
        swing = 0.22 * stepping * np.sin(phase)
        for k, sign in ((0, 1.0), (6, -1.0)):
            ql[k:k + 6] += s * SQUAT_LEG_OFFSET
            ql[k] += -sign * swing  # hip pitch: legs swing in antiphase
            ql[k + 3] += 0.35 * stepping * max(0.0, sign * np.sin(phase))  # knee bends on the swing leg
        q[legs] = ql
        return q

    def __call__(self, s: float) -> float:
        return float(np.interp(s, self.s, self.h))


_HEIGHTS: _SquatHeights | None = None


def _heights() -> _SquatHeights:
    global _HEIGHTS
    if _HEIGHTS is None:
        _HEIGHTS = _SquatHeights()
    return _HEIGHTS


def render_robot_clip(scene_seed: int, clip_seed: int, spec: RenderSpec, n_goals: int = 2) -> tuple[np.ndarray, dict]:
    """The X2 walking the same kind of goal-directed path, seen from its own head camera."""
    rng = np.random.default_rng([clip_seed, 2])
    scene = build_scene(name="room", seed=scene_seed, with_robot=True)
    idx = scene.robot
    path = plan_path(rng, _targets(scene), spec.fps, ROBOT_GAIT, n_goals=n_goals,
                     bounds=scene.config.room_half_size - 0.6)
    heights = _heights()
    n = len(path.t)
    cam_pos, cam_quat, frames = np.zeros((n, 3)), np.zeros((n, 4)), []
    with CameraRenderer(scene.model, spec.size * spec.supersample, spec.size * spec.supersample) as r:
        for i in range(n):
            s, ph, e, yaw = path.squat[i], path.phase[i], path.stepping[i], path.yaw[i]
            z = heights(s) + ROBOT_GAIT.bob * e * np.cos(2 * ph)
            lateral = ROBOT_GAIT.sway * e * np.sin(ph)
            xy = path.xy[i] + lateral * np.array([-np.sin(yaw), np.cos(yaw)])
            idx.set_base_pose(scene.data, np.array([xy[0], xy[1], z]), yaw_quat(yaw))
            idx.set_joint_pos(scene.data, heights.pose(s, ph, e))
            _kinematics(scene)
            cam_pos[i] = scene.data.cam_xpos[idx.head_camera]
            m = scene.data.cam_xmat[idx.head_camera]
            mujoco.mju_mat2Quat(cam_quat[i], m)
            frames.append(_downsample(r.render(scene.data, "head_rgb"), spec.supersample))
    return np.stack(frames), {**_meta(path, cam_pos, cam_quat), "camera": "x2_head"}


def _free_joint_adr(scene, name: str) -> int:
    jid = mujoco.mj_name2id(scene.model, mujoco.mjtObj.mjOBJ_JOINT, scene.objects[name].joint)
    return int(scene.model.jnt_qposadr[jid])


def render_mani_clip(scene_seed: int, kind: str, clip_seed: int, spec: RenderSpec,
                     builder: ClipBuilder | None = None) -> tuple[np.ndarray, dict, ArmClip]:
    """The X2's static head camera while its arms perform ``kind`` on a tabletop prop.

    Returns frames (T, H, W, 3), per-frame metadata, and the full-rate :class:`ArmClip` (the
    14-DoF trajectory the LMO replays).
    """
    scene = build_scene(name="tabletop", seed=scene_seed, with_robot=True)
    idx = scene.robot
    surface = float(scene.objects["table"].top_z)
    for attempt in range(8):  # some sampled targets are out of reach on a high table: draw again
        try:
            clip = generate_clip(kind, clip_seed + 1_000_003 * attempt, surface_z=surface, builder=builder)
            break
        except RuntimeError:
            if attempt == 7:
                raise
    # The prop the arms act on: the box for single-arm clips, the bag for dual-arm ones.
    prop = "bag" if clip.arms == "both" else "box"
    other = "box" if prop == "bag" else "bag"
    adr = _free_joint_adr(scene, prop)
    obj = np.asarray(clip.keypoints["object"], float)
    prop_pos = np.array([obj[0], obj[1], scene.data.qpos[adr + 2]])
    scene.data.qpos[adr:adr + 3] = prop_pos
    # keep the other prop out of the arms' way (beside the basket, far end of the table)
    oadr = _free_joint_adr(scene, other)
    scene.data.qpos[oadr:oadr + 2] = (obj[0] + 0.3, -np.sign(obj[1] + 1e-3) * 0.3)
    sides = ("left", "right") if clip.arms == "both" else (clip.arms,)
    tcp_ids = [scene.model.site(f"{s}_tcp").id for s in sides]
    grip_cols = [0 if s == "left" else 1 for s in sides]
    arms, grips = group_slice("arms"), group_slice("grippers")
    q = default_pose()
    step = max(1, int(round(len(clip.t) / max(clip.duration, 1e-6) / spec.fps)))  # clip.hz / fps
    frame_ids = np.arange(0, len(clip.t), step)
    closed = clip.gripper[:, grip_cols].max(axis=1) < 0.5 * GRIPPER_OPEN
    attach_kinds = ("grasp", "lift", "place")

    def tcp_mid(i: int) -> np.ndarray:
        q[arms], q[grips] = clip.q[i], clip.gripper[i]
        idx.set_joint_pos(scene.data, q)
        _kinematics(scene)
        return np.mean([scene.data.site_xpos[s] for s in tcp_ids], axis=0)

    offset = None
    if kind in ("lift", "place"):  # held from the first frame: the lowest closed TCP point is the grasp
        low = min(tcp_mid(i)[2] for i in range(len(clip.t)) if closed[i])
        offset = np.array([0.0, 0.0, low - prop_pos[2]])
        prop_pos = tcp_mid(0) - offset
    n = len(frame_ids)
    cam_pos, cam_quat, frames = np.zeros((n, 3)), np.zeros((n, 4)), []
    with CameraRenderer(scene.model, spec.size * spec.supersample, spec.size * spec.supersample) as r:
        for j, i in enumerate(frame_ids):
            for k in range(i - step + 1 if j else 0, i + 1):  # advance the prop at full rate
                tcp = tcp_mid(k)
                if kind in attach_kinds and closed[k]:
                    if offset is None:
                        offset = tcp - prop_pos
                    prop_pos = tcp - offset
                elif kind in attach_kinds:
                    offset = None  # released (or not yet grasped): the prop stays where it is
                elif kind == "push":
                    behind = prop_pos[0] - 0.06
                    if tcp[0] > behind and abs(tcp[2] - prop_pos[2]) < 0.12:
                        prop_pos[0] += tcp[0] - behind
            scene.data.qpos[adr:adr + 3] = prop_pos
            tcp_mid(i)
            _kinematics(scene)
            cam_pos[j] = scene.data.cam_xpos[idx.head_camera]
            mujoco.mju_mat2Quat(cam_quat[j], scene.data.cam_xmat[idx.head_camera])
            frames.append(_downsample(r.render(scene.data, "head_rgb"), spec.supersample))
    t = clip.t[frame_ids]
    meta = {"primitive": [kind] * n, "target": [prop] * n, "time": t, "cam_pos": cam_pos, "cam_quat": cam_quat,
            "arms": clip.arms, "camera": "x2_head"}
    return np.stack(frames), meta, clip
