"""``tools/stage3_ab.py``: a finished Stage III run's recipe with exactly one field changed."""

import json
from dataclasses import asdict

import pytest
from tool_helpers import load_tool

from wbvla.vla.config import FinetuneConfig


def _run(tmp_path, **fields):
    run = tmp_path / "finetune" / "some_run"
    run.mkdir(parents=True)
    (run / "train_config.json").write_text(json.dumps(asdict(FinetuneConfig(**fields)), default=str))
    return run


def test_only_the_named_field_changes_and_the_run_goes_beside_the_original(tmp_path):
    tool = load_tool("stage3_ab")
    run = _run(tmp_path, max_steps=1234, flag_class_balance=0.0)
    config = tool.ab_config(run, "flag_class_balance", 0.5)
    assert config.flag_class_balance == 0.5
    assert config.output_dir == run.parent / "some_run_flag_class_balance0.5"
    base = FinetuneConfig(max_steps=1234)
    same = {k for k in asdict(base) if k not in ("flag_class_balance", "output_dir", "export_dir", "resume")}
    as_json = lambda c: json.loads(json.dumps({k: asdict(c)[k] for k in same}, default=str))  # noqa: E731
    assert as_json(config) == as_json(base)
    assert isinstance(tool.ab_config(run, "max_steps", 99).max_steps, int)  # cast to the field's type


def test_a_bad_field_or_folder_is_named(tmp_path):
    tool = load_tool("stage3_ab")
    run = _run(tmp_path)
    with pytest.raises(ValueError, match="'decoder' is not a numeric FinetuneConfig field"):
        tool.ab_config(run, "decoder", 1.0)
    with pytest.raises(FileNotFoundError, match="train_config.json not found"):
        tool.ab_config(tmp_path / "nowhere", "flag_class_balance", 0.5)
    with pytest.raises(ValueError, match="flag_class_balance"):
        tool.ab_config(run, "flag_class_balance", 2.0)  # FinetuneConfig's own validation
