"""tools/lmo_checkpoint_probe.py on a committed plan checkpoint: per-sign stats, env steps, verdict."""

import importlib.util
from pathlib import Path

from wbvla.lmo.cpu import plan

TOOL = Path(__file__).resolve().parents[2] / "tools" / "lmo_checkpoint_probe.py"


def test_probe_reports_signs_env_steps_and_the_first_walking_verdict():
    spec = importlib.util.spec_from_file_location("lmo_checkpoint_probe", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ckpt = sorted((plan.PLAN_ROOT / "s1_lmo").glob("model_*.pt"))[-1]
    res = tool.probe(ckpt, trials=2)
    it = int(ckpt.stem.split("_")[1])
    assert res["iteration"] == it and res["run_env_steps"] == it * 256 * 24
    for name in ("forward", "lateral", "turning"):
        assert res[name]["trials"] == 2 and set(res[name]["by_sign"]) == {"+", "-"}
        assert res[name]["by_sign"]["+"]["trials"] == 1
    # 2 trials per primitive can never pass the test (it needs 20)
    assert res["first_walking"]["walks"] is False
    assert all(c["trials"] == 2 for c in res["first_walking"]["checks"].values())
