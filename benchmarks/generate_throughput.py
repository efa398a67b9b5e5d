"""Generation throughput on the default offline fleet: verified tasks per minute and dataset figures.

Usage: python benchmarks/generate_throughput.py RUN_DIR [N_PLANS] [SERVERS,comma,separated]
"""

import json
import sys
import time
from pathlib import Path

from firefly_eval.generation.pipeline import GenerateConfig, generate
from firefly_eval.mcp.config import load_fleet

run = Path(sys.argv[1])
n_plans = int(sys.argv[2]) if len(sys.argv) > 2 else 300
specs = load_fleet()
if len(sys.argv) > 3 and sys.argv[3]:
    keep = set(sys.argv[3].split(","))
    specs = [s for s in specs if s.name in keep]
t0 = time.perf_counter()
summary = generate(run, specs, GenerateConfig(n_plans=n_plans))
wall = time.perf_counter() - t0
kept = summary["counts"]["train"] + summary["counts"]["test"]
keys = ("counts", "patterns", "filters", "mean_calls_per_task", "calls_per_task", "multi_server_share",
        "tool_coverage", "servers", "servers_up", "tools", "timing")
print(json.dumps({k: summary.get(k) for k in keys}, indent=1, default=str))
print(f"wall {wall:.0f}s, kept {kept} tasks, {kept / wall * 60:.1f} verified tasks/minute")
