"""``wbvla lmo-bench``'s config: the physics threads of the CPU engine's timed runs are checked, each
gets its own run and ratio name."""

from __future__ import annotations

import pytest

from wbvla.lmo.job_config import BenchmarkConfig


def test_physics_threads_are_checked():
    assert BenchmarkConfig(out=None).physics_threads == (1,)
    assert BenchmarkConfig(physics_threads=[1, 2], out=None).physics_threads == (1, 2)
    for bad in ((), (1, 1), (0,), (1.5,)):
        with pytest.raises(ValueError, match="physics_threads must be distinct ints >= 1"):
            BenchmarkConfig(physics_threads=bad, out=None)


def test_each_thread_count_has_its_run_name():
    from wbvla.lmo.bench import _cpu_run_name  # mjlab: the bench module imports it

    assert _cpu_run_name(1) == "lmo_cpu_engine"  # the name the shipped JSON and notebook 08 read
    assert _cpu_run_name(2) == "lmo_cpu_engine_2threads"
