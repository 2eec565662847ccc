"""The LeRobot dataset v3.0 layout: paths, feature dicts, parquet schemas and statistics.

One dataset root holds::

    meta/info.json                                   codebase_version "v3.0", fps, features, totals, templates
    meta/stats.json                                  per-feature min/max/mean/std/count/q01..q99 over the dataset
    meta/tasks.parquet                               task string (the pandas index "task") -> task_index
                                                     (lerobot 0.4.x: the same index, unnamed; see read_tasks)
    meta/episodes/chunk-000/file-000.parquet         one row per episode: length, dataset_from/to_index,
                                                     data/ and videos/<key>/ file + timestamp ranges, stats/...
    data/chunk-000/file-000.parquet                  one row per frame, episodes concatenated per file
    videos/<key>/chunk-000/file-000.mp4              one video per camera and file, episodes concatenated

as written by ``lerobot`` (``src/lerobot/datasets``: ``utils.py``, ``dataset_metadata.py``,
``dataset_writer.py``, ``compute_stats.py``, ``video_utils.py``), re-implemented here with pyarrow because
``lerobot`` pins an older torch. Extra wbvla metadata (which locomotion backend made the data, ...) lives in
``meta/wbvla.json``: lerobot's ``DatasetInfo.from_dict`` drops unknown ``info.json`` keys with a warning and
would lose them on its next ``write_info``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wbvla.data import teleop_schema as ts
from wbvla.io import atomic_path

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
WBVLA_META_PATH = "meta/wbvla.json"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"

DEFAULT_FEATURES: dict[str, dict] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
"""Per-frame columns every LeRobot dataset has; the writer fills them, never the caller."""
QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)
"""The quantiles lerobot's ``compute_stats`` writes, as keys ``q01 q10 q50 q90 q99``."""
QUANTILE_KEYS: tuple[str, ...] = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
STAT_KEYS: tuple[str, ...] = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
NUMERIC_DTYPES = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
VIDEO_NAMES = ["height", "width", "channels"]


