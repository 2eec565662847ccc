"""Where things live: the repository, the figures folder and the cache for generated data."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
"""The checkout (when wbvla is installed from source, which is how this project is used)."""


def cache_dir() -> Path:
    """Generated data (corpora, checkpoints, runs): ``$WBVLA_CACHE`` or ``~/.cache/wbvla``."""
    path = Path(os.environ.get("WBVLA_CACHE", Path.home() / ".cache" / "wbvla")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir(smoke: bool) -> Path:
    """Where notebooks save figures and metrics.

    ``$WBVLA_FIGURES_DIR`` when set (the test harness points it at a temp dir); otherwise the
    repository's ``figures/`` for full runs and ``figures/smoke/`` (git-ignored) for SMOKE runs,
    so a smoke run never overwrites the committed results of a full run.
    """
    override = os.environ.get("WBVLA_FIGURES_DIR")
    path = Path(override) if override else REPO_ROOT / "figures" / ("smoke" if smoke else "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Small data shipped with the repository (``data/``)."""
    return REPO_ROOT / "data"


def shipped_vision_tower() -> Path:
    """The pretrained vision tower shipped with the repository (``data/vla/vision_tower``, written by
    ``wbvla vision-ship``): what ``--vision-tower`` / ``LAMConfig.tower_path`` point at without a
    local pretraining run."""
    return data_dir() / "vla" / "vision_tower"


def portable_path(path: str | Path) -> str:
    """``path`` as a string that means the same on another machine: relative to the repository when
    inside it, ``$WBVLA_CACHE/...`` inside the cache, ``~/...`` inside the home folder; anything
    else (a hub id such as ``HuggingFaceTB/SmolVLM-256M-Instruct``) unchanged. Used for what is
    written into shipped artefacts and metrics JSON, which must not hold one machine's paths."""
    text = str(path)
    if not os.path.isabs(text):
        return text
    p = Path(text).resolve()
    for root, label in ((REPO_ROOT, None), (cache_dir().resolve(), "$WBVLA_CACHE"), (Path.home().resolve(), "~")):
        if p == root or root in p.parents:
            rel = p.relative_to(root).as_posix()
            return rel if label is None else f"{label}/{rel}" if rel != "." else label
    return text


def local_path(text: str | Path) -> Path:
    """Where a :func:`portable_path` string is on this machine: ``$WBVLA_CACHE/...`` in the cache,
    ``~/...`` in the home folder, an absolute path as it is, any other relative path inside the repository."""
    text = str(text)
    head, _, rest = text.partition("/")
    if head == "$WBVLA_CACHE":
        return cache_dir() / rest
    path = Path(text).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def canonical_path(text: str | Path) -> str:
    """A folder a user named (relative to the working folder, absolute, or already a :func:`portable_path`
    string) as its portable string, so that one folder named from the repository root, from ``notebooks/``
    or absolutely is one config value: run folders compare their configs by value before they resume.
    A relative path that does not exist from the working folder is taken as a portable one."""
    path = Path(str(text)).expanduser()
    if not path.is_absolute():
        path = path.resolve() if path.exists() else local_path(text)
    return portable_path(path)
