"""The ``wbvla`` command line: one subcommand per job, each over a typed config dataclass.

The same dataclasses drive the notebooks and ``deploy/``. Subcommands import their heavy
dependencies lazily, so ``wbvla --help`` is fast.

Add a job by writing a function ``name(config: SomeConfig) -> None`` below and listing it in
:data:`COMMANDS`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import os
import shlex
import sys
import textwrap
import types
import typing

import tyro

from wbvla.data.corpus_config import CorpusConfig
from wbvla.data.lerobot_v3.config import LeRobotValidateConfig
from wbvla.data.vision_renders import VisionRenderConfig
from wbvla.lam.config import LAMTrainConfig
from wbvla.lmo.cpu.config import CpuTrainConfig
from wbvla.lmo.job_config import BenchmarkConfig, ClipsConfig, EvalConfig, ExportConfig, TrainConfig
from wbvla.notebook_runner import NotebookRunConfig, run_notebook
from wbvla.paths import cache_dir
from wbvla.quickstart_config import QuickstartConfig
from wbvla.runtime.config import DeployKeysConfig
from wbvla.suite.config import ScalingConfig, SuiteConfig
from wbvla.suite.dagger_config import DAggerConfig
from wbvla.tasks.expert_eval import ExpertEvalConfig
from wbvla.tasks.teleop_config import TeleopDataConfig
from wbvla.vla.config import (
    BackboneConfig,
    FinetuneConfig,
    PretrainConfig,
    ShipConfig,
    TickBenchConfig,
    VariantJobConfig,
)
from wbvla.vla.vision_pretrain_config import VisionPretrainConfig, VisionShipConfig


def quickstart(config: QuickstartConfig) -> None:
    """The main job: the shipped VLA runs one held-out task from its instruction, closed loop; video + report.json."""
    from wbvla.quickstart import run  # lazy: CLI start-up

    run(config)


def notebook(config: NotebookRunConfig) -> None:
    """Execute a numbered notebook headlessly (papermill) and record the command in its metrics."""
    run_notebook(config)


def lam_data(config: CorpusConfig) -> None:
    """Generate the Stage I video corpora (locomotion human/robot, manipulation) for the LAMs."""
    from wbvla.data.corpus import generate_corpus  # lazy: CLI start-up

    df = generate_corpus(config)
    print(f"{config.path}: {df.clip_id.nunique()} clips, {len(df)} frames")


def lmo_train(config: CpuTrainConfig) -> None:
    """Train the LMO with PPO on the C MuJoCo engine (2 CPU cores; --engine cpu, the default); resumable, to a
    wall-clock budget. --engine mjlab: the same task on MuJoCo Warp (see lmo-train-mjlab)."""
    from wbvla.lmo.cpu.train import train_cpu  # lazy: CLI start-up

    print(train_cpu(config))


def lmo_train_mjlab(config: TrainConfig) -> None:
    """Train the LMO (or its velocity baseline) with PPO in mjlab on MuJoCo Warp (the GPU path; also runs on the
    CPU, slowly); resumes the run folder if it has a checkpoint. What lmo-train runs with its engine set to mjlab."""
    from wbvla.lmo.train import train  # lazy: CLI start-up

    train(config)


def lmo_export(config: ExportConfig) -> None:
    """Export an LMO checkpoint to ONNX (normalizer inside), check it, time it, update the model card."""
    import json

    from wbvla.lmo.export import run_export  # lazy: CLI start-up

    print(json.dumps(run_export(config), indent=2, default=str))


def lmo_eval(config: EvalConfig) -> None:
    """Table 3 in plain MuJoCo (App. B.4) for the given / shipped policies -> figures/09_lmo_evaluation.json."""
    from wbvla.lmo.evaluation import run_evaluation  # lazy: CLI start-up

    run_evaluation(config)


def lmo_bench(config: BenchmarkConfig) -> None:
    """PPO throughput of the LMO task vs mjlab's Mjlab-Velocity-Flat-Unitree-G1 at the same env count."""
    import json

    from wbvla.lmo.bench import benchmark  # lazy: CLI start-up

    print(json.dumps(benchmark(config), indent=2))


