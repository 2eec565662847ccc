"""Scene builder: the X2 (optionally) in a room with props, randomized by seed.

Named layouts (:data:`SCENES`) follow the paper's tasks (§4.1, App. B.1) and generalization
settings (App. C.1). The robot stands at the origin facing +x unless told otherwise.

* ``empty``         the room only
* ``tabletop``      a table within reach with a bag, a box and a basket (manipulation video)
* ``bag_packing``   a paper bag on a table; a carton on the floor to one side (sidestep, squat, place)
* ``box_loading``   a box on a low table or the floor; a cart beside/behind (squat, grasp, turn, place)
* ``cart_pushing``  a loaded cart in front, handle toward the robot (grab handle, push ahead)
* ``long_horizon``  a table with two bags and a drawer cabinet nearby (App. C.1 task 9)
* ``room``          tables of 20-60 cm, shelves, a drawer, cartons, bags, boxes and a cart spread
                    around a room: potential manipulation targets for the locomotion corpus

Everything visual (floor, walls, props, lights) is drawn from the seed; with the same config the
model is identical. ``Scene.objects`` maps names (``table``, ``bag``, ``carton``, ``cart``, ...) to
:class:`~wbvla.sim.scene_objects.SceneObject` for task logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from wbvla.sim import scene_objects as so
from wbvla.sim.camera import HeadCameraConfig, apply_camera_intrinsics
from wbvla.sim.robot import HEAD_CAMERA, X2Index, add_pd_actuators, reset_to_pose, scene_spec
from wbvla.validation import in_range, one_of, positive, require

SCENES: tuple[str, ...] = (
    "empty", "tabletop", "bag_packing", "box_loading", "cart_pushing", "long_horizon", "room",
)
FREE_CAMERA = "free_cam"
"""Name of the optional free (mocap) camera; move it with ``Scene.set_free_camera``."""


@dataclass(frozen=True)
class SceneConfig:
    """What to build."""

    name: str = "tabletop"
    """Layout, one of :data:`SCENES`."""
    seed: int = 0
    """Seeds layout jitter, colours, textures and lights."""
    with_robot: bool = True
    """Include the X2 (with PD actuators). False gives the room and props only."""
    robot_xy: tuple[float, float] = (0.0, 0.0)
    """Robot base position on the floor (m)."""
    robot_yaw: float = 0.0
    """Robot heading (rad)."""
    cart_mass: float = 50.0
    """Mass of the cart's deck and load (kg); the paper pushes more than 50 kg."""
    cart_wheeled: bool = True
    """Wheeled cart (rolling) or one on low-friction skids."""
    room_half_size: float = 4.0
    """Half the side of the square room (m)."""
    free_camera_fovy: float | None = None
    """If set, add a mocap-driven free camera ``free_cam`` with this vertical FOV (degrees)."""
    head_camera: HeadCameraConfig = field(default_factory=HeadCameraConfig)
    """Intrinsics of the robot's head camera."""
    variations: tuple[str, ...] = ()
    """Named changes of a task layout, from :data:`SCENE_VARIATIONS` (e.g. ``unseen_table``,
    ``barbell_plates``); empty for the training distribution."""
    object_mass: float | None = None
    """Mass of the manipulated object of a task layout (the bag; the tote without its
    contents), kg; None draws it from the seed."""

    def __post_init__(self) -> None:
        one_of("scene name", self.name, SCENES)
        allowed = SCENE_VARIATIONS.get(self.name, ())
        for v in self.variations:
            require(v in allowed, f"scene {self.name!r} has no variation {v!r}; it accepts {allowed}")
        if self.object_mass is not None:
            positive("object_mass", self.object_mass)
        require(isinstance(self.seed, int) and self.seed >= 0, f"seed must be an int >= 0, got {self.seed!r}")
        positive("cart_mass", self.cart_mass)
        in_range("room_half_size", self.room_half_size, 2.0, 20.0)
        if self.free_camera_fovy is not None:
            in_range("free_camera_fovy", self.free_camera_fovy, 5.0, 170.0)


