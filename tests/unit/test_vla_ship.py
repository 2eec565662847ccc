"""``wbvla vla-ship``'s config: only a policy folder small enough for git is shipped."""

from __future__ import annotations

import json

import pytest

from wbvla.vla.config import SHIP_LIMIT_MB, ShipConfig


def test_a_folder_without_policy_json_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no policy.json"):
        ShipConfig(policy=tmp_path)


def test_a_policy_over_the_size_limit_is_refused(tmp_path):
    (tmp_path / "policy.json").write_text(json.dumps({"format": "wbvla-vla-policy/1"}))
    with open(tmp_path / "base.safetensors", "wb") as f:  # sparse: no disk used
        f.truncate(int((SHIP_LIMIT_MB + 1) * 2**20))
    with pytest.raises(ValueError, match=r"is 21\.0 MB, more than the 20 MB"):
        ShipConfig(policy=tmp_path)


def test_a_small_policy_folder_is_accepted(tmp_path):
    (tmp_path / "policy.json").write_text("{}")
    assert ShipConfig(policy=tmp_path).policy == tmp_path