def lmo_clips(config: ClipsConfig) -> None:
    """Rebuild a shipped arm clip library (Stage II perturbations, CoM-sway evaluation): synthetic or teleop."""
    from wbvla.lmo.clips import (  # lazy: CLI start-up
        TELEOP_CLIP_FILE,
        clips_from_teleop,
        generate_clips,
        save_clips,
    )

    if config.source == "synthetic":
        print(save_clips(generate_clips(config.n, config.seed)))
        return
    root = config.dataset if config.dataset is not None else cache_dir() / "teleop" / "tutorial"
    print(save_clips(clips_from_teleop(root, max_clips=config.n), TELEOP_CLIP_FILE))


def lam_train(config: LAMTrainConfig) -> None:
    """Train (or resume) one LAM variant (mani / loco / shared) on the Stage I corpora."""
    from wbvla.lam.train import train_lam  # lazy: CLI start-up

    res = train_lam(config)
    print(f"{config.variant} LAM: step {res.steps} ({res.steps_this_call} this call, {res.wall_s:.0f} s, "
          f"{res.pairs_per_s:.0f} pairs/s on {res.device}) -> {res.checkpoint}")


def vla_pretrain(config: PretrainConfig) -> None:
    """Stage II (Eq. 1): train the VLA to predict the Stage I LAMs' codes on the corpora; resumable."""
    from wbvla.vla.pretrain import pretrain  # lazy: CLI start-up

    res = pretrain(config)
    print(f"Stage II {config.run_name()}: step {res.fit.steps} ({res.fit.steps_this_call} this call, {res.fit.wall_s:.0f} s, "
          f"{res.fit.examples_per_s:.0f} examples/s) -> {res.model_dir}")


def vla_finetune(config: FinetuneConfig) -> None:
    """Stage III: LoRA + execution decoder on the teleoperation data (Stage II first if missing); resumable."""
    from wbvla.vla.finetune import finetune  # lazy: CLI start-up

    res = finetune(config)
    print(f"Stage III {config.run_name()}: step {res.fit.steps} ({res.fit.steps_this_call} this call, {res.fit.wall_s:.0f} s, "
          f"{res.fit.examples_per_s:.0f} frames/s) -> {res.policy_dir}")


def vla_variant(config: VariantJobConfig) -> None:
    """Build one ablation variant of the task suite (Table 2 / Table 6 / Fig. 3 analogs)."""
    from wbvla.vla.variants import build_variant  # lazy: CLI start-up

    policy = build_variant(config.name, config.finetune_config(), human_video_fraction=config.human_video_fraction,
                           robot_video_fraction=config.robot_video_fraction,
                           max_demos_per_task=config.base.max_demos_per_task)
    print(f"{config.name}: {policy.model_id}")


def vla_dagger(config: DAggerConfig) -> None:
    """One DAgger round (not in the paper): learner rollouts labelled by the scripted expert, then Stage III on all."""
    from wbvla.suite.dagger import run_dagger  # lazy: CLI start-up

    s = run_dagger(config)
    c = s["collection"]
    print(f"{c['rollouts']} rollouts ({c['frames']} frames, {c['learner_frames']} driven by the learner) -> {c['dataset']}; "
          f"Stage III step {s['steps']} on {s['train_frames']} frames -> {s['policy_dir']}")


def vla_ship(config: ShipConfig) -> None:
    """Make a trained policy folder the shipped tutorial policy (data/vla/tutorial) and regenerate the model card."""
    from wbvla.vla.variants import ship_policy  # lazy: CLI start-up

    dest = ship_policy(config.policy)
    print(f"shipped {config.policy} -> {dest} (model card: {dest.parent / 'MODEL_CARD.md'})")


def vla_bench(config: TickBenchConfig) -> None:
    """Time the VLA tick (act(): image to u_t) of a policy folder or an untrained preset on this CPU."""
    import json

    import torch

    from wbvla.vla.bench import tick_latency, timing_policy  # lazy: CLI start-up
    from wbvla.vla.policy import VLAPolicy  # lazy: CLI start-up

    torch.set_num_threads(config.threads)
    policy = VLAPolicy.load(config.policy) if config.policy else timing_policy(BackboneConfig(preset=config.preset))
    result = tick_latency(policy, ticks=config.ticks)
    print(json.dumps(result, indent=2))
    if config.output is not None:
        from wbvla.io import write_json_atomic  # lazy: CLI start-up
        from wbvla.viz.report import provenance  # lazy: matplotlib

        write_json_atomic(config.output, {**result, "image_size": policy.image_size, "provenance": provenance()})
        print(f"-> {config.output}")


