"""wbvla: a runnable, open reproduction of WholeBodyVLA (ICLR 2026) on a simulated AgiBot X2.

The package is layered; a component imports only components of lower layers, never one of its
own layer (``tests/unit/test_import_graph.py`` checks it, and that there is no import circle):

 0. foundation: this root and its helpers ``validation``, ``io``, ``paths``, ``compat``
 1. ``sim`` (the X2, scenes, cameras), ``viz`` (figures, videos), ``training`` (the Lightning
    harness LAM and VLA training share: resume, same-run check, devices, checkpoints)
 2. ``data`` (corpora, the teleoperation schema, LeRobot v3)
 3. ``lam`` (Stage I) and ``lmo`` (the RL locomotion policy; its ONNX inference is numpy only)
 4. ``control`` (the policy contract every runner drives)
 5. ``locomotion`` (the locomotion backends behind one interface)
 6. ``tasks`` (tasks, subgoal checks, expert, trial loop) and ``vla`` (Stages II-III): a task never
    knows which policy drives it, the VLA never knows the task loop
 7. ``runtime`` (deployment over ZeroMQ; its GPU-side server loads the VLA)
 8. ``suite`` (the Table 2 analog, split rows, DAgger: it drives ``tasks`` with ``vla`` policies)
 9. the applications: ``quickstart_config`` and ``notebook_runner``, ``quickstart``, ``cli``

An import inside a function is used only to keep a heavy dependency (torch, Lightning,
transformers, MuJoCo rendering) out of start-up, and says so in a ``# lazy:`` comment.
"""

import os as _os

# MuJoCo picks its OpenGL backend when it is first imported: default to headless EGL (works on
# CPU through Mesa and on NVIDIA GPUs). Set MUJOCO_GL yourself to override.
_os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
