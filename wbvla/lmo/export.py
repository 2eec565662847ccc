"""Export a trained LMO actor to ONNX (observation normalization inside the graph) and check it.

The ONNX graph maps the flattened observation (1, D) to the 12 leg actions (1, 12), the
deterministic policy mean. Its metadata says how to use it: observation layout and history,
action scale, leg joint order and default pose, task, stage and the command semantics, so the
deployment side (:mod:`wbvla.lmo.policy`) needs nothing but the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wbvla.io import atomic_path, write_json_atomic, write_text_atomic
from wbvla.lmo.card import interface_spec, render_spec
from wbvla.lmo.config import leg_action_scales
from wbvla.lmo.cpu.config import DR_ROW_DOCS, LEGACY_DR_ROWS
from wbvla.lmo.onnx_policy import LMOPolicy, latency_ms
from wbvla.lmo.proprio import FRAME_DIM, OBS_JOINTS, OBS_TERMS
from wbvla.sim.joints import default_pose, joint_names
from wbvla.validation import require

LEG_DIM = 12


def _state_dict(checkpoint: Path) -> tuple[dict, dict]:
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "actor_state_dict" not in ckpt:
        raise ValueError(f"{checkpoint} is not an rsl-rl checkpoint (no 'actor_state_dict')")
    return ckpt["actor_state_dict"], ckpt.get("infos") or {}


def load_actor(checkpoint: Path):
    """The rsl-rl actor (MLPModel with its observation normalizer) of a checkpoint.

    Layer sizes are read from the weights, so no config is needed."""
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    sd, _ = _state_dict(Path(checkpoint))
    layers = sorted(int(m.group(1)) for k in sd if (m := re.match(r"^mlp\.(\d+)\.weight$", k)))
    dims = [sd[f"mlp.{i}.weight"].shape for i in layers]
    obs_dim, hidden, out_dim = dims[0][1], tuple(d[0] for d in dims[:-1]), dims[-1][0]
    require(out_dim == LEG_DIM, f"expected a 12-D leg action head, got {out_dim}")
    frames = (FRAME_DIM, FRAME_DIM + 2)  # the paper's frame, and with the gait clock's (sin, cos)
    require(any(obs_dim % f == 0 for f in frames), f"observation size {obs_dim} is not a multiple of a frame size {frames}")
    obs = TensorDict({"actor": torch.zeros(1, obs_dim)}, batch_size=[1])
    model = MLPModel(obs, {"actor": ["actor"]}, "actor", out_dim, hidden_dims=hidden, activation="elu",
                     obs_normalization="obs_normalizer._mean" in sd,
                     distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "scalar"})
    model.load_state_dict(sd)
    model.eval()
    return model


def policy_metadata(history: int, action_scale: float | tuple[float, ...], task: str, stage: int,
                    ablation: str = "none", levers: dict | None = None, dr_rows: str = "table5") -> dict[str, str]:
    """What a consumer of the ONNX file must know, as string key/values. ``action_scale``: one
    scale for every leg joint or 12 per-joint scales (rad per action unit, canonical order).
    ``levers``: the :class:`~wbvla.lmo.levers.LeverConfig` (as a dict) of a CPU-engine run; its
    gait clock and reference gait change the observation and the action mapping, so they go in.
    ``dr_rows``: the Table 5 rows it trained with (:func:`trained_dr_rows`)."""
    scales = [float(action_scale)] * LEG_DIM if isinstance(action_scale, (int, float)) else [float(v) for v in action_scale]
    require(len(scales) == LEG_DIM, f"need {LEG_DIM} leg action scales, got {len(scales)}")
    q0 = default_pose()
    names = joint_names()
    return {
        "wbvla_task": task,
        "wbvla_stage": str(stage),
        "wbvla_ablation": ablation,
        "observation_terms": json.dumps(list(OBS_TERMS)),
        "observation_history": str(history),
        "observation_joints": json.dumps(list(OBS_JOINTS)),
        "action_joints": json.dumps(list(joint_names("legs"))),
        "action_scale": json.dumps(scales),
        "default_joint_pos": json.dumps([float(q0[names.index(n)]) for n in joint_names("legs")]),
        "command": "[s_x, s_y, s_yaw, h*] flags in {-1,0,1}, h* in m" if task == "lmo" else "[v_x m/s, v_y m/s, w_z rad/s, h m]",
        "control_dt": "0.02",
        "interface": json.dumps(interface_spec(history, scales, levers, dr_rows)),
        "domain_randomization": DR_ROW_DOCS[dr_rows],
    } | _lever_metadata(levers)


def trained_dr_rows(meta: dict) -> str:
    """The Table 5 rows of a run (its ``run.json``): ``none`` with randomization off; mjlab runs
    ``table5``; CPU-engine runs their ``engine.dr_rows`` (absent: a run from before the field)."""
    if not meta["task"].get("domain_rand", {}).get("enabled", True):
        return "none"
    return meta["config"]["engine"].get("dr_rows", LEGACY_DR_ROWS) if meta.get("engine") == "cpu" else "table5"


def _lever_metadata(levers: dict | None) -> dict[str, str]:
    from wbvla.lmo.levers import GAIT_TERM  # lazy: mjlab

    if not levers:
        return {}
    symmetry = levers.get("symmetry", "none")  # runs from before the lever: none
    out = {} if symmetry == "none" else {
        "symmetry": f"{symmetry}: trained with left-right symmetry (wbvla.lmo.symmetry; rsl-rl's symmetry extension"
                    + (f", mirror loss weight {levers['mirror_loss_weight']}" if "loss" in symmetry else "") + ")"}
    if not levers.get("gait_clock"):
        return out
    out |= {"levers": json.dumps(levers),  # the whole LeverConfig of the run (the CPU engine rebuilds its env from it)
            "observation_terms": json.dumps(list(OBS_TERMS) + [list(GAIT_TERM)]),
            "gait_period_s": str(levers["gait_period_s"]),
            "gait_phase": "(sin 2 pi phi, cos 2 pi phi), phi = (k * 0.02 / gait_period_s) mod 1 with k an integer counter: "
                          "k += 1 at each policy step whose command has a non-zero flag, else k = 0 (k = 0 at reset, "
                          "not advanced on the first step); see wbvla.lmo.levers"}
    if levers.get("reference_gait") == "sinusoid":
        out |= {"reference_gait": "sinusoid", "reference_amplitude": str(levers["reference_amplitude"]),
                "action_mapping": "leg target = default + r(phi) + action_scale * a, clipped to the joint range; "
                                  "r = wbvla.lmo.levers.reference_leg_offsets(gait_swing(phi, moving), reference_amplitude)"}
    if levers.get("stance_posture"):
        out |= {"stance_posture": "true",
                "action_mapping": out.get("action_mapping", "leg target = default + action_scale * a").replace(
                    " + action_scale * a", " + s(h*) + action_scale * a")
                + "; s = wbvla.lmo.gait.stance_leg_offsets(h*) (the squat posture of the commanded height)"}
    return out


def export_onnx(checkpoint: Path, out: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write the actor of ``checkpoint`` as ONNX at ``out`` (atomically) and return ``out``."""
    import onnx

    model = load_actor(checkpoint)
    graph = model.as_onnx(verbose=False).to("cpu").eval()
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.onnx.export(graph, graph.get_dummy_inputs(), str(tmp), export_params=True, opset_version=18,
                          input_names=graph.input_names, output_names=graph.output_names,
                          dynamic_axes={}, dynamo=False)
        proto = onnx.load(str(tmp))
        for key, value in (metadata or {}).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        onnx.save(proto, str(tmp))
    return out


