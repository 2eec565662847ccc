"""validate_v3 finds each way a dataset can depart from the LeRobot v3.0 layout, and the CLI reports it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lerobot_helpers import write

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import validate_v3
from wbvla.data.lerobot_v3.video import truncate_video

EPISODES = "meta/episodes/chunk-000/file-000.parquet"
DATA = "data/chunk-000/file-000.parquet"
VIDEO = f"videos/{ts.IMAGE_KEY}/chunk-000/file-000.mp4"


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    root = tmp_path_factory.mktemp("lerobot") / "ds"
    write(root, [4, 6])
    return root


@pytest.fixture
def ds(valid, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(valid, root)
    return root


def _edit_json(path, fn):
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj))


def _edit_parquet(path, fn):
    """Rewrite a parquet file with ``fn(df)``: the frame it returns, or ``df`` edited in place (None)."""
    df = pd.read_parquet(path)
    edited = fn(df)
    (df if edited is None else edited).to_parquet(path)


def _set_info(key, value):
    return lambda info: info.__setitem__(key, value)


def _shift_to_index(df):
    df.loc[0, "dataset_to_index"] = 5


def _shift_timestamps(t: pa.Table) -> pa.Table:
    i = t.schema.get_field_index("timestamp")
    return t.set_column(i, "timestamp", pa.array(t.column("timestamp").to_numpy() + np.float32(0.05)))


def _reverse_rows(t: pa.Table) -> pa.Table:
    return t.take(pa.array(np.arange(len(t))[::-1]))


def _drop_state(t: pa.Table) -> pa.Table:
    return t.drop_columns([ts.STATE_KEY])


def _image_stats_flat(stats):
    stats[ts.IMAGE_KEY]["mean"] = [0.5, 0.5, 0.5]


def _delete_video(root):
    (root / VIDEO).unlink()


CASES = {
    "delete a data file": (lambda r: (r / DATA).unlink(), "missing data file"),
    "delete a video file": (_delete_video, "video file not found"),
    "delete tasks.parquet": (lambda r: (r / "meta/tasks.parquet").unlink(), "missing .*tasks.parquet"),
    "delete stats.json": (lambda r: (r / "meta/stats.json").unlink(), "missing .*stats.json"),
    "no episodes metadata": (lambda r: (r / EPISODES).unlink(), "no episode metadata"),
    "wrong codebase_version": (lambda r: _edit_json(r / "meta/info.json", _set_info("codebase_version", "v2.1")),
                               "codebase_version is 'v2.1'"),
    "wrong total_frames": (lambda r: _edit_json(r / "meta/info.json", _set_info("total_frames", 11)), "total_frames is 11"),
    "missing info key": (lambda r: _edit_json(r / "meta/info.json", lambda i: i.pop("chunks_size")), "missing key 'chunks_size'"),
    "wrong data_path": (lambda r: _edit_json(r / "meta/info.json", _set_info("data_path", "data/{episode_index}.parquet")),
                        "data_path is"),
    "wrong index range": (lambda r: _edit_parquet(r / EPISODES, _shift_to_index), "not contiguous|length !="),
    "missing episodes column": (lambda r: _edit_parquet(r / EPISODES, lambda df: df.drop(columns=["length"])),
                                r"missing episode columns \['length'\]"),
    "timestamps off fps": (lambda r: pq.write_table(_shift_timestamps(pq.read_table(r / DATA)), r / DATA),
                           "timestamps that are not frame_index / fps"),
    "rows out of index order": (lambda r: pq.write_table(_reverse_rows(pq.read_table(r / DATA)), r / DATA),
                                "do not hold index 0..9 in order"),
    "data column missing": (lambda r: pq.write_table(_drop_state(pq.read_table(r / DATA)), r / DATA),
                            r"missing columns \['observation.state'\]"),
    "video cut short": (lambda r: truncate_video(r / VIDEO, 7), "holds 7 frames"),
    "unreferenced data file": (lambda r: shutil.copy(r / DATA, r / "data/chunk-000/file-001.parquet"),
                               "not referenced by any episode"),
    "image stats shape": (lambda r: _edit_json(r / "meta/stats.json", _image_stats_flat), r"mean has shape \(3,\)"),
}


def test_valid_dataset_has_no_problems(valid):
    assert validate_v3(valid) == []


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_variant_is_caught(ds, case):
    breaks, match = CASES[case]
    breaks(ds)
    problems = validate_v3(ds)
    assert problems, case
    assert any(__import__("re").search(match, p) for p in problems), problems


def test_not_a_dataset(tmp_path):
    assert validate_v3(tmp_path) == [f"missing {tmp_path / 'meta/info.json'}"]


def test_cli_exit_code(ds, capsys):
    from wbvla.cli import lerobot_validate
    from wbvla.data.lerobot_v3.config import LeRobotValidateConfig

    lerobot_validate(LeRobotValidateConfig(root=ds))
    assert "valid LeRobot v3.0 dataset" in capsys.readouterr().out
    (ds / DATA).unlink()
    with pytest.raises(SystemExit) as exit_:
        lerobot_validate(LeRobotValidateConfig(root=ds, count_video_frames=False))
    assert exit_.value.code == 1 and "missing data file" in capsys.readouterr().out
