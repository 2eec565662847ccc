"""The declared CPU training plan of the LMO, its velocity baseline and its ablations.

Any number of sessions add up to it: each calls ``run --minutes M``, which resumes the first
unfinished step from its newest checkpoint in the plan root (committed in git: slim checkpoints of
a few MB, curves and run records), trains until the deadline, keeps only the newest checkpoint of
each run, and records the chunk. CI never trains; it evaluates the committed policies.

    python -m wbvla.lmo.cpu.plan status [--write]       # env steps done per step, wall time, stop reasons
    python -m wbvla.lmo.cpu.plan run --minutes 150      # in the background: nohup nice ... &
    python -m wbvla.lmo.cpu.plan adopt --step s1_lmo --run-dir <folder>   # bring a run trained elsewhere in
    python -m wbvla.lmo.cpu.plan export --step s1_lmo --name lmo           # ONNX + model card entry
    python -m wbvla.lmo.cpu.plan export --step s11_lmo --out-dir ~/.cache/wbvla/lmo_candidates/s11_best  # a candidate, not shipped

Steps (Table 3 rows): Stage I of the LMO, Stage II from it, Stage II continued with later recipes
(below), the velocity baseline, w/o Eq. 3 (Stage II from Stage I with J_dir off), w/o Stage I (Stage II
from scratch); w/o Stage II is the Stage I policy. Every step uses the same levers (the CPU route's
departures, see :mod:`wbvla.lmo.levers`), so the rows differ only where the paper's rows differ.

Four recipes, each kept by the steps that started with it (a run resumes with its own config).
``s1_lmo`` and ``s2_lmo`` trained with :data:`RECIPE_1`: the engine's first Table 5 subset
(``dr_rows="sensors"``: sensor lags, actuation offset, initial joint scale), no symmetry. Their
policy walked without falls but left-right asymmetrically (measured at 9.4 M Stage II env steps, 6
App. B.4 trials per primitive: turning + 2.31 rad, - 4.24 rad of 1.5; lateral + 2.29 m, - 1.38 m).
``s3_lmo`` continued it with :data:`RECIPE_2` (the whole Table 5 and rsl-rl's symmetry extension with
the mirror loss, :mod:`wbvla.lmo.symmetry`) and stood still; ``s4_lmo`` with :data:`RECIPE_3` fell in
App. B.4 once its arms were held still; both were ended. ``s5_lmo`` (:data:`RECIPE_4`, sharper intent
kernels) is the first policy that passed the issue's first-walking test; every later step uses it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from wbvla.io import write_json_atomic
from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig
from wbvla.lmo.lever_config import AssistConfig, LeverConfig
from wbvla.paths import cache_dir, data_dir

PLAN_ROOT = data_dir() / "lmo" / "cpu_plan"
"""Committed plan state: one run folder per step."""
MIN_CHUNK_MINUTES = 3.0
"""A step is not started with less than this left of the budget."""
PROBE_TRIALS = 20
"""Trials per App. B.4 kind in a plan probe (the issue's first-walking test needs 20)."""


def plan_levers() -> LeverConfig:
    """The levers of every plan step: the defaults plus the assist, handed over within 6 M env steps."""
    return LeverConfig(assist=AssistConfig(enabled=True, decay_env_steps=6_000_000))


PLAN_BASE = CpuTrainConfig(engine=CpuEngineConfig(num_envs=256, levers=plan_levers()))
"""Settings every step shares (env count, levers, PPO); each step sets its task, stage, budget, recipe."""


@dataclass(frozen=True)
class PlanRecipe:
    """The Table 5 rows and the symmetry lever of a step (everything else is :data:`PLAN_BASE`)."""

    dr_rows: str
    """:attr:`CpuEngineConfig.dr_rows`."""
    symmetry: str
    """:attr:`LeverConfig.symmetry`."""
    entropy_coef: float = 0.01
    """PPO's entropy bonus (:attr:`~wbvla.lmo.config.PPOConfig.entropy_coef`)."""
    intent_sharpness: float | None = None
    """:attr:`LeverConfig.intent_sharpness` (None: Table 4's 4)."""
    still_arms_fraction: float = 0.0
    """:attr:`LeverConfig.still_arms_fraction` (0: every Stage II episode replays arm clips)."""
    push_ramp_env_steps: int = 0
    """:attr:`CpuEngineConfig.push_ramp_env_steps` (with ``dr_rows`` ``pushes`` or ``table5``)."""
    height_sharpness: float | None = None
    """:attr:`LeverConfig.height_sharpness` (None: Table 4's 4)."""
    arm_clips: str = "synthetic"
    """:attr:`LeverConfig.arm_clips` (which arm clips Stage II replays)."""
    stance_posture: bool = False
    """:attr:`LeverConfig.stance_posture` (the squat posture of h* under the policy's residual)."""
    learning_rate: float | None = None
    """PPO's fixed learning rate (None: :func:`~wbvla.lmo.cpu.config.cpu_ppo`'s 3e-4)."""


RECIPE_1 = PlanRecipe(dr_rows="sensors", symmetry="none")
"""What ``s1_lmo`` and ``s2_lmo`` were trained with (sessions 1-2)."""
RECIPE_2 = PlanRecipe(dr_rows="table5", symmetry="loss")
"""Every later step: the full Table 5 and the mirror loss. Measured from the s2_lmo checkpoint (25 PPO
iterations each, 64-env rollout): the policy's mirror error 0.53 -> 0.037 with ``loss``, 0.48 with
``augment`` (mirrored samples assume a nearly symmetric policy), 0.52 with neither; see
:attr:`LeverConfig.symmetry`."""
RECIPE_3 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.001)
"""Recipe 2 stood still: ``s3_lmo`` (from the walking s2_lmo) met turning at 2.5 M env steps (App. B.4
yaw error 0.37 rad) but walked ever less as the curriculum raised the full Table 5 (pushes, torque
injection, model draws) and stood still by 9.5 M. Recipe 3 keeps the mirror loss (the measured cure of
the over-turning), goes back to recipe 1's rows (the ones s2_lmo learned to walk with) and lowers the
entropy bonus from 0.01 to Humanoid-Gym's 0.001: at 0.01 the action std grew 0.50 -> 0.64 -> 0.77 over
s1/s2, exploration noise that makes a cautious gait pay."""
RECIPE_4 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.001, intent_sharpness=16.0)
"""Recipe 3 with the intent kernels sharpened from Table 4's exp{-4 e^2} to exp{-16 e^2}. Trained from
s2_lmo side by side with s4_lmo (recipe 3) as its A/B partner: s4 over-walked sideways and turned and
then fell in App. B.4 (at 6.1 M env steps, 20 trials per primitive: backward 10/10 falls, right 10/10,
turning - 5/10; it depends on the arms replaying clips, see :attr:`LeverConfig.still_arms_fraction`),
while recipe 4 at 5.5 M env steps passed the issue's first-walking test: 0 of 60 trials fell,
position error forward 0.42 m, lateral 0.43 m, turning yaw error 0.44 rad (``probes/``). At Table 4's
4, a 0.2 m/s overshoot of the 0.3 cruise costs 15 % of the intent reward and standing costs 30 %; at
16 they cost 47 % and 76 %."""
RECIPE_5 = PlanRecipe(dr_rows="pushes", symmetry="loss", entropy_coef=0.003, intent_sharpness=16.0,
                      push_ramp_env_steps=4_000_000, height_sharpness=100.0)
