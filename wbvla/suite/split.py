"""Split-control diagnostic rows (not in the paper): which half of a learned policy fails?

A learned row fails a trial either because its legs never bring the robot to a stance from which
the task can be done, or because its arms cannot do it from there. The Table 2 analog cannot tell
the two apart when both halves are imperfect, so two diagnostic rows give one half to the scripted
expert and run the same held-out trials:

* ``arms`` -- the learner's arm and gripper targets, the expert's u_t: the expert walks to its own
  stance (1.5-3 cm) and squats; the learner must see that it has arrived and grasp, carry and
  place from there (its latents and decoder as in the full row);
* ``legs`` -- the learner's flags in the expert's locomotion phases, the expert's arms, grippers
  and h*: the expert grasps from wherever the learner stood still for ``accept_still_s`` within
  ``accept_m`` / ``accept_rad`` of the grasp stance (``ScriptedExpert.accept_stance``; its arm IK
  solves for the bar where the robot is), so the row succeeds exactly when the learner's
  walking was good enough for a competent pair of arms.

Both are :class:`~wbvla.control.policy_contract.Policy` objects; the suite runs them as rows labelled
``split:<row>:<part>`` (:data:`SPLIT_PARTS`) on the ideal base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data.teleop_schema import FPS
from wbvla.suite.config import SPLIT_PARTS
from wbvla.suite.dagger import DAggerPolicy, ExpertBesideLearner
from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
from wbvla.validation import positive, require


@dataclass(frozen=True)
class SplitConfig:
    """How the expert takes over the half the learner does not drive."""

    accept_m: float = 0.10
    """``legs``: the expert grasps from a learner's stance within this distance of its own (m) ..."""
    accept_rad: float = 0.15
    """... and this heading error (rad) ..."""
    accept_still_s: float = 1.0
    """... once the learner has stood still (all flags 0) this long (s)."""

    def __post_init__(self) -> None:
        for name in ("accept_m", "accept_rad", "accept_still_s"):
            positive(name, getattr(self, name))


class LearnerArmsPolicy(ExpertBesideLearner):
    """The learner's arms and grippers, the scripted expert's u_t (flags and h*).

    ``gaps`` holds, per tick, (expert phase, mean and max |learner - expert| arm target in rad):
    how far the learner's arms are from where the expert would put them (:func:`arm_gap_by_phase`);
    ``last`` the tick's (expert, learner) outputs (``tools/closed_loop_arms.py`` reads them)."""

    def __init__(self, learner, expert):
        super().__init__(learner, expert)
        self.model_id = f"split-arms({learner.model_id})"
        self.gaps: list[tuple[str, float, float]] = []

    def bind(self, task) -> None:
        super().bind(task)
        self.gaps = []

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        e = self.expert.act(image, instruction, state)
        lrn = self.learner.act(image, instruction, state)
        gap = np.abs(np.asarray(lrn.arm_targets[0], np.float64) - e.arm_targets[0])  # (14,) rad
        self.gaps.append((self.expert.phase, float(gap.mean()), float(gap.max())))
        self.last = (e, lrn)
        return PolicyOutput(lrn.arm_targets, lrn.grippers, e.command, "flags", latents=lrn.latents, dt=lrn.dt,
                            info={"phase": self.expert.phase})


def arm_gap_by_phase(gaps: list[tuple[str, float, float]]) -> dict[str, dict[str, float]]:
    """``LearnerArmsPolicy.gaps`` -> per expert phase, in order of first appearance: ticks, the mean
    of the per-tick mean gaps and the largest per-tick max gap (rad)."""
    out: dict[str, dict[str, float]] = {}
    for phase, mean, peak in gaps:
        d = out.setdefault(phase, {"ticks": 0, "mean_rad": 0.0, "max_rad": 0.0})
        d["ticks"] += 1
        d["mean_rad"] += (mean - d["mean_rad"]) / d["ticks"]
        d["max_rad"] = max(d["max_rad"], peak)
    return out


def split_policy(learner, part: str, config: SplitConfig | None = None, seed: int = 0):
    """The split-control policy in which ``learner`` drives ``part`` (:data:`SPLIT_PARTS`)."""
    require(part in SPLIT_PARTS, f"split part must be one of {SPLIT_PARTS}, got {part!r}")
    config = config or SplitConfig()
    clean = ExpertConfig(noise=ExpertNoiseConfig.off())
    if part == "arms":
        return LearnerArmsPolicy(learner, ScriptedExpert(clean))
    policy = DAggerPolicy(learner, ScriptedExpert(clean, seed=seed), expert_share=0.0, block_ticks=1, seed=seed,
                          accept_stance=(config.accept_m, config.accept_rad, max(1, round(config.accept_still_s * FPS))))
    policy.model_id = f"split-legs({learner.model_id})"
    return policy
