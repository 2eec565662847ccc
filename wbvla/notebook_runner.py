"""Run a numbered notebook headlessly with papermill (used by ``wbvla notebook`` and the tests)."""

from __future__ import annotations

import ast
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from wbvla.paths import REPO_ROOT
from wbvla.validation import require

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class NotebookRunConfig:
    """Execute ``notebooks/NN_*.ipynb`` with papermill."""

    name: str
    """Notebook number or name: ``03``, ``03_rrg_evaluation`` or a path to an ``.ipynb``."""
    smoke: bool = False
    """Run the SMOKE path (seconds to minutes on a CPU) instead of the full run."""
    set: tuple[str, ...] = ()
    """Extra parameters as ``KEY=VALUE`` (VALUE is a Python literal), e.g. ``SEED=1``."""
    output_dir: Path = REPO_ROOT / "runs" / "notebooks"
    """Where the executed copy of the notebook is written."""
    timeout_s: int = 24 * 3600
    """Per-cell timeout in seconds."""

    def __post_init__(self) -> None:
        for item in self.set:
            require("=" in item, f"--set expects KEY=VALUE, got {item!r}")


def find_notebook(name: str) -> Path:
    """Resolve ``03`` / ``03_rrg_evaluation`` / a path to one notebook file."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    matches = sorted(NOTEBOOK_DIR.glob(f"{name}*.ipynb"))
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")))
        raise ValueError(f"notebook {name!r} matches {len(matches)} files; known notebooks: {known}")
    return matches[0]


def parse_parameters(items: tuple[str, ...]) -> dict:
    """``("SEED=1", "DEVICE='cpu'")`` -> ``{"SEED": 1, "DEVICE": "cpu"}``."""
    params = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value  # bare strings: DEVICE=cpu
    return params


def _local_kernel_manager():
    """A Jupyter kernel manager that talks to the kernel over local (IPC) sockets on POSIX systems: over TCP
    ipykernel 7 warns on every run that the traffic is unencrypted, which for a kernel this process starts
    on its own machine says nothing a user can act on. None elsewhere (Windows has no IPC transport)."""
    if os.name != "posix":
        return None
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class LocalKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return LocalKernelManager


def execute(notebook: Path, output: Path, parameters: dict, timeout_s: int, env: dict | None = None):
    """Execute one notebook in its own folder; returns papermill's result notebook.

    Raises:
        RuntimeError: a cell failed; the message holds the cell's source head and traceback.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    # Make Jupyter find this interpreter's own "python3" kernel before any user-level one.
    env = {"JUPYTER_PATH": os.pathsep.join([str(Path(sys.prefix) / "share" / "jupyter"),
                                            os.environ.get("JUPYTER_PATH", "")]).rstrip(os.pathsep),
           **(env or {})}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(notebook.parent),
            execution_timeout=timeout_s,
            progress_bar=False,
            **({"kernel_manager_class": km} if (km := _local_kernel_manager()) is not None else {}),
        )
    except PapermillExecutionError as err:
        trace = _ANSI.sub("", "\n".join(err.traceback))
        raise RuntimeError(
            f"{notebook.name}: cell #{err.exec_count} raised {err.ename}: {err.evalue}\n{trace}"
        ) from None
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(config: NotebookRunConfig) -> Path:
    """Run one notebook per ``config``; returns the executed copy's path."""
    notebook = find_notebook(config.name)
    parameters = {"SMOKE": config.smoke, **parse_parameters(config.set)}
    output = Path(config.output_dir) / f"{notebook.stem}{'_smoke' if config.smoke else ''}.ipynb"
    command = os.environ.get("WBVLA_COMMAND") or shlex.join(
        ["wbvla", "notebook", "--name", notebook.stem, *(["--smoke"] if config.smoke else [])]
    )
    execute(notebook, output, parameters, config.timeout_s, env={"WBVLA_COMMAND": command})
    print(f"executed {notebook.name} -> {output}")
    return output