"""Recipe 4 with Table 5's pushes (alone: the rows under which s3_lmo stood still stay off), ramped in
over 4 M env steps, the entropy bonus at 0.003 and the height kernel sharpened to exp{-100 e^2}. Why:
s5_lmo's walking policy fell in 17 of 40 CoM-sway trials under pushes (notebook 09), and it never met
a push in training. At 0.001 its action std collapsed 0.64 -> 0.13 within 900 PPO iterations, after
which training drifted (model_892 walked, model_1457 fell backward 9/10); 0.003 sits between that and
the 0.01 under which the std grew. And it ignored h*: standing at 0.649 m whether asked for 0.655 or
0.53, so the expert's tote grasp, which needs the squat, failed (:attr:`LeverConfig.height_sharpness`)."""
RECIPE_6 = PlanRecipe(dr_rows="pushes", symmetry="loss", entropy_coef=0.003, intent_sharpness=16.0,
                      push_ramp_env_steps=4_000_000, height_sharpness=100.0, stance_posture=True, arm_clips="both")
"""Recipe 5 with the squat posture of h* under the policy (:attr:`LeverConfig.stance_posture`) and the
teleoperation arm clips beside the synthetic ones (:attr:`LeverConfig.arm_clips`). Why: ``s6_lmo``
(recipe 5, from s5_lmo's model_892) still stood at 0.649 m for every h* after 3.0 M env steps: the
squat to 0.53 needs the knee 0.91 rad further bent, 9 action units at its 0.1 rad scale, which PPO
does not find; and it fell in 18 of 20 forward B.4 trials by then (7 at 1.5 M). The expert's tasks
carry arm poses (raised, holding a load) that the synthetic clips do not: walking with the expert's
raised arms halved the shipped policy's forward speed (``tools/lmo_pulse_response.py``)."""
RECIPE_7 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.001, intent_sharpness=16.0,
                      height_sharpness=100.0, stance_posture=True, arm_clips="both")
