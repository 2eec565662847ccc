"""Props for the X2's world, built with MjSpec: tables, cartons, baskets, paper bags, boxes, a cart,
shelves and a drawer cabinet, plus procedural textures.

Every factory adds one named body tree to a spec and returns a :class:`SceneObject` describing it
(what it is, whether it moves, its size and its task-relevant sites), so task logic can refer to
``scene.objects["bag"]`` instead of geometry indices. Sizes are in metres, masses in kilograms.
World geoms use ``contype=1, conaffinity=3`` so they touch each other and the robot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from wbvla.validation import in_range, one_of, positive

WORLD = dict(contype=1, conaffinity=3, condim=3)
BOX, CYL, CAP, SPH = (mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CYLINDER,
                      mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_SPHERE)
TEXTURE_KINDS = ("flat", "checker", "grid", "noise", "stripes", "wood")
GRAB_BAR = dict(priority=2, condim=4, friction=[1.5, 0.02, 0.001])
"""Contact of the carrying bars of bags and totes: rubber-like, with torsional friction
(condim 4) and a higher priority than the fingers, so these values decide a finger contact: a
hanging load's swing is damped instead of turning the bar freely between the two finger contacts.
A physical material property, the same for every policy."""


@dataclass
class SceneObject:
    """A named prop in a scene."""

    name: str
    """Body name, also the key in ``Scene.objects`` (``table``, ``bag``, ``carton_2``...)."""
    kind: str
    """What it is: table, carton, basket, bag, box, cart, shelf, drawer."""
    movable: bool
    """Whether it has a free joint (or, for the drawer, a slide joint)."""
    size: np.ndarray
    """Outer half-extents (x, y, z) in its own frame."""
    top_z: float = 0.0
    """Height of its top (tables: the surface; containers: the rim) above the floor at build time."""
    sites: dict[str, str] = field(default_factory=dict)
    """Task sites by role: ``handle``, ``inside``, ``surface``..."""
    joint: str | None = None
    """Its joint name, if movable."""


# ------------------------------------------------------------------------------------------
# Appearance
# ------------------------------------------------------------------------------------------
def texture_pixels(kind: str, rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """A procedural RGB texture, (size, size, 3) uint8, drawn from ``rng``."""
    if kind not in TEXTURE_KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; choose one of {TEXTURE_KINDS}")
    c1, c2 = rng.uniform(0.15, 0.9, 3), rng.uniform(0.15, 0.9, 3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == "flat":
        mix = np.zeros((size, size))
    elif kind == "checker":
        n = int(rng.integers(2, 8))
        mix = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(float)
    elif kind == "grid":
        n, w = int(rng.integers(3, 10)), rng.uniform(0.04, 0.12)
        mix = (((xx * n) % 1 < w) | ((yy * n) % 1 < w)).astype(float)
    elif kind == "noise":
        coarse = rng.uniform(0, 1, (8, 8))
        mix = np.kron(coarse, np.ones((size // 8, size // 8)))
        mix = 0.6 * mix + 0.4 * rng.uniform(0, 1, (size, size))
    elif kind == "stripes":
        n, angle = int(rng.integers(3, 12)), rng.uniform(0, np.pi)
        mix = (np.sin(2 * np.pi * n * (xx * np.cos(angle) + yy * np.sin(angle))) > 0).astype(float)
    else:  # wood: warped rings
        f = rng.uniform(6, 14)
        warp = 0.05 * np.sin(2 * np.pi * 3 * yy + rng.uniform(0, 6))
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * f * (xx + warp) + 2 * np.sin(2 * np.pi * yy))
    img = c1[None, None] * (1 - mix[..., None]) + c2[None, None] * mix[..., None]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def add_material(
    spec: mujoco.MjSpec, name: str, rng: np.random.Generator, kind: str | None = None,
    repeat: float = 1.0, base_rgb: np.ndarray | None = None, jitter: float = 0.0,
) -> str:
    """Add a textured material (random texture kind unless ``kind``); returns its name.

    ``base_rgb`` with ``jitter`` gives object-typical colours (brown cartons, white bags)
    instead of arbitrary ones.
    """
    kind = kind or str(rng.choice(TEXTURE_KINDS))
    pixels = texture_pixels(kind, rng)
    if base_rgb is not None:
        tint = np.clip(np.asarray(base_rgb) + rng.uniform(-jitter, jitter, 3), 0, 1)
        shade = pixels.astype(float).mean(-1, keepdims=True) / 255.0
        pixels = (np.clip(tint * (0.75 + 0.5 * shade), 0, 1) * 255).astype(np.uint8)
    tex = spec.add_texture(name=f"{name}_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                           width=pixels.shape[1], height=pixels.shape[0], nchannel=3)
    tex.data = pixels.tobytes()
    mat = spec.add_material(name=name, texrepeat=[repeat, repeat], texuniform=True,
                            specular=float(rng.uniform(0.05, 0.4)), shininess=float(rng.uniform(0.1, 0.6)))
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex.name
    return name


def _quat_yaw(yaw: float) -> list[float]:
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def _geom(body, name, gtype, size, pos=(0, 0, 0), material=None, rgba=None, **kw):
    kw = {**WORLD, **kw}
    g = body.add_geom(name=name, type=gtype, size=list(size) + [0] * (3 - len(size)), pos=list(pos), **kw)
    if material:
        g.material = material
    if rgba is not None:
        g.rgba = list(rgba)
    return g


# ------------------------------------------------------------------------------------------
# Props
# ------------------------------------------------------------------------------------------
def add_table(spec, name, pos_xy, yaw, height, top_size, material, leg_material=None) -> SceneObject:
    """A static table: a top of half-size ``top_size`` (x, y) at ``height`` (m) on four legs."""
    in_range(f"{name} height", height, 0.05, 1.5)
    hx, hy = top_size
    body = spec.worldbody.add_body(name=name, pos=[*pos_xy, 0.0], quat=_quat_yaw(yaw))
    _geom(body, f"{name}_top", BOX, (hx, hy, 0.015), (0, 0, height - 0.015), material)
    for i, (sx, sy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        _geom(body, f"{name}_leg{i}", BOX, (0.02, 0.02, (height - 0.03) / 2),
              (sx * (hx - 0.03), sy * (hy - 0.03), (height - 0.03) / 2), leg_material or material)
    body.add_site(name=f"{name}_surface", pos=[0, 0, height], size=[0.01, 0, 0], group=5)
    return SceneObject(name, "table", False, np.array([hx, hy, height / 2]), height, {"surface": f"{name}_surface"})


def _open_container(spec, name, kind, pos, yaw, half, wall, mass, material) -> SceneObject:
    hx, hy, hz = half
    body = spec.worldbody.add_body(name=name, pos=list(pos), quat=_quat_yaw(yaw))
    body.add_freejoint(name=f"{name}_joint")
    density = mass / (2 * (hx * hz + hy * hz) * 4 * wall + 4 * hx * hy * wall)
    kw = dict(material=material, density=density)
    _geom(body, f"{name}_bottom", BOX, (hx, hy, wall / 2), (0, 0, wall / 2), **kw)
    for i, s in enumerate((1, -1)):
        _geom(body, f"{name}_wall_x{i}", BOX, (wall / 2, hy, hz), (s * (hx - wall / 2), 0, hz), **kw)
        _geom(body, f"{name}_wall_y{i}", BOX, (hx, wall / 2, hz), (0, s * (hy - wall / 2), hz), **kw)
    body.add_site(name=f"{name}_inside", pos=[0, 0, wall + 0.02], size=[0.01, 0, 0], group=5)
    return SceneObject(name, kind, True, np.array(half), float(pos[2] + 2 * hz),
                       {"inside": f"{name}_inside"}, f"{name}_joint")


def add_carton(spec, name, pos, yaw, half, material, mass=0.8) -> SceneObject:
    """An open-top cardboard carton (free body)."""
    return _open_container(spec, name, "carton", pos, yaw, half, 0.006, mass, material)


def add_basket(spec, name, pos, yaw, half, material, mass=0.5) -> SceneObject:
    """An open-top basket: a lower, wider container (free body)."""
    return _open_container(spec, name, "basket", pos, yaw, half, 0.008, mass, material)


def add_paper_bag(spec, name, pos, yaw, half, material, mass=0.3, handle_style="rope", handle_radius=0.006) -> SceneObject:
    """A paper (snack/shopping) bag with handles on top (free body).

    ``handle_style="rope"``: two slanted rope loops (the look of the Stage I corpora).
    ``handle_style="bar"``: one horizontal carrying bar of radius ``handle_radius`` across the
    bag (along its y axis), :data:`BAR_RISE` above the top on two posts: what both parallel
    grippers of the task suite grasp (sites ``handle_left`` / ``handle_right`` on the bar at
    +-0.12 m, ``handle`` at its centre; :func:`_carry_bar`).
    """
    one_of(f"{name} handle_style", handle_style, ("rope", "bar"))
    positive(f"{name} handle_radius", handle_radius)
    hx, hy, hz = half
    body = spec.worldbody.add_body(name=name, pos=list(pos), quat=_quat_yaw(yaw))
    body.add_freejoint(name=f"{name}_joint")
    _geom(body, f"{name}_body", BOX, (hx, hy, hz), (0, 0, hz), material, mass=mass)
    if handle_style == "bar":
        sites = _carry_bar(body, name, 2 * hz, hy - 0.01, handle_radius, dict(rgba=(0.85, 0.8, 0.7, 1), mass=0.01))
        return SceneObject(name, "bag", True, np.array(half), float(pos[2] + 2 * hz + BAR_RISE + handle_radius),
                           sites, f"{name}_joint")
    for i, s in enumerate((1, -1)):
        _geom(body, f"{name}_handle{i}", CAP, (handle_radius,), (0, 0, 0), rgba=(0.85, 0.8, 0.7, 1), mass=0.005,
              fromto=[-0.5 * hx, s * 0.6 * hy, 2 * hz, 0.5 * hx, s * 0.6 * hy, 2 * hz + 0.05])
        body.add_site(name=f"{name}_handle{i}_site", pos=[0, s * 0.6 * hy, 2 * hz + 0.04], size=[0.01, 0, 0], group=5)
    return SceneObject(name, "bag", True, np.array(half), float(pos[2] + 2 * hz + 0.05),
                       {"handle_left": f"{name}_handle0_site", "handle_right": f"{name}_handle1_site"}, f"{name}_joint")


BAR_RISE = 0.06
"""Height of a carrying bar's axis above the top of its bag or tote (m)."""
HAND_SPACING = 0.12
"""The ``handle_left`` / ``handle_right`` sites sit this far either side of a carrying bar's centre (m)."""


