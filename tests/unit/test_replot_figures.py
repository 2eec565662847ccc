"""tools/replot_figures.py redraws the committed PNGs from the committed JSON and never rewrites a JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from tool_helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    return load_tool("replot_figures")


def test_replot_draws_every_figure_from_the_committed_json_and_leaves_it_alone(tmp_path, monkeypatch):
    tool = _tool()
    sources = {p: p.read_bytes() for p in (ROOT / "figures" / "10_task_suite.json", ROOT / "figures" / "04_latent_retrieval.json")}
    monkeypatch.setenv("WBVLA_FIGURES_DIR", str(tmp_path))
    assert tool.main([]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in tool.REPLOTS)  # PNGs only, no JSON
    assert all(p.read_bytes() == raw for p, raw in sources.items())
    width, height = Image.open(tmp_path / "04_latent_retrieval.png").size
    assert width <= 1600 and height <= 1000  # one page, not the old 1177x4402 grid of thumbnails


def test_replot_refuses_a_smoke_json_and_an_unknown_name(tmp_path, monkeypatch):
    tool = _tool()
    record = json.loads((ROOT / "figures" / "04_latent_retrieval.json").read_text())
    (tmp_path / "04_latent_retrieval.json").write_text(json.dumps({**record, "smoke": True}))
    monkeypatch.setenv("WBVLA_FIGURES_DIR", str(tmp_path / "out"))
    with pytest.raises(ValueError, match="SMOKE"):
        tool.main(["04_latent_retrieval", "--source", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="10_task_suite.json"):
        tool.main(["10_scaling", "--source", str(tmp_path)])
    with pytest.raises(SystemExit):
        tool.main(["99_nothing"])
