"""Check a dataset root against the LeRobot v3.0 layout: ``validate_v3(root) -> list of problems``.

Checked: the files (``meta/info.json``, ``meta/tasks.parquet``, ``meta/stats.json``, episodes metadata,
data and video files and their path templates), ``info.json``'s keys and totals, feature specs (dtype /
shape / names, the default columns, video ``info`` blocks), episodes columns, index contiguity
(``dataset_from_index`` / ``dataset_to_index`` against the data rows, ``index``, ``frame_index``,
``episode_index``, ``task_index``), timestamps against ``fps``, video streams (codec, pixel format,
size, frame count and duration against ``from_timestamp`` / ``to_timestamp``) and the stats (keys, shapes,
finiteness, counts). Used by the tests, the data generator at the end of a run, and
``wbvla lerobot-validate ROOT``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wbvla.data.lerobot_v3 import format as fmt
from wbvla.data.lerobot_v3.video import probe_video

INFO_KEYS: dict[str, type | tuple[type, ...]] = {
    "codebase_version": str, "robot_type": (str, type(None)), "total_episodes": int, "total_frames": int,
    "total_tasks": int, "chunks_size": int, "data_files_size_in_mb": (int, float),
    "video_files_size_in_mb": (int, float), "fps": int, "splits": dict, "data_path": str,
    "video_path": (str, type(None)), "features": dict,
}
EPISODE_COLUMNS = ("episode_index", "tasks", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
                   "dataset_to_index", "meta/episodes/chunk_index", "meta/episodes/file_index")
VIDEO_INFO_KEYS = ("video.height", "video.width", "video.codec", "video.pix_fmt", "video.fps", "video.channels")


def validate_v3(root: str | Path, count_video_frames: bool = True) -> list[str]:
    """Every way ``root`` departs from the LeRobot v3.0 layout, one sentence each (empty: valid).

    Args:
        root: dataset root.
        count_video_frames: count each video file's frames (packets; nothing is decoded) against the
            episodes' timestamps, besides its container duration.
    """
    root = Path(root)
    problems: list[str] = []
    info = _check_info(root, problems)
    if info is None:
        return problems
    features, fps = info["features"], info["fps"]
    try:
        tasks = _check_tasks(root, info, problems)
        episodes = _check_episodes(root, info, tasks, problems)
        if episodes is not None:
            _check_data(root, info, episodes, len(tasks) if tasks is not None else None, problems)
            for key in fmt.video_keys(features):
                _check_videos(root, info, key, episodes, fps, count_video_frames, problems)
        _check_stats(root, info, problems)
    except Exception as err:  # a layout this broken stops the checks; say where instead of crashing
        problems.append(f"{root}: validation stopped at {type(err).__name__}: {err}")
    return problems


def _check_info(root: Path, problems: list[str]) -> dict | None:
    try:
        info = fmt.load_json(root / fmt.INFO_PATH)
    except ValueError as err:
        problems.append(str(err))
        return None
    where = root / fmt.INFO_PATH
    for key, types in INFO_KEYS.items():
        if key not in info:
            problems.append(f"{where}: missing key {key!r}")
        elif not isinstance(info[key], types) or isinstance(info[key], bool):
            problems.append(f"{where}: {key!r} has the wrong type ({type(info[key]).__name__})")
    if any(k not in info or not isinstance(info[k], INFO_KEYS[k]) for k in ("features", "fps", "data_path")):
        return None
    if info.get("codebase_version") != fmt.CODEBASE_VERSION:
        problems.append(f"{where}: codebase_version is {info.get('codebase_version')!r}, expected {fmt.CODEBASE_VERSION!r}")
    if info["fps"] <= 0:
        problems.append(f"{where}: fps must be > 0, got {info['fps']}")
    if info["data_path"] != fmt.DATA_PATH:
        problems.append(f"{where}: data_path is {info['data_path']!r}, expected {fmt.DATA_PATH!r}")
    has_video = bool(fmt.video_keys(info["features"]))
    if has_video and info.get("video_path") != fmt.VIDEO_PATH:
        problems.append(f"{where}: video_path is {info.get('video_path')!r}, expected {fmt.VIDEO_PATH!r}")
    n = info.get("total_episodes")
    if isinstance(n, int) and info.get("splits") != ({"train": f"0:{n}"} if n else {}):
        problems.append(f"{where}: splits {info.get('splits')!r} do not cover the {n} episodes")
    for key, ft in fmt.DEFAULT_FEATURES.items():
        got = info["features"].get(key)
        if got is None or got.get("dtype") != ft["dtype"] or list(got.get("shape", [])) != ft["shape"]:
            problems.append(f"{where}: default feature {key!r} should be {ft}, got {got}")
    for key, ft in info["features"].items():
        if not isinstance(ft, dict) or "dtype" not in ft or "shape" not in ft or "names" not in ft:
            problems.append(f"{where}: feature {key!r} needs dtype, shape and names, got {ft!r}")
            continue
        if ft["dtype"] == "video":
            block = ft.get("info") or {}
            missing = [k for k in VIDEO_INFO_KEYS if k not in block]
            if missing:
                problems.append(f"{where}: video feature {key!r} has no info {missing}")
            elif [block["video.height"], block["video.width"], block["video.channels"]] != list(ft["shape"]):
                problems.append(f"{where}: video feature {key!r}: info size disagrees with shape {ft['shape']}")
        elif ft["dtype"] not in fmt.NUMERIC_DTYPES + ("image", "string"):
            problems.append(f"{where}: feature {key!r} has unknown dtype {ft['dtype']!r}")
        elif ft["names"] is not None and ft["dtype"] in fmt.NUMERIC_DTYPES and len(ft["names"]) != int(np.prod(ft["shape"])):
            problems.append(f"{where}: feature {key!r} has {len(ft['names'])} names for shape {ft['shape']}")
    return info


def _check_tasks(root: Path, info: dict, problems: list[str]) -> pd.DataFrame | None:
    path = root / fmt.TASKS_PATH
    if not path.is_file():
        if info.get("total_tasks", 0) > 0 or info.get("total_episodes", 0) > 0:
            problems.append(f"missing {path}")
        return None
    tasks = pd.read_parquet(path)
    # lerobot looks tasks up in the pandas index: named "task" (lerobot >= 0.5) or unnamed (0.4.x)
    if not fmt.is_task_index(tasks.index) or "task_index" not in tasks.columns:
        problems.append(f"{path}: expected the task strings as the pandas index ('task' or unnamed) and column "
                        f"'task_index', got index {tasks.index.name!r} and columns {list(tasks.columns)}")
        return None
    if sorted(tasks["task_index"].tolist()) != list(range(len(tasks))) or tasks.index.duplicated().any():
        problems.append(f"{path}: task_index must number the distinct tasks 0..{len(tasks) - 1}")
    if info.get("total_tasks") != len(tasks):
        problems.append(f"{root / fmt.INFO_PATH}: total_tasks is {info.get('total_tasks')}, {path.name} has {len(tasks)}")
    return tasks


def _check_episodes(root: Path, info: dict, tasks: pd.DataFrame | None, problems: list[str]) -> pd.DataFrame | None:
    files = sorted((root / fmt.EPISODES_DIR).glob("*/*.parquet"))
    if not files:
        if info.get("total_episodes", 0) > 0:
            problems.append(f"{root}: no episode metadata under {fmt.EPISODES_DIR}/")
        return None
    parts = []
    for f in files:
        df = pd.read_parquet(f)
        need = list(EPISODE_COLUMNS) + [f"videos/{k}/{c}" for k in fmt.video_keys(info["features"])
                                        for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")]
        missing = [c for c in need if c not in df.columns]
        if missing:
            problems.append(f"{f}: missing episode columns {missing}")
            return None
        where = _chunk_file(f)
        if where is None or not ((df["meta/episodes/chunk_index"] == where[0]) & (df["meta/episodes/file_index"] == where[1])).all():
            problems.append(f"{f}: meta/episodes/chunk_index/file_index do not name this file")
        parts.append(df.assign(_file=str(f)))
    eps = pd.concat(parts, ignore_index=True).sort_values("episode_index").reset_index(drop=True)
    n = len(eps)
    if eps["episode_index"].tolist() != list(range(n)):
        problems.append(f"{root / fmt.EPISODES_DIR}: episode_index is not 0..{n - 1}")
    if info.get("total_episodes") != n:
        problems.append(f"{root / fmt.INFO_PATH}: total_episodes is {info.get('total_episodes')}, episode metadata has {n}")
    start, stop = eps["dataset_from_index"].to_numpy(), eps["dataset_to_index"].to_numpy()
    if (eps["length"].to_numpy() != stop - start).any() or (eps["length"] <= 0).any():
        problems.append(f"{root / fmt.EPISODES_DIR}: length != dataset_to_index - dataset_from_index (or <= 0) "
                        f"for episodes {eps.episode_index[eps['length'] != stop - start].tolist()[:10]}")
    if n and (start[0] != 0 or (start[1:] != stop[:-1]).any()):
        problems.append(f"{root / fmt.EPISODES_DIR}: dataset_from_index/dataset_to_index ranges are not contiguous from 0")
    if info.get("total_frames") != (int(stop[-1]) if n else 0):
        problems.append(f"{root / fmt.INFO_PATH}: total_frames is {info.get('total_frames')}, episodes end at {int(stop[-1]) if n else 0}")
    if tasks is not None:
        unknown = sorted({t for ts_ in eps["tasks"] for t in ts_} - set(tasks.index))
        if unknown:
            problems.append(f"{root / fmt.EPISODES_DIR}: episodes name tasks missing from tasks.parquet: {unknown[:5]}")
    for key, ft in info["features"].items():
        if ft.get("dtype") in ("string",):
            continue
        for stat in ("min", "max", "mean", "std", "count"):
            if f"stats/{key}/{stat}" not in eps.columns:
                problems.append(f"{root / fmt.EPISODES_DIR}: no column 'stats/{key}/{stat}'")
                break
    return eps


def _chunk_file(path: Path) -> tuple[int, int] | None:
    try:
        return int(path.parent.name.removeprefix("chunk-")), int(path.stem.removeprefix("file-"))
    except ValueError:
        return None


def _check_data(root: Path, info: dict, eps: pd.DataFrame, n_tasks: int | None, problems: list[str]) -> None:
    """Data files: columns and types, then (vectorized over all rows, in file order as lerobot reads them)
    ``index`` = 0..N-1, each episode's rows in its own file with its episode_index, frame_index 0..L-1,
    timestamp = frame_index / fps, and a known task_index."""
    fps = info["fps"]
    referenced = {(int(c), int(f)) for c, f in zip(eps["data/chunk_index"], eps["data/file_index"], strict=True)}
    on_disk = {_chunk_file(f): f for f in sorted((root / "data").glob("*/*.parquet"))}
    for extra in sorted(set(on_disk) - referenced, key=str):
        problems.append(f"{on_disk[extra]}: data file not referenced by any episode")
    want = [k for k, ft in info["features"].items() if ft["dtype"] not in ("video",)]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "episode_index", "frame_index", "timestamp", "task_index", "file")}
    for n, where in enumerate(sorted(referenced)):
        path = root / fmt.DATA_PATH.format(chunk_index=where[0], file_index=where[1])
        if not path.is_file():
            problems.append(f"missing data file {path}")
            return
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            problems.append(f"{path}: unreadable parquet ({err})")
            return
        missing = [k for k in want if k not in table.column_names]
        if missing:
            problems.append(f"{path}: missing columns {missing}")
            return
        for k in want:
            ft = info["features"][k]
            if ft["dtype"] in fmt.NUMERIC_DTYPES and not _type_ok(table.schema.field(k).type, ft):
                problems.append(f"{path}: column {k!r} is {table.schema.field(k).type}, feature says {ft['dtype']} {ft['shape']}")
        for k in list(parts)[:-1]:
            parts[k].append(table.column(k).to_numpy())
        parts["file"].append(np.full(len(table), n))
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    total = len(cols["index"])
    if total != info.get("total_frames"):
        problems.append(f"{root / 'data'}: {total} rows in data files, info.json total_frames is {info.get('total_frames')}")
    if not np.array_equal(cols["index"], np.arange(total)):
        problems.append(f"{root / 'data'}: the rows (files in order) do not hold index 0..{total - 1} in order; "
                        "lerobot reads them by position")
        return
    lengths = eps["length"].to_numpy()
    if lengths.sum() != total:
        return  # reported with the episode metadata
    file_no = {w: n for n, w in enumerate(sorted(referenced))}
    expect = {"episode_index": np.repeat(eps["episode_index"].to_numpy(), lengths),
              "frame_index": np.arange(total) - np.repeat(eps["dataset_from_index"].to_numpy(), lengths),
              "file": np.repeat([file_no[(int(c), int(f))] for c, f in zip(eps["data/chunk_index"], eps["data/file_index"],
                                                                            strict=True)], lengths)}
    for k, what in (("file", "rows outside the file its data/chunk_index/file_index name"),
                    ("episode_index", "rows whose episode_index differs from the dataset_from/to_index range"),
                    ("frame_index", "frame_index that is not 0..length-1")):
        bad = np.unique(expect["episode_index"][cols[k] != expect[k]])
        if len(bad):
            problems.append(f"{root / 'data'}: episodes {bad[:10].tolist()} have {what}")
    bad = np.unique(expect["episode_index"][np.abs(cols["timestamp"] - expect["frame_index"] / fps) > 1e-4])
    if len(bad):
        problems.append(f"{root / 'data'}: episodes {bad[:10].tolist()} have timestamps that are not frame_index / fps ({fps})")
    if n_tasks is not None and ((cols["task_index"] < 0) | (cols["task_index"] >= n_tasks)).any():
        problems.append(f"{root / 'data'}: task_index outside 0..{n_tasks - 1}")


def _type_ok(t: pa.DataType, ft: dict) -> bool:
    base = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    if list(ft["shape"]) == [1]:
        return t == base or ((pa.types.is_list(t) or pa.types.is_fixed_size_list(t)) and t.value_type == base)
    if pa.types.is_fixed_size_list(t):
        return t.value_type == base and t.list_size == int(ft["shape"][0])
    return pa.types.is_list(t) and t.value_type == base


def _check_videos(root: Path, info: dict, key: str, eps: pd.DataFrame, fps: int, count: bool, problems: list[str]) -> None:
    col = f"videos/{key}"
    block = info["features"][key].get("info") or {}
    referenced = sorted({(int(c), int(f)) for c, f in zip(eps[f"{col}/chunk_index"], eps[f"{col}/file_index"], strict=True)})
    on_disk = {_chunk_file(f): f for f in sorted((root / "videos" / key).glob("*/*.mp4"))}
    for extra in sorted(set(on_disk) - set(referenced), key=str):
        problems.append(f"{on_disk[extra]}: video file not referenced by any episode")
    half = 0.5 / fps
    for where in referenced:
        path = root / fmt.VIDEO_PATH.format(video_key=key, chunk_index=where[0], file_index=where[1])
        rows = eps[(eps[f"{col}/chunk_index"] == where[0]) & (eps[f"{col}/file_index"] == where[1])]
        t0, t1 = rows[f"{col}/from_timestamp"].to_numpy(), rows[f"{col}/to_timestamp"].to_numpy()
        if abs(t0[0]) > 1e-6 or (np.abs(t0[1:] - t1[:-1]) > 1e-6).any():
            problems.append(f"{path}: episodes' from/to_timestamp do not tile the file from 0")
        bad = rows.episode_index[np.abs((t1 - t0) - rows["length"].to_numpy() / fps) > half].tolist()
        if bad:
            problems.append(f"{path}: to_timestamp - from_timestamp != length / fps for episodes {bad[:10]}")
        try:
            probe = probe_video(path, count_frames=count)
        except ValueError as err:
            problems.append(str(err))
            continue
        if (probe.height, probe.width) != tuple(info["features"][key]["shape"][:2]):
            problems.append(f"{path}: frames are {probe.height}x{probe.width}, feature shape is {info['features'][key]['shape']}")
        if block.get("video.codec") not in (None, probe.codec) or block.get("video.pix_fmt") not in (None, probe.pix_fmt):
            problems.append(f"{path}: stream is {probe.codec}/{probe.pix_fmt}, info says "
                            f"{block.get('video.codec')}/{block.get('video.pix_fmt')}")
        if abs(probe.duration_s - t1[-1]) > half + 0.01:  # ffmpeg prints durations to 10 ms
            problems.append(f"{path}: lasts {probe.duration_s:.2f} s, its last episode ends at to_timestamp {t1[-1]:.3f} s")
        if count and probe.n_frames != round(t1[-1] * fps):
            problems.append(f"{path}: holds {probe.n_frames} frames, the episodes' timestamps need {round(t1[-1] * fps)}")


def _check_stats(root: Path, info: dict, problems: list[str]) -> None:
    path = root / fmt.STATS_PATH
    if not path.is_file():
        if info.get("total_episodes", 0) > 0:
            problems.append(f"missing {path}")
        return
    try:
        stats = fmt.load_json(path)
    except ValueError as err:
        problems.append(str(err))
        return
    for key, ft in info["features"].items():
        if ft["dtype"] in ("string",):
            continue
        st = stats.get(key)
        if st is None:
            problems.append(f"{path}: no stats for feature {key!r}")
            continue
        missing = [s for s in ("min", "max", "mean", "std", "count") if s not in st]
        if missing:
            problems.append(f"{path}: {key!r} lacks {missing}")
            continue
        shape = (3, 1, 1) if ft["dtype"] in ("video", "image") else tuple(ft["shape"])
        for s, v in st.items():
            arr = np.asarray(v, dtype=float)
            want = (1,) if s == "count" else shape
            if arr.shape != want:
                problems.append(f"{path}: {key}/{s} has shape {arr.shape}, expected {want}")
            elif not np.isfinite(arr).all():
                problems.append(f"{path}: {key}/{s} has non-finite values")
        if ft["dtype"] in fmt.NUMERIC_DTYPES and np.asarray(st["count"]).reshape(-1)[:1].tolist() != [info.get("total_frames")]:
            problems.append(f"{path}: {key}/count is {st['count']}, total_frames is {info.get('total_frames')}")
        if ft["dtype"] in ("video", "image") and not (0 <= np.min(st["min"]) and np.max(st["max"]) <= 1):
            problems.append(f"{path}: {key} stats must be in [0, 1]")
