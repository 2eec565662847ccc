"""The three paper tasks (bag packing, box loading, cart pushing) in simulation: task specs and
variations (:mod:`~wbvla.tasks.specs`), privileged subgoal checks (:mod:`~wbvla.tasks.subgoals`),
the scripted expert (:mod:`~wbvla.tasks.expert`), the closed-loop runner
(:mod:`~wbvla.tasks.runner`) and teleoperation-data collection (:mod:`~wbvla.tasks.teleop`)."""
