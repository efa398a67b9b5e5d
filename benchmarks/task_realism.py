"""Realism figures of a task set (default: the shipped held-out set), and the no-model floor.

    python benchmarks/task_realism.py [DATASET_DIR] [--split test]

Prints the shares defined in firefly_eval.generation.realism (questions naming tools or spelling
k = v, answers from errors or the host, formatting facts, tasks whose chain is needed, derived
cards), patterns, multi-server share and mean calls per task.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

from firefly_eval.cards import load_cards
from firefly_eval.dataset_format import load_tasks, row_to_record
from firefly_eval.generation.realism import realism
from firefly_eval.schema import ToolSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset", nargs="?", default=str(resources.files("firefly_eval") / "data" / "heldout"))
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    root = Path(args.dataset)
    tasks = load_tasks(root, split=args.split)
    calls = [row_to_record(r) for f in sorted((root / "calls").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    tools = [ToolSpec.model_validate_json(x) for x in (root / "tools.jsonl").read_text().splitlines() if x.strip()]
    print(json.dumps(realism(tasks, calls, tools, load_cards()), indent=2))


if __name__ == "__main__":
    main()