"""Recipe 4 (the walking s5_lmo's) with only what the squat and the tasks' arm poses need: the sharper
height kernel, the squat posture and the teleoperation clips; no pushes, entropy back at 0.001. Why:
``s7_lmo`` (recipe 6) squatted within 1.5 M env steps (h* 0.53 -> 0.50 m, 0.59 -> 0.57 m, 0 falls)
but fell in every forward and backward B.4 trial by 3.0 M, as s6_lmo (recipe 5) did: one of the
ingredients both share with neither s5_lmo (pushes, entropy 0.003, the height kernel) breaks the
forward gait; this recipe keeps the height kernel and drops the other two."""
RECIPE_8 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.001, intent_sharpness=16.0,
                      stance_posture=True, arm_clips="both")
"""Recipe 7 with Table 4's height kernel back (k = 4). Why: ``s8_lmo`` (recipe 7) squatted (h* 0.53 ->
0.51 m) but fell in every backward B.4 trial from 1.5 M env steps on and in every forward one by
4.5 M; the sharp height kernel is the one ingredient s6, s7 and s8 share that s5_lmo (which walked
both ways) lacks. With the squat posture under the policy, the squat may not need the sharp kernel."""

RECIPE_9 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.003, intent_sharpness=16.0,
                      stance_posture=True, arm_clips="both")
"""Recipe 8 with the entropy bonus at 0.003. Why: ``s10_lmo`` (recipe 8 from s2_lmo's end) walked both
ways and squatted from 3.0 M env steps on, while its action std fell 0.64 -> 0.14 by 6 M and its reward
stopped rising at 3 M; after 9 M it came apart (46/100 B.4 falls), as s5_lmo did after its std reached
0.13."""

RECIPE_10 = PlanRecipe(dr_rows="sensors", symmetry="loss", entropy_coef=0.003, intent_sharpness=16.0,
                       stance_posture=True, arm_clips="both", learning_rate=1e-4)
"""Recipe 9 at a third of the learning rate, from s11_lmo's best probe. Why: ``s11_lmo`` (recipe 9) squats and
walks, but from one 1.5 M-step probe to the next its App. B.4 falls swung between 7 and 32 of 100 (the
backward walk between 0 and 10 of 10 falls) while its training reward stopped rising after ~9 M env steps,
all at a fixed 3e-4; its best probe (model_2287, 14.1 M) missed first walking only on the forward
primitive (error 0.55 m, 4 of 20 falls). A smaller step from there asks whether the swings are the
optimizer's (rsl-rl's adaptive schedule lowers the rate as the KL grows). Measured: they are not only that
(probes at 1.5 / 3.0 / 4.5 / 6.0 / 6.4 / 7.9 / 9.0 M env steps fell 28 / 35 / 10 / 25 / 42 / 25 / 15 of 100, the
backward walk 10 of 10 in all but the 4.5 M one, ``s12_lmo/probes.jsonl``); none passed first walking."""


