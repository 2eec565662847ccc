#!/usr/bin/env bash
# The test command: unit tests, then every notebook with SMOKE=True (tests/test_notebooks.py).
# pytest exits 5 when it collected no tests; that is a failure here, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
python -m pytest tests -q -rfEs --durations=20 -m "not slow and not gpu" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "tests/run.sh: pytest collected no tests (exit code 5): treating as failure" >&2
  exit 1
fi
exit "$rc"