class Scene:
    """A compiled scene: ``model``, ``data``, the robot index (or None) and named objects."""

    def __init__(self, config: SceneConfig, spec: mujoco.MjSpec, objects: dict[str, so.SceneObject]):
        self.config = config
        self.spec = spec
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.objects = objects
        self.robot = X2Index.from_model(self.model) if config.with_robot else None
        if self.robot is not None:
            apply_camera_intrinsics(self.model, HEAD_CAMERA, config.head_camera)
        self._mocap = None
        if config.free_camera_fovy is not None:
            bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, f"{FREE_CAMERA}_rig")
            self._mocap = int(self.model.body_mocapid[bid])
        self.reset()

    def reset(self) -> None:
        """Initial state: props where they were built, robot standing in its default pose."""
        mujoco.mj_resetData(self.model, self.data)
        if self.robot is not None:
            reset_to_pose(self.model, self.data, self.robot, xy=self.config.robot_xy, yaw=self.config.robot_yaw)
        else:
            mujoco.mj_forward(self.model, self.data)

    def set_free_camera(self, pos, quat) -> None:
        """Place the free camera rig (pos (3,), quat (4,) w x y z); camera looks along rig +x."""
        require(self._mocap is not None, "this scene has no free camera; set free_camera_fovy")
        self.data.mocap_pos[self._mocap] = pos
        self.data.mocap_quat[self._mocap] = quat

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """World position (3,) and quaternion (4,) of object ``name``."""
        require(name in self.objects, f"scene has no object {name!r}; objects: {sorted(self.objects)}")
        b = self.data.body(name)
        return b.xpos.copy(), b.xquat.copy()

    def site_pos(self, name: str) -> np.ndarray:
        """World position of a site (e.g. ``scene.objects['cart'].sites['handle']``)."""
        return self.data.site(name).xpos.copy()


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------
def _base_spec(with_robot: bool) -> mujoco.MjSpec:
    spec = scene_spec(actuated=False)
    if not with_robot:
        for eq in list(spec.equalities):
            spec.delete(eq)
        for ex in list(spec.excludes):
            spec.delete(ex)
        spec.delete(spec.body("pelvis"))
    return spec


FLOOR_COLOURS = np.array([[0.55, 0.50, 0.44], [0.45, 0.45, 0.47], [0.50, 0.36, 0.22], [0.36, 0.40, 0.46], [0.30, 0.32, 0.30]])
WALL_COLOURS = np.array([[0.85, 0.83, 0.78], [0.75, 0.80, 0.82], [0.82, 0.76, 0.68], [0.70, 0.74, 0.66], [0.88, 0.88, 0.88]])


def _room(spec: mujoco.MjSpec, cfg: SceneConfig, rng: np.random.Generator) -> None:
    """Randomize floor texture, add four textured walls, wall decorations and lights."""
    floor_rgb = FLOOR_COLOURS[rng.integers(len(FLOOR_COLOURS))]
    floor_mat = so.add_material(spec, "floor_rand", rng, kind=str(rng.choice(["checker", "grid", "noise", "wood"])),
                                repeat=float(rng.uniform(0.5, 2.0)), base_rgb=floor_rgb, jitter=0.08)
    spec.geom("floor").material = floor_mat
    s = cfg.room_half_size
    wall_h = 2.6
    wall_mat = so.add_material(spec, "wall_mat", rng, kind=str(rng.choice(["flat", "stripes", "noise", "grid"])), repeat=0.5,
                               base_rgb=WALL_COLOURS[rng.integers(len(WALL_COLOURS))], jitter=0.06)
    walls = spec.worldbody.add_body(name="walls")
    for i, (x, y, hx, hy) in enumerate([(s, 0, 0.05, s), (-s, 0, 0.05, s), (0, s, s, 0.05), (0, -s, s, 0.05)]):
        so._geom(walls, f"wall{i}", so.BOX, (hx, hy, wall_h / 2), (x, y, wall_h / 2), wall_mat)
    # Posters and door frames give the walls texture for the cameras (optical flow for LAMs).
    for k in range(int(rng.integers(6, 12))):
        side = int(rng.integers(4))
        along, z = rng.uniform(-s + 0.5, s - 0.5), rng.uniform(0.5, 2.0)
        w, h = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.7)
        x, y = [(s - 0.06, along), (-s + 0.06, along), (along, s - 0.06), (along, -s + 0.06)][side]
        half = (0.005, w / 2, h / 2) if side < 2 else (w / 2, 0.005, h / 2)
        mat = so.add_material(spec, f"poster{k}_mat", rng)
        so._geom(walls, f"poster{k}", so.BOX, half, (x, y, z), mat, contype=0, conaffinity=0)
    spec.light("key").pos = [float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2)), 4.0]
    spec.light("key").diffuse = [float(v) for v in rng.uniform(0.45, 0.75, 3)]
    spec.worldbody.add_light(name="ceiling", pos=[0, 0, wall_h - 0.05], dir=[0, 0, -1], diffuse=[0.3, 0.3, 0.3],
                             attenuation=[1, 0.05, 0], cutoff=80, castshadow=False)


