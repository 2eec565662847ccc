"""Read a LeRobot v3.0 dataset root (written by :class:`~wbvla.data.lerobot_v3.write.LeRobotV3Writer` or by
``lerobot`` itself): info, tasks, the episodes table, per-frame columns as numpy, decoded video.

    ds = LeRobotV3Dataset(root)
    ds.episodes                      # one row per episode: episode_index, length, dataset_from/to_index, ...
    ep = ds.episode(0, size=64)      # {"observation.state": (T, 17), ..., "observation.images.head": (T, 64, 64, 3),
                                     #  "task": [instruction] * T}
    cols = ds.columns(["action"])    # every frame of the dataset, in index order

Every structural problem is a ``ValueError`` naming the file and the column. Features lerobot stores as
images inside the parquet files (dtype ``image``) are not decoded; video features are.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wbvla.data.lerobot_v3 import format as fmt
from wbvla.data.lerobot_v3.video import decode_range, resize_frames


def read_episodes_table(root: Path) -> pd.DataFrame:
    """``meta/episodes/*/*.parquet`` (without the ``stats/`` columns) as one table sorted by episode.

    A file without ``length`` gets it from ``dataset_to_index - dataset_from_index``.

    Raises:
        ValueError: no files, or a file lacks ``episode_index`` / both ``length`` and the index range, or
            its ``length`` disagrees with its index range, or an episode appears twice (naming the file).
    """
    files = sorted((Path(root) / fmt.EPISODES_DIR).glob("*/*.parquet"))
    if not files:
        raise ValueError(f"{root}: no episode metadata under {fmt.EPISODES_DIR}/ (chunk-*/file-*.parquet)")
    parts = []
    for f in files:
        try:
            names = pq.read_schema(f).names
            df = pd.read_parquet(f, columns=[c for c in names if not c.startswith("stats/")])
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"cannot read episode metadata {f}: {err}") from None
        if "episode_index" not in df.columns:
            raise ValueError(f"{f}: episode metadata has no column 'episode_index'")
        has_range = {"dataset_from_index", "dataset_to_index"} <= set(df.columns)
        if "length" not in df.columns:
            if not has_range:
                raise ValueError(f"{f}: episode metadata has no column 'length' and no "
                                 "'dataset_from_index'/'dataset_to_index' to derive it from")
            df["length"] = df["dataset_to_index"] - df["dataset_from_index"]
        elif has_range and not (df["length"] == df["dataset_to_index"] - df["dataset_from_index"]).all():
            bad = df[df["length"] != df["dataset_to_index"] - df["dataset_from_index"]]["episode_index"].tolist()
            raise ValueError(f"{f}: 'length' disagrees with dataset_to_index - dataset_from_index for episodes {bad[:10]}")
        if (df["length"] <= 0).any():
            raise ValueError(f"{f}: episodes with length <= 0: {df[df['length'] <= 0]['episode_index'].tolist()[:10]}")
        df["_file"] = str(f)
        parts.append(df)
    episodes = pd.concat(parts, ignore_index=True).sort_values("episode_index", kind="stable").reset_index(drop=True)
    dup = episodes["episode_index"][episodes["episode_index"].duplicated()]
    if len(dup):
        raise ValueError(f"{root}: episode {int(dup.iloc[0])} appears twice in {fmt.EPISODES_DIR}/ "
                         f"({sorted(set(episodes[episodes.episode_index == dup.iloc[0]]['_file']))})")
    return episodes


