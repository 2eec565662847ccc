"""tools/lmo_checkpoint_probe.py (the plan's probe on one checkpoint) on a committed plan checkpoint:
per-sign stats, env steps, verdict, written to --out."""

import json
import sys

from tool_helpers import load_tool

from wbvla.lmo.cpu import plan


def test_probe_reports_signs_env_steps_and_the_first_walking_verdict(tmp_path, monkeypatch, capsys):
    tool = load_tool("lmo_checkpoint_probe")
    ckpt = sorted((plan.PLAN_ROOT / "s1_lmo").glob("model_*.pt"))[-1]
    out = tmp_path / "probe.json"
    monkeypatch.setattr(sys, "argv", ["probe", str(ckpt), "--trials", "2", "--out", str(out)])
    tool.main()
    res = json.loads(out.read_text())
    it = int(ckpt.stem.split("_")[1])
    assert res["iteration"] == it and res["run_env_steps"] == it * 256 * 24  # the checkpoint's own iteration
    for name in ("forward", "lateral", "turning"):
        assert res[name]["trials"] == 2 and set(res[name]["by_sign"]) == {"+", "-"}
        assert res[name]["by_sign"]["+"]["trials"] == 1
    # 2 trials per primitive can never pass the test (it needs 20)
    assert res["first_walking"]["walks"] is False
    assert all(c["trials"] == 2 for c in res["first_walking"]["checks"].values())
    assert "first walking: False" in capsys.readouterr().out
