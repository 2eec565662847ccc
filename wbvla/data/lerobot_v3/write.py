"""Write a LeRobot v3.0 dataset episode by episode (the scripted expert's recorder).

    w = LeRobotV3Writer(root, fps=10, features=teleop_features(224), extra_meta={"locomotion_backend": "lmo"})
    for step in episode:
        w.add_frame({"observation.images.head": rgb, "observation.state": s, "action": a,
                     "reference_velocity": v, "subgoal_index": k}, task=instruction)
    w.save_episode()          # or w.discard_episode() for a failed demonstration
    w.finalize()

Nothing is ever half-written where a reader looks: each save rewrites the current data / video /
episodes-metadata files through temporary files renamed into place, and the episodes-metadata file is
written last, so it is the commit point. :meth:`LeRobotV3Writer.open` resumes a dataset (also one whose
writer was killed mid-episode: data rows and video frames past the last committed episode are cut off).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import format as fmt
from wbvla.data.lerobot_v3.config import VIDEO_CODECS, FileLimits, VideoEncoding
from wbvla.data.lerobot_v3.video import append_video, encode_frames, probe_video, truncate_video
from wbvla.io import write_json_atomic

_KINDS = {"float": "fiu", "int": "iub", "uint": "iub", "bool": "b"}


def _mb(path: Path) -> float:
    return path.stat().st_size / 1024**2 if path.is_file() else 0.0


def _check_value(key: str, ft: dict, value: Any) -> np.ndarray:
    """One frame's value of feature ``key`` -> a validated copy in the feature's dtype and shape."""
    arr = np.asarray(value)
    if ft["dtype"] == "video":
        h, w, _ = ft["shape"]
        if arr.dtype != np.uint8 or arr.shape != (h, w, 3):
            raise ValueError(f"frame[{key!r}]: expected a uint8 RGB image of shape ({h}, {w}, 3), "
                             f"got dtype {arr.dtype} shape {arr.shape}")
        return arr.copy()
    dtype = np.dtype(ft["dtype"])
    kind = next(k for k in _KINDS if dtype.name.startswith(k))
    if arr.dtype.kind not in _KINDS[kind]:
        raise ValueError(f"frame[{key!r}]: expected {ft['dtype']} values, got dtype {arr.dtype}")
    shape = tuple(ft["shape"])
    if arr.shape != shape and not (shape == (1,) and arr.shape == ()):
        raise ValueError(f"frame[{key!r}]: expected shape {shape}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"frame[{key!r}]: {int((~np.isfinite(arr)).sum())} non-finite value(s): {arr.tolist()}")
    return arr.astype(dtype).reshape(shape)


def _video_info(ft: dict, fps: int, enc: VideoEncoding) -> dict:
    """A video feature's ``info`` block, with lerobot's ``video.*`` keys."""
    h, w, c = ft["shape"]
    return {"video.height": h, "video.width": w, "video.codec": enc.codec, "video.pix_fmt": enc.pix_fmt,
            "video.fps": fps, "video.channels": c, "has_audio": False, "video.g": enc.g, "video.crf": enc.crf,
            "video.preset": enc.preset, "is_depth_map": False}


def _encoding_from_info(info: dict, root: Path) -> VideoEncoding:
    """The encoding of an existing dataset's videos (appending must match it for stream-copy concat)."""
    blocks = [ft.get("info") or {} for ft in info["features"].values() if ft.get("dtype") == "video"]
    if not blocks:
        return VideoEncoding()
    b = blocks[0]
    vcodec = {v: k for k, v in VIDEO_CODECS.items()}.get(b.get("video.codec"))
    if vcodec is None:
        raise ValueError(f"{root}: cannot append to videos with codec {b.get('video.codec')!r}; "
                         f"supported: {sorted(VIDEO_CODECS.values())}")
    default = VideoEncoding()
    return VideoEncoding(vcodec=vcodec, pix_fmt=b.get("video.pix_fmt", default.pix_fmt),
                         crf=int(b.get("video.crf", default.crf)), g=int(b.get("video.g", default.g)),
                         preset=str(b.get("video.preset", default.preset)))