def _m(spec, name, rng, base=None, jitter=0.08, kind=None):
    return so.add_material(spec, name, rng, kind=kind, base_rgb=base, jitter=jitter)


CARDBOARD, PAPER, WOOD = np.array([0.62, 0.46, 0.28]), np.array([0.85, 0.8, 0.7]), np.array([0.55, 0.38, 0.22])


def _layout(spec, cfg: SceneConfig, rng: np.random.Generator) -> dict[str, so.SceneObject]:
    """Place the props of ``cfg.name``; robot frame: origin, facing +x."""
    objs: dict[str, so.SceneObject] = {}
    u = rng.uniform

    def put(obj: so.SceneObject) -> None:
        objs[obj.name] = obj

    def table(name, x, y, yaw, height, hx=0.3, hy=0.5):
        put(so.add_table(spec, name, (x, y), yaw, height, (hx, hy), _m(spec, f"{name}_mat", rng, kind=str(rng.choice(["wood", "flat", "noise"]))),
                         _m(spec, f"{name}_leg_mat", rng, np.array([0.3, 0.3, 0.3]), 0.2, "flat")))
        return height

    name = cfg.name
    if name == "tabletop":
        h = table("table", u(0.52, 0.58), 0.0, 0.0, u(0.56, 0.62), hx=0.3, hy=0.55)
        put(so.add_paper_bag(spec, "bag", (u(0.30, 0.36), u(0.12, 0.22), h), u(-0.4, 0.4), (0.05, 0.08, 0.07), _m(spec, "bag_mat", rng, PAPER, 0.15)))
        put(so.add_box(spec, "box", (u(0.30, 0.36), u(-0.22, -0.12), h), u(-0.4, 0.4), (0.04, 0.05, 0.04), _m(spec, "box_mat", rng, kind="flat")))
        put(so.add_basket(spec, "basket", (u(0.62, 0.7), u(-0.1, 0.1), h), 0.0, (0.12, 0.16, 0.05), _m(spec, "basket_mat", rng, kind="grid")))
    elif name in TASK_LAYOUTS:
        TASK_LAYOUTS[name](spec, cfg, rng, put)
    elif name == "long_horizon":
        h = table("table", u(1.0, 1.3), 0.0, 0.0, u(0.55, 0.62), hx=0.3, hy=0.55)
        for i, y in enumerate((u(0.08, 0.2), -u(0.08, 0.2))):
            put(so.add_paper_bag(spec, f"bag_{i}", (u(0.78, 0.84), y, h), u(-0.4, 0.4), (0.04, 0.07, 0.06), _m(spec, f"bag{i}_mat", rng, PAPER, 0.2)))
        put(so.add_drawer(spec, "drawer", (u(0.6, 0.9), rng.choice([-1.0, 1.0]) * u(1.0, 1.3), ), 0.0, u(0.5, 0.6), _m(spec, "drawer_mat", rng, WOOD)))
    elif name == "room":
        _room_props(spec, cfg, rng, put)
    return objs


