"""Re-run a finished Stage III run's recipe with one config field changed: the A/B of one switch.

    python tools/stage3_ab.py <Stage III run> flag_class_balance 0.5
    python tools/stage3_ab.py <Stage III run> aux_localization_weight 1.0

The run's ``train_config.json`` (the same data, extra roots, initial policy, steps and seed) is loaded,
only ``FIELD`` is replaced, and the new run goes to ``<run>_<field><value>`` beside it (resumable); its
``policy/`` is then run beside the original on the same suite seeds (``wbvla suite --extra-policies``).
Numeric fields of :class:`wbvla.vla.config.FinetuneConfig` only; its validation names a bad value.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wbvla.vla.config import FinetuneConfig, finetune_config_from_dict  # noqa: E402


def ab_config(run: Path, field: str, value: float) -> FinetuneConfig:
    """``run``'s recipe with ``field = value``, writing to ``<run>_<field><value>``."""
    config_file = Path(run) / "train_config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: pass a Stage III run folder (vla_runs/.../finetune/<name>)")
    numeric = {f.name for f in dataclasses.fields(FinetuneConfig) if f.type in ("float", "int", float, int)}
    if field not in numeric:
        raise ValueError(f"{field!r} is not a numeric FinetuneConfig field (one of: {', '.join(sorted(numeric))})")
    base = finetune_config_from_dict(json.loads(config_file.read_text()))
    cast = type(getattr(base, field))
    out = Path(run).parent / f"{Path(run).name}_{field}{value:g}"
    return dataclasses.replace(base, **{field: cast(value)}, output_dir=out, export_dir=None, resume=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a finished Stage III run folder (its train_config.json)")
    p.add_argument("field", help="a numeric FinetuneConfig field, e.g. flag_class_balance")
    p.add_argument("value", type=float)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy 2-core machine)")
    a = p.parse_args(argv)
    import torch

    from wbvla.vla.finetune import finetune  # lazy: torch, Lightning, transformers

    torch.set_num_threads(a.threads)
    config = dataclasses.replace(ab_config(a.run, a.field, a.value), threads=a.threads)
    result = finetune(config)
    print(f"{result.policy_dir} ({result.train_frames} frames, {result.fit.steps} steps)")


if __name__ == "__main__":
    main()
