"""The main job: a policy runs one task from its instruction; report.json (subgoals, latents,
video file, backend), the video and the frame are written. A stub VLA keeps it fast; the shipped
policy runs in a slow test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data.teleop_schema import SUBGOALS
from wbvla.lmo.config import HeightConfig
from wbvla.quickstart import key_tick, run
from wbvla.quickstart_config import QuickstartConfig
from wbvla.vla.variants import shipped_policy_dir


class StubVLA:
    """Holds the arms, walks forward, 'chooses' latent codes 3 and 7 (a stand-in for the VLA)."""

    model_id = "stub-vla"
    command_kind = "flags"

    def reset(self) -> None:
        self.ticks = 0

    def act(self, image, instruction, state):
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8 and "cart" in instruction
        self.ticks += 1
        return PolicyOutput(state[None, :14], state[None, 14:16], np.array([1.0, 0.0, 0.0, HeightConfig().height_range[1]]),
                            latents={"mani": (3,), "loco": (7,)})


def test_quickstart_writes_report_video_and_frame(tmp_path):
    frame = tmp_path / "figures" / "quickstart_frame.png"
    cfg = QuickstartConfig(output_dir=tmp_path / "out", time_limit_s=1.0, video_size=128, readme_frame=frame)
    report = run(cfg, policy=StubVLA())
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
    assert on_disk["subgoals"] == {name: False for name in SUBGOALS["cart_pushing"]} == report["subgoals"]
    assert on_disk["backend"] == "ideal_base" and "IDEAL BASE" in on_disk["backend_label"]
    assert (tmp_path / "out" / on_disk["video"]).stat().st_size > 0 and on_disk["video"] == "quickstart.mp4"
    assert (tmp_path / "out" / on_disk["frame"]).is_file() and frame.is_file()
    assert on_disk["latents"]["usage"] == {"mani": {"3": 10}, "loco": {"7": 10}} and len(on_disk["latents"]["per_tick"]) == 10
    assert on_disk["ticks"] == 10 and on_disk["timings_s"]["total"] > 0 and on_disk["policy"] == "stub-vla"
    assert np.array(on_disk["commands"]["u_t_per_tick"]).shape == (10, 4)
    assert on_disk["failure"]["subgoal"] == 0 and on_disk["failure"]["stage"] in ("locomotion", "manipulation")


def test_make_quickstart_leaves_the_clone_clean():
    """``make quickstart`` writes only under the git-ignored ``runs/``; the README's committed frame
    (``figures/quickstart_frame.png``) is made by notebook 10's full run, never by the quickstart."""
    import re
    import shutil
    import subprocess

    from wbvla.paths import REPO_ROOT

    cfg = QuickstartConfig()
    assert cfg.readme_frame is None and cfg.output_dir.relative_to(REPO_ROOT).parts[0] == "runs"
    recipe = re.search(r"^quickstart:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert recipe and "wbvla quickstart" in recipe.group(1)
    command = recipe.group(1).split("#")[0]
    assert "figures" not in command and "readme-frame" not in command, command
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", str(cfg.output_dir / "report.json")], cwd=REPO_ROOT)
        assert ignored.returncode == 0, f"{cfg.output_dir} is not git-ignored"


def test_key_tick_prefers_success_then_nearest_approach():
    from types import SimpleNamespace

    trace = SimpleNamespace(base=np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0], [4.0, 0, 0]]),
                            goals={"approach": [2.9, 0.1, 0.0]})
    done = SimpleNamespace(subgoal_times=(0.26, None), ticks=4)
    failed = SimpleNamespace(subgoal_times=(None, None), ticks=4)
    assert key_tick(done, trace) == 3  # 0.26 s -> tick 3
    assert key_tick(failed, trace) == 3  # base x = 3.0 is nearest the approach stance (2.9, 0.1)
    assert key_tick(failed) == 2  # no trace: the middle


def test_quickstart_config_and_missing_policy_errors(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        QuickstartConfig(seed=3)  # a training seed: the main job runs held-out trials only
    with pytest.raises(ValueError, match="backend"):
        QuickstartConfig(backend="velocity_rl")
    with pytest.raises(FileNotFoundError, match="no VLA policy at"):
        run(QuickstartConfig(output_dir=tmp_path, policy=tmp_path / "nothing"))


@pytest.mark.slow
@pytest.mark.skipif(not (shipped_policy_dir() / "policy.json").is_file(), reason="no shipped policy in data/vla yet")
def test_quickstart_with_the_shipped_policy(tmp_path):
    report = run(QuickstartConfig(output_dir=tmp_path, time_limit_s=2.0))
    assert report["policy"].startswith("wbvla-vla:") and set(report["subgoals"]) == set(SUBGOALS["cart_pushing"])
    assert report["latents"]["usage"], "the shipped WholeBodyVLA chooses latent codes every tick"
