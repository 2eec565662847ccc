"""Export the tower of an unfinished ``wbvla vision-pretrain`` run (its newest checkpoint) to
``<run>/tower_step<N>``, so Stage III can start from it while the pretraining resumes later.

    python tools/vision_tower_snapshot.py ~/.cache/wbvla/vision_pretrain/r100k_96x2
"""

import argparse
import json
from pathlib import Path

from wbvla.vla.vision_pretrain import snapshot_tower

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the pretraining run folder (holds train_config.json and checkpoints/)")
    folder = snapshot_tower(p.parse_args().run)
    print(folder)
    print(json.dumps(json.loads((folder / "snapshot.json").read_text()), indent=1))