# --- the three task layouts (feasible for the X2's reach; see wbvla/tasks/specs.py) --------------
UNSEEN_TABLE_KINDS = ("checker", "stripes")
"""Table textures of the ``unseen_table`` variation; training tables are ``wood``/``flat``/``noise``."""


def _task_table(spec, cfg: SceneConfig, rng: np.random.Generator, x: float, height: float, half) -> so.SceneObject:
    """The task table on the robot's axis; ``unseen_table`` draws its texture from :data:`UNSEEN_TABLE_KINDS`."""
    kind = str(rng.choice(UNSEEN_TABLE_KINDS if "unseen_table" in cfg.variations else ("wood", "flat", "noise")))
    return so.add_table(spec, "table", (x, 0.0), 0.0, height, half, _m(spec, "table_mat", rng, kind=kind),
                        _m(spec, "table_leg_mat", rng, np.array([0.3, 0.3, 0.3]), 0.2, "flat"))


def _bag_packing(spec, cfg: SceneConfig, rng, put) -> None:
    """A bag with a carrying bar on a table 0.56-0.62 m high, 0.55-0.68 m ahead; a carton (rim
    0.32 m) on the floor 0.72-0.88 m to its left (the paper keeps the layout fixed, App. C.2;
    ``target_side``: left or right at random). ``object_position``: the bag 0.15-0.22 m off centre."""
    u = rng.uniform
    bx = u(0.55, 0.68)
    by = (rng.choice([-1.0, 1.0]) * u(0.15, 0.22)) if "object_position" in cfg.variations else u(-0.07, 0.07)
    h = u(0.56, 0.62)
    put(_task_table(spec, cfg, rng, bx + 0.15, h, (0.25, 0.45)))
    if "unseen_object" in cfg.variations:  # C.2 (i): another bag, other look, size and weight
        half, mass = (0.06, 0.16, 0.075), 0.6
        mat = _m(spec, "bag_mat", rng, np.array([[0.72, 0.16, 0.14], [0.16, 0.30, 0.70]][int(rng.integers(2))]), 0.08)
    else:
        half, mass = (0.07, 0.17, 0.06), float(u(0.25, 0.45))
        mat = _m(spec, "bag_mat", rng, PAPER, 0.15)
    mass = cfg.object_mass if cfg.object_mass is not None else mass
    put(so.add_paper_bag(spec, "bag", (bx, by, h), u(-0.15, 0.15), half, mat, mass=mass, handle_style="bar",
                         handle_radius=0.010))
    drawn = float(rng.choice([-1.0, 1.0]))  # drawn in every layout: a seed's other draws do not depend on it
    side = drawn if "target_side" in cfg.variations else 1.0  # left: the paper's fixed layout
    put(so.add_carton(spec, "carton", (bx - 0.02 + u(-0.04, 0.04), by + side * u(0.72, 0.88), 0.0), u(-0.15, 0.15),
                      (0.18, 0.24, 0.16), _m(spec, "carton_mat", rng, CARDBOARD)))


def _box_loading(spec, cfg: SceneConfig, rng, put) -> None:
    """A tote with a carrying bar on a table 0.46-0.52 m high (its bar is within reach only when
    squatting), 0.55-0.68 m ahead; a cart with a raised deck (top 0.42 m) to the left (the paper keeps
    the layout fixed, App. C.2; ``target_side``: left, right or behind at random), its handle away
    from the robot. ``object_position``: the tote 0.12-0.18 m off centre."""
    u = rng.uniform
    bx = u(0.55, 0.68)
    by = (rng.choice([-1.0, 1.0]) * u(0.12, 0.18)) if "object_position" in cfg.variations else u(-0.06, 0.06)
    h = u(0.46, 0.52)
    put(_task_table(spec, cfg, rng, bx + 0.08, h, (0.2, 0.4)))
    mass = cfg.object_mass if cfg.object_mass is not None else float(u(1.0, 2.0))
    contents = "plastic" if "plastic_containers" in cfg.variations else "bags"
    put(so.add_tote(spec, "box", (bx, by, h), u(-0.12, 0.12), (0.10, 0.18, 0.07), _m(spec, "box_mat", rng, CARDBOARD),
                    mass=mass, contents=contents))
    drawn = float(rng.choice([np.pi / 2, -np.pi / 2, np.pi]))  # drawn in every layout (as the carton's side)
    ang = drawn if "target_side" in cfg.variations else np.pi / 2  # left: the paper's fixed layout
    r = u(0.80, 0.92)  # from where the robot grasps the tote (0.38 m behind it)
    gx = bx - 0.38
    put(so.add_cart(spec, "cart", (gx + r * np.cos(ang), by + r * np.sin(ang)), ang + np.pi + u(-0.1, 0.1), cfg.cart_mass,
                    _m(spec, "cart_mat", rng, kind="flat"), cfg.cart_wheeled, deck_z=0.40))


