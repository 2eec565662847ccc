"""``wbvla CMD --help`` stays readable: a command with many options gets a short help (its own options
with their help, deeper groups as one line each), ``--help-all`` is tyro's full help."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from wbvla.cli import BRIEF_HELP_ABOVE, COMMANDS, brief_help


def _help(*args: str) -> str:
    env = os.environ | {"COLUMNS": "80"}  # one column of tyro's boxes
    done = subprocess.run([sys.executable, "-m", "wbvla.cli", *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_lmo_train_help_is_short_and_names_only_real_options():
    brief, full = _help("lmo-train-mjlab", "--help"), _help("lmo-train-mjlab", "--help-all")
    assert len(brief.splitlines()) <= 100 < 300 < len(full.splitlines())
    total = re.search(r"all (\d+), each with its help", brief)
    assert "wbvla lmo-train-mjlab --help-all" in brief and total and int(total.group(1)) > 90
    named = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", brief)) - {"--help-all"}
    accepted = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", full))
    # every option is named once (+ the --no- forms of two flags shown in full), and exists in the full help
    assert len(named) == int(total.group(1)) + 2 and named <= accepted
    assert "--iterations INT" in brief and "(default: 100)" in brief  # the command's own options in full
    assert "task.domain_rand (20):" in brief and "--imu-lag" in brief  # a deeper group: one line + its names


def test_small_commands_keep_tyros_help():
    assert brief_help("notebook", _config("notebook")) is None
    assert brief_help("lerobot-validate", _config("lerobot-validate")) is None  # a positional argument: tyro's help
    assert BRIEF_HELP_ABOVE >= 40


def _config(name: str) -> type:
    import typing

    return typing.get_type_hints(COMMANDS[name])["config"]


def test_lmo_train_engine_picks_the_trainer():
    from wbvla.cli import COMMANDS, engine_args

    assert engine_args(["lmo-train", "--minutes", "5"]) == ["lmo-train", "--minutes", "5"]  # cpu is the default
    assert engine_args(["lmo-train", "--engine", "cpu", "--minutes", "5"]) == ["lmo-train", "--minutes", "5"]
    assert engine_args(["lmo-train", "--engine=mjlab", "--iterations", "3"]) == ["lmo-train-mjlab", "--iterations", "3"]
    assert engine_args(["lmo-eval", "--engine", "x"]) == ["lmo-eval", "--engine", "x"]  # other commands untouched
    assert {"lmo-train", "lmo-train-mjlab"} <= set(COMMANDS)
    with pytest.raises(SystemExit, match="cpu or mjlab"):
        engine_args(["lmo-train", "--engine", "gpu"])
