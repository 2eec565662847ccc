"""Readers for real data: a folder of mp4 files and a LeRobot v3 dataset root."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wbvla.data.readers import LeRobotV3Pairs, VideoFolderPairs
from wbvla.viz.video import save_video


def _video(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    frames = np.zeros((n, size, size, 3), np.uint8)
    for t in range(n):  # a bright square moving right one pixel per frame
        frames[t, 8:16, t % (size - 8): t % (size - 8) + 8] = 200 + seed
    return frames


def test_video_folder_pairs_and_corrupt_file(tmp_path):
    save_video(_video(12), tmp_path / "a.mp4", fps=10)
    (tmp_path / "sub").mkdir()
    save_video(_video(8, 1), tmp_path / "sub" / "b.mp4", fps=4)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.warns(UserWarning, match="broken.mp4"):
        pairs = VideoFolderPairs(tmp_path, k_seconds=0.5, size=16)
    assert list(pairs.errors) == [str(tmp_path / "broken.mp4")]
    ks = pairs.table.groupby("video").k.first().to_dict()
    assert ks == {"a.mp4": 5, "sub/b.mp4": 2}  # 0.5 s at 10 fps and at 4 fps
    assert len(pairs) == (12 - 5) + (8 - 2)
    item = pairs[0]
    assert item["o_t"].shape == (3, 16, 16)
    with pytest.warns(UserWarning):
        p3 = VideoFolderPairs(tmp_path, k_frames=3, size=None)
    assert (p3.table.j - p3.table.i == 3).all()


def test_video_folder_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="no .mp4 files"):
        VideoFolderPairs(tmp_path, k_frames=1)
    (tmp_path / "x.mp4").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="x.mp4"):
        VideoFolderPairs(tmp_path, k_frames=1)
    with pytest.raises(ValueError, match="exactly one"):
        VideoFolderPairs(tmp_path, k_frames=1, k_seconds=1.0)


def _lerobot(root, cams=("observation.images.head",), broken_cam=None):
    """Two episodes (6 and 9 frames) packed into one data file and one video file per camera."""
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (root / "data" / "chunk-000").mkdir(parents=True)
    info = {"codebase_version": "v3.0", "fps": 10, "total_episodes": 2,
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": {**{c: {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"]} for c in cams},
                         "timestamp": {"dtype": "float32", "shape": [1]}}}
    (root / "meta" / "info.json").write_text(json.dumps(info))
    lengths = [6, 9]
    frames = _video(sum(lengths))
    frames[6:, :, :, 1] = 120  # episode 1 is greenish: pairs crossing episodes would mix colours
    eps = {"episode_index": [0, 1], "length": lengths, "dataset_from_index": [0, 6], "dataset_to_index": [6, 15],
           "data/chunk_index": [0, 0], "data/file_index": [0, 0]}
    for c in cams:
        path = root / "videos" / c / "chunk-000" / "file-000.mp4"
        if c == broken_cam:
            path.parent.mkdir(parents=True)
            path.write_bytes(b"corrupt")
        else:
            save_video(frames, path, fps=10)
        eps.update({f"videos/{c}/chunk_index": [0, 0], f"videos/{c}/file_index": [0, 0],
                    f"videos/{c}/from_timestamp": [0.0, 0.6], f"videos/{c}/to_timestamp": [0.6, 1.5]})
    pd.DataFrame(eps).to_parquet(root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    pd.DataFrame({"timestamp": np.r_[np.arange(6), np.arange(9)] / 10, "frame_index": np.r_[np.arange(6), np.arange(9)],
                  "episode_index": [0] * 6 + [1] * 9, "index": np.arange(15)}).to_parquet(root / "data" / "chunk-000" / "file-000.parquet")
    return root


def test_lerobot_v3_pairs_stay_inside_episodes(tmp_path):
    root = _lerobot(tmp_path, cams=("observation.images.head", "observation.images.wrist"))
    pairs = LeRobotV3Pairs(root, k_seconds=0.2, size=32)
    assert pairs.camera == "observation.images.head" and pairs.k == 2
    assert len(pairs) == (6 - 2) + (9 - 2)
    assert set(pairs.table.episode_index) == {0, 1}
    green = pairs.frames[:, 1].float().mean(dim=(1, 2))  # (F,)
    for row in pairs.table.itertuples():
        assert (green[row.i] > 60) == (green[row.j] > 60)  # never crosses the episode boundary
    wrist = LeRobotV3Pairs(root, camera="observation.images.wrist", k_frames=1)
    assert len(wrist) == 5 + 8
    with pytest.raises(ValueError, match="cameras"):
        LeRobotV3Pairs(root, camera="observation.images.nope", k_frames=1)


def test_lerobot_v3_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="info.json"):
        LeRobotV3Pairs(tmp_path, k_frames=1)
    root = _lerobot(tmp_path / "ds", broken_cam="observation.images.head")
    with pytest.warns(UserWarning, match="file-000.mp4"), pytest.raises(ValueError, match="could be read"):
        LeRobotV3Pairs(root, k_frames=1)
    info = json.loads((root / "meta" / "info.json").read_text())
    info["codebase_version"] = "v2.1"
    (root / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="v3"):
        LeRobotV3Pairs(root, k_frames=1)


def _truncated_mp4(path, n=60):
    """An mp4 with its index (moov) at the front, cut in half: decoders return the first ~28 frames quietly."""
    import subprocess

    import imageio_ffmpeg

    frames = np.random.default_rng(0).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)  # incompressible
    save_video(frames, path.with_name("full.mp4"), fps=10)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(path.with_name("full.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(path)], check=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    path.with_name("full.mp4").unlink()
    return path


def test_truncated_mp4_is_an_error_naming_the_file(tmp_path):
    from wbvla.data.pairs import read_video_frames

    path = _truncated_mp4(tmp_path / "cut.mp4")
    with pytest.raises(ValueError, match=r"cut\.mp4 is truncated or corrupt: \d+ frames decode, its header declares 60"):
        read_video_frames(path)
    save_video(_video(12), tmp_path / "ok.mp4", fps=10)
    with pytest.warns(UserWarning, match="cut.mp4"):
        pairs = VideoFolderPairs(tmp_path, k_frames=2, size=None)
    assert list(pairs.errors) == [str(path)] and len(pairs) == 10


def _episodes_file(root):
    return root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"


def test_episodes_without_length_use_the_index_range(tmp_path):
    root = _lerobot(tmp_path)
    eps = pd.read_parquet(_episodes_file(root)).drop(columns=["length"])
    eps.to_parquet(_episodes_file(root))
    pairs = LeRobotV3Pairs(root, k_frames=2, size=32)
    assert len(pairs) == (6 - 2) + (9 - 2)  # not 9 extra pairs crossing into the next episode
    green = pairs.frames[:, 1].float().mean(dim=(1, 2))
    assert all((green[r.i] > 60) == (green[r.j] > 60) for r in pairs.table.itertuples())
    eps.drop(columns=["dataset_from_index", "dataset_to_index"]).to_parquet(_episodes_file(root))
    with pytest.raises(ValueError, match=r"file-000\.parquet: episode metadata has no column 'length'"):
        LeRobotV3Pairs(root, k_frames=1)
    eps.assign(length=[6, 8]).to_parquet(_episodes_file(root))
    with pytest.raises(ValueError, match="disagrees"):
        LeRobotV3Pairs(root, k_frames=1)


def test_episodes_without_episode_index_name_file_and_column(tmp_path):
    root = _lerobot(tmp_path)
    pd.read_parquet(_episodes_file(root)).drop(columns=["episode_index"]).to_parquet(_episodes_file(root))
    with pytest.raises(ValueError, match=r"file-000\.parquet: episode metadata has no column 'episode_index'"):
        LeRobotV3Pairs(root, k_frames=1)


def test_corpus_index_without_split_names_file_and_column(tmp_path):
    from wbvla.data.pairs import FramePairs

    pd.DataFrame({"clip_id": ["c0"], "frame": [0], "corpus": ["mani"], "video": ["c0.mp4"]}).to_parquet(tmp_path / "index.parquet")
    with pytest.raises(ValueError, match=r"index\.parquet: corpus index has no column\(s\) \[.*'split'"):
        FramePairs(tmp_path, ["mani"], "train", offset_s=0.5)
