"""Shipped artefacts and metrics must not hold one machine's absolute paths."""

import json
from pathlib import Path

from wbvla.paths import REPO_ROOT, portable_path
from wbvla.vla.policy import make_adapter_portable


def test_portable_path_rewrites_repo_cache_and_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    assert portable_path(REPO_ROOT / "data" / "vla" / "tutorial") == "data/vla/tutorial"
    assert portable_path(tmp_path / "cache" / "vla_runs" / "x") == "$WBVLA_CACHE/vla_runs/x"
    assert portable_path(Path.home() / "elsewhere" / "m") == "~/elsewhere/m"
    # hub ids and relative paths are left alone; so is a path outside every known root
    assert portable_path("HuggingFaceTB/SmolVLM-256M-Instruct") == "HuggingFaceTB/SmolVLM-256M-Instruct"
    assert portable_path("/opt/models/vlm") == "/opt/models/vlm"


def test_adapter_config_names_the_sibling_base(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "/root/.cache/wbvla/run/base", "r": 8}))
    (adapter / "README.md").write_text("base_model: /root/.cache/wbvla/run/base\n")
    make_adapter_portable(adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg == {"base_model_name_or_path": "../base", "r": 8}
    assert not (adapter / "README.md").exists()