def _cart_pushing(spec, cfg: SceneConfig, rng, put) -> None:
    """A loaded cart 0.95-1.10 m ahead, handle (0.85 m high) toward the robot; its load is a
    carton, or 60 kg of barbell plates with ``barbell_plates`` (C.2 (iii))."""
    u = rng.uniform
    x, y, yaw = u(0.95, 1.10), u(-0.05, 0.05), u(-0.1, 0.1)
    cart = so.add_cart(spec, "cart", (x, y), yaw, cfg.cart_mass, _m(spec, "cart_mat", rng, kind="flat"), cfg.cart_wheeled)
    put(cart)
    load_xy = (x + 0.05 * np.cos(yaw), y + 0.05 * np.sin(yaw))
    if "barbell_plates" in cfg.variations:
        put(so.add_plates(spec, "plates", (*load_xy, cart.top_z), yaw, mass=60.0))
    else:
        put(so.add_carton(spec, "carton", (*load_xy, cart.top_z), yaw, (0.2, 0.18, 0.12), _m(spec, "carton_mat", rng, CARDBOARD)))


TASK_LAYOUTS = {"bag_packing": _bag_packing, "box_loading": _box_loading, "cart_pushing": _cart_pushing}
SCENE_VARIATIONS: dict[str, tuple[str, ...]] = {
    "bag_packing": ("unseen_table", "unseen_object", "object_position", "target_side"),
    "box_loading": ("unseen_table", "plastic_containers", "object_position", "target_side"),
    "cart_pushing": ("barbell_plates",),
}
"""Layout changes a scene accepts in ``SceneConfig.variations`` (App. C.1 scene / C.2 load
variations; start-pose variations move the robot, see :mod:`wbvla.tasks.specs`). ``target_side``
is ours: where the bag goes (the carton) or the tote (the cart) is drawn per seed instead of the
fixed layout. A one-image policy cannot tell the side once the carton has left the head camera's
view (issue 20: the carry's lateral steps were left or right 50/50 in the teleoperation data)."""


