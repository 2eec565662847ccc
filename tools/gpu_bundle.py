"""Build the wheel bundle an offline GPU node needs to train the LMO plan (parts of at most 60 MB).

The node has Python 3.12 and CUDA torch but no mujoco, warp, mjlab or rsl-rl and no internet.
This tool finds what training imports (a one-iteration CPU training run in a subprocess, then
``sys.modules``), pins every third-party distribution it needs at the version installed here,
downloads the CPython 3.12 manylinux wheels with ``pip download --only-binary``, unpacks them into
one site-packages tree, drops what training does not use, and writes ``xz``-compressed tar parts:

    python tools/gpu_bundle.py build .gpu_bundle          # here (needs PyPI), ~2 parts
    python tools/gpu_bundle.py build .gpu_bundle --wheels DIR   # from wheels already downloaded

Layout inside the archive: ``site/`` (always on PYTHONPATH) and ``fallback/`` (numpy, added only
when the node's Python has none, so torch keeps the numpy it was built with). ``MANIFEST.json``
lists the pins, the files and the part sizes. ``tools/gpu_node.sh`` unpacks it on the node.

Not carried: torch and its own dependencies (the node has them), wandb (a stub module stands in:
rsl-rl and mjlab only import it), the ffmpeg binary of imageio-ffmpeg, warp's tests and examples,
and mjlab's Go1 / YAM meshes (the G1 stays for ``wbvla lmo-bench``). The wbvla sources are not in
the bundle: the node script runs inside a copy of this repository.
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

MAX_PART_BYTES = 60_000_000
"""Largest part (bytes): 60 MB, under the 64 MiB a device call may carry."""
NODE_PROVIDES = {"torch", "triton", "sympy", "mpmath", "networkx", "jinja2", "markupsafe", "filelock", "fsspec",
                 "setuptools", "pip", "wheel"}
"""Distributions the GPU node's torch installation already has (never bundled)."""
FALLBACK = {"numpy"}
"""Bundled, but put on PYTHONPATH only when the node lacks them."""
STUBBED = {"wandb"}
"""Replaced by an empty module (imported, never used)."""
DROP = ("warp/tests", "warp/examples", "mujoco/experimental", "imageio_ffmpeg/binaries",
        "mjlab/asset_zoo/robots/unitree_go1/assets", "mjlab/asset_zoo/robots/i2rt_yam/assets")
"""Paths under site-packages that training never touches."""
PROBE = r"""
import os, sys, json, tempfile
os.environ["CUDA_VISIBLE_DEVICES"] = ""
from wbvla.lmo.job_config import TrainConfig
from wbvla.lmo.train import train
import wbvla.lmo.plan, wbvla.lmo.export  # noqa: F401
with tempfile.TemporaryDirectory() as d:
    train(TrainConfig(smoke=True, iterations=1, run_dir=__import__("pathlib").Path(d) / "run"))
print("MODULES=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def needed_distributions() -> dict[str, str]:
    """{distribution: installed version} that a smoke training run imports (third party only)."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    modules = json.loads(out.split("MODULES=")[-1])
    owners = metadata.packages_distributions()
    dists = {d for m in modules for d in owners.get(m, [])}
    dists -= {"wbvla"}
    return {d: metadata.version(d) for d in sorted(dists, key=str.lower)
            if d.lower().replace("_", "-") not in NODE_PROVIDES and not d.lower().startswith("nvidia-")}


def download(pins: dict[str, str], dest: Path) -> None:
    plats = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64", "any"]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", "-d", str(dest)] + [f"--platform={p}" for p in plats]
    subprocess.run(cmd + [f"{d}=={v}" for d, v in pins.items() if d not in STUBBED], check=True)


def _wheel_dist(path: Path) -> str:
    return path.name.split("-")[0].lower().replace("_", "-")


def assemble(wheels: Path, tree: Path) -> list[str]:
    """Unpack every wheel under ``tree/site`` (numpy under ``tree/fallback``); returns the wheel names."""
    names = []
    for whl in sorted(wheels.glob("*.whl")):
        target = tree / ("fallback" if _wheel_dist(whl) in FALLBACK else "site")
        with zipfile.ZipFile(whl) as z:
            z.extractall(target)
        names.append(whl.name)
    site = tree / "site"
    for rel in DROP:
        shutil.rmtree(site / rel, ignore_errors=True)
    for name in STUBBED:
        (site / name).mkdir(parents=True, exist_ok=True)
        (site / name / "__init__.py").write_text('"""Stand-in: not carried to the GPU node; imported, never used."""\n')
    return names


