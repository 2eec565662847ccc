"""A resumable result store: one JSON line per finished trial, appended atomically.

``results.jsonl`` in a suite run folder holds one record per trial unit, keyed by
``record["key"]`` (see :meth:`wbvla.suite.trials.TrialUnit.key`). A rerun reads the keys already
there and schedules only the rest, so a suite interrupted at any point loses at most the trials
that were running.

Appends are atomic for readers: each record is one ``os.write`` of one line on an ``O_APPEND``
descriptor under an exclusive ``flock`` (two suite processes on the same folder do not interleave).
A line cut by a crash (no trailing newline) is dropped, and cut off the file, when the store is
opened again; a line that is not valid JSON is reported with its line number.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path


class ResultStore:
    """Append-only JSON-lines file of trial records (see the module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()

    def _repair(self) -> None:
        """Cut a trailing partial line (an interrupted append) so the next append starts clean."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
            fcntl.flock(f, fcntl.LOCK_UN)

    def append(self, record: dict) -> None:
        """Write ``record`` (must have a ``key``) as one line, atomically."""
        if "key" not in record:
            raise ValueError(f"a record needs a 'key' field; got keys {sorted(record)}")
        line = (json.dumps(_finite(record), default=_jsonable, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = os.write(fd, line)
            if written != len(line):  # cannot happen for regular files short of a full disk
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __iter__(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.endswith("\n"):
                    return  # being written or cut by a crash
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{self.path}:{i}: not a JSON record ({err})") from err

    def records(self) -> list[dict]:
        """All records; for a key written twice the last one wins."""
        return list({r["key"]: r for r in self}.values())

    def keys(self) -> set[str]:
        return {r["key"] for r in self}

    def __len__(self) -> int:
        return len(self.keys())


def _finite(value):
    """NaN / inf -> None (JSON has neither), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return _finite(value.item())
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
