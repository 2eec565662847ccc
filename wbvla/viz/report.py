"""One way to save a notebook's figure and metrics: ``figures/NN_name.png`` + ``NN_name.json``.

The JSON holds the metrics at top level (so ``json.load(...)["rrg"]`` works), plus ``smoke``,
the notebook ``parameters`` and a ``provenance`` block: git commit, whether the tree was dirty,
the command that produced it, the time, and the host. The command comes from ``$WBVLA_COMMAND``
(set by ``wbvla notebook`` and by the test harness) or, failing that, from ``sys.argv``.
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from wbvla import __version__
from wbvla.io import atomic_path, write_json_atomic
from wbvla.paths import REPO_ROOT, figures_dir, portable_path

_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
RESERVED_KEYS = ("smoke", "parameters", "provenance")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"figure name must look like 'NN_snake_case' (e.g. '03_rrg'), got {name!r}")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """Where a result came from: commit, dirty flag, command, time, host, versions."""
    # figures/ holds the outputs of notebook runs: a run that follows another in the same checkout
    # must not call the tree dirty because of its predecessor's results
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)figures")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "command": os.environ.get("WBVLA_COMMAND") or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)",
        "python": platform.python_version(),
        "wbvla": __version__,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; null says "not measured"
    if isinstance(value, Path):
        return portable_path(value)
    if isinstance(value, str) and os.path.isabs(value) and not any(c.isspace() for c in value):
        return portable_path(value)  # committed metrics never hold one machine's absolute paths
    return value


def save_metrics(
    name: str, metrics: dict[str, Any], parameters: dict[str, Any], smoke: bool
) -> Path:
    """Write ``NN_name.json`` (atomically) and return its path."""
    _check_name(name)
    clash = [k for k in metrics if k in RESERVED_KEYS]
    if clash:
        raise ValueError(f"metric keys {clash} are reserved for the report itself")
    record = {**_jsonable(metrics), "smoke": bool(smoke), "parameters": _jsonable(parameters)}
    record["provenance"] = provenance()
    return write_json_atomic(figures_dir(smoke) / f"{name}.json", record)


def save_figure(
    name: str,
    fig: Any,
    metrics: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    smoke: bool = False,
    dpi: int = 120,
) -> Path:
    """Save a matplotlib figure as ``NN_name.png`` and, if given, its metrics as ``NN_name.json``.

    Returns the PNG path. ``smoke`` routes the files to ``figures/smoke/`` (see
    :func:`wbvla.paths.figures_dir`).
    """
    _check_name(name)
    path = figures_dir(smoke) / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    if metrics is not None or parameters is not None:
        save_metrics(name, metrics or {}, parameters or {}, smoke)
    return path
