"""Lightning checkpointing shared by every trainer (LAMs, Stages II and III): atomic writes and a
``last.ckpt`` that exists mid-run, so a killed job resumes where it last validated."""

from __future__ import annotations

from pathlib import Path

import torch

from wbvla.compat import import_lightning
from wbvla.io import atomic_path

L = import_lightning()
from lightning.pytorch.plugins.io import TorchCheckpointIO  # noqa: E402


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints are written to a temp file in the same folder, then renamed over the target."""

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class SaveLast(L.Callback):
    """Write ``last.ckpt`` after every validation and when fit ends.

    Lightning 2.6's ``ModelCheckpoint(save_top_k=0, save_last=True)`` writes ``last.ckpt`` only
    next to a top-k checkpoint, i.e. never until the end of fit: an interrupted run could not
    resume. The trainer's checkpoint IO (atomic, :class:`AtomicCheckpointIO`) writes it.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_validation_end(self, trainer, module):
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            trainer.save_checkpoint(str(self.path), weights_only=False)

    def on_train_end(self, trainer, module):  # weights_only=False: the optimizer and loops too, to resume
        trainer.save_checkpoint(str(self.path), weights_only=False)
