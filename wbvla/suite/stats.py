"""Success rates with confidence: Wilson score intervals and the Table 2 aggregation.

Every rate the suite reports is ``k`` successes out of ``n`` trials with its Wilson 95 % interval
(:func:`wilson_interval`), which, unlike the normal approximation, stays inside [0, 1] and is
sensible at 0/25 and 25/25. A row's **average score** is Table 2's: the mean over the task
subgoals of successes / trials (App. B.3). Its interval treats the pooled subgoal outcomes as
independent trials; they are not (a failed first subgoal fails the second), so that interval is
somewhat too narrow and is labelled ``pooled``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from wbvla.data.teleop_schema import SUBGOALS, TASKS

Z95 = 1.959963984540054
"""Standard normal quantile of 0.975 (two-sided 95 %)."""


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / trials``.

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    Returns ``(lo, hi)``; ``(0.0, 1.0)`` when ``trials`` is 0 (nothing is known).

    Raises:
        ValueError: negative counts, or more successes than trials.
    """
    if not (isinstance(successes, (int, np.integer)) and isinstance(trials, (int, np.integer))):
        raise ValueError(f"successes and trials must be ints, got {successes!r}, {trials!r}")
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    n, p = float(trials), successes / trials
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, trials: int) -> dict:
    """``{"k", "n", "rate", "wilson95"}`` of one proportion (rate None when n = 0)."""
    lo, hi = wilson_interval(successes, trials)
    return {"k": int(successes), "n": int(trials), "rate": successes / trials if trials else None,
            "wilson95": [round(lo, 4), round(hi, 4)]}


def subgoal_names(tasks: Iterable[str] = TASKS) -> list[str]:
    """The Table 2 columns of ``tasks`` in order (task subgoals, first then second)."""
    return [s for t in tasks for s in SUBGOALS[t]]


def aggregate_cell(records: list[dict], tasks: Iterable[str] = TASKS) -> dict:
    """One Table 2 cell (a row on one backend) from its trial records.

    Returns ``subgoals: {name: [successes, trials]}``, ``avg`` (mean of the per-subgoal rates over
    the subgoals that have trials), ``wilson95`` per subgoal, ``avg_wilson95_pooled``, ``falls``
    (count and rate, named as falls), ``completed`` (both subgoals), and the mean execution time
    of each subgoal over its successful trials (Table 8's seconds from the instruction).
    """
    tasks = list(tasks)
    counts = {s: [0, 0] for s in subgoal_names(tasks)}
    times: dict[str, list[float]] = defaultdict(list)
    falls = completed = 0
    for r in records:
        names = SUBGOALS[r["task"]]
        for name, ok, t in zip(names, r["success"], r["subgoal_times"], strict=True):
            counts[name][1] += 1
            counts[name][0] += int(bool(ok))
            if ok and t is not None:
                times[name].append(float(t))
        falls += int(bool(r["fell"]))
        completed += int(all(r["success"]))
    present = [c for c in counts.values() if c[1] > 0]
    avg = float(np.mean([k / n for k, n in present])) if present else None
    pooled_k, pooled_n = sum(k for k, _ in present), sum(n for _, n in present)
    n_trials = len(records)
    return {
        "subgoals": counts,
        "avg": avg,
        "wilson95": {s: list(map(lambda v: round(v, 4), wilson_interval(k, n))) for s, (k, n) in counts.items()},
        "avg_wilson95_pooled": [round(v, 4) for v in wilson_interval(pooled_k, pooled_n)],
        "trials": n_trials,
        "falls": rate(falls, n_trials),
        "completed": rate(completed, n_trials),
        "execution_time_s": {s: (round(float(np.mean(v)), 2) if v else None) for s, v in
                             ((s, times.get(s, [])) for s in counts)},
    }


def gap_in_second_subgoals(full: dict, other: dict) -> dict:
    """How much of the average-score gap between two cells comes from the second subgoals
    (Section 4.4: 91.7 % of the LMO vs velocity-RL gap). Uses success counts per subgoal."""
    names = list(full["subgoals"])
    diff = {s: full["subgoals"][s][0] / max(full["subgoals"][s][1], 1) - other["subgoals"][s][0] / max(other["subgoals"][s][1], 1)
            for s in names}
    total = sum(diff.values())
    second = {t: SUBGOALS[t][1] for t in TASKS}
    second_sum = sum(diff[s] for s in names if s in second.values())
    return {"gap_avg": total / len(names) if names else None, "per_subgoal": diff,
            "share_in_second_subgoals": (second_sum / total) if abs(total) > 1e-12 else None}