def _carry_bar(body, name, top, half_length, radius, look) -> dict[str, str]:
    """A carrying bar along the body's y axis at height ``top + BAR_RISE`` on two posts, with the
    :data:`GRAB_BAR` contact; returns the task sites."""
    z = top + BAR_RISE
    _geom(body, f"{name}_bar", CAP, (radius,), **look, **GRAB_BAR, fromto=[0, -half_length, z, 0, half_length, z])
    for j, y in enumerate((-half_length, half_length)):
        _geom(body, f"{name}_bar_post{j}", CAP, (0.5 * radius,), **look, fromto=[0, y, top, 0, y, z])
    sites = {}
    for role, y in (("handle", 0.0), ("handle_left", HAND_SPACING), ("handle_right", -HAND_SPACING)):
        body.add_site(name=f"{name}_{role}_site", pos=[0, y, z], size=[0.01, 0, 0], group=5)
        sites[role] = f"{name}_{role}_site"
    return sites


def add_tote(spec, name, pos, yaw, half, material, mass=1.5, contents="bags", content_mass=0.6,
             bar_radius=0.012) -> SceneObject:
    """An open-top tote box with a carrying bar across its top (along its y axis) and visible
    contents (free body; ``kind="box"``, the object of the box-loading task).

    Sites ``handle`` / ``handle_left`` / ``handle_right`` on the bar (:func:`_carry_bar`).
    ``contents`` is what lies inside, rigidly attached: ``bags`` (small paper bags) or ``plastic``
    (translucent plastic containers, the C.2 load variation); ``content_mass`` (kg) is their total
    mass.
    """
    one_of(f"{name} contents", contents, ("bags", "plastic"))
    positive(f"{name} mass", mass)
    positive(f"{name} content_mass", content_mass, allow_zero=True)
    obj = _open_container(spec, name, "box", pos, yaw, half, 0.008, mass, material)
    body = spec.body(name)
    hx, hy, hz = half
    obj.sites.update(_carry_bar(body, name, 2 * hz, hy - 0.004, bar_radius, dict(rgba=(0.25, 0.25, 0.27, 1), mass=0.05)))
    n = 3
    for k in range(n):  # contents: three items side by side along y, resting on the bottom
        cy = (k - 1) * 0.6 * hy
        if contents == "bags":
            _geom(body, f"{name}_item{k}", BOX, (0.6 * hx, 0.18 * hy, 0.55 * hz), (0, cy, 0.008 + 0.55 * hz),
                  rgba=(0.86, 0.80, 0.66, 1), mass=content_mass / n, contype=0, conaffinity=0)
        else:
            _geom(body, f"{name}_item{k}", CYL, (0.17 * hy, 0.6 * hz), (0, cy, 0.008 + 0.6 * hz),
                  rgba=(0.55, 0.80, 0.95, 0.55), mass=content_mass / n, contype=0, conaffinity=0)
    obj.top_z = float(pos[2] + 2 * hz + BAR_RISE + bar_radius)
    return obj