def vision_renders(config: VisionRenderConfig) -> None:
    """Head-camera renders with privileged labels (training seeds only) for vision-tower pretraining; resumable."""
    import json

    from wbvla.data.vision_renders import render_dataset  # lazy: CLI start-up

    print(json.dumps(render_dataset(config), indent=1))


def vision_pretrain(config: VisionPretrainConfig) -> None:
    """Pretrain the VLA's vision tower on simulated renders (localize grasp targets and hands); resumable."""
    import json

    from wbvla.vla.vision_pretrain import pretrain_vision_tower  # lazy: CLI start-up

    out = pretrain_vision_tower(config)
    print(json.dumps({k: out[k] for k in ("tower", "steps", "val", "val_mean_predictor")}, indent=1))
    print(f"-> load it with BackboneConfig(preset='pretrained', pretrained_path='{out['tower']}')")


def vision_ship(config: VisionShipConfig) -> None:
    """Copy a pretrained vision tower into the repository (data/vla/vision_tower) with its measurements."""
    from wbvla.vla.vision_pretrain import ship_tower  # lazy: CLI start-up

    dest = ship_tower(config.run, config.tower)
    print(f"shipped {config.run / config.tower} -> {dest} (pass --vision-tower {dest} to Stage II-III)")


def teleop_data(config: TeleopDataConfig) -> None:
    """Teleoperation data: the scripted expert on the three tasks -> a LeRobot v3 dataset (+ summary JSON)."""
    from wbvla.tasks.teleop import generate_teleop_data  # lazy: CLI start-up

    s = generate_teleop_data(config)
    rates = {t: r["subgoals"] for t, r in s["expert_success"].items()}
    print(f"{s['dataset']}: {s['episodes_total']} episodes, {s['frames_total']} frames, {s['dataset_bytes'] / 1e6:.1f} MB, "
          f"{s['episodes_per_hour']:.0f} episodes/h, backend {s['locomotion_backend']}; expert success {rates}; "
          f"{'valid LeRobot v3.0' if not s['validation_problems'] else s['validation_problems']}")


def expert_eval(config: ExpertEvalConfig) -> None:
    """The scripted expert's success per subgoal on held-out seeds, per locomotion backend (JSON in the cache)."""
    import json

    from wbvla.tasks.expert_eval import run_expert_eval  # lazy: CLI start-up

    out = run_expert_eval(config)
    print(json.dumps({b: {t: (v["successes"] if isinstance(v, dict) else v) for t, v in r.items()}
                      for b, r in out["results"].items()}, indent=1))
    print(f"-> {out['path']} ({out['wall_s']:.0f} s)")


def suite(config: SuiteConfig) -> None:
    """The closed-loop task suite (Table 2 / Table 6 analog): every row on every backend, held-out seeds; resumable."""
    from wbvla.suite.report import table2, table2_lines  # lazy: CLI start-up
    from wbvla.suite.run import extra_specs, run_suite  # lazy: CLI start-up

    res = run_suite(config)
    rows = table2(res.records, list(config.rows) + [s.label for s in extra_specs(config)], config.backends, config.tasks)
    for backend in config.backends:
        print(f"\n{backend}:\n" + "\n".join(table2_lines(rows, backend)))
    if res.missing:
        print(f"skipped (no trained policy): {res.missing}")
    print(f"{len(res.records)} trials in {res.out_dir}")


def suite_scaling(config: ScalingConfig) -> None:
    """The Fig. 3 analog: success vs teleop demonstrations for Stage II video fractions; resumable."""
    import json

    from wbvla.suite.report import scaling_curves  # lazy: CLI start-up
    from wbvla.suite.run import run_scaling  # lazy: CLI start-up

    res = run_scaling(config)
    curves = scaling_curves(res.records, config.human_fractions, config.robot_fractions, config.demos)
    print(json.dumps({g: {f: {d: p["rate"] for d, p in pts.items()} for f, pts in c.items()} for g, c in curves.items()}, indent=1))
    print(f"{len(res.records)} trials in {res.out_dir}")


