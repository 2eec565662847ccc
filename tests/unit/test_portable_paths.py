"""Shipped artefacts and metrics must not hold one machine's absolute paths."""

import json
from pathlib import Path

from wbvla.lam.config import LAMConfig
from wbvla.paths import REPO_ROOT, canonical_path, local_path, portable_path, shipped_vision_tower
from wbvla.vla.policy import make_adapter_portable


def test_portable_path_rewrites_repo_cache_and_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    assert portable_path(REPO_ROOT / "data" / "vla" / "tutorial") == "data/vla/tutorial"
    assert portable_path(tmp_path / "cache" / "vla_runs" / "x") == "$WBVLA_CACHE/vla_runs/x"
    assert portable_path(Path.home() / "elsewhere" / "m") == "~/elsewhere/m"
    # hub ids and relative paths are left alone; so is a path outside every known root
    assert portable_path("HuggingFaceTB/SmolVLM-256M-Instruct") == "HuggingFaceTB/SmolVLM-256M-Instruct"
    assert portable_path("/opt/models/vlm") == "/opt/models/vlm"


def test_local_path_undoes_portable_path(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    for p in (REPO_ROOT / "data" / "vla" / "tutorial", tmp_path / "cache" / "vla_runs" / "x", Path.home() / "m",
              Path("/opt/models/vlm")):
        assert local_path(portable_path(p)) == p
    assert local_path("$WBVLA_CACHE") == tmp_path / "cache"


def test_one_folder_is_one_config_value_from_any_working_folder(monkeypatch):
    """The recipe names the shipped tower from the repository root, a notebook from notebooks/: the LAM
    configs must be equal, or the notebook's run would refuse to resume the recipe's LAMs."""
    want = "data/vla/vision_tower"
    monkeypatch.chdir(REPO_ROOT)
    from_root = [canonical_path(want), canonical_path(shipped_vision_tower())]
    monkeypatch.chdir(REPO_ROOT / "notebooks")
    from_notebooks = [canonical_path("../data/vla/vision_tower"), canonical_path(want)]  # the second: already portable
    assert from_root == from_notebooks == [want, want]
    lam = LAMConfig(feature_space="tower", tower_path="../data/vla/vision_tower", tower_pool=2)
    assert lam.tower_path == want and lam == LAMConfig(feature_space="tower", tower_path=str(shipped_vision_tower()), tower_pool=2)


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


def test_the_vla_finds_the_shipped_tower_from_the_notebooks_folder(monkeypatch):
    """Notebooks 05/06 run in notebooks/; VISION_TOWER="data/vla/vision_tower" (their comment's example) must
    name the shipped tower there too, and give the config the recipe's Stage II run was trained with."""
    from wbvla.vla.config import FinetuneConfig, with_vision_tower

    monkeypatch.chdir(REPO_ROOT)
    from_root = with_vision_tower(FinetuneConfig(), "data/vla/vision_tower")
    monkeypatch.chdir(REPO_ROOT / "notebooks")
    assert with_vision_tower(FinetuneConfig(), "data/vla/vision_tower") == from_root
    assert with_vision_tower(FinetuneConfig(), "../data/vla/vision_tower") == from_root
    assert from_root.pretrain.backbone.pretrained_path == str(shipped_vision_tower().resolve())
