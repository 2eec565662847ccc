"""The VLA variants the closed-loop task suite compares (Table 2, Table 6 and Fig. 3 analogs), and
one function that builds (trains or finds) or loads each of them.

    policy = build_variant("wholebodyvla")                          # Table 2, our method
    policy = build_variant("shared_lam")                            # an ablation row
    policy = build_variant("wholebodyvla", human_video_fraction=0.25, max_demos_per_task=10)  # Fig. 3
    policy = load_shipped_policy()                                  # data/vla/tutorial, no training

Every run is resumable and cached under ``cache_dir()/vla_runs/<corpus size>/``, named by its
switches, so calling ``build_variant`` again returns at once. Stage II runs are shared between
variants that differ only in Stage III (``velocity_rl``, ``no_state`` reuse ``wholebodyvla``'s).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from wbvla.io import replace_folder, write_json_atomic
from wbvla.paths import data_dir, portable_path
from wbvla.validation import one_of
from wbvla.vla.config import FinetuneConfig, PretrainConfig

VARIANTS: dict[str, dict] = {
    "wholebodyvla": {"lam_variant": "mani_loco"},
    "no_lam": {"lam_variant": "none"},
    "mani_lam": {"lam_variant": "mani"},
    "shared_lam": {"lam_variant": "shared"},
    "velocity_rl": {"lam_variant": "mani_loco", "command_kind": "velocity"},
    "no_state": {"lam_variant": "mani_loco", "use_state": False},
}
"""Table 2 rows (WholeBodyVLA; w/o LAM; w/ manipulation LAM; w/ shared LAM; w/ velocity-based RL,
whose decoder regresses [v_x, v_y, w_z, h*]) and Table 6's w/o state."""

SHIPPED_POLICY = "vla/tutorial"
"""The trained tutorial policy under ``data/`` (the ``wholebodyvla`` variant, tiny backbone)."""


def variant_of_policy(meta: dict) -> str:
    """The :data:`VARIANTS` name of a trained policy from its ``policy.json`` switches."""
    if meta.get("command_kind") == "velocity":
        return "velocity_rl"
    if not meta.get("use_state", True):
        return "no_state"
    return {"none": "no_lam", "mani": "mani_lam", "shared": "shared_lam"}.get(meta.get("lam_variant"), "wholebodyvla")


def variant_config(name: str, base: FinetuneConfig | None = None, human_video_fraction: float = 1.0,
                   robot_video_fraction: float = 1.0, max_demos_per_task: int | None = None) -> FinetuneConfig:
    """The fine-tuning config (with its Stage II config inside) of variant ``name``.

    ``base`` carries everything the variant does not decide (sizes, steps, backbone, seeds; the
    tutorial defaults when None). The fractions select the Stage II video (Fig. 3: 0, 0.25, 0.5, 1);
    ``max_demos_per_task`` the Stage III demonstrations (10, 25, 50, 100)."""
    one_of("variant", name, VARIANTS)
    base = base or FinetuneConfig()
    v = VARIANTS[name]
    pre: PretrainConfig = replace(base.pretrain, lam_variant=v["lam_variant"], human_video_fraction=human_video_fraction,
                                  robot_video_fraction=robot_video_fraction)
    return replace(base, pretrain=pre, command_kind=v.get("command_kind", "flags"), use_state=v.get("use_state", True),
                   max_demos_per_task=max_demos_per_task, output_dir=None, export_dir=None, pretrain_run=None)


def build_variant(name: str, base: FinetuneConfig | None = None, episodes=None, **switches):
    """Train (or resume, or find finished) variant ``name`` and return it as a loaded
    :class:`~wbvla.vla.policy.VLAPolicy`. ``switches`` go to :func:`variant_config`."""
    from wbvla.vla.finetune import finetune  # lazy: torch, Lightning, transformers
    from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers

    result = finetune(variant_config(name, base, **switches), episodes)
    return VLAPolicy.load(result.policy_dir)


def load_variant(name: str, base: FinetuneConfig | None = None, **switches):
    """Load an already trained variant (no training); raises FileNotFoundError naming the folder."""
    from wbvla.vla.finetune import run_dir_for  # lazy: torch, Lightning, transformers
    from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers

    cfg = variant_config(name, base, **switches)
    return VLAPolicy.load(run_dir_for(cfg) / "policy")


def shipped_policy_dir() -> Path:
    return data_dir() / SHIPPED_POLICY


def load_shipped_policy(threads: int | None = None):
    """The trained tutorial policy shipped with the repository (``data/vla/tutorial``)."""
    from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers

    return VLAPolicy.load(shipped_policy_dir(), threads=threads)


def ship_policy(policy_dir: Path, dest: Path | None = None) -> Path:
    """Copy a trained policy folder to ``data/vla/tutorial`` (replacing what is there, atomically
    by rename) so the quickstart and the task suite run without training."""
    import json
    import shutil

    from wbvla.vla.policy import VLAPolicy, make_adapter_portable  # lazy: torch, transformers

    VLAPolicy.load(policy_dir)  # refuse to ship something that does not load
    dest = Path(dest) if dest is not None else shipped_policy_dir()
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(policy_dir, tmp)
    # folders exported before policy.py made them portable still name this machine's paths
    make_adapter_portable(tmp / "adapter")
    meta = json.loads((tmp / "policy.json").read_text())
    meta["backbone_source"] = portable_path(meta.get("backbone_source", ""))
    write_json_atomic(tmp / "policy.json", meta)
    replace_folder(tmp, dest)
    if dest == shipped_policy_dir():  # the model card names the shipped policy
        from wbvla.vla.card import main as write_card  # lazy: reads the shipped folder just written

        write_card(["--write"])
    return dest
