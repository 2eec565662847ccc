"""Where the scripted expert stands to put a load down: as close as the body allows.

Putting the bag into the carton or the tote onto the cart deck, the expert squats. The squat
moves the knees forward, and a robot that stood with the load held straight over the middle of
the carton or deck would have its knees in the carton's wall or under the deck's edge (the
carton would be kicked away; the ideal base, which collides with furniture, would stop short).
:class:`StanceProbe` finds the stance instead: the pelvis is moved back from the place point,
along the heading, until the robot's legs and body (every robot geom but the hands, arms as they
are) keep ``clearance`` from the target object and from furniture at every given pelvis height,
tested with MuJoCo's collision detection on a scratch copy of the state
(:func:`wbvla.sim.contacts.near`). The legs take the ideal base's balanced squat pose
(:func:`wbvla.locomotion.ideal_base.leg_pose_for_height`). Where the knees of a deep squat would
keep the robot so far back that the load would not land inside the carton or on the deck,
:meth:`StanceProbe.place` squats less deep (the load is let go a little higher). The hands hold
the load where they do: reaching farther forward low down, the arms cannot roll the hands to let
a bag go.
"""

from __future__ import annotations

import mujoco
import numpy as np

from wbvla.locomotion.ideal_base import leg_pose_for_height
from wbvla.sim.contacts import furniture_geoms, near, robot_geoms
from wbvla.sim.joints import group_slice
from wbvla.sim.robot import yaw_quat
from wbvla.sim.scene import Scene

STEP = 0.01
"""Resolution of the search (m)."""


class StanceProbe:
    """Collision tests of candidate stances in one scene (a scratch ``MjData``; the scene's own
    state is read, never written)."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.model = scene.model
        self.idx = scene.robot
        self._scratch = mujoco.MjData(self.model)
        roles = robot_geoms(self.model, self.idx)
        self._body = roles.robot & ~roles.hands
        floor = self.model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE
        self._furniture = furniture_geoms(self.model, self.idx) & ~floor
        self._legs = self.idx.qpos[group_slice("legs")]

    def clear(self, xy: np.ndarray, yaw: float, heights, obstacle: str, clearance: float) -> bool:
        """Whether the robot's body at pelvis (xy, yaw) keeps ``clearance`` (m) from the body tree
        ``obstacle`` and from furniture at every pelvis height in ``heights``."""
        m, d, b = self.model, self._scratch, self.idx.base_qpos
        root = m.body_rootid[m.body(obstacle).id]
        others = self._furniture | (m.body_rootid[m.geom_bodyid] == root)
        d.qpos[:] = self.scene.data.qpos
        for h in heights:
            d.qpos[b : b + 3] = (xy[0], xy[1], h)
            d.qpos[b + 3 : b + 7] = yaw_quat(yaw)
            d.qpos[self._legs] = leg_pose_for_height(h)
            mujoco.mj_kinematics(m, d)
            if near(m, d, self._body, others, clearance):
                return False
        return True

    def reach(self, point: np.ndarray, heading: float, ahead: float, heights, obstacle: str, clearance: float,
              max_back: float = 0.4) -> float:
        """The smallest distance (m, >= ``ahead``) of the pelvis behind ``point`` along ``heading``
        at which :meth:`clear` holds; ``ahead + max_back`` if none is."""
        u = np.array([np.cos(heading), np.sin(heading)])
        for k in range(round(max_back / STEP) + 1):
            dist = ahead + k * STEP
            if self.clear(np.asarray(point[:2]) - dist * u, heading, heights, obstacle, clearance):
                return dist
        return ahead + max_back

    def place(self, point: np.ndarray, heading: float, ahead: float, h_now: float, h_low: float, target: str,
              load: str, clearance: float, margin: float) -> tuple[float, float]:
        """Pelvis distance behind ``point`` along ``heading`` and pelvis height to put ``load``
        (held ``ahead`` m in front of the pelvis, now at ``h_now``) down onto ``target``: the
        deepest squat from ``h_low`` up whose stance (:meth:`reach`, checked standing and
        squatting) lets ``load`` land with its edge ``margin`` inside ``target``'s outline."""
        objects = self.scene.objects
        rot = self.scene.data.body(target).xmat.reshape(3, 3)
        u = np.array([np.cos(heading), np.sin(heading), 0.0])
        inner = objects[target].size[:2] - objects[load].size[0] - margin  # (2,) per axis of ``target``
        along = np.abs(rot[:, :2].T @ u)  # (2,) |cos| of the heading to each axis
        room = float(np.min(np.where(along > 1e-6, inner / np.maximum(along, 1e-6), np.inf)))  # how far back it may land
        for h in np.arange(h_low, h_now + 1e-9, STEP):
            dist = self.reach(point, heading, ahead, (h_now, h), target, clearance)
            if dist - ahead <= room:
                return dist, float(h)
        return self.reach(point, heading, ahead, (h_now,), target, clearance), h_now
