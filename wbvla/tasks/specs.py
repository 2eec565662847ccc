"""The three paper tasks as reproducible trials: scene layout, randomization, variations, seeds.

``make_task(task, seed, variation)`` builds one trial: the task's scene layout
(:func:`wbvla.sim.scene.build_scene`, textures / table height / object placement / object mass
drawn from the seed), the cart mass, and the robot's start pose drawn around the nominal one, so
every trial first needs locomotion (approach: s_x, s_y, s_yaw) before manipulation.

**Seeds.** Training data and held-out evaluation never share a seed: :data:`SEED_RANGES`
(``train`` 0-99 999, ``eval`` 1 000 000-1 099 999), checked by :func:`check_seed`
(:mod:`wbvla.data.seed_splits`, re-exported here).

**Variations** (:data:`VARIATIONS`), after App. C.1 / C.2; ``none`` is the training distribution:

* start pose (C.1 (1)-(3)): ``start_distance`` (0.30-0.45 m further back than the nominal start,
  training 0-0.20), ``start_lateral`` (0.15-0.30 m to either side, training +-0.12),
  ``start_orientation`` (heading 0.35-0.60 rad to either side, training +-0.25);
* scene (C.1 (5)-(7)): ``unseen_table`` (table textures never used in training), ``unseen_object``
  (bag packing: another bag: other colour, size and weight), ``object_position`` (the bag / tote
  outside its training region on the table);
* load (C.2): ``other_bag`` (= ``unseen_object``), ``plastic_containers`` (box loading: the tote's
  contents), ``barbell_plates`` (cart pushing: 60 kg of plates replace the carton on the cart);
* ``target_side`` (ours): the carton (bag packing) or the cart (box loading) on a random side; in
  every other condition they stand to the left, as the paper keeps its layout fixed (App. C.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wbvla.data.seed_splits import SEED_RANGES, check_seed, split_of
from wbvla.data.teleop_schema import INSTRUCTIONS, SUBGOALS, TASKS
from wbvla.sim.robot import reset_to_pose
from wbvla.sim.scene import Scene, SceneConfig, build_scene
from wbvla.tasks.subgoals import SceneState, SubgoalThresholds, read_state
from wbvla.validation import require

__all__ = ["SEED_RANGES", "TASK_SPECS", "VARIATIONS", "StartPoseRange", "TaskInstance", "TaskSpec", "Variation",
           "check_seed", "make_task", "split_of"]

@dataclass(frozen=True)
class StartPoseRange:
    """Where the robot starts, relative to the nominal start (origin, facing +x): ``back`` metres
    behind it, ``lateral`` to the left (+) / right (-), heading ``yaw`` rad. ``symmetric`` ranges
    are drawn with a random sign (|value| in the range)."""

    back: tuple[float, float] = (0.0, 0.20)
    lateral: tuple[float, float] = (-0.12, 0.12)
    yaw: tuple[float, float] = (-0.25, 0.25)
    symmetric_lateral: bool = False
    symmetric_yaw: bool = False

    def draw(self, rng: np.random.Generator) -> tuple[float, float, float]:
        back = rng.uniform(*self.back)
        lat = rng.uniform(*self.lateral) * (rng.choice([-1.0, 1.0]) if self.symmetric_lateral else 1.0)
        yaw = rng.uniform(*self.yaw) * (rng.choice([-1.0, 1.0]) if self.symmetric_yaw else 1.0)
        return float(back), float(lat), float(yaw)


@dataclass(frozen=True)
class Variation:
    """One App. C.1 / C.2 condition: scene changes plus a start-pose range."""

    name: str
    tasks: tuple[str, ...]
    """Tasks it applies to."""
    scene_variations: tuple[str, ...] = ()
    """Passed to ``SceneConfig.variations``."""
    start: StartPoseRange = field(default_factory=StartPoseRange)
    description: str = ""


VARIATIONS: dict[str, Variation] = {v.name: v for v in (
    Variation("none", TASKS, description="the training distribution"),
    Variation("start_distance", TASKS, start=StartPoseRange(back=(0.30, 0.45)),
              description="C.1 (1): start further from the work area"),
    Variation("start_lateral", TASKS, start=StartPoseRange(lateral=(0.15, 0.30), symmetric_lateral=True),
              description="C.1 (2): start to the side"),
    Variation("start_orientation", TASKS, start=StartPoseRange(yaw=(0.35, 0.60), symmetric_yaw=True),
              description="C.1 (3): start turned away"),
    Variation("unseen_table", ("bag_packing", "box_loading"), ("unseen_table",),
              description="C.1 (6): table appearance never seen in training"),
    Variation("unseen_object", ("bag_packing",), ("unseen_object",),
              description="C.1 (5): a bag never seen in training"),
    Variation("object_position", ("bag_packing", "box_loading"), ("object_position",),
              description="C.1 (7): object outside its training region"),
    Variation("other_bag", ("bag_packing",), ("unseen_object",),
              description="C.2 (i): another bag (appearance, size, weight)"),
    Variation("plastic_containers", ("box_loading",), ("plastic_containers",),
              description="C.2 (ii): plastic containers instead of bags in the box"),
    Variation("barbell_plates", ("cart_pushing",), ("barbell_plates",),
              description="C.2 (iii): 60 kg barbell plates instead of the carton on the cart"),
    Variation("target_side", ("bag_packing", "box_loading"), ("target_side",),
              description="ours: the carton / the cart on a random side (the paper's layout is fixed: left)"),
)}


@dataclass(frozen=True)
class TaskSpec:
    """A task: its scene layout, instruction, subgoals, time limit and randomized loads."""

    name: str
    instruction: str
    subgoals: tuple[str, str]
    time_limit_s: float
    """Default trial length (s of simulated time)."""
    cart_mass: tuple[float, float] = (45.0, 55.0)
    """Cart deck + load mass (kg), uniform per seed (the paper pushes a 50 kg cart)."""


TASK_SPECS: dict[str, TaskSpec] = {
    "bag_packing": TaskSpec("bag_packing", INSTRUCTIONS["bag_packing"], SUBGOALS["bag_packing"], 45.0),
    "box_loading": TaskSpec("box_loading", INSTRUCTIONS["box_loading"], SUBGOALS["box_loading"], 60.0),
    "cart_pushing": TaskSpec("cart_pushing", INSTRUCTIONS["cart_pushing"], SUBGOALS["cart_pushing"], 40.0),
}


@dataclass
class TaskInstance:
    """One trial, ready to run: the built scene with the robot at its start pose."""

    spec: TaskSpec
    seed: int
    variation: str
    scene: Scene
    start_pose: tuple[float, float, float]
    """Robot start (x, y, yaw) in the world."""
    thresholds: SubgoalThresholds
    info: dict = field(default_factory=dict)
    """What was drawn (masses, start offsets, layout), JSON-friendly, for logs."""
    start_state: SceneState | None = None
    """Snapshot after :meth:`reset` (the reference of the subgoal checks)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def instruction(self) -> str:
        return self.spec.instruction

    def reset(self) -> None:
        """Props where they were built, the robot standing at its start pose."""
        self.scene.reset()
        x, y, yaw = self.start_pose
        reset_to_pose(self.scene.model, self.scene.data, self.scene.robot, xy=(x, y), yaw=yaw)
        self.start_state = read_state(self.scene)


