#!/usr/bin/env bash
# Issue 20's recipe for one learned Table 2 row, end to end on one CPU core, resumable: every step
# skips or continues what an earlier call finished (the wbvla commands resume by themselves), so the
# script can be stopped and started again, and a wiped cache costs only the steps it held.
#
#   ROW=wholebodyvla tools/learned_row_recipe.sh      # the full system (tower LAMs)
#   ROW=no_lam STEPS="data row dagger suite" tools/learned_row_recipe.sh
#   PARALLEL=1 ROW=wholebodyvla tools/learned_row_recipe.sh   # data and lams side by side (two free cores)
#
# Wall times seen on this project's 2-core machine, one core each, beside the LMO plan: renders ~41 min
# (~41/s), tower pretraining ~2 x 55 min, data 36 min (75 demos per task), Stage I corpus 50 min, one tower
# LAM ~15 min, Stage III 2,000 steps 27 min, a 30-trial suite row 13 min.
#
# Steps (STEPS picks some; default all, in this order):
#   tower   vision renders (100 k, training seeds) + tower pretraining + `wbvla vision-ship`, only when
#           data/vla/vision_tower is not in the checkout (it is shipped: most runs skip this)
#   data    teleoperation data: the scripted expert, 75 demos per task, grasp stances moved per
#           episode (0.06 m, 0.1 rad), arms start without waiting for the base to settle
#   lams    (wholebodyvla, mani_lam, shared_lam) Stage I corpus + LAMs on the tower's features
#   row     Stage II + Stage III of ROW from the tower, absolute arm targets (--no-residual)
#   dagger  one DAgger round on ROW's policy (learner arms in the grasp phases)
#   suite   closed loop on the ideal base, TRIALS held-out seeds per task: the expert, the row and its
#           DAgger round, each also with the expert's legs (split control)
set -euo pipefail
cd "${WBVLA_REPO:-$(dirname "$0")/..}"  # WBVLA_REPO: the checkout, when this runs as a copy

ROW=${ROW:-wholebodyvla}
STEPS=${STEPS:-tower data lams row dagger suite}
TRIALS=${TRIALS:-10}
CACHE=${WBVLA_CACHE:-$HOME/.cache/wbvla}
WBVLA=${WBVLA:-.venv/bin/wbvla}
TOWER=data/vla/vision_tower
DATA=nosettle_offset          # the dataset folder name under $CACHE/teleop
PRE_STEPS=1500                # Stage II optimizer steps
FT_STEPS=2000                 # Stage III optimizer steps
export MUJOCO_GL=${MUJOCO_GL:-egl} OMP_NUM_THREADS=1

case $ROW in
  wholebodyvla|mani_lam|shared_lam) LAM_FEATURES=tower_pool2 ;;
  no_lam|no_state) LAM_FEATURES=pixel ;;  # no LAM labels Stage II
  *) echo "ROW must be wholebodyvla, mani_lam, shared_lam, no_lam or no_state, got '$ROW'" >&2; exit 2 ;;
esac
wants() { [[ " $STEPS " == *" $1 "* ]]; }
say() { echo "== $(date -u +%FT%TZ) $*"; }

if wants tower && [ ! -f $TOWER/provenance.json ]; then
  say "tower: renders + pretraining + ship"
  $WBVLA vision-pretrain --renders 100000 --name r100k --tower-width 96 --tower-layers 2 --tower-heads 4 \
    --steps 20000 --no-progress
  $WBVLA vision-ship --run "$CACHE/vision_pretrain/r100k_96x2"
fi

data_step() {
  say "data: teleoperation demonstrations -> $CACHE/teleop/$DATA"
  $WBVLA teleop-data --size full --episodes-per-task 75 --stance-offset 0.06 0.1 --no-settle-before-arms --workers 1 \
    --output-dir "$CACHE/teleop/$DATA" --no-progress
}
lams_step() {
  say "lams: Stage I corpus + LAMs on the tower's features ($LAM_FEATURES)"
  $WBVLA lam-data --size tutorial
  lams="mani loco"; [ "$ROW" = shared_lam ] && lams=shared; [ "$ROW" = mani_lam ] && lams=mani
  for v in $lams; do
    $WBVLA lam-train --variant "$v" --corpus-size tutorial --feature-space tower --tower-path $TOWER --tower-pool 2 --no-progress
  done
}
want_lams=false; wants lams && [ "$LAM_FEATURES" != pixel ] && want_lams=true
if [ "${PARALLEL:-0}" = 1 ] && wants data && $want_lams; then  # one core each: the two need nothing from each other
  data_step & data_pid=$!
  lams_step
  wait $data_pid
else
  if wants data; then data_step; fi
  if $want_lams; then lams_step; fi
fi

variant_args=(--name "$ROW" --vision-tower $TOWER --lam-features "$LAM_FEATURES" --pretrain-steps $PRE_STEPS
              --dataset-size $DATA --max-steps $FT_STEPS --no-residual --no-progress)
run_dir() {  # the Stage III run folder `wbvla vla-variant` trains with these arguments
  .venv/bin/python - "$@" <<'PY'
import sys, tyro
from wbvla.vla.config import VariantJobConfig
from wbvla.vla.finetune import run_dir_for
from wbvla.vla.variants import variant_config
job = tyro.cli(VariantJobConfig, args=sys.argv[1:], config=(tyro.conf.OmitArgPrefixes,))
print(run_dir_for(variant_config(job.name, job.finetune_config())))
PY
}

if wants row; then
  say "row: Stage II + III of $ROW"
  $WBVLA vla-variant "${variant_args[@]}"
fi
if wants row || wants dagger || wants suite; then RUN=$(run_dir "${variant_args[@]}"); fi

if wants dagger; then
  say "dagger: one round on $RUN"
  $WBVLA vla-dagger --learner-run "$RUN" --episodes-per-task 20 --learner-arm-phases raise approach pregrasp grasp \
    --accept-stance-m 0.08 --workers 1 --finetune-steps 1500 --no-progress
fi

if wants suite; then
  say "suite: $TRIALS held-out seeds per task on the ideal base"
  policies=("$RUN/policy"); [ -f "${RUN}_dagger/run/policy/policy.json" ] && policies+=("${RUN}_dagger/run/policy")
  splits=()
  for p in "${policies[@]}"; do
    name=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['run'])" "$p/policy.json")
    splits+=("extra:$name:arms")
  done
  $WBVLA suite --rows expert --backends ideal_base --trials-per-task "$TRIALS" --dataset-size $DATA \
    --finetune-steps $FT_STEPS --vision-tower $TOWER --lam-features "$LAM_FEATURES" \
    --run-name "i20_${DATA}_${ROW}" --extra-policies "${policies[@]}" --split-rows "${splits[@]}" --workers 1 --no-progress
fi
say "done: $STEPS"