@dataclass(frozen=True)
class CpuPlanStep:
    """One run of the plan."""

    name: str
    """Run folder under the plan root."""
    task: str
    """``lmo`` or ``velocity``."""
    stage: int
    """Curriculum stage."""
    env_steps: int
    """Env steps of the whole run (over all its chunks)."""
    ablation: str = "none"
    """Table 3 ablation."""
    init_from: str | None = None
    """Step whose newest checkpoint starts this one (it must be done)."""
    recipe: PlanRecipe = RECIPE_4
    """Table 5 rows, symmetry and entropy bonus (see the module docstring)."""
    ended: str | None = None
    """Why the step was ended before its budget (None: it trains to its budget). An ended step counts as
    done; its newest checkpoint and curves stay in the plan as the measured record."""
    init_checkpoint: str | None = None
    """Checkpoint file in ``init_from``'s folder to start from (None: that step's newest)."""
    probe_every: int = 0
    """Probe the checkpoint every this many env steps with every App. B.4 trial (20 per kind) and keep
    the best as ``best.pt`` (:mod:`wbvla.lmo.cpu.probe`; 0: no probes). ``export`` takes the best."""

    def config(self, root: Path, minutes: float | None = None) -> CpuTrainConfig:
        init = None
        if self.init_from is not None:
            parent = root / self.init_from
            init = _newest(parent) if self.init_checkpoint is None else parent / self.init_checkpoint
            if init is None or not init.exists():
                raise RuntimeError(f"step {self.name} starts from {self.init_from}/{self.init_checkpoint or 'newest'}, "
                                   "which has no such checkpoint yet")
        levers = replace(PLAN_BASE.engine.levers, symmetry=self.recipe.symmetry, intent_sharpness=self.recipe.intent_sharpness,
                         still_arms_fraction=self.recipe.still_arms_fraction, height_sharpness=self.recipe.height_sharpness,
                         arm_clips=self.recipe.arm_clips, stance_posture=self.recipe.stance_posture)
        if self.init_from is not None:  # a run that starts from a walking policy needs no pelvis support
            levers = replace(levers, assist=AssistConfig())
        base = replace(PLAN_BASE, engine=replace(PLAN_BASE.engine, levers=levers, dr_rows=self.recipe.dr_rows,
                                                 push_ramp_env_steps=self.recipe.push_ramp_env_steps),
                       ppo=replace(PLAN_BASE.ppo, entropy_coef=self.recipe.entropy_coef,
                                   learning_rate=self.recipe.learning_rate or PLAN_BASE.ppo.learning_rate))
        return replace(base, run_dir=str(root / self.name), task=self.task, stage=self.stage, ablation=self.ablation,
                       max_env_steps=self.env_steps, minutes=minutes, init_from=None if init is None else str(init))


