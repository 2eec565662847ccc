#!/usr/bin/env bash
# The test command, in two phases so the screen says what is running:
#   1/2 unit tests (everything under tests/ but the notebooks): one line per test file with the progress in %;
#   2/2 every notebook with SMOKE=True (tests/test_notebooks.py): one line per notebook, its name
#       printed when it starts, PASSED/FAILED and the progress when it ends, then each one's time.
# Options go to both phases (e.g. -k 03 or -x; a test file path would run in both). pytest exits 5
# when it collected no tests: a phase that collects nothing is fine only when the other one ran
# tests; both empty is a failure, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
MARKS="not slow and not gpu"

echo "== tests/run.sh [1/2] unit tests (tests/, notebooks apart)"
python -m pytest tests --ignore=tests/test_notebooks.py -rfEs --durations=10 -m "$MARKS" "$@"
unit=$?
n_notebooks=$(ls notebooks/[0-9][0-9]_*.ipynb 2>/dev/null | wc -l)
echo "== tests/run.sh [2/2] ${n_notebooks} notebooks with SMOKE=True (tests/test_notebooks.py; each runs a few seconds to minutes)"
python -m pytest tests/test_notebooks.py -v -rfEs --durations=0 --durations-min=1 -m "$MARKS" "$@"
notebooks=$?

echo "== tests/run.sh: unit tests exit $unit, notebooks exit $notebooks"
if [ "$unit" -eq 5 ] && [ "$notebooks" -eq 5 ]; then
  echo "tests/run.sh: pytest collected no tests (exit code 5): treating as failure" >&2
  exit 1
fi
for rc in "$unit" "$notebooks"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
    exit "$rc"
  fi
done
exit 0
