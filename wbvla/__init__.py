"""wbvla: a runnable, open reproduction of WholeBodyVLA (ICLR 2026) on a simulated AgiBot X2."""

import os as _os

# MuJoCo picks its OpenGL backend when it is first imported: default to headless EGL (works on
# CPU through Mesa and on NVIDIA GPUs). Set MUJOCO_GL yourself to override.
_os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
