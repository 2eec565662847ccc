"""Figure, metrics and video helpers shared by the notebooks and the CLI."""

from wbvla.viz.report import save_figure, save_metrics
from wbvla.viz.video import save_video, show_video

__all__ = ["save_figure", "save_metrics", "save_video", "show_video"]