def lerobot_validate(config: LeRobotValidateConfig) -> None:
    """Check a dataset root against the LeRobot v3.0 layout; exits 1 listing every problem found."""
    from wbvla.data.lerobot_v3.validate import validate_v3  # lazy: CLI start-up

    problems = validate_v3(config.root, count_video_frames=config.count_video_frames)
    for p in problems:
        print(f"- {p}")
    print(f"{config.root}: {'valid LeRobot v3.0 dataset' if not problems else f'{len(problems)} problem(s)'}")
    if problems:
        sys.exit(1)


def deploy_keys(config: DeployKeysConfig) -> None:
    """CURVE keys for deploy/: server + robot keypairs and the server's allow-list (non-loopback links need them)."""
    from wbvla.runtime.transport import create_keys  # lazy: CLI start-up

    for name, path in create_keys(config.out_dir, config.clients, config.force).items():
        print(f"{name}: {path} (secret: {path.with_suffix('.key_secret')})")
    print(f"allow-list: {config.out_dir / 'authorized'}")


COMMANDS = {
    "quickstart": quickstart,
    "notebook": notebook,
    "lam-data": lam_data,
    "lam-train": lam_train,
    "lmo-train": lmo_train,
    "lmo-train-mjlab": lmo_train_mjlab,
    "lmo-export": lmo_export,
    "lmo-eval": lmo_eval,
    "lmo-bench": lmo_bench,
    "lmo-clips": lmo_clips,
    "deploy-keys": deploy_keys,
    "vla-pretrain": vla_pretrain,
    "vla-finetune": vla_finetune,
    "vla-variant": vla_variant,
    "vla-dagger": vla_dagger,
    "vla-ship": vla_ship,
    "vla-bench": vla_bench,
    "vision-renders": vision_renders,
    "vision-pretrain": vision_pretrain,
    "vision-ship": vision_ship,
    "lerobot-validate": lerobot_validate,
    "teleop-data": teleop_data,
    "expert-eval": expert_eval,
    "suite": suite,
    "suite-scaling": suite_scaling,
}


BRIEF_HELP_ABOVE = 40
"""A command with more options than this gets the short ``--help`` (``--help-all``: tyro's full help)."""


