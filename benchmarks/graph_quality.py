"""Precision/recall of the edge scorer on the hand-labelled pairs (tests/fixtures/edge_labels.json).

Needs the default fleet's tool specs: pass a tools JSON (e.g. RUN/tools.json from `firefly generate`).
Usage: python benchmarks/graph_quality.py RUN/tools.json
"""

import json
import sys
from pathlib import Path

from firefly_eval.generation.graph import GraphConfig, build_graph
from firefly_eval.schema import ToolSpec

tools = [ToolSpec.model_validate(t) for t in json.loads(Path(sys.argv[1]).read_text())]
labels = json.loads((Path(__file__).parents[1] / "tests/fixtures/edge_labels.json").read_text())["pairs"]
for embed, keep in [(False, 0.45), (False, 0.55), (False, 0.65), (False, 0.75), (True, 0.55), (True, 0.65)]:
    g = build_graph(tools, GraphConfig(keep=keep, embed=embed, embed_cache=".firefly/embed-cache"))
    kept = {(tuple(e.src), tuple(e.dst)) for e in g.edges}
    tp = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fp = sum(1 for r in labels if not r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fn = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) not in kept)
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    mark = " (default)" if keep == GraphConfig().keep and not embed else ""
    print(f"{'+embedding ' if embed else ''}keep>={keep:.2f}{mark}: precision {p:.2f} recall {r:.2f} (tp {tp}, fp {fp}, fn {fn}; {len(labels)} pairs)")
