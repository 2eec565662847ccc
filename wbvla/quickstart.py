"""``wbvla quickstart``: the main job on its embedded default, CPU only, no downloads.

1. Build a task scene around the simulated X2 (seeded layout, colours, textures).
2. Render the egocentric head camera (D435i-like) and a third-person view.
3. Run a short physics rollout at 200 Hz with 50 Hz control: the robot stands under PD control
   while its arms reach for the task object; a static-balance controller re-solves the hip angle
   every control step so the centre of mass stays over mid-foot (wbvla.sim.stance).
4. Write a report: figures, metrics JSON (with provenance) and an egocentric video.

Later stages of the pipeline (LAMs, VLA, LMO) extend this job.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from wbvla.quickstart_config import QuickstartConfig  # noqa: E402
from wbvla.sim import joints as J  # noqa: E402
from wbvla.sim.arm_motions import generate_clip  # noqa: E402
from wbvla.sim.benchmark import render_ms_per_frame  # noqa: E402
from wbvla.sim.camera import CameraRenderer  # noqa: E402
from wbvla.sim.kinematics import READY_ARM_POSE  # noqa: E402
from wbvla.sim.robot import DECIMATION, HEAD_CAMERA, POLICY_DT  # noqa: E402
from wbvla.sim.scene import Scene, SceneConfig, build_scene  # noqa: E402
from wbvla.sim.stance import balanced_pose  # noqa: E402
from wbvla.viz.report import provenance  # noqa: E402
from wbvla.viz.video import save_video  # noqa: E402

TASK_OBJECT = {"bag_packing": "bag", "tabletop": "bag", "box_loading": "box", "long_horizon": "bag_0"}


def _arm_plan(scene: Scene, duration_s: float, seed: int) -> np.ndarray:
    """Arm targets (n_steps, 14) at 50 Hz: default -> ready -> a reach toward the task object."""
    n = int(round(duration_s / POLICY_DT))
    ramp = np.linspace(0.0, 1.0, min(50, n))[:, None]
    arms = [J.default_pose("arms") * (1 - ramp) + READY_ARM_POSE * ramp]
    target = TASK_OBJECT.get(scene.config.name)
    if target in scene.objects:
        obj = scene.objects[target]
        pos, _ = scene.object_pose(target)
        surface = scene.objects["table"].top_z if "table" in scene.objects else obj.top_z
        try:  # reach the object if it is inside the arm's workspace, else a generic reach
            clip = generate_clip("reach", seed, surface_z=surface, object_pos=np.array([pos[0], pos[1], surface]))
        except RuntimeError:
            clip = generate_clip("reach", seed)
    else:
        clip = generate_clip("reach", seed)
    arms.append(clip.q)
    arms = np.concatenate(arms)
    if len(arms) < n:
        arms = np.concatenate([arms, np.repeat(arms[-1:], n - len(arms), 0)])
    return arms[:n]


def run(config: QuickstartConfig) -> dict:
    """Run the quickstart and return its metrics (also written to ``output_dir/report.json``)."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    scene = build_scene(SceneConfig(name=config.scene, seed=config.seed))
    model, data, robot = scene.model, scene.data, scene.robot

    # --- views ----------------------------------------------------------------------------
    with CameraRenderer(model, config.width, config.height) as head, CameraRenderer(model, 480, 360) as third:
        head_img = head.render(data, HEAD_CAMERA)
        render_ms = render_ms_per_frame(model, data, HEAD_CAMERA, config.width, config.height, frames=30)
        base = data.qpos[robot.base_qpos : robot.base_qpos + 3].copy()
        third_img = third.render_free(data, base + [0.35, 0, -0.1], 2.6, 150, -22)

        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        axes[0].imshow(third_img)
        axes[0].set_title(f"scene '{config.scene}' (seed {config.seed})")
        axes[1].imshow(head_img)
        axes[1].set_title(f"head camera {config.width}x{config.height} (69.4x42.5 deg)")
        for ax in axes:
            ax.axis("off")
        fig.savefig(out / "views.png", dpi=110, bbox_inches="tight")
        plt.close(fig)

        # --- physics rollout --------------------------------------------------------------
        arms = _arm_plan(scene, config.duration_s, config.seed)
        frame_every = max(1, int(round(1.0 / (config.video_fps * POLICY_DT))))
        z0 = data.qpos[robot.base_qpos + 2]
        log = {"t": [], "base_z": [], "com_x": [], "com_y": []}
        ego, tp = [], []
        physics_s, steps = 0.0, 0
        q = J.default_pose()
        for k, q_arms in enumerate(arms):
            q[J.group_slice("arms")] = q_arms
            robot.set_targets(data, balanced_pose(J.default_pose()[3], q))
            t0 = time.perf_counter()
            for _ in range(DECIMATION):
                mujoco.mj_step(model, data)
            physics_s += time.perf_counter() - t0
            steps += DECIMATION
            com = data.subtree_com[robot.base_body]
            log["t"].append(k * POLICY_DT)
            log["base_z"].append(float(data.qpos[robot.base_qpos + 2]))
            log["com_x"].append(float(com[0]))
            log["com_y"].append(float(com[1]))
            if k % frame_every == 0:
                ego.append(head.render(data, HEAD_CAMERA))
                tp.append(third.render_free(data, data.qpos[robot.base_qpos : robot.base_qpos + 3] + [0.35, 0, -0.1], 2.6, 150, -22))

    fps = 1.0 / (frame_every * POLICY_DT)
    save_video(np.stack(ego), out / "head_camera.mp4", fps=fps)
    save_video(np.stack(tp), out / "third_person.mp4", fps=fps)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    axes[0].plot(log["t"], log["base_z"])
    axes[0].set(xlabel="time (s)", ylabel="base height (m)", title="PD hold with static balance")
    axes[1].plot(log["com_x"], log["com_y"])
    axes[1].set(xlabel="CoM x (m)", ylabel="CoM y (m)", title="horizontal CoM while the arms reach")
    axes[1].axis("equal")
    fig.savefig(out / "rollout.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    base_z = np.array(log["base_z"])
    metrics = {
        "scene": config.scene,
        "seed": config.seed,
        "render_ms_per_frame": round(render_ms, 2),
        "render_resolution": [config.width, config.height],
        "physics_steps_per_s": round(steps / physics_s, 1),
        "rollout_s": config.duration_s,
        "base_height_start_m": round(float(z0), 4),
        "base_height_max_deviation_m": round(float(np.abs(base_z - z0).max()), 4),
        "stood": bool(np.abs(base_z - z0).max() < 0.05),
        "wall_time_s": round(time.perf_counter() - t_start, 1),
        "files": sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".mp4")),
        "provenance": provenance(),
    }
    (out / "report.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"quickstart: scene '{config.scene}', robot {'stood' if metrics['stood'] else 'FELL'} "
          f"(max base-height deviation {metrics['base_height_max_deviation_m']:.3f} m); "
          f"head camera {render_ms:.1f} ms/frame; physics {metrics['physics_steps_per_s']:.0f} steps/s; "
          f"report in {out}")
    return metrics
