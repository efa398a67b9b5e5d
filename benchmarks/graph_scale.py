"""Graph build over the Smithery catalog at 1k/3k/6k tools: time, RSS, pairs, edges, judge load.

Usage: python benchmarks/graph_scale.py [CATALOG] [--embed [--minilm]]
  --embed: add the embedding scorer (static model2vec distilled from MiniLM; --minilm: the
  full transformer). The static model's one-time distillation is timed and printed apart.
The last column is a sha256 (first 12 hex digits) of the edges, uncertain band, coverage edges
and stats: a change that should only make the build faster must leave it as it was.
"""

import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from firefly_eval.generation.catalog import load_catalog
from firefly_eval.generation.graph import GraphConfig, ToolGraph, build_graph


def graph_hash(g: ToolGraph) -> str:
    """sha256 of everything build_graph decides (edges in order, band, coverage, stats)."""
    body = {k: [e.model_dump(mode="json") for e in getattr(g, k)] for k in ("edges", "uncertain", "coverage")}
    return hashlib.sha256(json.dumps({**body, "stats": g.stats}, sort_keys=True).encode()).hexdigest()[:12]



args = [a for a in sys.argv[1:] if not a.startswith("--")]
path = Path(args[0] if args else Path(__file__).resolve().parents[2] / "shared/data/smithery_catalog.jsonl.gz")
tools = load_catalog(path)
print(f"{'tools':>6} {'seconds':>8} {'pairs considered':>17} {'share of n^2':>12} {'edges':>7} {'to judge':>9} {'judge/tool':>10} {'graph sha256':>12}")
embed = "--embed" in sys.argv
backend = "minilm" if "--minilm" in sys.argv else "static"
distill_s = 0.0
if embed and backend == "static":
    # a fresh user cache: the one-time distillation of the static model is measured, then reused
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="firefly-bench-")
    from firefly_eval.generation.embed import static_model

    t0 = time.perf_counter()
    static_model(None)
    distill_s = time.perf_counter() - t0
    print(f"one-time distillation of the static model from the packaged MiniLM: {distill_s:.1f} s")
load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
for n in (1000, 3000, len(tools)):
    sub = tools[:n]
    t0 = time.perf_counter()
    # no vector cache: every tool text is embedded, the cold cost is measured
    g = build_graph(sub, GraphConfig(embed=embed, embed_backend=backend))
    dt = time.perf_counter() - t0
    s = g.stats
    print(f"{n:>6} {dt:>8.2f} {s['pairs_considered']:>17} {s['pairs_considered'] / s['pairs_all']:>12.4%} "
          f"{s['edges']:>7} {s['uncertain']:>9} {s['uncertain_per_tool']:>10} {graph_hash(g):>12}")
print(f"load average before/after: {load0} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; embedding scorer "
      f"{f'included ({backend}, no vector cache)' if embed else 'off (run with --embed [--minilm])'}")
if distill_s:
    print(f"cold total at {len(tools)} tools incl. the one-time distillation: {distill_s + dt:.1f} s")