def add_box(spec, name, pos, yaw, half, material, mass=1.5) -> SceneObject:
    """A closed box to be lifted with both hands (free body)."""
    body = spec.worldbody.add_body(name=name, pos=list(pos), quat=_quat_yaw(yaw))
    body.add_freejoint(name=f"{name}_joint")
    _geom(body, f"{name}_geom", BOX, half, (0, 0, half[2]), material, mass=mass)
    return SceneObject(name, "box", True, np.array(half), float(pos[2] + 2 * half[2]), {}, f"{name}_joint")


def add_cart(spec, name, pos_xy, yaw, mass, material, wheeled=True, deck_z=0.22) -> SceneObject:
    """A push cart: deck, raised handle, and either four rolling wheels or low-friction skids.

    ``mass`` (kg, up to and beyond the paper's 50 kg) is the deck's load plus frame. ``deck_z``
    is the height of the deck's mid-plane (m); legs reach down to the wheel struts.
    """
    positive(f"{name} mass", mass)
    in_range(f"{name} deck_z", deck_z, 0.15, 0.7)
    hx, hy = 0.35, 0.25
    body = spec.worldbody.add_body(name=name, pos=[*pos_xy, 0.0], quat=_quat_yaw(yaw))
    body.add_freejoint(name=f"{name}_joint")
    _geom(body, f"{name}_deck", BOX, (hx, hy, 0.02), (0, 0, deck_z), material, mass=mass)
    for i, s in enumerate((1, -1)):
        _geom(body, f"{name}_post{i}", CAP, (0.012,), rgba=(0.3, 0.3, 0.32, 1), mass=0.5,
              fromto=[-hx, s * (hy - 0.02), deck_z, -hx - 0.04, s * (hy - 0.02), 0.85])
    _geom(body, f"{name}_handle", CAP, (0.015,), rgba=(0.1, 0.1, 0.1, 1), mass=0.3,
          fromto=[-hx - 0.04, hy - 0.02, 0.85, -hx - 0.04, -hy + 0.02, 0.85])
    body.add_site(name=f"{name}_handle_site", pos=[-hx - 0.04, 0, 0.85], size=[0.01, 0, 0], group=5)
    body.add_site(name=f"{name}_deck_site", pos=[0, 0, deck_z + 0.02], size=[0.01, 0, 0], group=5)
    for i, (sx, sy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        wpos = [sx * (hx - 0.06), sy * (hy - 0.03), 0.06]
        if wheeled:
            wheel = body.add_body(name=f"{name}_wheel{i}", pos=wpos)
            wheel.add_joint(name=f"{name}_wheel{i}_joint", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0], damping=0.01)
            _geom(wheel, f"{name}_wheel{i}_geom", CYL, (0.06, 0.015), quat=[0.7071068, 0.7071068, 0, 0],
                  rgba=(0.08, 0.08, 0.08, 1), mass=0.4, friction=[1.0, 0.005, 0.0001])
        else:
            _geom(body, f"{name}_skid{i}", SPH, (0.06,), wpos, rgba=(0.5, 0.5, 0.5, 1), mass=0.4,
                  friction=[0.02, 0.005, 0.0001], priority=2)
        strut = (deck_z - 0.08) / 2  # from 0.07 m (above the wheel) up to 1 cm under the deck
        _geom(body, f"{name}_strut{i}", BOX, (0.015, 0.015, strut), (wpos[0], wpos[1], 0.07 + strut), rgba=(0.3, 0.3, 0.32, 1), mass=0.2)
    return SceneObject(name, "cart", True, np.array([hx, hy, 0.425]), deck_z + 0.02,
                       {"handle": f"{name}_handle_site", "deck": f"{name}_deck_site"}, f"{name}_joint")