def make_task(task: str, seed: int, variation: str = "none", *,
              thresholds: SubgoalThresholds | None = None) -> TaskInstance:
    """Build trial ``seed`` of ``task`` under ``variation`` (see the module docstring).

    Raises:
        ValueError: unknown task or variation, a variation that does not apply to the task, or a
            seed outside both :data:`SEED_RANGES`.
    """
    require(task in TASK_SPECS, f"unknown task {task!r}; choose one of {tuple(TASK_SPECS)}")
    require(variation in VARIATIONS, f"unknown variation {variation!r}; choose one of {tuple(VARIATIONS)}")
    var = VARIATIONS[variation]
    require(task in var.tasks, f"variation {variation!r} does not apply to {task!r} (it applies to {var.tasks})")
    split_of(seed)
    spec = TASK_SPECS[task]
    rng = np.random.default_rng([seed, TASKS.index(task), 7])
    cart_mass = float(rng.uniform(*spec.cart_mass))
    back, lateral, yaw = var.start.draw(rng)
    scene = build_scene(SceneConfig(name=task, seed=seed, cart_mass=cart_mass, variations=var.scene_variations))
    start = (-back, lateral, yaw)
    info = {"task": task, "seed": seed, "variation": variation, "cart_mass": cart_mass,
            "start_offset": {"back": back, "lateral": lateral, "yaw": yaw},
            "object_masses": {n: float(scene.model.body(n).subtreemass[0]) for n, o in scene.objects.items() if o.movable
                              and o.kind != "drawer"}}
    inst = TaskInstance(spec, seed, variation, scene, start, thresholds or SubgoalThresholds(), info)
    inst.reset()
    return inst