def _field_docs(cls: type) -> dict[str, str]:
    """``field -> docstring`` of a dataclass (the string literal under each field, as tyro reads it)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError, IndexError, SyntaxError):
            continue
        for node, doc in zip(body, body[1:], strict=False):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(doc, ast.Expr)
                    and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
                docs[node.target.id] = " ".join(doc.value.value.split())
    return docs


def _type_name(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "{" + ",".join(str(a) for a in args) + "}"
    if origin in (typing.Union, types.UnionType):
        named = [_type_name(a) for a in args if a is not type(None)]
        return "|".join(named) + ("|None" if len(named) < len(args) else "")
    if origin in (tuple, list, set, frozenset):
        return f"{_type_name(args[0])} ..." if args else "..."
    return getattr(tp, "__name__", str(tp)).upper()


def _options(cls: type, path: str = "") -> list[tuple[str, list[tuple[str, str]], str]]:
    """``(group path, [(flag, help line)], group doc)`` for ``cls`` and every nested config, depth first.
    Raises ``TypeError`` on a field with tyro markers (``Annotated``: suppressed, positional, ...)."""
    hints, docs = typing.get_type_hints(cls, include_extras=True), _field_docs(cls)
    own, nested = [], []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        if typing.get_origin(tp) is typing.Annotated:
            raise TypeError(f"{cls.__name__}.{f.name} carries tyro markers")
        if dataclasses.is_dataclass(tp):
            nested += _options(tp, f"{path}.{f.name}" if path else f.name)
            continue
        flag = "--" + f.name.replace("_", "-")
        if tp is bool:
            flag = f"{flag}, --no-{f.name.replace('_', '-')}"
        else:
            flag = f"{flag} {_type_name(tp)}"
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        own.append((flag, f"{_first_sentence(docs.get(f.name, ''))} (default: {default})".strip()))
    return [(path, own, _first_sentence(cls.__doc__ or ""))] + nested


def _first_sentence(text: str) -> str:
    """The text up to its first full stop outside parentheses (all of it when short)."""
    text, depth = " ".join(text.split()), 0
    if len(text) <= 120:
        return text
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "." and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


def brief_help(name: str, config_type: type) -> str | None:
    """Short help for a command with many options: its own and its first-level groups' options with
    their help, deeper groups as one line each (what they set, their option names); None (tyro's help)
    when the command has at most :data:`BRIEF_HELP_ABOVE` options or options this walk cannot name
    exactly as tyro does (repeated names, ``Annotated`` markers)."""
    try:
        groups = _options(config_type)
    except TypeError:
        return None  # tyro names these options its own way: its help is the truth
    flags = [flag.split()[0].rstrip(",") for _, opts, _ in groups for flag, _ in opts]
    total = len(flags)
    if total <= BRIEF_HELP_ABOVE or len(set(flags)) < total:
        return None  # short enough, or names tyro prefixes to keep them apart
    wrap = functools.partial(textwrap.fill, width=100, subsequent_indent=" " * 28, break_on_hyphens=False)

    def option(flag: str, text: str) -> str:
        return wrap(f"  {flag:<25} {text}") if len(flag) <= 25 else f"  {flag}\n" + wrap(text, initial_indent=" " * 28)
    lines = [f"usage: wbvla {name} [OPTIONS]", "", " ".join((COMMANDS[name].__doc__ or "").split()), "",
             f"The common options; all {total}, each with its help: wbvla {name} --help-all", ""]
    deeper = []
    for path, opts, doc in groups:
        if path.count(".") >= 1:
            deeper.append((path, opts, doc))
            continue
        lines.append(f"{path or 'options'}: {doc}" if path else "options:")
        lines += [option(flag, text) for flag, text in opts]
        lines.append("")
    if deeper:
        lines.append("more options, by group (set any of them by name; --help-all for their help):")
        for path, opts, doc in deeper:
            lines.append(textwrap.fill(f"  {path} ({len(opts)}): {doc}", width=100, subsequent_indent=" " * 6))
            lines.append(textwrap.fill(" ".join(flag.split(",")[0].split()[0] for flag, _ in opts), width=100,
                                       initial_indent=" " * 6, subsequent_indent=" " * 6, break_on_hyphens=False))
    return "\n".join(lines)


def engine_args(args: list[str]) -> list[str]:
    """``lmo-train --engine cpu|mjlab ...`` -> ``lmo-train ...`` / ``lmo-train-mjlab ...`` (the two trainers
    have different settings, so each engine is its own command; ``--engine`` picks one)."""
    if not args or args[0] != "lmo-train" or not any(a == "--engine" or a.startswith("--engine=") for a in args):
        return args
    rest, engine, i = [], "cpu", 1
    while i < len(args):
        if args[i] == "--engine" and i + 1 < len(args):
            engine, i = args[i + 1], i + 2
        elif args[i].startswith("--engine="):
            engine, i = args[i].split("=", 1)[1], i + 1
        else:
            rest, i = rest + [args[i]], i + 1
    if engine not in ("cpu", "mjlab"):
        raise SystemExit(f"wbvla lmo-train: --engine must be cpu or mjlab, got {engine!r}")
    return ["lmo-train" if engine == "cpu" else "lmo-train-mjlab", *rest]


def main() -> None:
    args = engine_args(sys.argv[1:])
    os.environ.setdefault("WBVLA_COMMAND", shlex.join(["wbvla", *args]))
    if len(args) == 2 and args[0] in COMMANDS and args[1] in ("-h", "--help"):
        config_type = typing.get_type_hints(COMMANDS[args[0]])["config"]
        text = brief_help(args[0], config_type)
        if text is not None:
            print(text)
            return
    args = ["--help" if a == "--help-all" else a for a in args]
    tyro.extras.subcommand_cli_from_dict(COMMANDS, args=args, config=(tyro.conf.OmitArgPrefixes,))


if __name__ == "__main__":
    main()
