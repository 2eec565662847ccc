"""``wbvla notebook``'s executor: parameters reach the kernel, and a run prints no transport warning."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from wbvla.notebook_runner import execute


@pytest.mark.skipif(os.name != "posix", reason="the IPC transport is POSIX-only")
def test_a_notebook_runs_with_its_parameters_and_no_unencrypted_tcp_warning(tmp_path, capfd):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("X = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(X + 1)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    execute(tmp_path / "tiny.ipynb", tmp_path / "out" / "tiny.ipynb", {"X": 5}, timeout_s=120)
    ran = json.loads((tmp_path / "out" / "tiny.ipynb").read_text())
    assert ["".join(o["text"]) for c in ran["cells"] for o in c.get("outputs", [])] == ["6\n"]
    out, err = capfd.readouterr()
    assert "without encryption" not in out + err  # ipykernel's warning for a TCP kernel without CurveZMQ keys
