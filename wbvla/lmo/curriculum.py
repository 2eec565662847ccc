"""The learning curriculum as an mjlab curriculum term: Table 5 ranges and Table 4 penalties ramp
in with performance (rules and numbers: :class:`~wbvla.lmo.dr_config.CurriculumConfig`).

Each window of ``update_every_steps`` policy steps counts the falls of all envs; the mean time to
fall per env moves one progress variable p, which sets

* the DR level that every Table 5 draw uses (:func:`wbvla.lmo.events.dr_level` reads it; the
  model fields are rewritten through :class:`~wbvla.lmo.events.ModelRandomization`; the sensor
  lags take it from :attr:`ProprioSensor.level`), and
* the penalty scale that multiplies the Table 4 regularizers in the reward manager (every
  negative weight except :data:`~wbvla.lmo.dr_config.PENALTY_CURRICULUM_EXEMPT`).

Its state is logged every reset as ``Curriculum/learning/<key>`` and saved per training chunk, so
a resumed chunk and Stage II continue where the previous one stopped (:mod:`wbvla.lmo.train`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from mjlab.managers.manager_base import ManagerTermBase

from wbvla.lmo.dr_config import PENALTY_CURRICULUM_EXEMPT, CurriculumConfig
from wbvla.lmo.events import ModelRandomization

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv

MODEL_DR_QUANTUM = 0.05
"""The model fields are rewritten (a set_const recompute) only when the DR level moved this much."""
TERM_NAME = "learning"
"""Name of the term in the env's curriculum (``dr_level`` looks it up by this name)."""


class LearningCurriculum(ManagerTermBase):
    """mjlab class-based curriculum term; ``params={"curriculum": CurriculumConfig}``."""

    def __init__(self, cfg, env: ManagerBasedRlEnv):
        super().__init__(env)
        self.cfg: CurriculumConfig = cfg.params["curriculum"]
        self.progress = self.cfg.start_progress
        rm = env.reward_manager
        self._weights = {i: tc.weight for i, (name, tc) in enumerate(zip(rm._term_names, rm._term_cfgs, strict=True))
                         if tc.weight < 0 and name not in PENALTY_CURRICULUM_EXEMPT}
        self.scaled_terms = tuple(rm._term_names[i] for i in self._weights)
        self._window_start: int | None = None
        self._first_step = 0
        self._falls = 0
        self.mean_time_to_fall_s = math.inf
        self._model_dr = [t.func for t in env.event_manager._mode_term_cfgs.get("startup", [])
                          if isinstance(t.func, ModelRandomization)]
        self._apply()

    @property
    def dr_level(self) -> float:
        return self.cfg.dr_level(self.progress)

    @property
    def penalty_scale(self) -> float:
        return self.cfg.penalty_scale(self.progress)

    def _apply(self) -> None:
        rm = self._env.reward_manager
        for i, w in self._weights.items():
            rm._term_cfgs[i].weight = w * self.penalty_scale
        try:
            self._env.scene["proprio"].level = self.dr_level
        except KeyError:
            pass
        for term in self._model_dr:
            moved = abs(term.applied_level - self.dr_level) if term.applied_level is not None else 0.0
            if moved >= MODEL_DR_QUANTUM or (moved > 0 and self.dr_level in (0.0, 1.0)):
                term.apply(self.dr_level)

    def restart(self, steps: int) -> None:
        """Start counting afresh at policy step ``steps`` (a resumed chunk sets the env's step
        counter after the first resets, which would otherwise count as a fall-free window and
        as watched time)."""
        self._window_start = self._first_step = int(steps)
        self._falls = 0

    def state(self) -> dict[str, float]:
        return {"progress": self.progress, "dr_level": self.dr_level, "penalty_scale": self.penalty_scale,
                "mean_time_to_fall_s": min(self.mean_time_to_fall_s, 1e6)}

    def __call__(self, env: ManagerBasedRlEnv, env_ids: torch.Tensor | slice, curriculum: CurriculumConfig) -> dict:
        del curriculum  # kept in self.cfg
        steps = int(env.common_step_counter)
        if self._window_start is None:
            self._window_start = self._first_step = steps
        terminated = getattr(env, "reset_terminated", None)
        if terminated is not None and steps > self._window_start:
            self._falls += int(terminated[env_ids].sum())
        window = steps - self._window_start
        if window >= self.cfg.update_every_steps:
            env_seconds = env.num_envs * window * env.step_dt
            self.mean_time_to_fall_s = env_seconds / self._falls if self._falls else math.inf
            observed_s = (steps - self._first_step) * env.step_dt
            new = self.cfg.next_progress(self.progress, self.mean_time_to_fall_s, env.max_episode_length_s, steps,
                                         observed_s)
            if new != self.progress:
                self.progress = new
                self._apply()
            self._window_start, self._falls = steps, 0
        return {k: torch.tensor(v) for k, v in self.state().items()}