CPU_PLAN: tuple[CpuPlanStep, ...] = (
    CpuPlanStep("s1_lmo", "lmo", 1, 10_000_000, recipe=RECIPE_1),
    CpuPlanStep("s2_lmo", "lmo", 2, 20_000_000, init_from="s1_lmo", recipe=RECIPE_1),
    CpuPlanStep("s3_lmo", "lmo", 2, 15_000_000, init_from="s2_lmo", recipe=RECIPE_2,
                ended="stood still at 9.5 M env steps under the full Table 5 (see RECIPE_3)"),
    CpuPlanStep("s4_lmo", "lmo", 2, 20_000_000, init_from="s2_lmo", recipe=RECIPE_3,
                ended="fell in App. B.4 with the arms held still; its A/B partner s5_lmo walked (see RECIPE_4)"),
    CpuPlanStep("s5_lmo", "lmo", 2, 20_000_000, init_from="s2_lmo", recipe=RECIPE_4,
                ended="walked at 5.5 M env steps (model_892, shipped) and lost it by 9.0 M (see RECIPE_5)"),
    CpuPlanStep("s6_lmo", "lmo", 2, 20_000_000, init_from="s5_lmo", init_checkpoint="model_892.pt", recipe=RECIPE_5,
                probe_every=1_500_000,
                ended="no squat (h* ignored) and forward B.4 falls 18/20 at 3.0 M env steps (see RECIPE_6)"),
    CpuPlanStep("s7_lmo", "lmo", 2, 20_000_000, init_from="s5_lmo", init_checkpoint="model_892.pt", recipe=RECIPE_6,
                probe_every=1_500_000,
                ended="squats, but forward and backward B.4 trials fell 20/20 at 3.0 M env steps (see RECIPE_7)"),
    CpuPlanStep("s8_lmo", "lmo", 2, 20_000_000, init_from="s5_lmo", init_checkpoint="model_892.pt", recipe=RECIPE_7,
                probe_every=1_500_000,
                ended="squats, but backward B.4 trials fell 10/10 from 1.5 M env steps on, forward 10/10 at 4.5 M (see RECIPE_8)"),
    CpuPlanStep("s9_lmo", "lmo", 2, 20_000_000, init_from="s5_lmo", init_checkpoint="model_892.pt", recipe=RECIPE_8,
                probe_every=1_500_000,
                ended="squats; best at 3.0 M env steps (18/100 B.4 falls, backward 7/10), 37/100 by 4.2 M (see s10_lmo)"),
    CpuPlanStep("s10_lmo", "lmo", 2, 20_000_000, init_from="s2_lmo", recipe=RECIPE_8, probe_every=1_500_000,
                ended="walked both ways and squatted from 3.0 M env steps, never within all first-walking tolerances; "
                      "came apart after 9 M (46/100 falls at 10.5 M; see RECIPE_9)"),
    CpuPlanStep("s11_lmo", "lmo", 2, 20_000_000, init_from="s2_lmo", recipe=RECIPE_9, probe_every=1_500_000),
    CpuPlanStep("velocity", "velocity", 1, 40_000_000),
    CpuPlanStep("s12_lmo", "lmo", 2, 9_000_000, init_from="s11_lmo", init_checkpoint="best.pt", recipe=RECIPE_10,
                probe_every=1_500_000),
    CpuPlanStep("s2_lmo_no_eq3", "lmo", 2, 35_000_000, ablation="no_eq3", init_from="s1_lmo"),
    CpuPlanStep("lmo_no_stage1", "lmo", 2, 45_000_000, ablation="no_stage1"),
)
"""The plan, in training order. Budgets are env steps (about 2-3 k per second on one core). Stage I is
short: its goal speeds are random (U[0, v_max]) and the flag does not say which, so only Stage II's fixed
0.3 cruise can calibrate the speeds App. B.4 measures (measured: at 6.9 M env steps the Stage I policy
walked every B.4 trial without a fall, forward 1.5 m of 1.5, but turned about twice the 0.3 rad/s).
``s10_lmo`` runs :data:`RECIPE_8` from s2_lmo's end (action std 0.64) rather than from model_892 (std
0.13): s6-s9 all started from model_892 and all lost the backward walk, which s5_lmo learned from
s2_lmo; the A/B asks whether the starting point, not the recipe, is what loses it.
``s3_lmo`` was Stage II continued with :data:`RECIPE_2` (ended: it stood still); ``s4_lmo`` continued
s2_lmo with :data:`RECIPE_3` (ended: it fell with still arms); ``s5_lmo`` continues s2_lmo with
:data:`RECIPE_4` (trained first as s4's A/B partner, then adopted). The w/o Eq. 3 ablation gets a Stage II budget like the LMO's (20 M + 15 M) with
:data:`RECIPE_4` throughout, and w/o Stage I that plus Stage I's 10 M."""


def _newest(run_dir: Path) -> Path | None:
    from wbvla.lmo.train import latest_checkpoint  # lazy: rsl-rl, not needed to print the status

    return latest_checkpoint(run_dir)


def _chunks_of(run_dir: Path) -> list[dict]:
    meta = run_dir / "run.json"
    return json.loads(meta.read_text()).get("chunks", []) if meta.exists() else []


def _done_steps(run_dir: Path) -> int:
    chunks = _chunks_of(run_dir)
    return int(chunks[-1]["env_steps_end"]) if chunks else 0


def _is_done(step: CpuPlanStep, root: Path) -> bool:
    """Done when ended, or when what is left of the budget is less than one PPO iteration (training stops there)."""
    if step.ended is not None:
        return True
    per_iteration = PLAN_BASE.engine.num_envs * PLAN_BASE.ppo.num_steps_per_env
    return step.env_steps - _done_steps(root / step.name) < per_iteration


