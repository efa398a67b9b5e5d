"""Precision/recall of the graph's edges on hand-labelled pairs of the default fleet.

Four label sets, all by one written rule (``rule`` in each file):
  set 1 ``tests/fixtures/edge_labels.json`` (159 pairs, session 1),
  set 2 ``edge_labels_holdout.json`` (150 pairs, session 2, labelled blind),
  set 3 ``edge_labels_blind3.json`` (99 pairs, session 3, labelled blind before the relation
  rule was written; its errors were then looked at once, see the README's graph section),
  set 4 ``edge_labels_blind4.json`` (96 pairs, session 3, labelled after the rule was frozen).
  With ../shared/data/smithery_catalog.jsonl.gz present it also prints the precision on 50
  edges kept on that catalog, labelled afterwards (``edge_labels_catalog_kept.json``).
An edge counts as predicted only if the graph build keeps it, so pairs that blocking never
considers count against recall. The thresholds show the precision/recall trade-off: each
relation clause has its own confidence (generation/relations.py).

Usage: python benchmarks/graph_quality.py [TOOLS.json] [--embed] [--judge MODEL [--judge-scope all]]
  TOOLS.json: the default fleet's tool specs (RUN/tools.json from `firefly generate`, or the
  graph file of `firefly graph build --out graph.json`); default: the snapshot in
  tests/fixtures/default_fleet_tools.json.gz.
  --judge MODEL: any Inspect model rates the labelled pairs among the candidates (verdicts cached
  in .firefly/judge-cache/graph-quality.jsonl) and precision/recall after judging is printed too; scope
  `uncertain` (default) rates the uncertain band only, `all` also the kept edges.
"""

import gzip
import json
import sys
from pathlib import Path

from firefly_eval.generation.graph import GraphConfig, build_graph
from firefly_eval.schema import ToolSpec

FIXTURES = Path(__file__).parents[1] / "tests/fixtures"


def _opt(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


judge, scope = _opt("--judge"), _opt("--judge-scope") or "uncertain"
args = [a for i, a in enumerate(sys.argv[1:], 1)
        if not a.startswith("--") and sys.argv[i - 1] not in ("--judge", "--judge-scope")]
raw = json.loads(Path(args[0]).read_text() if args else
                 gzip.decompress((FIXTURES / "default_fleet_tools.json.gz").read_bytes()))
tools = [ToolSpec.model_validate(t) for t in (raw["tools"] if isinstance(raw, dict) else raw)]
sets = {name: json.loads((FIXTURES / f).read_text())["pairs"]
        for name, f in (("set 1", "edge_labels.json"), ("set 2", "edge_labels_holdout.json"),
                        ("set 3", "edge_labels_blind3.json"), ("set 4", "edge_labels_blind4.json"))}


def prf(kept: set, labels: list[dict]) -> tuple[float, float, int, int, int]:
    tp = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fp = sum(1 for r in labels if not r["edge"] and (tuple(r["src"]), tuple(r["dst"])) in kept)
    fn = sum(1 for r in labels if r["edge"] and (tuple(r["src"]), tuple(r["dst"])) not in kept)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp, fp, fn


default_keep = GraphConfig().keep
for embed in ([False, True] if "--embed" in sys.argv else [False]):
    # one build: a higher threshold keeps the default graph's edges of that confidence or more
    g = build_graph(tools, GraphConfig(embed=embed, embed_cache=".firefly/embed-cache"))
    for keep in (default_keep, 0.70, 0.76, 0.80):
        kept = {(tuple(e.src), tuple(e.dst)) for e in g.edges if e.confidence >= keep}
        mark = " (default)" if keep == default_keep else ""
        for name, labels in [*sets.items(), ("all sets", [r for labels in sets.values() for r in labels])]:
            p, r, tp, fp, fn = prf(kept, labels)
            print(f"{'+embedding ' if embed else ''}keep>={keep:.2f}{mark} {name}: precision {p:.2f} recall {r:.2f} "
                  f"(tp {tp}, fp {fp}, fn {fn}; {len(labels)} pairs) | {len(kept)} edges kept")
        if judge and keep == default_keep:
            from firefly_eval.generation.edge_judge import apply_judge

            labelled = {(tuple(r["src"]), tuple(r["dst"])) for labels in sets.values() for r in labels}
            on = [e for e in g.edges if (tuple(e.src), tuple(e.dst)) in labelled]
            band = [e for e in g.uncertain if (tuple(e.src), tuple(e.dst)) in labelled]
            judged, rep = apply_judge(on, band, {t.key: t for t in tools}, judge, budget=10_000,
                                      cache_path=Path(".firefly/judge-cache/graph-quality.jsonl"), scope=scope)
            after = {(tuple(e.src), tuple(e.dst)) for e in judged}
            for name, labels in sets.items():
                p, r, tp, fp, fn = prf(after, labels)
                print(f"  + judge {judge} (scope {scope}) {name}: precision {p:.2f} recall {r:.2f} "
                      f"(tp {tp}, fp {fp}, fn {fn}) | judged {rep.judged}, cached {rep.cached}, "
                      f"malformed {rep.malformed}, verdicts {rep.verdicts}")

# precision beyond the default fleet: 50 edges kept on the Smithery catalog, labelled after the fact
catalog = Path(__file__).resolve().parents[2] / "shared/data/smithery_catalog.jsonl.gz"
if catalog.exists():
    from firefly_eval.generation.catalog import load_catalog

    labels = json.loads((FIXTURES / "edge_labels_catalog_kept.json").read_text())["pairs"]
    kept = {(tuple(e.src), tuple(e.dst)) for e in build_graph(load_catalog(catalog), GraphConfig()).edges}
    still = [r for r in labels if (tuple(r["src"]), tuple(r["dst"])) in kept]
    print(f"catalog: precision {sum(r['edge'] for r in still) / max(len(still), 1):.2f} on {len(still)} of "
          f"{len(labels)} labelled kept edges still kept (recall not measurable from kept edges)")
