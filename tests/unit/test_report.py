import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from wbvla.viz import save_figure, save_metrics, save_video  # noqa: E402


def test_figure_and_metrics_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("WBVLA_COMMAND", "wbvla notebook --name 03")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = save_figure("03_rrg", fig, metrics={"rrg": {"mani": {"grasp": np.float32(0.25)}}, "nan": float("nan")},
                      parameters={"SEED": 0}, smoke=True)
    plt.close(fig)
    record = json.loads((tmp_path / "03_rrg.json").read_text())
    assert png.exists() and png.stat().st_size > 1000
    assert record["rrg"]["mani"]["grasp"] == pytest.approx(0.25)
    assert record["nan"] is None and record["smoke"] is True and record["parameters"] == {"SEED": 0}
    assert record["provenance"]["command"] == "wbvla notebook --name 03"
    assert "git_commit" in record["provenance"]


def test_smoke_results_never_overwrite_full_results(monkeypatch):
    monkeypatch.delenv("WBVLA_FIGURES_DIR", raising=False)
    from wbvla.paths import figures_dir

    assert figures_dir(smoke=True).name == "smoke"
    assert figures_dir(smoke=False).name == "figures"


def test_bad_names_and_reserved_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_FIGURES_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="NN_snake_case"):
        save_metrics("rrg", {}, {}, smoke=True)
    with pytest.raises(ValueError, match="reserved"):
        save_metrics("03_rrg", {"smoke": 1}, {}, smoke=True)


def test_save_video(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    path = save_video(frames, tmp_path / "clip.mp4", fps=10)
    assert path.exists() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="uint8"):
        save_video(frames.astype(np.float32), tmp_path / "bad.mp4")


def test_metrics_hold_no_absolute_paths_of_this_machine(tmp_path, monkeypatch):
    from pathlib import Path

    from wbvla.paths import REPO_ROOT

    monkeypatch.setenv("WBVLA_FIGURES_DIR", str(tmp_path / "fig"))
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    path = save_metrics("06_vla_finetuning", {
        "policy_dir": str(tmp_path / "cache" / "runs" / "policy"), "shipped_to": REPO_ROOT / "data" / "vla",
        "note": "a sentence /with a slash", "home": Path.home() / "x"}, parameters={}, smoke=True)
    record = json.loads(path.read_text())
    assert record["policy_dir"] == "$WBVLA_CACHE/runs/policy"
    assert record["shipped_to"] == "data/vla"
    assert record["home"] == "~/x"
    assert record["note"] == "a sentence /with a slash"


def test_dirty_flag_ignores_notebook_outputs_but_not_code(tmp_path, monkeypatch):
    import subprocess

    import wbvla.viz.report as report

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "01_x.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    monkeypatch.setattr(report, "REPO_ROOT", tmp_path)
    assert report.provenance()["git_dirty"] is False
    (tmp_path / "figures" / "01_x.json").write_text('{"new": 1}')  # a notebook wrote its results
    assert report.provenance()["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert report.provenance()["git_dirty"] is True
