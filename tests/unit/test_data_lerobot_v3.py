"""LeRobot v3.0 writer and reader: round trip, stats, resume (also after a crash), discard, rollover,
determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from lerobot_helpers import SIZE, TASKS, episode, stacked, write

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import (
    FileLimits,
    LeRobotV3Dataset,
    LeRobotV3Writer,
    VideoEncoding,
    teleop_features,
    validate_v3,
)
from wbvla.data.lerobot_v3.format import QUANTILE_KEYS
from wbvla.data.readers import LeRobotV3Pairs

NUMERIC = (ts.STATE_KEY, ts.ACTION_KEY, ts.REFERENCE_VELOCITY_KEY, ts.SUBGOAL_KEY, ts.PHASE_KEY)


def _check_episode(ds: LeRobotV3Dataset, ep: int, frames: list[dict]) -> None:
    got = ds.episode(ep)
    for key in NUMERIC:
        want = stacked(frames, key).astype(ds.features[key]["dtype"])
        np.testing.assert_array_equal(got[key], want.reshape(got[key].shape), err_msg=key)
    np.testing.assert_array_equal(got["frame_index"], np.arange(len(frames)))
    np.testing.assert_allclose(got["timestamp"], np.arange(len(frames)) / 10, atol=1e-6)
    video = got[ts.IMAGE_KEY]
    want = stacked(frames, ts.IMAGE_KEY).astype(int)
    assert video.shape == want.shape and video.dtype == np.uint8
    err = np.abs(video.astype(int) - want)
    assert err.mean() < 3.0, f"episode {ep}: mean abs codec error {err.mean():.2f}"  # H.264 crf 20 on 32x32 frames
    assert set(got["task"]) == {TASKS[ep % 2]}


def test_round_trip_layout_and_frames(tmp_path):
    root = tmp_path / "ds"
    w, written = write(root, [5, 8, 3])
    assert (w.num_episodes, w.num_frames) == (3, 16)
    assert validate_v3(root) == []
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_frames"] == 16 and info["total_tasks"] == 2
    assert info["splits"] == {"train": "0:3"} and info["robot_type"] == "agibot_x2"
    vinfo = info["features"][ts.IMAGE_KEY]["info"]
    assert (vinfo["video.codec"], vinfo["video.pix_fmt"], vinfo["video.fps"]) == ("h264", "yuv420p", 10)
    assert set(info["features"]) == {*teleop_features(SIZE), "timestamp", "frame_index", "episode_index", "index", "task_index"}
    # episodes concatenated per file: one data file, one video file
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet", "meta/info.json",
        "meta/stats.json", "meta/tasks.parquet", "meta/wbvla.json",
        f"videos/{ts.IMAGE_KEY}/chunk-000/file-000.mp4"]
    ds = LeRobotV3Dataset(root)
    assert ds.extra_meta == {"locomotion_backend": "lmo"}
    assert ds.tasks == {0: TASKS[0], 1: TASKS[1]}
    eps = ds.episodes
    assert eps["length"].tolist() == [5, 8, 3]
    assert eps["dataset_from_index"].tolist() == [0, 5, 13] and eps["dataset_to_index"].tolist() == [5, 13, 16]
    np.testing.assert_allclose(eps[f"videos/{ts.IMAGE_KEY}/from_timestamp"], [0.0, 0.5, 1.3])
    np.testing.assert_allclose(eps[f"videos/{ts.IMAGE_KEY}/to_timestamp"], [0.5, 1.3, 1.6])
    assert [list(t) for t in eps["tasks"]] == [[TASKS[0]], [TASKS[1]], [TASKS[0]]]
    for ep, frames in enumerate(written):
        _check_episode(ds, ep, frames)
    assert ds.video(1, size=16).shape == (8, 16, 16, 3)
    cols = ds.columns([ts.ACTION_KEY, "index"])
    np.testing.assert_array_equal(cols["index"], np.arange(16))
    np.testing.assert_allclose(cols[ts.ACTION_KEY], np.concatenate([stacked(f, ts.ACTION_KEY) for f in written]), rtol=1e-6)
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert str(data.schema.field(ts.STATE_KEY).type).startswith("fixed_size_list") and str(data.schema.field("timestamp").type) == "float"


def test_stats_match_numpy(tmp_path):
    root = tmp_path / "ds"
    _, written = write(root, [6, 9])
    stats = json.loads((root / "meta/stats.json").read_text())
    for key in (ts.STATE_KEY, ts.ACTION_KEY, ts.SUBGOAL_KEY, ts.PHASE_KEY):
        x = np.concatenate([stacked(f, key) for f in written]).astype(np.float32).astype(np.float64).reshape(15, -1)
        st = {k: np.asarray(v) for k, v in stats[key].items()}
        np.testing.assert_allclose(st["min"], x.min(0), rtol=1e-6)
        np.testing.assert_allclose(st["max"], x.max(0), rtol=1e-6)
        np.testing.assert_allclose(st["mean"], x.mean(0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(st["std"], x.std(0), rtol=1e-6, atol=1e-9)  # pooled over episodes: exact
        assert st["count"].tolist() == [15]
    # per-episode quantiles are numpy's; the dataset's follow lerobot's rule (min <= q50 < max)
    eps = pd.read_parquet(root / "meta/episodes/chunk-000/file-000.parquet")
    per_ep = [stacked(f, ts.STATE_KEY).astype(np.float64) for f in written]
    for i, x in enumerate(per_ep):
        np.testing.assert_allclose(np.stack(eps[f"stats/{ts.STATE_KEY}/q90"].iloc[i]), np.quantile(x, 0.9, axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats[ts.STATE_KEY]["q10"], np.minimum(*[np.quantile(x, 0.1, axis=0) for x in per_ep]), rtol=1e-6)
    np.testing.assert_allclose(stats[ts.STATE_KEY]["q99"], np.maximum(*[np.quantile(x, 0.99, axis=0) for x in per_ep]), rtol=1e-6)
    assert set(stats[ts.STATE_KEY]) == {"min", "max", "mean", "std", "count", *QUANTILE_KEYS}
    img = np.concatenate([stacked(f, ts.IMAGE_KEY) for f in written]).reshape(-1, 3) / 255.0  # every frame sampled
    st = {k: np.asarray(v) for k, v in stats[ts.IMAGE_KEY].items()}
    assert st["mean"].shape == (3, 1, 1) and st["count"].tolist() == [15]
    np.testing.assert_allclose(st["mean"].ravel(), img.mean(0), rtol=1e-9)
    np.testing.assert_allclose(st["std"].ravel(), img.std(0), rtol=1e-9)
    np.testing.assert_allclose(stats["index"]["max"], [14]) and np.testing.assert_allclose(stats["frame_index"]["max"], [8])


def test_resume_appends_and_keeps_metadata(tmp_path):
    root = tmp_path / "ds"
    _, first = write(root, [4, 6])
    with pytest.raises(ValueError, match="open"):
        LeRobotV3Writer(root, features=teleop_features(SIZE))
    with pytest.raises(ValueError, match="locomotion_backend"):
        LeRobotV3Writer.open(root, extra_meta={"locomotion_backend": "ideal"})
    w = LeRobotV3Writer.open(root, extra_meta={"generator": "expert-v1"})
    assert (w.num_episodes, w.num_frames) == (2, 10)
    _, more = write(root, [5], seed=7, writer=w)
    assert validate_v3(root) == []
    ds = LeRobotV3Dataset(root)
    assert ds.num_episodes == 3 and ds.num_frames == 15
    assert ds.extra_meta == {"locomotion_backend": "lmo", "generator": "expert-v1"}
    for ep, frames in enumerate(first + more):
        _check_episode(ds, ep, frames)
    assert len(list(root.glob("data/*/*.parquet"))) == 1  # appended to the same file


def test_crash_mid_save_loses_only_the_open_episode(tmp_path, monkeypatch):
    root = tmp_path / "ds"
    w, first = write(root, [4, 6])
    for f in episode(5, seed=99):
        w.add_frame(f, task="a third task")

    def crash(row, stats):
        raise KeyboardInterrupt("killed after the data and video files were written")

    monkeypatch.setattr(w, "_commit_episode", crash)
    with pytest.raises(KeyboardInterrupt):
        w.save_episode()
    (root / "data/chunk-000/.file-000.tmp123.parquet").write_bytes(b"half a file")  # a killed atomic write
    assert validate_v3(root) != []  # 15 data rows and 15 video frames for 10 committed frames
    with pytest.warns(UserWarning, match="interrupted"):
        w2 = LeRobotV3Writer.open(root)
    assert (w2.num_episodes, w2.num_frames) == (2, 10)
    assert validate_v3(root) == [] and not list(root.rglob(".*tmp*"))
    _, more = write(root, [3], seed=5, writer=w2)
    ds = LeRobotV3Dataset(root)
    for ep, frames in enumerate(first + more):
        _check_episode(ds, ep, frames)


def test_discard_and_empty_save(tmp_path):
    w = LeRobotV3Writer(tmp_path / "ds", features=teleop_features(SIZE))
    for f in episode(4, seed=1):
        w.add_frame(f, task=TASKS[0])
    w.discard_episode()
    assert w.buffered_frames == 0
    with pytest.raises(ValueError, match="no frames"):
        w.save_episode()
    frames = episode(3, seed=2)
    for f in frames:
        w.add_frame({**f, "task": TASKS[0]})  # the task may ride in the frame, as in lerobot
    assert w.save_episode() == 0
    w.add_frame(frames[0], task=TASKS[0])
    with pytest.raises(ValueError, match="buffered"):
        w.finalize()
    w.discard_episode()
    w.finalize()
    w.finalize()  # idempotent
    ds = LeRobotV3Dataset(tmp_path / "ds")
    assert ds.num_episodes == 1
    _check_episode(ds, 0, frames)


def test_rollover_to_new_files_and_chunks(tmp_path):
    root = tmp_path / "ds"
    tiny = FileLimits(chunks_size=2, data_files_size_in_mb=1e-4, video_files_size_in_mb=1e-4)
    _, written = write(root, [3, 4, 2], limits=tiny)
    assert validate_v3(root) == []
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("data/*/*.parquet")) == [
        "data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet", "data/chunk-001/file-000.parquet"]
    assert len(list(root.glob("videos/*/*/*.mp4"))) == 3 and len(list(root.glob("meta/episodes/*/*.parquet"))) == 3
    ds = LeRobotV3Dataset(root)
    assert ds.episodes[f"videos/{ts.IMAGE_KEY}/from_timestamp"].tolist() == [0.0, 0.0, 0.0]
    for ep, frames in enumerate(written):
        _check_episode(ds, ep, frames)


def test_same_input_same_bytes(tmp_path):
    write(tmp_path / "a", [3, 5])
    write(tmp_path / "b", [3, 5])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 7
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_bad_frames_name_the_key(tmp_path):
    w = LeRobotV3Writer(tmp_path / "ds", features=teleop_features(SIZE))
    good = episode(1, seed=0)[0]
    cases = [
        ({k: v for k, v in good.items() if k != ts.ACTION_KEY}, "missing.*action"),
        ({**good, "timestamp": 0.0}, "timestamp.*filled by the writer"),
        ({**good, ts.STATE_KEY: np.zeros(16)}, r"observation\.state.*shape \(17,\)"),
        ({**good, ts.IMAGE_KEY: good[ts.IMAGE_KEY].astype(np.float32)}, r"observation\.images\.head.*uint8"),
        ({**good, ts.IMAGE_KEY: good[ts.IMAGE_KEY][:16]}, r"observation\.images\.head.*\(32, 32, 3\)"),
        ({**good, ts.ACTION_KEY: np.r_[np.zeros(19), np.nan]}, "action.*non-finite"),
        ({**good, ts.SUBGOAL_KEY: 0.5}, "subgoal_index.*int64"),
        ({**good, ts.REFERENCE_VELOCITY_KEY: ["a", "b", "c"]}, "reference_velocity.*float32"),
    ]
    for frame, match in cases:
        with pytest.raises(ValueError, match=match):
            w.add_frame(frame, task=TASKS[0])
    with pytest.raises(ValueError, match="task"):
        w.add_frame(good)
    assert w.buffered_frames == 0
    with pytest.raises(ValueError, match="even"):
        LeRobotV3Writer(tmp_path / "odd", features=teleop_features(33))
    with pytest.raises(ValueError, match="fps"):
        LeRobotV3Writer(tmp_path / "fps", fps=10.5, features=teleop_features(SIZE))
    with pytest.raises(ValueError, match="JSON"):
        LeRobotV3Writer(tmp_path / "meta", features=teleop_features(SIZE), extra_meta={"x": object()})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        LeRobotV3Writer(tmp_path / "full", features=teleop_features(SIZE))


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lerobot_v3_written_by_lerobot"


def test_reads_a_dataset_written_by_lerobot():
    """The fixture was written by lerobot 0.6.1 itself (``LeRobotDataset.create/add_frame/save_episode``,
    its default AV1 encoder) by ``tools/check_lerobot_compat.sh --fixture``; the npz holds what it was given."""
    written = np.load(FIXTURE.parent / f"{FIXTURE.name}_written.npz")
    assert validate_v3(FIXTURE) == []
    ds = LeRobotV3Dataset(FIXTURE)
    assert ds.episodes["length"].tolist() == [5, 7] and ds.tasks == {0: "toy task 0", 1: "toy task 1"}
    assert ds.extra_meta == {} and ds.info["robot_type"] == "toy"
    eps = [ds.episode(e) for e in (0, 1)]
    np.testing.assert_array_equal(np.concatenate([e["observation.state"] for e in eps]), written["state"])
    np.testing.assert_array_equal(np.concatenate([e["action"] for e in eps]), written["action"])
    video = np.concatenate([e["observation.images.cam"] for e in eps]).astype(int)
    assert np.abs(video - written["image"].astype(int)).mean() < 4.0  # AV1 crf 30 on 64x64 frames
    assert eps[1]["task"] == ["toy task 1"] * 7
    pairs = LeRobotV3Pairs(FIXTURE, k_frames=2, size=32)
    assert len(pairs) == (5 - 2) + (7 - 2) and set(pairs.table.episode_index) == {0, 1}


def test_av1_encoding_round_trip_and_resume(tmp_path):
    """lerobot's own default codec (SVT-AV1) also works, and open() keeps appending with it."""
    root = tmp_path / "ds"
    av1 = VideoEncoding(vcodec="libsvtav1", crf=30, preset="8")
    _, first = write(root, [4, 6], video=av1)
    info = json.loads((root / "meta/info.json").read_text())["features"][ts.IMAGE_KEY]["info"]
    assert (info["video.codec"], info["video.crf"], info["video.preset"]) == ("av1", 30, "8")
    w = LeRobotV3Writer.open(root)
    assert w.video == av1
    _, more = write(root, [3], seed=4, writer=w)
    assert validate_v3(root) == []
    ds = LeRobotV3Dataset(root)
    for ep, frames in enumerate(first + more):
        _check_episode(ds, ep, frames)


