"""Graph build over the Smithery catalog at 1k/3k/6k tools: time, RSS, pairs, edges, judge load."""

import resource
import sys
import time
from pathlib import Path

from firefly_eval.generation.catalog import load_catalog
from firefly_eval.generation.graph import GraphConfig, build_graph

args = [a for a in sys.argv[1:] if not a.startswith("--")]
path = Path(args[0] if args else Path(__file__).resolve().parents[2] / "shared/data/smithery_catalog.jsonl.gz")
tools = load_catalog(path)
print(f"{'tools':>6} {'seconds':>8} {'pairs considered':>17} {'share of n^2':>12} {'edges':>7} {'to judge':>9} {'judge/tool':>10}")
embed = "--embed" in sys.argv
for n in (1000, 3000, len(tools)):
    sub = tools[:n]
    t0 = time.perf_counter()
    g = build_graph(sub, GraphConfig(embed=embed))  # no embedding cache: the cold cost is measured
    dt = time.perf_counter() - t0
    s = g.stats
    print(f"{n:>6} {dt:>8.2f} {s['pairs_considered']:>17} {s['pairs_considered'] / s['pairs_all']:>12.4%} "
          f"{s['edges']:>7} {s['uncertain']:>9} {s['uncertain_per_tool']:>10}")
print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; embedding scorer "
      f"{'included (MiniLM, cold: no cache)' if embed else 'off (run with --embed)'}")