@dataclass
class ExportCheck:
    """Largest |onnxruntime - torch| over random observations."""

    max_abs_diff: float
    samples: int


def check_onnx(onnx_path: Path, checkpoint: Path, samples: int = 256, seed: int = 0) -> ExportCheck:
    """Run the ONNX file and the torch actor on the same random observations and compare."""
    import onnxruntime as ort

    model = load_actor(checkpoint)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    dim = sess.get_inputs()[0].shape[1]
    rng = np.random.default_rng(seed)
    worst = 0.0
    with torch.no_grad():
        for _ in range(samples):
            x = rng.normal(size=(1, dim)).astype(np.float32) * 2.0
            ref = _torch_act(model, x)
            got = sess.run(None, {"obs": x})[0]
            worst = max(worst, float(np.abs(ref - got).max()))
    return ExportCheck(worst, samples)


def _torch_act(model, x: np.ndarray) -> np.ndarray:
    from tensordict import TensorDict

    obs = TensorDict({"actor": torch.from_numpy(x)}, batch_size=[x.shape[0]])
    return model(obs).numpy()


def _run_meta(checkpoint: Path) -> dict:
    path = Path(checkpoint).parent / "run.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: export needs the run folder written by `wbvla lmo-train`")
    return json.loads(path.read_text())