def test_context_manager_discards_the_open_episode_on_error(tmp_path):
    root = tmp_path / "ds"
    frames = episode(3, seed=1)
    with pytest.raises(RuntimeError, match="simulator diverged"):
        with LeRobotV3Writer(root, features=teleop_features(SIZE)) as w:
            for f in frames:
                w.add_frame(f, task=TASKS[0])
            w.save_episode()
            w.add_frame(frames[0], task=TASKS[0])
            raise RuntimeError("simulator diverged")
    assert validate_v3(root) == []
    assert LeRobotV3Dataset(root).num_frames == 3
    with pytest.warns(UserWarning, match="dropping 1 frames"):
        with LeRobotV3Writer.open(root) as w:
            w.add_frame(frames[0], task=TASKS[0])
    assert LeRobotV3Dataset(root).num_episodes == 1


def test_appends_to_a_dataset_written_by_lerobot(tmp_path):
    """open() on lerobot's own dataset keeps its AV1 settings; the appended episode reads back."""
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    w = LeRobotV3Writer.open(root)
    assert (w.video.vcodec, w.video.crf, w.num_episodes, w.num_frames) == ("libsvtav1", 30, 2, 12)
    yy, xx = np.mgrid[0:64, 0:64]
    imgs = np.repeat(np.stack([xx * 3, yy * 3, np.full_like(xx, 200)], -1)[None].astype(np.uint8), 6, axis=0)
    for img in imgs:
        w.add_frame({"observation.images.cam": img, "observation.state": np.zeros(3, np.float32),
                     "action": np.ones(2, np.float32)}, task="toy task 2")
    assert w.save_episode() == 2
    w.finalize()
    assert validate_v3(root) == []
    ds = LeRobotV3Dataset(root)
    assert ds.tasks[2] == "toy task 2" and ds.episodes["length"].tolist() == [5, 7, 6]
    assert np.abs(ds.video(2).astype(int) - imgs.astype(int)).mean() < 4.0


