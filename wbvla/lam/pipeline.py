"""The Stage I recipe the notebooks share: one corpus, three LAMs trained with the same settings.

Notebooks 02 (pretraining), 03 (RRG) and 04 (retrieval) build the same :class:`StageIPlan`, so
whichever runs first generates the corpus and trains the LAMs and the others find them done
(generation skips complete clips, training resumes or returns at once from ``last.ckpt``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wbvla.data.corpus_config import CorpusConfig
from wbvla.lam.config import VARIANTS, LAMConfig, LAMTrainConfig
from wbvla.paths import shipped_vision_tower


@dataclass
class StageIPlan:
    """The corpus and the training config of each LAM variant."""

    corpus: CorpusConfig
    train: dict[str, LAMTrainConfig]

    def figure_name(self, name: str) -> str:
        """``name`` for the pixel-space LAMs (the default); ``name`` + the feature space's runs tag
        (e.g. ``03_rrg_tower_pool2``) otherwise, so both sets of figures can be committed side by side."""
        return name + self.train["loco"].model.runs_tag()


def lam_model(feature_space: str = "pixel", tower_path: str | None = None, tower_pool: int = 2) -> LAMConfig:
    """The LAM architecture of the notebooks' ``FEATURE_SPACE`` / ``TOWER_PATH`` / ``TOWER_POOL``
    parameters: the default :class:`LAMConfig` in pixel space, else the same model on the frozen
    pretrained tower's features (``tower``, pooled ``tower_pool`` x ``tower_pool``; ``tower_path`` None:
    the shipped tower, :func:`wbvla.paths.shipped_vision_tower`) or DINOv2's."""
    if feature_space == "pixel":
        return LAMConfig()
    if feature_space == "tower":
        path = str(shipped_vision_tower()) if tower_path is None else tower_path
        return LAMConfig(feature_space="tower", tower_path=path, tower_pool=tower_pool)
    return LAMConfig(feature_space=feature_space, dinov2_path=tower_path)


def stage1_plan(smoke: bool, seed: int = 0, device: str = "auto", workers: int = 1, max_steps: int | None = None,
                batch_size: int | None = None, model: LAMConfig | None = None, progress: bool = True,
                threads: int | None = 1) -> StageIPlan:
    """SMOKE: the seconds-sized corpus and 20 steps per LAM; otherwise the tutorial corpus and
    1500 steps of 32 pairs per LAM (about 10 min each on a 2-core CPU). ``threads`` sets torch's
    CPU threads for training (1 is much faster than 2 when another job shares the two cores)."""
    size = "smoke" if smoke else "tutorial"
    corpus = CorpusConfig(size=size, workers=workers)
    base = LAMTrainConfig(corpus_size=size, seed=seed, device=device, progress=progress, threads=threads,
                          model=model or LAMConfig(),
                          max_steps=max_steps or (20 if smoke else 1500),
                          batch_size=batch_size or (16 if smoke else 32),
                          val_every_n_steps=10 if smoke else 250, val_pairs=32 if smoke else 256,
                          warmup_steps=5 if smoke else 100)
    return StageIPlan(corpus, {v: replace(base, variant=v) for v in VARIANTS})


def ensure_corpus(plan: StageIPlan, progress: bool = True):
    """Generate whatever is missing of the plan's corpus; returns the index."""
    from wbvla.data.corpus import generate_corpus  # lazy: MuJoCo, pandas

    return generate_corpus(plan.corpus, progress=progress)


def ensure_lams(plan: StageIPlan, variants=VARIANTS) -> dict:
    """Train (or resume, or find finished) each variant; returns ``{variant: TrainResult}``."""
    from wbvla.lam.train import train_lam  # lazy: torch, Lightning, transformers

    return {v: train_lam(plan.train[v]) for v in variants}
