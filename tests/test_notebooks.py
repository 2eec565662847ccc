"""Every numbered notebook runs headlessly through papermill with SMOKE=True.

Figures and metrics go to a temp dir (``WBVLA_FIGURES_DIR``), so the committed full-run results
in ``figures/`` are never touched. A failure shows the failing cell's traceback.
"""

from __future__ import annotations

import os

import pytest

from wbvla.notebook_runner import NOTEBOOK_DIR, execute

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found under {NOTEBOOK_DIR}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_reads_every_parameter(notebook, caplog):
    """papermill parses the ``parameters`` cell line by line (``--help-notebook``, and a warning on every run
    for a line it cannot read: an ``=`` inside a comment is enough); every assigned name must come through."""
    import ast
    import logging

    from papermill.iorw import load_notebook_node
    from papermill.translators import PythonTranslator

    cells = [c for c in load_notebook_node(str(notebook)).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook.name}: {len(cells)} cells tagged parameters"
    assigned = [t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign) for t in node.targets]
    with caplog.at_level(logging.WARNING, logger="papermill.translators"):
        found = [p.name for p in PythonTranslator.inspect(cells[0])]
    assert found == assigned and "Unable to parse" not in caplog.text, caplog.text


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory):
    """One cache for the whole session: notebooks run in order and may reuse what earlier ones
    generated (each must still work alone, generating what it needs)."""
    return tmp_path_factory.mktemp("wbvla_cache")


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_smoke(notebook, tmp_path, smoke_cache):
    env = {
        "WBVLA_FIGURES_DIR": str(tmp_path / "figures"),
        "WBVLA_CACHE": str(smoke_cache),
        "WBVLA_COMMAND": f"pytest tests/test_notebooks.py -k {notebook.stem}",
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
    }
    try:
        execute(notebook, tmp_path / notebook.name, {"SMOKE": True}, timeout_s=900, env=env)
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    written = list((tmp_path / "figures").glob(f"{notebook.stem[:2]}_*.json"))
    assert written, f"{notebook.name} saved no metrics JSON through wbvla.viz.save_metrics/save_figure"
