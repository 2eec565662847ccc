"""Redraw committed figures from their committed metrics JSON, without re-running anything.

    python tools/replot_figures.py                      # every figure below
    python tools/replot_figures.py 10_scaling           # one of them
    python tools/replot_figures.py --source DIR         # read the JSON from DIR instead of figures/

The PNGs are drawn by the same functions the notebooks call (``wbvla.suite.figures``,
``wbvla.lam.retrieval``) from the numbers the notebooks stored, and saved with
``wbvla.viz.save_figure`` without metrics, so the JSON is never rewritten ($WBVLA_FIGURES_DIR
redirects the PNGs, as for the notebooks). A JSON from a SMOKE run is refused.

What each figure needs from its JSON:

* ``10_task_suite``: ``rows`` and ``paper_table2`` of ``10_task_suite.json``;
* ``10_scaling``: ``scaling.curves``, ``scaling.open_loop`` and ``heldout_flag_baseline`` of the same file;
* ``04_latent_retrieval``: the headline numbers and per-code table of ``04_latent_retrieval.json``. The
  example clips of panel (c) need the held-out clips and the LAM, which live only in the data cache,
  so the replot draws panels (a) and (b); the notebook's run draws all three.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from wbvla.data.primitives import LOCO_PRIMITIVES  # noqa: E402
from wbvla.lam.retrieval import retrieval_summary_figure  # noqa: E402
from wbvla.paths import REPO_ROOT  # noqa: E402
from wbvla.suite import figures  # noqa: E402
from wbvla.viz import save_figure  # noqa: E402


def _load(source: Path, name: str) -> dict:
    path = source / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics JSON to redraw from")
    record = json.loads(path.read_text())
    if record.get("smoke"):
        raise ValueError(f"{path} comes from a SMOKE run (plumbing only): not redrawn as a committed figure")
    return record


def task_suite(source: Path):
    """The Table 2 analog from ``10_task_suite.json``."""
    record = _load(source, "10_task_suite")
    return figures.table2_figure(record["rows"], record["paper_table2"])


def scaling(source: Path):
    """The Fig. 3 analog from ``10_task_suite.json`` (as notebook 10 draws it: the always-'stand'
    baseline is the mean of the three axes' held-out accuracies)."""
    record = _load(source, "10_task_suite")
    s, base = record["scaling"], record.get("heldout_flag_baseline")
    flag_baseline = float(np.mean(list(base["always_stand_accuracy"].values()))) if base else None
    return figures.scaling_figure(s["curves"], "", open_loop=s.get("open_loop"), flag_baseline=flag_baseline)


def latent_retrieval(source: Path):
    """The Fig. 8 summary from ``04_latent_retrieval.json`` (panels a and b: no clips in the JSON)."""
    record = _load(source, "04_latent_retrieval")
    return retrieval_summary_figure({record["lam"]: record, "shared": record["shared_lam"]}, primitives=LOCO_PRIMITIVES)


REPLOTS: dict[str, Callable] = {"10_task_suite": task_suite, "10_scaling": scaling, "04_latent_retrieval": latent_retrieval}
"""Figure name -> function drawing it from the JSON folder."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"figures to redraw (default: all of {', '.join(REPLOTS)})")
    parser.add_argument("--source", type=Path, default=REPO_ROOT / "figures", help="folder of the metrics JSON")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in REPLOTS]
    if unknown:
        parser.error(f"no replot for {unknown}; known: {', '.join(REPLOTS)}")
    for name in args.names or list(REPLOTS):
        fig = REPLOTS[name](args.source)
        path = save_figure(name, fig)  # no metrics: the PNG only
        plt.close(fig)
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
