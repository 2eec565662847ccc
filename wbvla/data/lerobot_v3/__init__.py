"""LeRobot dataset v3.0 for the teleoperation data: write, read, validate (one import for callers).

* :class:`LeRobotV3Writer` — the expert's recorder (``add_frame`` / ``save_episode`` /
  ``discard_episode`` / ``finalize``; ``LeRobotV3Writer.open(root)`` resumes);
* :func:`teleop_features` — the ``features`` dict of :mod:`wbvla.data.teleop_schema`;
* :class:`VideoEncoding`, :class:`FileLimits` — codec and file rollover settings;
* :class:`LeRobotV3Dataset` — the reader (episodes table, per-frame columns, decoded video, tasks, info),
  also for datasets written by ``lerobot``;
* :func:`validate_v3` — every departure from the v3.0 layout (``wbvla lerobot-validate ROOT``).

The layout and its sources in lerobot are described in :mod:`wbvla.data.lerobot_v3.format`.

Modules: :mod:`.config` (the CLI's light configs), :mod:`.format` (layout, features, stats),
:mod:`.video` (ffmpeg), :mod:`.write`, :mod:`.read`, :mod:`.validate`. The names above load on
first use, so ``wbvla.data.lerobot_v3.config`` (which the CLI imports) pulls in neither pandas nor
pyarrow.
"""

from __future__ import annotations

__all__ = ["CODEBASE_VERSION", "DEFAULT_FEATURES", "WBVLA_META_PATH", "FileLimits", "LeRobotV3Dataset",
           "LeRobotV3Writer", "VideoEncoding", "read_episodes_table", "teleop_features", "validate_v3"]


def __getattr__(name: str):
    """The public names, imported from their module on first use (PEP 562)."""
    if name in ("FileLimits", "VideoEncoding"):
        from wbvla.data.lerobot_v3 import config as module  # lazy: kept light for the CLI
    elif name in ("CODEBASE_VERSION", "DEFAULT_FEATURES", "WBVLA_META_PATH", "teleop_features"):
        from wbvla.data.lerobot_v3 import format as module  # lazy: pandas, pyarrow
    elif name in ("LeRobotV3Dataset", "read_episodes_table"):
        from wbvla.data.lerobot_v3 import read as module  # lazy: pandas, pyarrow
    elif name == "validate_v3":
        from wbvla.data.lerobot_v3 import validate as module  # lazy: pandas, pyarrow
    elif name == "LeRobotV3Writer":
        from wbvla.data.lerobot_v3 import write as module  # lazy: pandas, pyarrow
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
