"""Every committed figure under ``figures/`` shows something: not one colour, enough contrast, and
coloured marks (every figure draws data in colour; ``09_lmo_trials.png`` once held three empty grey
axes with empty legends, and no coloured pixel at all)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wbvla.paths import REPO_ROOT

FIGURES = sorted((REPO_ROOT / "figures").glob("*.png"))  # the committed ones; figures/smoke/ is git-ignored
MIN_STD = 10.0
"""Pixel standard deviation (0-255 scale) below which an image is close to one flat colour."""
MIN_COLOURED = 0.003
"""Share of pixels that must be clearly coloured (saturated, not dark): data drawn in colour."""


def blank_reasons(path) -> list[str]:
    """Why an image would not be readable at a glance (empty list: it shows something)."""
    rgb = Image.open(path).convert("RGB")
    pixels = np.asarray(rgb, dtype=np.float64)
    hsv = np.asarray(rgb.convert("HSV"))
    reasons = []
    if np.ptp(pixels.reshape(-1, 3), axis=0).max() == 0:
        reasons.append("a single colour")
    if pixels.std() < MIN_STD:
        reasons.append(f"pixel std {pixels.std():.1f} < {MIN_STD}")
    coloured = float(((hsv[..., 1] > 80) & (hsv[..., 2] > 40)).mean())
    if coloured < MIN_COLOURED:
        reasons.append(f"{coloured:.4f} of the pixels coloured (< {MIN_COLOURED}): no data drawn")
    return reasons


def test_there_are_committed_figures():
    assert len(FIGURES) >= 10, f"expected the notebooks' figures under {REPO_ROOT / 'figures'}"


@pytest.mark.parametrize("path", FIGURES, ids=[p.name for p in FIGURES])
def test_committed_figure_is_not_blank(path):
    assert blank_reasons(path) == [], f"{path.name}: {blank_reasons(path)}"


def test_the_check_catches_empty_axes(tmp_path):
    """Three axes with only a shaded span and empty legends (what 09_lmo_trials.png was) fail; the
    same axes with one line each pass."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for with_data in (False, True):
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.2))
        for ax in axes:
            ax.axvspan(0, 5, color="0.9")
            if with_data:
                ax.plot(np.linspace(0, 5, 50), np.linspace(0, 1, 50) ** 2, label="error")
            ax.legend(*ax.get_legend_handles_labels(), fontsize=7)  # empty without data, as it was
        path = tmp_path / f"fig_{with_data}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        assert (blank_reasons(path) == []) == with_data, blank_reasons(path)
