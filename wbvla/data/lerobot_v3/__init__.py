"""LeRobot dataset v3.0 for the teleoperation data: write, read, validate (one import for callers).

* :class:`LeRobotV3Writer` — the expert's recorder (``add_frame`` / ``save_episode`` /
  ``discard_episode`` / ``finalize``; ``LeRobotV3Writer.open(root)`` resumes);
* :func:`teleop_features` — the ``features`` dict of :mod:`wbvla.data.teleop_schema`;
* :class:`VideoEncoding`, :class:`FileLimits` — codec and file rollover settings;
* :class:`LeRobotV3Dataset` — the reader (episodes table, per-frame columns, decoded video, tasks, info),
  also for datasets written by ``lerobot``;
* :func:`validate_v3` — every departure from the v3.0 layout (``wbvla lerobot-validate ROOT``).

The layout and its sources in lerobot are described in :mod:`wbvla.data.lerobot_v3_format`.
"""

from wbvla.data.lerobot_v3_config import FileLimits, VideoEncoding
from wbvla.data.lerobot_v3_format import (
           CODEBASE_VERSION,
           DEFAULT_FEATURES,
           WBVLA_META_PATH,
           teleop_features,
)
from wbvla.data.lerobot_v3_read import LeRobotV3Dataset, read_episodes_table
from wbvla.data.lerobot_v3_validate import validate_v3
from wbvla.data.lerobot_v3_write import LeRobotV3Writer

__all__ = ["CODEBASE_VERSION", "DEFAULT_FEATURES", "WBVLA_META_PATH", "FileLimits", "LeRobotV3Dataset",
           "LeRobotV3Writer", "VideoEncoding", "read_episodes_table", "teleop_features", "validate_v3"]