def status(root: Path = PLAN_ROOT) -> list[dict]:
    """Per step: env steps done of its budget, chunks, wall time, the newest checkpoint."""
    out = []
    for step in CPU_PLAN:
        run = root / step.name
        chunks = json.loads((run / "run.json").read_text())["chunks"] if (run / "run.json").exists() else []
        newest = _newest(run)
        out.append({"step": step.name, "env_steps": _done_steps(run), "budget": step.env_steps,
                    "done": _is_done(step, root), "chunks": len(chunks),
                    "wall_s": round(sum(c["wall_s"] for c in chunks), 1),
                    "stops": [c["stop"] for c in chunks] + ([f"ended: {step.ended}"] if step.ended else []),
                    "checkpoint": None if newest is None else newest.name})
    return out


def keep_newest(run_dir: Path) -> None:
    """Delete every checkpoint of ``run_dir`` but the newest and pack its curves (what the plan commits;
    a probed step's ``best.pt`` is not a ``model_*.pt`` and stays)."""
    from wbvla.lmo.train import pack_curves  # lazy: rsl-rl, not needed to print the status

    newest = _newest(run_dir)
    for p in run_dir.glob("model_*.pt"):
        if p != newest:
            p.unlink()
    shutil.rmtree(run_dir / "git", ignore_errors=True)  # rsl-rl's repository snapshot: not plan state
    pack_curves(run_dir)  # the committed curves stay ~10x smaller


def run(minutes: float, root: Path = PLAN_ROOT) -> list[dict]:
    """Train the first unfinished steps until ``minutes`` have passed; returns the chunk records.

    A step with :attr:`CpuPlanStep.probe_every` trains in pieces of that many env steps and probes the
    checkpoint each piece ends with (:mod:`wbvla.lmo.cpu.probe`; a piece cut short by the deadline is
    probed too, so the best is never lost between sessions)."""
    from wbvla.lmo.cpu.train import train_cpu  # lazy: torch, mujoco, not needed for status

    deadline = time.time() + 60 * minutes
    records = []
    for step in CPU_PLAN:
        if (deadline - time.time()) / 60 < MIN_CHUNK_MINUTES or (records and records[-1].get("interrupted")):
            break
        if _is_done(step, root):
            continue
        if step.init_from is not None and _done_steps(root / step.init_from) == 0:
            break  # its parent has not started: the plan order trains it first
        while not _is_done(step, root) and (left := (deadline - time.time()) / 60) >= MIN_CHUNK_MINUTES:
            cfg = step.config(root, minutes=left)
            if step.probe_every:
                cfg = replace(cfg, max_env_steps=min(step.env_steps, _done_steps(root / step.name) + step.probe_every))
            newest = train_cpu(cfg)
            if step.probe_every:
                _probe(root / step.name, newest)
            if not step.probe_every or time.time() >= deadline or _chunks_of(root / step.name)[-1]["stop"] == "interrupted":
                break  # a SIGTERM (kill) ends the whole call, not just the piece
        keep_newest(root / step.name)
        records.append({"step": step.name, "env_steps": _done_steps(root / step.name),
                        "interrupted": _chunks_of(root / step.name)[-1]["stop"] == "interrupted"})
    write_plan(root)
    return records


def write_plan(root: Path = PLAN_ROOT) -> Path:
    """``plan.json``: every step as declared and its status (what the README's status table reads)."""
    return write_json_atomic(root / "plan.json", {"steps": [asdict(s) for s in CPU_PLAN], "status": status(root)})


def probed_copy(run_dir: Path, checkpoint: Path) -> Path:
    """Where a probed checkpoint is kept outside git: ``cache_dir()/lmo_cpu/probed/<step>/<file>``
    (another probed checkpoint than ``best.pt`` may suit a task better: ``probes.jsonl`` has each one's
    App. B.4 record; ``export --checkpoint <it>`` ships one, its step's ``run.json`` is copied beside it)."""
    return cache_dir() / "lmo_cpu" / "probed" / Path(run_dir).name / Path(checkpoint).name


