"""Import Lightning and transformers' vision models even where torchvision cannot load its ops.

Shared by every component that trains with Lightning or builds transformers models (LAM, VLA).

PyPI ships only CUDA builds of torchvision; next to a CPU build of torch its ``_C`` extension does
not load and ``import torchvision`` fails in ``_meta_registrations`` ("operator torchvision::nms
does not exist"). torchmetrics (imported by Lightning) imports torchvision whenever it is
installed, so Lightning would fail too. rsl-rl-lib lists torchvision as a requirement (so it is
installed), but neither it, mjlab nor wbvla use it: declaring the two
op schemas torchvision registers fakes for lets its pure-Python part import, and Lightning with it.
"""

from __future__ import annotations

import logging
import sys
import warnings

_LIBRARIES: list = []  # torch.library.Library objects must stay alive for their definitions to last


def _torchvision_importable() -> bool:
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        return False
    except ImportError:
        return True  # not installed: torchmetrics will skip it
    return True


def ensure_torchvision_importable() -> None:
    """Make ``import torchvision`` work (pure-Python parts) when its compiled ops cannot load.

    Lightning (through torchmetrics) and transformers' vision models import torchvision whenever
    it is installed; call this before importing them.
    """
    if not _torchvision_importable():
        import torch

        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            try:
                lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            except RuntimeError:
                pass  # already defined
        _LIBRARIES.append(lib)
        import torchvision  # noqa: F401


LIGHTNING_NOTICES = ("💡 Tip: For seamless cloud logging",)
"""Lightning info lines dropped from its ``lightning.pytorch`` log (by their start): the advertisement for
its cloud logger, printed on every fit. Nothing a user of wbvla can act on; everything else Lightning
logs stays."""


class _DropLightningNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(LIGHTNING_NOTICES)


def import_lightning():
    """``import lightning``, after :func:`ensure_torchvision_importable`, with :data:`LIGHTNING_NOTICES` filtered."""
    if "lightning" not in sys.modules:
        ensure_torchvision_importable()
    # Lightning 2.6's own pytree copy builds torch's LeafSpec, deprecated in torch 2.13: a FutureWarning on
    # every fit that nothing in wbvla causes (pyproject.toml filters it the same way for the tests).
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning,
                            module="lightning.pytorch.utilities._pytree")
    import lightning
    import lightning_utilities.core.rank_zero as rank_zero  # its module-level ``log`` is what rank_zero_info writes to

    if not any(isinstance(f, _DropLightningNotices) for f in rank_zero.log.filters):
        rank_zero.log.addFilter(_DropLightningNotices())
    return lightning