def add_plates(spec, name, pos, yaw, mass=60.0, plates=4) -> SceneObject:
    """A stack of ``plates`` barbell plates of total ``mass`` kg (free body): the C.2 cart load
    (it replaces the carton on the cart)."""
    positive(f"{name} mass", mass)
    body = spec.worldbody.add_body(name=name, pos=list(pos), quat=_quat_yaw(yaw))
    body.add_freejoint(name=f"{name}_joint")
    r, t = 0.17, 0.025
    for k in range(plates):
        _geom(body, f"{name}_plate{k}", CYL, (r, t / 2), (0, 0, t / 2 + k * t), rgba=(0.12, 0.12, 0.13, 1), mass=mass / plates)
    _geom(body, f"{name}_hub", CYL, (0.03, plates * t / 2 + 0.005), (0, 0, plates * t / 2), rgba=(0.7, 0.7, 0.72, 1), mass=0.01)
    return SceneObject(name, "plates", True, np.array([r, r, plates * t / 2]), float(pos[2] + plates * t), {}, f"{name}_joint")


def add_shelf(spec, name, pos_xy, yaw, width, height, levels, material) -> SceneObject:
    """A static open shelf with ``levels`` boards."""
    depth = 0.18
    body = spec.worldbody.add_body(name=name, pos=[*pos_xy, 0.0], quat=_quat_yaw(yaw))
    for i, s in enumerate((1, -1)):
        _geom(body, f"{name}_side{i}", BOX, (depth, 0.01, height / 2), (0, s * width, height / 2), material)
    _geom(body, f"{name}_back", BOX, (0.005, width, height / 2), (-depth, 0, height / 2), material)
    for k in range(levels):
        z = 0.05 + k * (height - 0.06) / max(levels - 1, 1)
        _geom(body, f"{name}_board{k}", BOX, (depth, width, 0.01), (0, 0, z), material)
        body.add_site(name=f"{name}_level{k}", pos=[0, 0, z + 0.01], size=[0.01, 0, 0], group=5)
    return SceneObject(name, "shelf", False, np.array([depth, width, height / 2]), height,
                       {f"level{k}": f"{name}_level{k}" for k in range(levels)})