class LeRobotV3Writer:
    """Records episodes into a new LeRobot v3.0 dataset at ``root`` (:meth:`open` appends to one).

    Args:
        root: dataset folder; must not exist yet or be empty.
        fps: frame rate (an int, as in ``info.json``).
        features: the caller's features (``teleop_features(image_size)`` for teleoperation data);
            ``timestamp, frame_index, episode_index, index, task_index`` are added and filled here.
        robot_type: ``info.json``'s ``robot_type``.
        extra_meta: JSON-serializable metadata for ``meta/wbvla.json`` (e.g. ``locomotion_backend``).
        video: how camera frames are encoded (default :class:`VideoEncoding`: H.264, crf 20, GOP 2).
        limits: file rollover sizes (default :class:`FileLimits`: lerobot's 100 MB data / 200 MB video).

    Raises:
        ValueError: bad features/fps/extra_meta, or ``root`` is not empty (the message says to use ``open``).
    """

    def __init__(self, root: str | Path, fps: int = ts.FPS, features: dict[str, dict] | None = None,
                 robot_type: str | None = "agibot_x2", extra_meta: dict | None = None, *,
                 video: VideoEncoding | None = None, limits: FileLimits | None = None):
        root, video, limits = Path(root), video or VideoEncoding(), limits or FileLimits()
        if (root / fmt.INFO_PATH).exists():
            raise ValueError(f"{root} already holds a LeRobot dataset; LeRobotV3Writer.open({str(root)!r}) appends to it")
        if root.exists() and any(root.iterdir()):
            raise ValueError(f"{root} is not empty; give a new folder for a new dataset")
        if not (isinstance(fps, int) and fps > 0):
            raise ValueError(f"fps must be a positive int (LeRobot stores an int), got {fps!r}")
        user = fmt.check_user_features(features if features is not None else fmt.teleop_features())
        features = {**user, **{k: dict(v) for k, v in fmt.DEFAULT_FEATURES.items()}}
        for key in fmt.video_keys(features):
            features[key]["info"] = _video_info(features[key], fps, video)
        info = {"codebase_version": fmt.CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": 0,
                "total_frames": 0, "total_tasks": 0, "chunks_size": limits.chunks_size,
                "data_files_size_in_mb": _num(limits.data_files_size_in_mb),
                "video_files_size_in_mb": _num(limits.video_files_size_in_mb), "fps": fps, "splits": {},
                "data_path": fmt.DATA_PATH, "video_path": fmt.VIDEO_PATH if fmt.video_keys(features) else None,
                "features": features}
        self._setup(root, info, video, [], [], dict(extra_meta or {}))
        root.mkdir(parents=True, exist_ok=True)
        self._write_meta()

    @classmethod
    def open(cls, root: str | Path, extra_meta: dict | None = None) -> LeRobotV3Writer:
        """Resume the dataset at ``root``: later episodes are appended after the committed ones.

        Anything an interrupted writer left behind past its last committed episode (data rows, video
        frames, files, temporaries) is removed first. ``extra_meta`` is merged into ``meta/wbvla.json``;
        a key that already has a different value is an error (one dataset, one locomotion backend).
        """
        root = Path(root)
        info = fmt.load_json(root / fmt.INFO_PATH)
        if info.get("codebase_version") != fmt.CODEBASE_VERSION:
            raise ValueError(f"{root / fmt.INFO_PATH}: codebase_version {info.get('codebase_version')!r}, "
                             f"this writer appends only to {fmt.CODEBASE_VERSION!r}")
        meta_path = root / fmt.WBVLA_META_PATH
        meta = fmt.load_json(meta_path) if meta_path.exists() else {}
        for k, v in (extra_meta or {}).items():
            if k in meta and meta[k] != v:
                raise ValueError(f"{meta_path}: {k!r} is {meta[k]!r}, cannot append data with {k}={v!r}")
            meta[k] = v
        episodes, stats = _read_episode_rows(root)
        tasks_path = root / fmt.TASKS_PATH
        tasks = fmt.read_tasks(tasks_path) if tasks_path.exists() else []
        self = cls.__new__(cls)
        self._setup(root, info, _encoding_from_info(info, root), episodes, tasks, meta)
        self._ep_stats = stats
        self._repair()
        self._write_meta()
        return self

    def _setup(self, root: Path, info: dict, video: VideoEncoding, episodes: list[dict], tasks: list[str],
               extra_meta: dict) -> None:
        try:
            json.dumps(extra_meta)
        except TypeError as err:
            raise ValueError(f"extra_meta must be JSON-serializable: {err}") from None
        self.root, self.info, self.video, self.extra_meta = root, info, video, extra_meta
        self.fps = int(info["fps"])
        self.features: dict[str, dict] = info["features"]
        self.user_keys = [k for k in self.features if k not in fmt.DEFAULT_FEATURES]
        self.video_keys = fmt.video_keys(self.features)
        self.limits = FileLimits(int(info["chunks_size"]), float(info["data_files_size_in_mb"]),
                                 float(info["video_files_size_in_mb"]))
        self._episodes = episodes  # committed episodes rows without their stats/ columns
        self._ep_stats: list[dict[str, dict[str, np.ndarray]]] = []  # their stats
        self._meta_table: pa.Table | None = None  # rows of the current episodes-metadata file (loaded lazily)
        self._tasks = tasks
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffer_tasks: list[str] = []
        self._data_table: pa.Table | None = None  # rows of the current data file (loaded lazily)

    # -- recording ------------------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Episodes saved so far (the next episode's index)."""
        return len(self._episodes)

    @property
    def num_frames(self) -> int:
        """Frames in saved episodes."""
        return int(self._episodes[-1]["dataset_to_index"]) if self._episodes else 0

    @property
    def buffered_frames(self) -> int:
        """Frames added since the last save / discard."""
        return len(self._buffer)

    def add_frame(self, frame: dict[str, Any], task: str | None = None) -> None:
        """Buffer one frame: every feature of the dataset (not the default columns), and the task
        (language instruction) as ``task=`` or ``frame["task"]``.

        Raises:
            ValueError: missing / unknown keys, wrong shape or dtype, non-finite values, no task
                (the message names the key).
        """
        frame = dict(frame)
        task = task if task is not None else frame.pop("task", None)
        frame.pop("task", None)
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"add_frame needs the task (a non-empty instruction string), got {task!r}")
        missing = [k for k in self.user_keys if k not in frame]
        extra = [k for k in frame if k not in self.user_keys]
        if missing or extra:
            raise ValueError(f"frame keys do not match the dataset's features: missing {missing}, unknown {extra}"
                             + (f" ({[k for k in extra if k in fmt.DEFAULT_FEATURES]} are filled by the writer)"
                                if any(k in fmt.DEFAULT_FEATURES for k in extra) else ""))
        self._buffer.append({k: _check_value(k, self.features[k], frame[k]) for k in self.user_keys})
        self._buffer_tasks.append(task)

    def discard_episode(self) -> None:
        """Drop the buffered frames (an unsuccessful demonstration); nothing on disk changes."""
        self._buffer, self._buffer_tasks = [], []

    def save_episode(self) -> int:
        """Write the buffered frames as the next episode; returns its episode index.

        Raises:
            ValueError: no frames were added.
        """
        n = len(self._buffer)
        if n == 0:
            raise ValueError("save_episode: no frames were added since the last save/discard")
        ep, start = self.num_episodes, self.num_frames
        new_tasks = [t for t in dict.fromkeys(self._buffer_tasks) if t not in self._tasks]
        if new_tasks:
            self._tasks += new_tasks
            fmt.write_tasks_atomic(self._tasks, self.root / fmt.TASKS_PATH)  # superset first: harmless
        task_id = {t: i for i, t in enumerate(self._tasks)}
        cols = {k: np.stack([f[k] for f in self._buffer]) for k in self.user_keys}
        frame_index = np.arange(n, dtype=np.int64)
        cols.update(timestamp=(frame_index / self.fps).astype(np.float32), frame_index=frame_index,
                    episode_index=np.full(n, ep, np.int64), index=start + frame_index,
                    task_index=np.array([task_id[t] for t in self._buffer_tasks], np.int64))
        stats = {k: (fmt.image_stats(v) if k in self.video_keys else fmt.numeric_stats(v)) for k, v in cols.items()}
        row: dict[str, Any] = {"episode_index": ep, "tasks": list(dict.fromkeys(self._buffer_tasks)), "length": n}
        row.update(self._write_data(cols, n))
        row.update(dataset_from_index=start, dataset_to_index=start + n)
        for key in self.video_keys:
            row.update(self._write_video(key, cols[key], ep))
        self._commit_episode(row, {k: stats[k] for k in self.features})
        self.discard_episode()
        self._write_meta()
        return ep

    def finalize(self) -> None:
        """Write ``info.json``, ``stats.json``, ``tasks.parquet`` and ``meta/wbvla.json`` from the saved
        episodes (they are also kept current after every save, so a crash loses only the open episode).
        Idempotent.

        Raises:
            ValueError: frames are still buffered (save or discard them first).
        """
        if self._buffer:
            raise ValueError(f"finalize: {len(self._buffer)} buffered frames; call save_episode() or discard_episode() first")
        if self._tasks:
            fmt.write_tasks_atomic(self._tasks, self.root / fmt.TASKS_PATH)
        self._write_meta()

    def __enter__(self) -> LeRobotV3Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard_episode()
        elif self._buffer:
            warnings.warn(f"{self.root}: dropping {len(self._buffer)} frames never saved as an episode", stacklevel=2)
            self.discard_episode()
        self.finalize()

    # -- files ----------------------------------------------------------------------------------

    def _path(self, template: str, chunk: int, file: int, key: str | None = None) -> Path:
        return self.root / template.format(video_key=key, chunk_index=chunk, file_index=file)

    def _last(self, col: str) -> tuple[int, int] | None:
        if not self._episodes:
            return None
        last = self._episodes[-1]
        return int(last[f"{col}/chunk_index"]), int(last[f"{col}/file_index"])

    def _write_data(self, cols: dict[str, np.ndarray], n: int) -> dict:
        schema = fmt.data_schema(self.features)
        table = pa.Table.from_arrays([fmt.column_array(cols[name], self.features[name]) for name in schema.names],
                                     schema=schema)
        where = self._last("data")
        if where is None:
            where, current = (0, 0), None
        else:
            path = self._path(fmt.DATA_PATH, *where)
            if self._data_table is None:
                self._data_table = pq.read_table(path, schema=schema)
            current = self._data_table
            size = _mb(path)
            if size + size / max(len(current), 1) * n >= self.limits.data_files_size_in_mb:
                where, current = fmt.next_chunk_file(*where, self.limits.chunks_size), None
        table = table if current is None else pa.concat_tables([current, table])
        fmt.write_parquet_atomic(table, self._path(fmt.DATA_PATH, *where))
        self._data_table = table
        return {"data/chunk_index": where[0], "data/file_index": where[1]}

    def _write_video(self, key: str, frames: np.ndarray, ep: int) -> dict:
        col = f"videos/{key}"
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".tmp_video_") as d:
            segment = encode_frames(frames, Path(d) / "episode.mp4", self.fps, self.video)
            where, offset = self._last(col), 0.0
            if where is None:
                where = (0, 0)
            else:
                path = self._path(fmt.VIDEO_PATH, *where, key)
                if _mb(path) + _mb(segment) >= self.limits.video_files_size_in_mb:
                    where = fmt.next_chunk_file(*where, self.limits.chunks_size)
                else:
                    offset = float(self._episodes[-1][f"{col}/to_timestamp"])
            target = self._path(fmt.VIDEO_PATH, *where, key)
            if offset > 0:
                append_video(target, segment)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(segment), str(target))  # same filesystem: an atomic rename
        return {f"{col}/chunk_index": where[0], f"{col}/file_index": where[1],
                f"{col}/from_timestamp": offset, f"{col}/to_timestamp": round(offset + len(frames) / self.fps, 9)}

    def _commit_episode(self, row: dict, stats: dict[str, dict[str, np.ndarray]]) -> None:
        """Append the episode's row to the current episodes-metadata file (the commit point)."""
        where = self._last("meta/episodes") or (0, 0)
        path = self._path(fmt.EPISODES_PATH, *where)
        current = self._meta_table
        if current is None and self._episodes:
            current = pq.read_table(path)
        if current is not None and _mb(path) * (1 + 1 / max(len(current), 1)) >= self.limits.data_files_size_in_mb:
            where, current = fmt.next_chunk_file(*where, self.limits.chunks_size), None
        full = {**row, **fmt.flatten_stats(stats), "meta/episodes/chunk_index": where[0], "meta/episodes/file_index": where[1]}
        new = pa.Table.from_pylist([full], schema=current.schema if current is not None else None)
        table = new if current is None else pa.concat_tables([current, new])
        fmt.write_parquet_atomic(table, self._path(fmt.EPISODES_PATH, *where))
        self._meta_table = table
        self._episodes.append({k: v for k, v in full.items() if not k.startswith("stats/")})
        self._ep_stats.append(stats)

    def _write_meta(self) -> None:
        e = self.num_episodes
        self.info.update(total_episodes=e, total_frames=self.num_frames, total_tasks=len(self._tasks),
                         splits={"train": f"0:{e}"} if e else {})
        write_json_atomic(self.root / fmt.INFO_PATH, self.info, indent=4)
        if self._episodes:
            stats = fmt.aggregate_stats(self._ep_stats)
            write_json_atomic(self.root / fmt.STATS_PATH, fmt.stats_to_json(stats), indent=4)
        write_json_atomic(self.root / fmt.WBVLA_META_PATH, self.extra_meta)

    def _repair(self) -> None:
        """Cut off what an interrupted save left past the last committed episode."""
        for tmp in sorted(self.root.rglob(".tmp*")) + sorted(self.root.rglob(".*.tmp*")):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        total = self.num_frames
        self._drop_files_after("data", self.root / "data", "*/*.parquet")
        last = self._last("data")
        if last is not None:
            path = self._path(fmt.DATA_PATH, *last)
            table = pq.read_table(path, schema=fmt.data_schema(self.features))
            keep = np.asarray(table.column("index").to_numpy()) < total
            if not keep.all():
                warnings.warn(f"{path}: dropping {int((~keep).sum())} rows of an interrupted save", stacklevel=3)
                fmt.write_parquet_atomic(table.filter(pa.array(keep)), path)
        for key in self.video_keys:
            col = f"videos/{key}"
            self._drop_files_after(col, self.root / "videos" / key, "*/*.mp4")
            last = self._last(col)
            if last is not None:
                path = self._path(fmt.VIDEO_PATH, *last, key)
                want = round(float(self._episodes[-1][f"{col}/to_timestamp"]) * self.fps)
                have = probe_video(path).n_frames or 0
                if have > want:
                    warnings.warn(f"{path}: dropping {have - want} frames of an interrupted save", stacklevel=3)
                    truncate_video(path, want)

    def _drop_files_after(self, col: str, folder: Path, pattern: str) -> None:
        """Delete files of ``folder`` that no committed episode references past the last one."""
        last = self._last(col) or (-1, -1)
        for f in sorted(folder.glob(pattern)) if folder.is_dir() else []:
            try:
                where = (int(f.parent.name.split("-")[1]), int(f.stem.split("-")[1]))
            except (IndexError, ValueError):
                continue
            if where > last:
                warnings.warn(f"{f}: written by an interrupted save after the last committed episode; removed",
                              stacklevel=3)
                f.unlink()


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _read_episode_rows(root: Path) -> tuple[list[dict], list[dict]]:
    """Rows of ``meta/episodes/*/*.parquet`` in episode order (checked contiguous), without and with
    only their stats."""
    rows = []
    for f in sorted((root / fmt.EPISODES_DIR).glob("*/*.parquet")):
        rows += pq.read_table(f).to_pylist()
    rows.sort(key=lambda r: r["episode_index"])
    idx = [r["episode_index"] for r in rows]
    if idx != list(range(len(rows))):
        raise ValueError(f"{root / fmt.EPISODES_DIR}: episode indices are not 0..{len(rows) - 1} ({idx[:10]}...); "
                         "run `wbvla lerobot-validate` on it")
    return ([{k: v for k, v in r.items() if not k.startswith("stats/")} for r in rows],
            [fmt.unflatten_stats(r) for r in rows])