def run_export(cfg) -> dict:
    """``wbvla lmo-export``: ONNX file, onnx == torch check, latency, model card entry."""
    from wbvla.lmo.train import run_summary  # lazy: rsl-rl, mjlab

    meta = _run_meta(cfg.checkpoint)
    task = meta["task"]
    scales = leg_action_scales(task["action_scale"], task.get("action_scaling", "uniform"))
    levers = meta["config"]["engine"]["levers"] if meta.get("engine") == "cpu" else None
    md = policy_metadata(task["observations"]["history"], scales, task["task"], task["stage"], task["ablation"], levers,
                         trained_dr_rows(meta))
    out = export_onnx(cfg.checkpoint, Path(cfg.out_dir) / f"{cfg.name}.onnx", md)
    check = check_onnx(out, cfg.checkpoint)
    require(check.max_abs_diff < 1e-4, f"ONNX and torch disagree by {check.max_abs_diff:.2e} on {out}")
    lat = latency_ms(LMOPolicy(out))
    # rsl-rl writes model_<it>.pt with iter = it once 0-based iteration it is done: it + 1 iterations trained
    iteration = torch.load(cfg.checkpoint, map_location="cpu", weights_only=False).get("iter")
    summary = run_summary(Path(cfg.checkpoint).parent, up_to_iteration=None if iteration is None else int(iteration) + 1)
    entry = {
        "file": out.name, "bytes": out.stat().st_size, "checkpoint": Path(cfg.checkpoint).name,
        "onnx_vs_torch_max_abs_diff": check.max_abs_diff, "latency_median_ms": round(lat["median_ms"], 4),
        "latency_p90_ms": round(lat["p90_ms"], 4), **summary, "metadata": md, "note": cfg.note,
    }
    if summary.get("init_from"):  # stored relative to the folder that holds the run folders
        parent = Path(cfg.checkpoint).parent.parent / Path(summary["init_from"]).parent
        if (parent / "run.json").exists():
            entry["init_from_run"] = run_summary(parent)
    write_model_card(Path(cfg.out_dir), cfg.name, entry)
    return entry


def training_departures(levers_json: str | None) -> str:
    """The training-only levers of a CPU run (rewards, curriculum), as one model-card line; the ones that
    change the observation or the action mapping are in the interface section. '' without levers."""
    if not levers_json:
        return ""
    lv = json.loads(levers_json)
    parts = [f"intent kernels exp{{-{lv['intent_sharpness']:g} e^2}} (Table 4: exp{{-4 e^2}})"
             if lv.get("intent_sharpness") is not None else "intent kernels exp{-4 e^2} as in Table 4"]
    if lv.get("height_sharpness") is not None:
        parts.append(f"height kernel exp{{-{lv['height_sharpness']:g} e^2}} (Table 4: exp{{-4 e^2}})")
    parts += [f"{name} weight {lv[key]:g}" for key, name in (("contact_schedule_weight", "contact-schedule reward"),
                                                             ("swing_height_weight", "swing-height penalty"),
                                                             ("progress_weight", "intent-progress reward")) if lv.get(key)]
    if lv.get("assist", {}).get("enabled"):
        parts.append(f"assistive pelvis wrench fading to 0 over {lv['assist']['decay_env_steps']:,} env steps")
    if lv.get("still_arms_fraction"):
        parts.append(f"arms held still in {lv['still_arms_fraction']:.0%} of Stage II episodes")
    return "training departures (wbvla/lmo/lever_config.py): " + "; ".join(parts)


def write_model_card(out_dir: Path, name: str, entry: dict) -> None:
    """Add/replace ``name`` in ``model_card.json`` and regenerate ``model_card.md`` (atomic)."""
    card_json = out_dir / "model_card.json"
    cards = json.loads(card_json.read_text()) if card_json.exists() else {}
    cards[name] = entry
    write_json_atomic(card_json, cards)
    lines = ["# LMO policies shipped with wbvla", "",
             "Generated by `wbvla lmo-export` from the run folders written by `wbvla lmo-train`. Numbers",
             "are what the commands below produced; see `figures/09_lmo_evaluation.json` for how well",
             "each policy does.", ""]
    for key, e in sorted(cards.items()):
        runs = [e] + ([e["init_from_run"]] if "init_from_run" in e else [])
        lines += [f"## `{e['file']}` ({key})", "", *([f"{e['note']}", ""] if e.get("note") else []),
                  f"- task: {e['task']}, stage {e['stage']}, ablation {e['ablation']}; {e['num_envs']} envs",
                  f"- this stage: {e['iterations']} PPO iterations, {e['env_steps']:,} env steps, {e['wall_s']} s wall on {', '.join(e['hardware'])}"]
        if len(runs) > 1:
            r = runs[1]
            lines.append(f"- started from Stage {r['stage']}: {r['iterations']} iterations, {r['env_steps']:,} env steps, "
                         f"{r['wall_s']} s on {', '.join(r['hardware'])}")
        lines += [f"- ONNX {e['bytes']:,} bytes; |onnxruntime - torch| <= {e['onnx_vs_torch_max_abs_diff']:.1e}; "
                  f"CPU latency median {e['latency_median_ms']} ms (p90 {e['latency_p90_ms']} ms)",
                  *([f"- {e['metadata']['symmetry']}"] if "symmetry" in e.get("metadata", {}) else []),
                  *([f"- {d}"] if (d := training_departures(e.get("metadata", {}).get("levers"))) else []),
                  *([f"- domain randomization (Table 5): {e['metadata']['domain_randomization']}"]
                    if "domain_randomization" in e.get("metadata", {}) else []),
                  "- commands:", *[f"  - `{c}`" for r in reversed(runs) for c in r["commands"]], ""]
        if "interface" in e.get("metadata", {}):
            lines += render_spec(json.loads(e["metadata"]["interface"]))
    write_text_atomic(out_dir / "model_card.md", "\n".join(lines))