def add_drawer(spec, name, pos_xy, yaw, height, material, handle_rgba=(0.75, 0.75, 0.78, 1)) -> SceneObject:
    """A cabinet with one drawer on a slide joint (``{name}_slide``, 0 closed .. 0.3 m open)."""
    hx, hy, hz = 0.22, 0.25, height / 2
    cab = spec.worldbody.add_body(name=f"{name}_cabinet", pos=[*pos_xy, 0.0], quat=_quat_yaw(yaw))
    _geom(cab, f"{name}_cab_top", BOX, (hx, hy, 0.01), (0, 0, height - 0.01), material)
    _geom(cab, f"{name}_cab_bottom", BOX, (hx, hy, 0.01), (0, 0, 0.01), material)
    for i, s in enumerate((1, -1)):
        _geom(cab, f"{name}_cab_side{i}", BOX, (hx, 0.01, hz), (0, s * (hy - 0.01), hz), material)
    _geom(cab, f"{name}_cab_back", BOX, (0.01, hy, hz), (-hx + 0.01, 0, hz), material)
    drawer = cab.add_body(name=name, pos=[0.0, 0.0, hz])
    drawer.add_joint(name=f"{name}_slide", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1, 0, 0],
                     range=[0.0, 0.3], damping=5.0, frictionloss=1.0)
    dz = min(hz - 0.04, 0.12)
    kw = dict(material=material, mass=0.4)
    _geom(drawer, f"{name}_front", BOX, (0.01, hy - 0.03, dz), (hx - 0.01, 0, 0), **kw)
    _geom(drawer, f"{name}_floor", BOX, (hx - 0.04, hy - 0.04, 0.005), (0, 0, -dz + 0.005), **kw)
    for i, s in enumerate((1, -1)):
        _geom(drawer, f"{name}_wall{i}", BOX, (hx - 0.04, 0.005, dz * 0.7), (0, s * (hy - 0.04), -dz * 0.3), **kw)
    _geom(drawer, f"{name}_handle", CAP, (0.01,), rgba=handle_rgba, mass=0.05,
          fromto=[hx + 0.035, -0.08, 0, hx + 0.035, 0.08, 0])
    drawer.add_site(name=f"{name}_handle_site", pos=[hx + 0.035, 0, 0], size=[0.01, 0, 0], group=5)
    drawer.add_site(name=f"{name}_inside", pos=[0, 0, -dz + 0.03], size=[0.01, 0, 0], group=5)
    return SceneObject(name, "drawer", True, np.array([hx, hy, hz]), height,
                       {"handle": f"{name}_handle_site", "inside": f"{name}_inside"}, f"{name}_slide")