def _room_props(spec, cfg: SceneConfig, rng: np.random.Generator, put) -> None:
    """Scatter potential manipulation targets around the room, away from the robot's start."""
    s = cfg.room_half_size - 0.6
    taken = [np.array(cfg.robot_xy)]

    def spot(min_gap=1.0):
        for _ in range(200):
            p = rng.uniform(-s, s, 2)
            if all(np.linalg.norm(p - q) > min_gap for q in taken):
                taken.append(p)
                return p
        raise RuntimeError("room is too crowded to place another prop; enlarge room_half_size")

    def facing(p):  # props face the room centre
        return float(np.arctan2(-p[1], -p[0]))

    for i in range(int(rng.integers(3, 6))):
        p = spot()
        h = float(rng.uniform(0.20, 0.60))  # tables of 20-60 cm
        put(so.add_table(spec, f"table_{i}", p, facing(p), h, (rng.uniform(0.25, 0.4), rng.uniform(0.35, 0.6)),
                         _m(spec, f"table_{i}_mat", rng, kind=str(rng.choice(["wood", "flat", "noise"]))), None))
        kind = rng.choice(["bag", "box", "basket"])
        top = (p[0], p[1], h)
        if kind == "bag":
            put(so.add_paper_bag(spec, f"bag_{i}", top, rng.uniform(-1, 1), (0.05, 0.09, 0.07), _m(spec, f"bag_{i}_mat", rng, PAPER, 0.2)))
        elif kind == "box":
            put(so.add_box(spec, f"box_{i}", top, rng.uniform(-1, 1), (0.08, 0.1, 0.06), _m(spec, f"box_{i}_mat", rng, CARDBOARD, 0.15)))
        else:
            put(so.add_basket(spec, f"basket_{i}", top, rng.uniform(-1, 1), (0.12, 0.16, 0.05), _m(spec, f"basket_{i}_mat", rng)))
    for i in range(int(rng.integers(1, 3))):
        p = spot()
        put(so.add_carton(spec, f"carton_{i}", (p[0], p[1], 0.0), facing(p), (0.18, 0.22, 0.14), _m(spec, f"carton_{i}_mat", rng, CARDBOARD)))
    for i in range(int(rng.integers(1, 3))):
        p = spot()
        put(so.add_shelf(spec, f"shelf_{i}", p, facing(p), rng.uniform(0.3, 0.5), rng.uniform(0.8, 1.4), int(rng.integers(2, 5)),
                         _m(spec, f"shelf_{i}_mat", rng, WOOD)))
    p = spot()
    put(so.add_drawer(spec, "drawer", p, facing(p), rng.uniform(0.45, 0.65), _m(spec, "drawer_mat", rng, WOOD)))
    p = spot(1.2)
    put(so.add_cart(spec, "cart", p, facing(p) + np.pi, cfg.cart_mass, _m(spec, "cart_mat", rng, kind="flat"), cfg.cart_wheeled))


def _add_free_camera(spec: mujoco.MjSpec, fovy: float) -> None:
    rig = spec.worldbody.add_body(name=f"{FREE_CAMERA}_rig", pos=[0, 0, 1.6], mocap=True)
    # The rig's +x is the viewing direction, +z up: the camera looks along its own -z.
    rig.add_camera(name=FREE_CAMERA, fovy=fovy, quat=[0.5, 0.5, -0.5, -0.5])


def build_scene(config: SceneConfig | None = None, **overrides) -> Scene:
    """Build and compile a scene; ``build_scene(name="room", seed=3)`` works too.

    Raises:
        ValueError: unknown scene name or invalid config values (the message names them).
    """
    if config is None:
        config = SceneConfig(**overrides)
    elif overrides:
        raise ValueError("pass either a SceneConfig or keyword overrides, not both")
    rng = np.random.default_rng(config.seed)
    spec = _base_spec(config.with_robot)
    _room(spec, config, rng)
    objects = _layout(spec, config, rng)
    if config.free_camera_fovy is not None:
        _add_free_camera(spec, config.free_camera_fovy)
    if config.with_robot:
        add_pd_actuators(spec)
        if config.robot_xy != (0.0, 0.0) or config.robot_yaw != 0.0:
            _move_props_to_robot(spec, objects, config)
    return Scene(config, spec, objects)


def _move_props_to_robot(spec, objects, config) -> None:
    """Layouts are authored in the robot frame; shift task props when the robot starts elsewhere."""
    if config.name == "room":
        return  # the room is laid out in world coordinates around the robot's start
    c, s = np.cos(config.robot_yaw), np.sin(config.robot_yaw)
    rot = np.array([[c, -s], [s, c]])
    for obj in objects.values():
        body = spec.body(obj.name if obj.kind != "drawer" else f"{obj.name}_cabinet")
        xy = rot @ np.asarray(body.pos[:2]) + np.asarray(config.robot_xy)
        body.pos = [float(xy[0]), float(xy[1]), float(body.pos[2])]
        q = np.asarray(body.quat, float)
        yaw = 2 * np.arctan2(q[3], q[0]) + config.robot_yaw
        body.quat = [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]
