"""Atomic file writes: nothing half-written is ever left where a reader (or a resume) looks.

Every checkpoint, dataset shard, figure, model card and metrics file in wbvla goes through
:func:`atomic_path`: the writer fills a temporary file next to the target (same suffix, so tools
that infer the format from it still work), which is renamed over the target only when writing
succeeded; on failure the temporary file is removed and the old target is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (with a trailing newline) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=str) + "\n")


def replace_folder(tmp: str | Path, dest: str | Path) -> Path:
    """Put a finished folder ``tmp`` (written next to ``dest``) in ``dest``'s place by renames: the old
    ``dest`` moves aside first and is removed only after the new one is in place."""
    tmp, dest = Path(tmp), Path(dest)
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest
