#!/usr/bin/env bash
# Does the real `lerobot` read our LeRobot v3.0 datasets, and do we read lerobot's?
#
# lerobot 0.6.x needs Python >= 3.12 and torch < 2.12, so it gets its own venv (default
# /tmp/lerobot312_venv, ~5 GB: PyPI's torch 2.11 comes with its CUDA libraries), created once with
# `pip install "lerobot[dataset]==$LEROBOT_VERSION"`. Then tools/check_lerobot_compat.py (run by
# wbvla's venv) writes a dataset with LeRobotV3Writer, loads and iterates it in lerobot, has lerobot
# write one, reads that with LeRobotV3Dataset + validate_v3, and prints a JSON report.
#
# lerobot's default decoder, torchcodec, needs FFmpeg 4-8 shared libraries (Debian 12: apt-get install
# libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8);
# without them lerobot falls back to PyAV. The report's "default_backend" says which one decoded; PyAV
# is always checked too.
#
#   bash tools/check_lerobot_compat.sh [--out report.json] [--fixture tests/fixtures/lerobot_v3_written_by_lerobot]
set -euo pipefail
cd "$(dirname "$0")/.."
LEROBOT_VERSION="${LEROBOT_VERSION:-0.6.1}"
VENV="${LEROBOT_VENV:-/tmp/lerobot312_venv}"
PY312="${PYTHON312:-$(command -v python3.12 || true)}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import lerobot" 2>/dev/null; then
  [ -n "$PY312" ] || { echo "need python3.12 for lerobot $LEROBOT_VERSION (set PYTHON312)" >&2; exit 2; }
  "$PY312" -m venv "$VENV"
  "$VENV/bin/pip" install "lerobot[dataset]==$LEROBOT_VERSION"
fi
"$VENV/bin/python" -c "import lerobot, torch, av; print('lerobot', lerobot.__version__, 'torch', torch.__version__, 'av', av.__version__)"
PYTHON="${WBVLA_PYTHON:-.venv/bin/python}"
exec "$PYTHON" tools/check_lerobot_compat.py --lerobot-python "$VENV/bin/python" "$@"