class LeRobotV3Dataset:
    """A LeRobot v3.0 dataset root, read-only.

    Attributes:
        root, info (``info.json``), fps, features, video_keys, episodes (table), tasks (task_index -> task),
        extra_meta (``meta/wbvla.json``, empty when absent).

    Raises:
        ValueError: not a v3 dataset (no ``meta/info.json``, another ``codebase_version``) or malformed
            metadata (the message names the file).
    """

    def __init__(self, root: str | Path):
        self.root = root = Path(root)
        if not (root / fmt.INFO_PATH).is_file():
            raise ValueError(f"not a LeRobot dataset (no meta/info.json): {root}")
        self.info = fmt.load_json(root / fmt.INFO_PATH)
        version = str(self.info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise ValueError(f"{root}: expected a LeRobot v3 dataset, info.json says codebase_version={version!r}")
        for key in ("fps", "features"):
            if key not in self.info:
                raise ValueError(f"{root / fmt.INFO_PATH}: no {key!r}")
        self.fps = float(self.info["fps"])
        self.features: dict[str, dict] = self.info["features"]
        self.video_keys = [k for k, ft in self.features.items() if ft.get("dtype") == "video"]
        self.episodes = read_episodes_table(root)
        self.tasks = self._read_tasks()
        meta = root / fmt.WBVLA_META_PATH
        self.extra_meta = fmt.load_json(meta) if meta.is_file() else {}
        self._data_file = lru_cache(maxsize=2)(self._read_data_file)

    def _read_tasks(self) -> dict[int, str]:
        path = self.root / fmt.TASKS_PATH
        return dict(enumerate(fmt.read_tasks(path))) if path.is_file() else {}

    # -- metadata -------------------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.episodes["length"].sum())

    @property
    def numeric_keys(self) -> list[str]:
        """Per-frame numeric columns (features that are neither video, image nor string)."""
        return [k for k, ft in self.features.items() if ft.get("dtype") in fmt.NUMERIC_DTYPES]

    def row(self, episode_index: int) -> pd.Series:
        """The episodes-table row of ``episode_index``."""
        hit = self.episodes[self.episodes["episode_index"] == episode_index]
        if len(hit) != 1:
            raise ValueError(f"{self.root}: no episode {episode_index} (episodes {self.episodes.episode_index.min()}"
                             f"..{self.episodes.episode_index.max()})")
        return hit.iloc[0]

    def video_path(self, episode_index: int, key: str) -> Path:
        """The mp4 file holding ``key``'s frames of an episode."""
        if key not in self.video_keys:
            raise ValueError(f"{self.root}: no video feature {key!r}; cameras: {self.video_keys}")
        row, col = self.row(episode_index), f"videos/{key}"
        for c in (f"{col}/chunk_index", f"{col}/file_index", f"{col}/from_timestamp"):
            if c not in row.index:
                raise ValueError(f"{row['_file']}: episode metadata has no column {c!r}")
        template = self.info.get("video_path") or fmt.VIDEO_PATH
        return self.root / template.format(video_key=key, chunk_index=int(row[f"{col}/chunk_index"]),
                                           file_index=int(row[f"{col}/file_index"]))

    # -- frames ---------------------------------------------------------------------------------

    def _read_data_file(self, path: Path) -> pa.Table:
        if not path.is_file():
            raise ValueError(f"data file not found: {path}")
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"cannot read data file {path}: {err}") from None
        for c in ("episode_index", "frame_index"):
            if c not in table.column_names:
                raise ValueError(f"{path}: data has no column {c!r}")
        return table

    def _data_path(self, row: pd.Series) -> Path:
        template = self.info.get("data_path") or fmt.DATA_PATH
        if "data/chunk_index" not in row.index or "data/file_index" not in row.index:
            raise ValueError(f"{row['_file']}: episode metadata has no column 'data/chunk_index'/'data/file_index'")
        return self.root / template.format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))

    def frames(self, episode_index: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Per-frame numeric columns of one episode, in frame order: (T,) for scalar features, (T, D) else.

        Raises:
            ValueError: the data file is missing/unreadable, lacks a column, or holds a different number of
                rows for the episode than its ``length`` (naming the file).
        """
        row = self.row(episode_index)
        path = self._data_path(row)
        table = self._data_file(path)
        ep = table.column("episode_index").to_numpy()
        sel = np.flatnonzero(ep == episode_index)
        if len(sel) != int(row["length"]):
            raise ValueError(f"{path}: {len(sel)} rows of episode {episode_index}, its metadata says length {int(row['length'])}")
        part = table.take(pa.array(sel))
        order = np.argsort(part.column("frame_index").to_numpy(), kind="stable")
        return {k: self._column(part, k, path)[order] for k in (keys or self.numeric_keys)}

    def _column(self, table: pa.Table, key: str, path: Path) -> np.ndarray:
        if key not in table.column_names:
            raise ValueError(f"{path}: data has no column {key!r}")
        ft = self.features.get(key, {"dtype": "float64", "shape": [1]})
        if ft.get("dtype") not in fmt.NUMERIC_DTYPES:
            raise ValueError(f"{key!r} is a {ft.get('dtype')} feature, not a numeric column")
        return fmt.column_numpy(table.column(key), ft)

    def columns(self, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Numeric columns of every frame of the dataset (all data files), sorted by ``index``."""
        files = sorted((self.root / "data").glob("*/*.parquet"))
        if not files:
            raise ValueError(f"{self.root}: no data files under data/")
        tables = [self._read_data_file(f) for f in files]
        keys = keys or self.numeric_keys
        out = {k: np.concatenate([self._column(t, k, f) for t, f in zip(tables, files, strict=True)]) for k in keys}
        if "index" in tables[0].column_names:
            order = np.argsort(np.concatenate([t.column("index").to_numpy() for t in tables]), kind="stable")
            out = {k: v[order] for k, v in out.items()}
        return out

    def video(self, episode_index: int, key: str | None = None, size: int | None = None) -> np.ndarray:
        """Decoded frames of one episode's camera ``key`` (the first camera when None): (T, H, W, 3) uint8,
        resized to ``size`` x ``size`` when given.

        Raises:
            ValueError: the video file is missing, unreadable or holds fewer frames than the episode (naming it).
        """
        key = key or (self.video_keys[0] if self.video_keys else None)
        path = self.video_path(episode_index, key)
        row = self.row(episode_index)
        frames = decode_range(path, float(row[f"videos/{key}/from_timestamp"]), int(row["length"]), self.fps)
        return resize_frames(frames, size)

    def episode(self, episode_index: int, size: int | None = None) -> dict:
        """Everything of one episode: numeric columns, every camera (resized to ``size``), and ``task``
        (the instruction string of each frame)."""
        out: dict = self.frames(episode_index)
        for key in self.video_keys:
            out[key] = self.video(episode_index, key, size)
        if "task_index" in out and self.tasks:
            out["task"] = [self.tasks[int(i)] for i in out["task_index"]]
        return out
