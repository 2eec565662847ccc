"""Import Lightning even where torchvision cannot load its compiled ops.

PyPI ships only CUDA builds of torchvision; next to a CPU build of torch its ``_C`` extension does
not load and ``import torchvision`` fails in ``_meta_registrations`` ("operator torchvision::nms
does not exist"). torchmetrics (imported by Lightning) imports torchvision whenever it is
installed, so Lightning would fail too. The LAMs use nothing from torchvision: declaring the two
op schemas torchvision registers fakes for lets its pure-Python part import, and Lightning with it.
"""

from __future__ import annotations

import sys

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


def import_lightning():
    """``import lightning`` (works around a torchvision build that does not match torch)."""
    if "lightning" not in sys.modules and not _torchvision_importable():
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
    import lightning

    return lightning