def teleop_features(image_size: int | tuple[int, int] = 224) -> dict[str, dict]:
    """The ``features`` dict of the teleoperation dataset (:mod:`wbvla.data.teleop_schema`).

    Args:
        image_size: head-camera frame size, ``S`` (square) or ``(height, width)``; even numbers (yuv420p).
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return {
        ts.IMAGE_KEY: {"dtype": "video", "shape": [h, w, 3], "names": list(VIDEO_NAMES)},
        ts.STATE_KEY: {"dtype": "float32", "shape": [ts.STATE_DIM], "names": list(ts.STATE_NAMES)},
        ts.ACTION_KEY: {"dtype": "float32", "shape": [ts.ACTION_DIM], "names": list(ts.ACTION_NAMES)},
        ts.REFERENCE_VELOCITY_KEY: {"dtype": "float32", "shape": [len(ts.REFERENCE_VELOCITY_NAMES)],
                                    "names": list(ts.REFERENCE_VELOCITY_NAMES)},
        ts.SUBGOAL_KEY: {"dtype": "int64", "shape": [1], "names": None},
        ts.PHASE_KEY: {"dtype": "int64", "shape": [1], "names": None},
    }


def check_user_features(features: dict[str, dict]) -> dict[str, dict]:
    """Validate the caller's features (no default columns) and return a normalized copy.

    Raises:
        ValueError: naming the feature that is malformed.
    """
    if not isinstance(features, dict) or not features:
        raise ValueError(f"features must be a non-empty dict of feature key -> spec, got {features!r}")
    out = {}
    for key, ft in features.items():
        if key in DEFAULT_FEATURES or key == "task":
            raise ValueError(f"feature {key!r} is filled by the writer; remove it from features")
        if not isinstance(ft, dict) or "dtype" not in ft or "shape" not in ft:
            raise ValueError(f"feature {key!r} needs 'dtype' and 'shape', got {ft!r}")
        shape = [int(s) for s in ft["shape"]]
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"feature {key!r}: shape must be non-empty positive ints, got {ft['shape']!r}")
        dtype = ft["dtype"]
        if dtype == "video":
            if len(shape) != 3 or shape[2] != 3:
                raise ValueError(f"video feature {key!r} must have shape [height, width, 3], got {shape}")
            if shape[0] % 2 or shape[1] % 2:
                raise ValueError(f"video feature {key!r}: yuv420p needs an even height and width, got {shape[:2]}")
        elif dtype not in NUMERIC_DTYPES:
            raise ValueError(f"feature {key!r}: dtype must be 'video' or one of {NUMERIC_DTYPES}, got {dtype!r}")
        elif len(shape) != 1:
            raise ValueError(f"feature {key!r}: only 1-D numeric features are supported, got shape {shape}")
        names = ft.get("names", VIDEO_NAMES if dtype == "video" else None)
        if dtype != "video" and names is not None and len(names) != shape[0]:
            raise ValueError(f"feature {key!r}: {len(names)} names for shape {shape}")
        out[key] = {**ft, "dtype": dtype, "shape": shape, "names": list(names) if names is not None else None}
    return out


def video_keys(features: dict[str, dict]) -> list[str]:
    return [k for k, ft in features.items() if ft["dtype"] == "video"]


def arrow_type(ft: dict) -> pa.DataType:
    """The parquet column type of a non-video feature, as HF ``datasets`` writes it (a shape (1,)
    feature is a scalar column, a shape (D,) one a fixed-size list)."""
    base = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    return base if list(ft["shape"]) == [1] else pa.list_(base, int(ft["shape"][0]))


def data_schema(features: dict[str, dict]) -> pa.Schema:
    """Schema of ``data/*.parquet``: every non-video feature, in ``features`` order."""
    return pa.schema([(k, arrow_type(ft)) for k, ft in features.items() if ft["dtype"] != "video"])


def column_array(values: np.ndarray, ft: dict) -> pa.Array:
    """(T,) or (T, D) numpy -> the feature's arrow column."""
    values = np.ascontiguousarray(values, dtype=np.dtype(ft["dtype"]))
    if list(ft["shape"]) == [1]:
        return pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), int(ft["shape"][0]))


def column_numpy(column: pa.ChunkedArray | pa.Array, ft: dict) -> np.ndarray:
    """Inverse of :func:`column_array`: (T,) for shape (1,) features, (T, D) otherwise."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    dtype = np.dtype(ft["dtype"])
    if list(ft["shape"]) == [1]:
        return column.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    flat = column.flatten() if pa.types.is_fixed_size_list(column.type) or pa.types.is_list(column.type) else column
    return flat.to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(len(column), -1)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """``table`` -> ``path`` (snappy), through a temporary file renamed into place."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="snappy")


def write_tasks_atomic(tasks: list[str], path: Path) -> None:
    """``meta/tasks.parquet`` as lerobot writes it: pandas index ``task`` (strings), column ``task_index``."""
    df = pd.DataFrame({"task_index": np.arange(len(tasks), dtype=np.int64)}, index=pd.Index(tasks, name="task"))
    with atomic_path(path) as tmp:
        df.to_parquet(tmp)


def read_tasks(path: Path) -> list[str]:
    """``meta/tasks.parquet`` -> the task strings, position = ``task_index``.

    Three layouts are read, all seen in lerobot's v3.0 datasets: the pandas index named ``task``
    (lerobot >= 0.5, and what :func:`write_tasks_atomic` writes); the task strings as an *unnamed*
    pandas index (lerobot 0.4.x, stored as ``__index_level_0__``); a plain column ``task``.
    Raises ``ValueError`` naming the file when none of these holds or ``task_index`` is not 0..n-1.
    """
    df = pd.read_parquet(path)
    if "task_index" not in df.columns:
        raise ValueError(f"{path}: expected a column 'task_index', got columns {list(df.columns)}")
    if "task" in df.columns:
        strings = df["task"]
    elif is_task_index(df.index):
        strings = df.index.to_series()
    else:
        raise ValueError(f"{path}: expected the task strings as the pandas index (named 'task' or unnamed) "
                         f"or a column 'task'; got index {df.index.name!r} ({df.index.dtype}) and columns "
                         f"{list(df.columns)}")
    order = df["task_index"].astype(int).to_numpy()
    if sorted(order.tolist()) != list(range(len(df))):
        raise ValueError(f"{path}: task_index must number the tasks 0..{len(df) - 1}, got {sorted(order.tolist())}")
    tasks = [""] * len(df)
    for i, t in zip(order, strings.astype(str), strict=True):
        tasks[i] = t
    return tasks


def is_task_index(index: pd.Index) -> bool:
    """Whether a tasks table's pandas index holds the task strings: named ``task``, or unnamed and all strings
    (lerobot 0.4.x; a default ``RangeIndex`` is not)."""
    if index.name == "task":
        return True
    return index.name is None and len(index) > 0 and all(isinstance(v, str) for v in index)


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int) -> tuple[int, int]:
    """The file after ``(chunk, file)``: ``chunks_size`` files per chunk folder."""
    return (chunk_index + 1, 0) if file_index >= chunks_size - 1 else (chunk_index, file_index + 1)


def load_json(path: Path) -> Any:
    """Read a JSON file; a clear error naming it when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"missing {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None


# ---------------------------------------------------------------------------------------------------
# Statistics (lerobot ``compute_stats.py`` conventions: vectors per dimension, images per channel in
# [0, 1] with shape (3, 1, 1), ``count`` of shape (1,))
# ---------------------------------------------------------------------------------------------------

def sample_frame_indices(n: int) -> np.ndarray:
    """Frames lerobot samples from an episode for image stats: all of them up to ~100, then
    ``n ** 0.75`` evenly spaced (at most 10,000)."""
    k = n if n < 100 else max(100, min(int(n ** 0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(int)


def _stats_of(x: np.ndarray) -> dict[str, np.ndarray]:
    """x (N, C) float64 -> per-column stats (C,)."""
    out = {"min": x.min(axis=0), "max": x.max(axis=0), "mean": x.mean(axis=0), "std": x.std(axis=0)}
    q = np.quantile(x, QUANTILES, axis=0)  # (5, C), linear interpolation
    out.update({k: q[i] for i, k in enumerate(QUANTILE_KEYS)})
    return out


def numeric_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Stats of one feature over an episode's frames: (T,) or (T, D) -> each stat (1,) or (D,)."""
    x = np.asarray(values, dtype=np.float64)
    out = _stats_of(x.reshape(len(x), -1))
    out["count"] = np.array([len(x)], dtype=np.int64)
    return out


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats in [0, 1] of (T, H, W, 3) uint8 frames (sampled like lerobot; frames of
    300 px or more are subsampled to ~150 px): each stat (3, 1, 1), ``count`` the frames used."""
    idx = sample_frame_indices(len(frames))
    x = frames[idx]
    h, w = x.shape[1:3]
    if max(h, w) >= 300:
        step = int(max(h, w) / 150)
        x = x[:, ::step, ::step]
    out = {k: (v / 255.0).reshape(3, 1, 1) for k, v in _stats_of(x.reshape(-1, 3).astype(np.float64)).items()}
    out["count"] = np.array([len(idx)], dtype=np.int64)
    return out


def aggregate_stats(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Dataset stats from episode stats, as lerobot aggregates them: min/max of the extremes, the
    count-weighted mean, the pooled standard deviation (exact); a quantile <= q50 is the smallest
    episode value and one above q50 the largest (lerobot's conservative rule)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    keys = sorted({k for ep in per_episode for k in ep})
    for key in keys:
        eps = [ep[key] for ep in per_episode if key in ep]
        counts = np.array([int(np.asarray(s["count"]).reshape(-1)[0]) for s in eps], dtype=np.float64)
        means = np.stack([np.asarray(s["mean"], np.float64) for s in eps])
        w = (counts / counts.sum()).reshape((-1,) + (1,) * (means.ndim - 1))
        mean = (w * means).sum(axis=0)
        var = (w * (np.stack([np.asarray(s["std"], np.float64) for s in eps]) ** 2 + (means - mean) ** 2)).sum(axis=0)
        agg = {"min": np.min(np.stack([s["min"] for s in eps]), axis=0),
               "max": np.max(np.stack([s["max"] for s in eps]), axis=0),
               "mean": mean, "std": np.sqrt(var), "count": np.array([int(counts.sum())], dtype=np.int64)}
        for q, qk in zip(QUANTILES, QUANTILE_KEYS, strict=True):
            vals = np.stack([np.asarray(s[qk], np.float64) for s in eps])
            agg[qk] = vals.min(axis=0) if q <= 0.5 else vals.max(axis=0)
        out[key] = agg
    return out


def stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    return {k: {s: np.asarray(v).tolist() for s, v in st.items()} for k, st in stats.items()}


def stats_from_json(obj: dict) -> dict[str, dict[str, np.ndarray]]:
    return {k: {s: np.asarray(v) for s, v in st.items()} for k, st in obj.items()}


def flatten_stats(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, list]:
    """Episode stats -> the ``stats/<feature>/<stat>`` columns of an episodes row (nested lists)."""
    return {f"stats/{k}/{s}": np.asarray(v).tolist() for k, st in stats.items() for s, v in st.items()}


def unflatten_stats(row: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Inverse of :func:`flatten_stats` for one episodes row (other columns are ignored)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for col, value in row.items():
        if col.startswith("stats/"):
            key, stat = col[len("stats/"):].rsplit("/", 1)
            out.setdefault(key, {})[stat] = np.array(_to_list(value))
    return out


def _to_list(value: Any) -> Any:
    """A parquet nested-list cell (numpy object arrays from pandas) -> nested python lists."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_to_list(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
