"""The GPU path: the declared training plan, the wheel bundle, and the node script dry-run on CPU."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from wbvla.lmo.plan import (
    LMO_PLAN,
    PlanConfig,
    PlanStep,
    export_done,
    next_step,
    pack_state,
    status,
    unpack_state,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import gpu_bundle  # noqa: E402


def _fake_run(root: Path, name: str, iterations: int) -> None:
    run = root / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"task": {}, "chunks": [{"iterations": iterations}]}))
    (run / f"model_{iterations - 1}.pt").write_bytes(b"x")


def test_the_plan_declares_every_policy_and_ablation():
    names = {s.name: s for s in LMO_PLAN}
    exported = {row for s in LMO_PLAN for _, row in s.exports}
    assert exported == {"LMO", "velocity_baseline", "LMO_no_eq3", "LMO_no_stage1", "LMO_no_stage2"}
    assert names["lmo_stage2"].init_from == "lmo_stage1" and names["lmo_stage2_no_eq3"].init_from == "lmo_stage1"
    assert names["lmo_stage2_no_stage1"].init_from is None and names["lmo_stage2_no_stage1"].stage == 2
    # w/o Stage I gets the same PPO budget as Stage I + Stage II
    assert names["lmo_stage2_no_stage1"].iterations == names["lmo_stage1"].iterations + names["lmo_stage2"].iterations
    # the runs that end a policy reach full Table 5 ranges through the curriculum floor
    assert all(names[n].floor_ramp_fraction > 0 for n in ("lmo_stage2", "velocity", "lmo_stage2_no_eq3"))


def test_plan_knows_what_is_done_and_what_comes_next(tmp_path):
    cfg = PlanConfig(root=tmp_path)
    assert next_step(cfg).name == "lmo_stage1" and not any(r["done"] for r in status(cfg))
    _fake_run(tmp_path, "lmo_stage1", 250)  # a partial Stage I: resume it, Stage II must wait
    assert next_step(cfg).name == "lmo_stage1"
    (tmp_path / "lmo_stage1").joinpath("run.json").write_text(json.dumps({"chunks": [{"iterations": 250}, {"iterations": 350}]}))
    assert next_step(cfg).name == "lmo_stage2"
    st = {r["step"]: r for r in status(cfg)}
    assert st["lmo_stage1"] == {"step": "lmo_stage1", "iterations_done": 600, "iterations": 600, "done": True,
                                "checkpoint": "model_249.pt"}
    for s in LMO_PLAN[1:]:
        _fake_run(tmp_path, s.name, s.iterations)
    assert next_step(cfg) is None
    assert next_step(PlanConfig(root=tmp_path, max_iterations=5)) is None


def test_plan_rejects_bad_steps():
    with pytest.raises(ValueError, match="must name an earlier step"):
        PlanConfig(steps=(PlanStep("b", "lmo", 2, 10, init_from="a"), PlanStep("a", "lmo", 1, 10)))
    with pytest.raises(ValueError, match="unique"):
        PlanConfig(steps=(PlanStep("a", "lmo", 1, 10), PlanStep("a", "lmo", 1, 10)))
    with pytest.raises(ValueError, match="iterations"):
        PlanStep("a", "lmo", 1, 0)


def test_pack_and_unpack_round_trip_in_parts(tmp_path, monkeypatch):
    root = tmp_path / "plan"
    _fake_run(root, "lmo_stage1", 3)
    (root / "lmo_stage1" / "model_2.pt").write_bytes(os.urandom(3_000_000))  # incompressible
    monkeypatch.setattr("wbvla.lmo.plan.PART_BYTES", 1_000_000)
    parts = pack_state(root, tmp_path / "out")
    assert len(parts) == 4 and all(p.stat().st_size <= 1_000_000 for p in parts)
    here = tmp_path / "here"
    _fake_run(here, "lmo_stage1", 1)  # an older state of the same run is replaced
    unpack_state(tmp_path / "out", here)
    assert (here / "lmo_stage1" / "model_2.pt").read_bytes() == (root / "lmo_stage1" / "model_2.pt").read_bytes()
    assert not (here / "lmo_stage1" / "model_0.pt").exists()
    with pytest.raises(ValueError, match="no plan_state"):
        unpack_state(tmp_path / "nothing", here)


def _fake_wheel(folder: Path, dist: str, module: str) -> Path:
    whl = folder / f"{dist}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(f"{module}/__init__.py", f"NAME = {module!r}\n")
        z.writestr(f"{dist}-1.0.dist-info/METADATA", f"Name: {dist}\nVersion: 1.0\n")
    return whl


def test_bundle_parts_manifest_and_layout(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _fake_wheel(wheels, "fakepkg", "fakepkg")
    _fake_wheel(wheels, "numpy", "numpy")
    big = wheels / "bigpkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(big, "w") as z:
        z.writestr("bigpkg/blob.bin", os.urandom(2_500_000))
    m = gpu_bundle.build(tmp_path / "bundle", wheels=wheels, pins={"fakepkg": "1.0"})
    # split in parts of at most 60 MB; here the data is small, so one part
    assert [p["name"] for p in m["parts"]] == ["part-aa"] and m["parts"][0]["bytes"] <= gpu_bundle.MAX_PART_BYTES
    small = gpu_bundle.write_parts(tmp_path / "bundle", tmp_path, max_bytes=1_000_000)
    assert len(small) >= 3 and [p["name"] for p in small][:3] == ["part-aa", "part-ab", "part-ac"]
    data = b"".join((tmp_path / "bundle" / p["name"]).read_bytes() for p in m["parts"])
    (tmp_path / "all.tar.xz").write_bytes(data)
    with tarfile.open(tmp_path / "all.tar.xz") as tar:
        names = set(tar.getnames())
    assert {"./site/fakepkg/__init__.py", "./site/wandb/__init__.py", "./fallback/numpy/__init__.py"} <= names
    manifest = json.loads((tmp_path / "bundle" / "MANIFEST.json").read_text())
    assert manifest["pins"] == {"fakepkg": "1.0"} and len(manifest["wheels"]) == 3
    # smaller parts for a device call that also carries the checkout: same bytes, new manifest
    again = gpu_bundle.resplit(tmp_path / "bundle", 1_000_000)
    assert len(again["parts"]) >= 3 and all(p["bytes"] <= 1_000_000 for p in again["parts"])
    assert b"".join((tmp_path / "bundle" / p["name"]).read_bytes() for p in again["parts"]) == data
    assert json.loads((tmp_path / "bundle" / "MANIFEST.json").read_text())["parts"] == again["parts"]
    (tmp_path / "bundle" / "part-ab").unlink()
    with pytest.raises(FileNotFoundError, match="part-ab"):
        gpu_bundle.resplit(tmp_path / "bundle", 500_000)


@pytest.mark.slow
def test_gpu_node_script_dry_run_on_cpu(tmp_path):
    """The node script end to end on CPU: unpack a (stand-in) bundle, walk the whole plan with
    two tiny iterations per step, pack the state; unpack it here; a second call finds it done."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _fake_wheel(wheels, "fakepkg", "fakepkg")
    gpu_bundle.build(tmp_path / "bundle", wheels=wheels, pins={"fakepkg": "1.0"})
    root = tmp_path / "plan"
    env = os.environ | {"OUT": str(tmp_path / "out"), "BUNDLE": str(tmp_path / "bundle"), "SITE": str(tmp_path / "site"),
                        "DEVICE": "cpu", "NUM_ENVS": "4", "BUDGET_S": "540", "PYTHON": sys.executable,
                        "PLAN_ARGS": f"--smoke --max-iterations 2 --root {root}", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(["bash", "tools/gpu_node.sh"], cwd=REPO, env=env, check=True, timeout=600)
    out = tmp_path / "out"
    record = json.loads((out / "chunk_record.json").read_text())
    assert [r["step"] for r in record["records"]] == [s.name for s in LMO_PLAN]
    assert all(r["iterations"] == 2 and r["stopped_by"] == "iterations" for r in record["records"])
    assert all(s["done"] for s in record["status"]) and (out / "plan_state.tar.xz").exists()
    assert "unpacked the bundle" in (out / "node.log").read_text()
    here = tmp_path / "here"
    unpack_state(out, here)
    for s in LMO_PLAN:
        assert sorted(p.name for p in (here / s.name).glob("model_*.pt")) == ["model_1.pt"]
        chunks = json.loads((here / s.name / "run.json").read_text())["chunks"]
        assert chunks[-1]["curriculum"]["dr_level"] >= 0.2
    stage2 = json.loads((here / "lmo_stage2" / "run.json").read_text())
    assert stage2["init_from"] == "lmo_stage1/model_1.pt"
    plan = json.loads((here / "plan.json").read_text())
    assert len(plan["chunks"]) == len(LMO_PLAN) and plan["num_envs"] == 4
    # here: every finished step exported under the names the plan declares, with a portable card
    entries = export_done(PlanConfig(root=here, max_iterations=2), out_dir=tmp_path / "ship")
    assert sorted(e["file"] for e in entries) == sorted(f"{n}.onnx" for s in LMO_PLAN for n, _ in s.exports)
    card = (tmp_path / "ship" / "model_card.md").read_text()
    assert str(tmp_path) not in card and "/root/" not in card
    # a second slot: nothing left, the bundle is not unpacked again, the state comes back unchanged
    env["OUT"] = str(tmp_path / "out2")
    subprocess.run(["bash", "tools/gpu_node.sh"], cwd=REPO, env=env, check=True, timeout=300)
    assert json.loads((tmp_path / "out2" / "chunk_record.json").read_text())["records"] == []
    assert "unpacked the bundle" not in (tmp_path / "out2" / "node.log").read_text()
