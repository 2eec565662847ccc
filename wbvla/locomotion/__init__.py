"""Locomotion backends behind one interface (:class:`~wbvla.locomotion.base.LocomotionBackend`):
the physics LMO, the velocity-tracking baseline, and the labelled kinematic "ideal base"."""
