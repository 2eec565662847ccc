#!/usr/bin/env bash
# gpu_node.sh: train the next chunk of the LMO plan on an offline GPU node, inside a copy of this repo.
#
# The node has Python 3.12 and CUDA torch, nothing else we need and no internet. Bring the parts of
# the bundle built here by `python tools/gpu_bundle.py build .gpu_bundle` (one part per upload if
# uploads are size-limited; parts already on the node stay), then run from the repository root:
#
#   OUT=/path/to/bring/back bash tools/gpu_node.sh
#
# It (1) joins and unpacks the bundle once (checked against MANIFEST.json), (2) puts it on
# PYTHONPATH (numpy only if the node has none), (3) resumes the plan in data/lmo/plan from the
# newest checkpoints and trains until BUDGET_S seconds after this script started (default 480 s,
# so the call ends within 9 minutes), and (4) leaves in $OUT what to bring back and commit:
# plan_state.tar.xz (or .partNN pieces of at most 15 MiB), chunk_record.json and node.log.
# Back here: python -m wbvla.lmo.plan unpack --out <that folder>   (then git add data/lmo/plan)
#
# Environment: OUT (required), BUDGET_S (480), BUNDLE (.gpu_bundle), SITE (/tmp/wbvla_site),
# DEVICE (cuda), NUM_ENVS (4096), PLAN_ARGS (extra arguments of `python -m wbvla.lmo.plan run`),
# PYTHON (python3).
set -euo pipefail
start=$(date +%s)
: "${OUT:?set OUT to the folder whose files are brought back}"
budget=${BUDGET_S:-480}; bundle=${BUNDLE:-.gpu_bundle}; site=${SITE:-/tmp/wbvla_site}
device=${DEVICE:-cuda}; envs=${NUM_ENVS:-4096}; py=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/node.log") 2>&1

[ -f "$bundle/MANIFEST.json" ] || { echo "no bundle at $bundle (build it with tools/gpu_bundle.py)"; exit 2; }
if ! cmp -s "$bundle/MANIFEST.json" "$site/MANIFEST.json" 2>/dev/null; then
  "$py" - "$bundle" <<'EOF'
import hashlib, json, pathlib, sys
b = pathlib.Path(sys.argv[1]); m = json.loads((b / "MANIFEST.json").read_text())
missing = [p["name"] for p in m["parts"] if not (b / p["name"]).exists()]
bad = [p["name"] for p in m["parts"] if p["name"] not in missing
       and hashlib.sha256((b / p["name"]).read_bytes()).hexdigest() != p["sha256"]]
if missing or bad:
    sys.exit(f"bundle incomplete: missing {missing}, corrupt {bad}")
EOF
  rm -rf "$site"; mkdir -p "$site"
  cat "$bundle"/part-* | xz -dc | tar -C "$site" -xf -
  cp "$bundle/MANIFEST.json" "$site/MANIFEST.json"
  echo "[node] unpacked the bundle into $site in $(( $(date +%s) - start )) s"
fi

export PYTHONPATH="$site/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$py" -c "import numpy" 2>/dev/null || export PYTHONPATH="$PYTHONPATH:$site/fallback"
export MUJOCO_GL=egl GIT_PYTHON_REFRESH=quiet WBVLA_COMMAND="tools/gpu_node.sh (DEVICE=$device NUM_ENVS=$envs)"
"$py" -c "import torch, mujoco, warp, mjlab, rsl_rl; print('[node] torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| mujoco', mujoco.__version__, '| warp', warp.__version__)"
left=$(( budget - ($(date +%s) - start) ))
# shellcheck disable=SC2086
"$py" -m wbvla.lmo.plan run --device "$device" --num-envs "$envs" --budget-s "$left" --out "$OUT" ${PLAN_ARGS:-}
echo "[node] done in $(( $(date +%s) - start )) s"
