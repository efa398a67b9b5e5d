"""The same recorded calls against the live default fleet and against the simulator (one run).

Usage: python benchmarks/replay_vs_live.py DATASET_DIR [N] [SEED]
"""

import asyncio
import json
import sys
from pathlib import Path

from firefly_eval.mcp.config import load_fleet
from firefly_eval.simulator.drift import drift_report
from firefly_eval.simulator.records import read_records

records = read_records(Path(sys.argv[1]) / "calls")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
print(json.dumps(asyncio.run(drift_report(records, load_fleet(), n, seed)), indent=1))