def _probe(run_dir: Path, checkpoint: Path) -> None:
    """Probe ``checkpoint`` (every App. B.4 trial) unless it was probed; keep it if it is the best."""
    from wbvla.lmo.cpu.probe import (  # lazy: torch, onnx
        probe_checkpoint,
        probed_iterations,
        record_probe,
    )

    if int(checkpoint.stem.split("_")[1]) in probed_iterations(run_dir):
        return
    kept = probed_copy(run_dir, checkpoint)  # git keeps only the newest and best.pt; the cache keeps every probed one
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(checkpoint, kept)
    shutil.copy(run_dir / "run.json", kept.parent / "run.json")  # the step's config, which export reads beside it
    result = probe_checkpoint(checkpoint, trials=PROBE_TRIALS)
    best = record_probe(run_dir, checkpoint, result)
    print(f"[wbvla] probe {checkpoint.name}: first walking {result['first_walking']['walks']}, "
          f"falls {result['falls']} of {result['total_trials']}{' (new best)' if best else ''}", flush=True)


def export_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``export`` ships of a step: its best probed one (``best.pt``), else its newest."""
    from wbvla.lmo.cpu.probe import BEST_CHECKPOINT  # lazy: torch, onnx

    best = run_dir / BEST_CHECKPOINT
    return best if best.exists() else _newest(run_dir)


def adopt(step_name: str, run_dir: Path, root: Path = PLAN_ROOT) -> Path:
    """Copy a run trained outside the plan into the plan root as ``step_name`` (its config must be the step's)."""
    step = {s.name: s for s in CPU_PLAN}[step_name]
    meta = json.loads((Path(run_dir) / "run.json").read_text())
    got, want = meta["config"], json.loads(json.dumps(asdict(step.config(root))))  # as stored: tuples are lists
    for key in ("stage", "ablation"):
        if got.get(key) != want[key]:
            raise ValueError(f"{run_dir} has {key}={got.get(key)!r}; step {step_name} needs {want[key]!r}")
    from wbvla.lmo.cpu.train import stored_levers  # lazy: torch

    got_engine = {**got["engine"], "levers": stored_levers(got)}  # a lever added since the run: its legacy value
    if got.get("task", "lmo") != want["task"] or got_engine != want["engine"] or got["ppo"] != want["ppo"]:
        raise ValueError(f"{run_dir} was trained with another task, engine (env count, levers) or PPO than step {step_name}")
    dest = root / step_name
    if dest.exists():
        raise FileExistsError(f"{dest} exists: the plan already has this step")
    shutil.copytree(run_dir, dest)
    keep_newest(dest)
    meta["config"] |= {"run_dir": str(dest), "max_env_steps": step.env_steps}
    write_json_atomic(dest / "run.json", meta)
    return dest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m wbvla.lmo.cpu.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("status", "run", "adopt", "export"))
    p.add_argument("--root", type=Path, default=PLAN_ROOT)
    p.add_argument("--minutes", type=float, default=60.0, help="run: wall-clock budget of this call")
    p.add_argument("--write", action="store_true", help="status: also write plan.json (run writes it after every call)")
    p.add_argument("--step", help="adopt / export: the plan step")
    p.add_argument("--run-dir", type=Path, help="adopt: the run folder to bring in")
    p.add_argument("--name", default="lmo", help="export: ONNX file stem under data/lmo")
    p.add_argument("--note", default="", help="export: what this policy is and is not (model card)")
    p.add_argument("--checkpoint", type=Path, help="export: this probed checkpoint (probed_copy) instead of best.pt")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="export: write the ONNX and its model card here instead of data/lmo (a candidate to evaluate, "
                        "e.g. with wbvla expert-eval --lmo-onnx, before it is shipped)")
    a = p.parse_args(argv)
    if a.command == "status":
        for row in status(a.root):
            print(json.dumps(row))
        if a.write:
            print(f"wrote {write_plan(a.root)}")
    elif a.command == "run":
        print(json.dumps(run(a.minutes, a.root)))
    elif a.command == "adopt":
        print(adopt(a.step, a.run_dir, a.root))
    else:
        from wbvla.lmo.export import run_export  # lazy: torch, onnx, not needed for status
        from wbvla.lmo.job_config import ExportConfig  # lazy: with run_export

        ckpt = a.checkpoint if a.checkpoint is not None else export_checkpoint(a.root / a.step)
        if ckpt is None:
            raise SystemExit(f"step {a.step} has no checkpoint under {a.root}")
        where = {} if a.out_dir is None else {"out_dir": a.out_dir}
        print(json.dumps(run_export(ExportConfig(checkpoint=ckpt, name=a.name, note=a.note, **where)), default=str)[:2000])


if __name__ == "__main__":
    main()