def write_parts(tree: Path, out: Path, max_bytes: int = MAX_PART_BYTES) -> list[dict]:
    """``tree`` as an xz tar split into ``out/part-aa``, ``part-ab``, ... of at most ``max_bytes``."""
    archive = out / "bundle.tar.xz"
    with archive.open("wb") as f:
        tar = subprocess.Popen(["tar", "-C", str(tree), "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(["xz", "-T0", "-6", "-c"], stdin=tar.stdout, stdout=f, check=True)
        if tar.wait() != 0:
            raise RuntimeError(f"tar of {tree} failed")
    return _split(archive, out, max_bytes)


def _split(archive: Path, out: Path, max_bytes: int) -> list[dict]:
    """``archive`` cut into ``out/part-aa``, ``part-ab``, ... of at most ``max_bytes`` (then deleted)."""
    parts = []
    with archive.open("rb") as f:
        while chunk := f.read(max_bytes):
            k = len(parts)
            name = "part-" + chr(ord("a") + k // 26) + chr(ord("a") + k % 26)
            (out / name).write_bytes(chunk)
            parts.append({"name": name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    archive.unlink()
    return parts


def resplit(out: Path, max_bytes: int) -> dict:
    """Split an existing bundle's parts again into parts of at most ``max_bytes`` (the node joins
    them with ``cat part-*``, so only their order matters); rewrites MANIFEST.json's ``parts``.
    A device call carries the checkout *and* the part: with a 34 MB checkout, 60 MB parts no longer
    fit in 64 MiB, so make them smaller instead of rebuilding."""
    manifest = json.loads((out / "MANIFEST.json").read_text())
    old = [out / p["name"] for p in manifest["parts"]]
    for path, p in zip(old, manifest["parts"], strict=True):
        if not path.is_file() or path.stat().st_size != p["bytes"]:
            raise FileNotFoundError(f"{path}: missing or not the {p['bytes']} bytes MANIFEST.json lists")
    joined = out / "joined.tar.xz"
    with joined.open("wb") as f:
        for path in old:
            f.write(path.read_bytes())
    for path in old:
        path.unlink()
    manifest["parts"] = _split(joined, out, max_bytes)
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def build(out: Path, wheels: Path | None = None, pins: dict[str, str] | None = None) -> dict:
    """Build the bundle in ``out`` (emptied first); returns the manifest it writes."""
    pins = needed_distributions() if pins is None else pins
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if wheels is None:
            wheels = tmp / "wheels"
            download(pins, wheels)
        names = assemble(wheels, tmp / "tree")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        parts = write_parts(tmp / "tree", out)
    manifest = {"python": "3.12", "pins": pins, "wheels": names, "stubbed": sorted(STUBBED),
                "fallback": sorted(FALLBACK), "dropped": list(DROP), "parts": parts,
                "total_bytes": sum(p["bytes"] for p in parts)}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="find, download, unpack and split")
    b.add_argument("out", type=Path)
    b.add_argument("--wheels", type=Path, default=None, help="use the wheels in this folder instead of downloading")
    sub.add_parser("pins", help="print the distributions training imports, with their versions")
    r = sub.add_parser("resplit", help="split a built bundle again into smaller parts (no download)")
    r.add_argument("out", type=Path)
    r.add_argument("--part-bytes", type=int, required=True, help="largest part in bytes")
    a = p.parse_args()
    if a.action == "pins":
        print(json.dumps(needed_distributions(), indent=1))
        return
    if a.action == "resplit":
        m = resplit(a.out, a.part_bytes)
        print(json.dumps({"parts": [(x["name"], x["bytes"]) for x in m["parts"]]}, indent=1))
        return
    m = build(a.out, a.wheels)
    print(json.dumps({"parts": [(x["name"], x["bytes"]) for x in m["parts"]], "total_bytes": m["total_bytes"],
                      "wheels": len(m["wheels"])}, indent=1))


if __name__ == "__main__":
    main()
