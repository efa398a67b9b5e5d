"""Precision/recall of the edge scorer on hand-labelled pairs of the default fleet.

Two label sets: ``tests/fixtures/edge_labels.json`` (159 pairs, session 1; its weights were
tuned by hand while looking at it) and ``edge_labels_holdout.json`` (150 pairs labelled blind in
session 2, never tuned on). An edge counts as predicted only if the graph build keeps it, so
pairs that blocking never considers count against recall.

Usage: python benchmarks/graph_quality.py TOOLS.json [--embed]
  TOOLS.json: the default fleet's tool specs: RUN/tools.json from `firefly generate`, or the
  graph file of `firefly graph build --out graph.json` (its "tools" are used).
"""

import json
import sys
from pathlib import Path

from firefly_eval.generation.graph import GraphConfig, build_graph
from firefly_eval.schema import ToolSpec

FIXTURES = Path(__file__).parents[1] / "tests/fixtures"
args = [a for a in sys.argv[1:] if not a.startswith("--")]
raw = json.loads(Path(args[0]).read_text())
tools = [ToolSpec.model_validate(t) for t in (raw["tools"] if isinstance(raw, dict) else raw)]
sets = {name: json.loads((FIXTURES / f).read_text())["pairs"]
        for name, f in (("tuned-on set", "edge_labels.json"), ("held-out set", "edge_labels_holdout.json"))}


def prf(kept: set, labels: list[dict]) -> tuple[float, float, int, int, int]:
    tp = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fp = sum(1 for r in labels if not r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fn = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) not in kept)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp, fp, fn


default_keep = GraphConfig().keep
for embed in ([False, True] if "--embed" in sys.argv else [False]):
    for keep in (0.45, default_keep, 0.65, 0.75):
        g = build_graph(tools, GraphConfig(keep=keep, embed=embed, embed_cache=".firefly/embed-cache"))
        kept = {(tuple(e.src), tuple(e.dst)) for e in g.edges}
        mark = " (default)" if keep == default_keep else ""
        for name, labels in sets.items():
            p, r, tp, fp, fn = prf(kept, labels)
            print(f"{'+embedding ' if embed else ''}keep>={keep:.2f}{mark} {name}: precision {p:.2f} recall {r:.2f} "
                  f"(tp {tp}, fp {fp}, fn {fn}; {len(labels)} pairs) | {g.stats['edges']} edges kept")
