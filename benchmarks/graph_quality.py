"""Precision/recall of the edge scorer on hand-labelled pairs of the default fleet.

Two label sets: ``tests/fixtures/edge_labels.json`` (159 pairs, session 1; its weights were
tuned by hand while looking at it) and ``edge_labels_holdout.json`` (150 pairs labelled blind in
session 2, never tuned on). An edge counts as predicted only if the graph build keeps it, so
pairs that blocking never considers count against recall.

Usage: python benchmarks/graph_quality.py TOOLS.json [--embed] [--judge MODEL [--judge-scope all]]
  TOOLS.json: the default fleet's tool specs: RUN/tools.json from `firefly generate`, or the
  graph file of `firefly graph build --out graph.json` (its "tools" are used).
  --judge MODEL: any Inspect model rates the labelled pairs among the candidates (verdicts cached
  in .firefly/judge-cache.jsonl) and precision/recall after judging is printed too; scope
  `uncertain` (default) rates the uncertain band only, `all` also the kept edges.
"""

import json
import sys
from pathlib import Path

from firefly_eval.generation.graph import GraphConfig, build_graph
from firefly_eval.schema import ToolSpec

FIXTURES = Path(__file__).parents[1] / "tests/fixtures"
def _opt(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


judge, scope = _opt("--judge"), _opt("--judge-scope") or "uncertain"
args = [a for i, a in enumerate(sys.argv[1:], 1) if not a.startswith("--") and sys.argv[i - 1] not in ("--judge", "--judge-scope")]
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
        if judge and keep == default_keep:
            from firefly_eval.generation.judge import apply_judge

            labelled = {(tuple(r["src"]), tuple(r["dst"])) for labels in sets.values() for r in labels}
            on = [e for e in g.edges if (tuple(e.src), tuple(e.dst)) in labelled]
            band = [e for e in g.uncertain if (tuple(e.src), tuple(e.dst)) in labelled]
            judged, rep = apply_judge(on, band, {t.key: t for t in tools}, judge, budget=10_000,
                                      cache_path=Path(".firefly/judge-cache.jsonl"), scope=scope)
            after = {(tuple(e.src), tuple(e.dst)) for e in judged}
            for name, labels in sets.items():
                p, r, tp, fp, fn = prf(after, labels)
                print(f"  + judge {judge} (scope {scope}) {name}: precision {p:.2f} recall {r:.2f} "
                      f"(tp {tp}, fp {fp}, fn {fn}) | judged {rep.judged}, cached {rep.cached}, "
                      f"malformed {rep.malformed}, verdicts {rep.verdicts}")
