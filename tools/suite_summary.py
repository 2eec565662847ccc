"""Summarize one task-suite run folder into a small JSON that can be committed (the trials stay in the cache).

    python tools/suite_summary.py ~/.cache/wbvla/suite/<run>            # print it
    python tools/suite_summary.py ~/.cache/wbvla/suite/<run> --write    # data/vla/diagnostics/suite_<run>.json

The JSON holds the suite's own aggregation (:func:`wbvla.suite.report.table2`: subgoal successes per
row, backend and task, the average score with its Wilson interval, falls), the failure modes
(:func:`~wbvla.suite.report.failure_summary`), the run's ``config.json`` (rows, seeds, training recipe),
the seeds run and where the summary was made. The policies' model ids are in the table cells. Numbers
quoted in issue notes and the README come from these files, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wbvla.io import write_json_atomic  # noqa: E402
from wbvla.paths import cache_dir  # noqa: E402
from wbvla.suite.report import failure_summary, table2  # noqa: E402
from wbvla.suite.store import ResultStore  # noqa: E402
from wbvla.viz.report import provenance  # noqa: E402


def summarize(run_dir: Path) -> dict:
    run_dir = Path(run_dir).expanduser()
    results = run_dir / "results.jsonl"
    if not results.is_file():
        raise SystemExit(f"{run_dir}: no results.jsonl (not a `wbvla suite` run folder)")
    records = ResultStore(results).records()
    if not records:
        raise SystemExit(f"{results}: no finished trials yet")
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").is_file() else {}
    rows = sorted({r["row"] for r in records})
    backends = tuple(sorted({r["backend"] for r in records}))
    out = {"run": run_dir.name, "trials": len(records), "config": config,
           "table2": table2(records, rows, backends), "failures": failure_summary(records),
           "seeds": sorted({r["seed"] for r in records}), "provenance": provenance()}
    # this machine's cache folder -> $WBVLA_CACHE, so the committed file names no local paths
    return json.loads(json.dumps(out, default=str).replace(str(cache_dir()), "$WBVLA_CACHE"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--write", action="store_true", help="write data/vla/diagnostics/suite_<run>.json")
    args = ap.parse_args(argv)
    summary = summarize(args.run_dir)
    if args.write:
        out = ROOT / "data" / "vla" / "diagnostics" / f"suite_{summary['run']}.json"
        write_json_atomic(out, summary)
        print(f"wrote {out}")
    else:
        print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
