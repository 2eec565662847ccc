"""The ``wbvla`` command line: one subcommand per job, each over a typed config dataclass.

The same dataclasses drive the notebooks and ``deploy/``. Subcommands import their heavy
dependencies lazily, so ``wbvla --help`` is fast.

Add a job by writing a function ``name(config: SomeConfig) -> None`` below and listing it in
:data:`COMMANDS`.
"""

from __future__ import annotations

import os
import shlex
import sys

import tyro

from wbvla.data.corpus_config import CorpusConfig
from wbvla.notebook_runner import NotebookRunConfig
from wbvla.quickstart_config import QuickstartConfig


def quickstart(config: QuickstartConfig) -> None:
    """Build a scene, render the X2's head camera, run a short physics rollout, write a report."""
    from wbvla.quickstart import run

    run(config)


def notebook(config: NotebookRunConfig) -> None:
    """Execute a numbered notebook headlessly (papermill) and record the command in its metrics."""
    from wbvla.notebook_runner import run_notebook

    run_notebook(config)


def lam_data(config: CorpusConfig) -> None:
    """Generate the Stage I video corpora (locomotion human/robot, manipulation) for the LAMs."""
    from wbvla.data.corpus import generate_corpus

    df = generate_corpus(config)
    print(f"{config.path}: {df.clip_id.nunique()} clips, {len(df)} frames")


COMMANDS = {
    "quickstart": quickstart,
    "notebook": notebook,
    "lam-data": lam_data,
}


def main() -> None:
    os.environ.setdefault("WBVLA_COMMAND", shlex.join(["wbvla", *sys.argv[1:]]))
    tyro.extras.subcommand_cli_from_dict(COMMANDS, config=(tyro.conf.OmitArgPrefixes,))


if __name__ == "__main__":
    main()