UNNAMED_TASKS = FIXTURE.parent / "lerobot_v3_tasks_unnamed_index.parquet"


def test_reads_tasks_parquet_as_lerobot_0_4_writes_it(tmp_path):
    """lerobot 0.4.x keeps the task strings as an *unnamed* pandas index (``__index_level_0__`` in the file).
    The fixture was written exactly that way:
    ``pd.DataFrame({"task_index": [0, 1]}, index=["toy task 0", "toy task 1"]).to_parquet(path)``.
    Reader, validator and appender all take it (the lerobot 0.6.1 dataset with this tasks file swapped in)."""
    import shutil

    schema = pq.read_schema(UNNAMED_TASKS)
    assert schema.names == ["task_index", "__index_level_0__"]  # the layout under test, not a named index
    assert list(pd.read_parquet(UNNAMED_TASKS).reset_index().columns) == ["index", "task_index"]
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    shutil.copy(UNNAMED_TASKS, root / "meta/tasks.parquet")
    assert validate_v3(root) == []
    ds = LeRobotV3Dataset(root)
    assert ds.tasks == {0: "toy task 0", 1: "toy task 1"}
    assert ds.episode(1)["task"] == ["toy task 1"] * 7
    w = LeRobotV3Writer.open(root)
    w.add_frame({"observation.images.cam": np.zeros((64, 64, 3), np.uint8), "observation.state": np.zeros(3, np.float32),
                 "action": np.ones(2, np.float32)}, task="toy task 1")
    assert w.save_episode() == 2
    w.finalize()
    assert LeRobotV3Dataset(root).tasks == {0: "toy task 0", 1: "toy task 1"}


@pytest.mark.parametrize(("make", "match"), [
    (lambda: pd.DataFrame({"task_index": [0, 1]}), "task strings"),  # RangeIndex: no strings anywhere
    (lambda: pd.DataFrame({"task": ["a", "b"]}), "column 'task_index'"),
    (lambda: pd.DataFrame({"task_index": [0, 2]}, index=pd.Index(["a", "b"], name="task")), "0..1"),
])
def test_tasks_parquet_bad_layouts_name_the_file(tmp_path, make, match):
    from wbvla.data.lerobot_v3.format import read_tasks

    path = tmp_path / "tasks.parquet"
    make().to_parquet(path)
    with pytest.raises(ValueError, match=match) as err:
        read_tasks(path)
    assert str(path) in str(err.value)


def test_tasks_parquet_with_a_task_column_and_shuffled_rows(tmp_path):
    from wbvla.data.lerobot_v3.format import read_tasks

    path = tmp_path / "tasks.parquet"
    pd.DataFrame({"task": ["b", "a"], "task_index": [1, 0]}).to_parquet(path)
    assert read_tasks(path) == ["a", "b"]
