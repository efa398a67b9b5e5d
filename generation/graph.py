"""The tool graph: candidate edges from cheap scorers, an optional LLM judge for the uncertain.

Candidates are *blocked*: a tool is only compared with (a) tools of its own server and
(b) the tools that share a rare token with it (an inverted index with document-frequency
cap), so cost grows near-linearly with the catalog. Every candidate gets *cues*:

* **data-flow** evidence: an output concept of ``src`` (from its output schema fields, or
  the nouns its name/description says it returns: ids, paths, urls, dates, tables...)
  that feeds an input parameter of ``dst`` of the same concept;
* **lexical** similarity of names and descriptions (rapidfuzz token-set), or embedding
  similarity with ``embed``;

and then the **relation rule** (:mod:`.relations`) decides: a candidate is an edge when one of
its clauses holds (``src`` returns what a ``dst`` parameter names; ``src`` makes or changes an
object ``dst`` then works on; ``dst`` reads the whole that ``src`` changed; a computed value
feeds a calculator), with that clause's measured precision as its confidence. Cues alone are
weak evidence (two tools taking the same workbook path are mostly siblings: ~11% of such
labelled pairs are edges), so candidates no clause admits but whose cue score reaches
``judge_low`` form the *uncertain* band an LLM judge may rate, with confidence
``0.25 x cue``. Cross-server pairs are never admitted by the rule; the sampler takes its
cross-server steps from the band's data-flow candidates.

A tool no kept edge touches would never be explored, so each such tool also gets its two best
scored partners as *coverage* edges (``ToolGraph.coverage``, whatever their confidence). They are
not graph edges - the judge and the precision figures ignore them - but the sampler may use them
(``fill_uncovered``) so that every tool can appear in some plan; exploration then shows whether
the calls work together.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from firefly_eval.generation.relations import action_of, relation, server_vocab, tool_params
from firefly_eval.schema import ToolEdge, ToolSpec

__all__ = ["GRAPH_VERSION", "GraphConfig", "ToolGraph", "build_graph", "load_graph", "param_concept", "plot_stats",
           "save_graph", "tool_outputs"]

GRAPH_VERSION = 2  # 2: edges are the pairs the relation rule admits; cue-only pairs are the uncertain band

# relation clauses whose evidence is a value that flows from src's result into a dst parameter
_FLOW_RULES = {"value", "returns", "schema-query", "then-query"}
# confidence of a pair no relation clause admits, per unit of cue score: of the 182 labelled such
# pairs with a cue score >= 0.40 (four label sets), 20 are edges (11%); 0.25 x cue gives 0.10-0.24
_CUE_ONLY = 0.25

_TOKEN = re.compile(r"[a-z][a-z0-9]+")
_STOP = set("the a an of to and or for in on with by from is are be this that it its as at into your you "
            "can will use used using get set list tool tools given return returns value values specified "
            "specific if not all any one new data name".split())

# concept -> patterns on parameter names / output field names / description words
_CONCEPTS: dict[str, re.Pattern[str]] = {
    "repo": re.compile(r"^(repo|repository|repo_path|repository_path|git_dir)$|(branch|commit|revision|ref|commit_hash|commit_sha)s?$"),
    "path": re.compile(r"(path|file|filename|dir|directory|folder|filepath)s?$"),
    "url": re.compile(r"(url|uri|link|href)s?$"),
    "date": re.compile(r"(date|day|datetime|timestamp|time|start|end|since|until)s?$"),
    "sql": re.compile(r"(sql|query|statement)$"),
    "table": re.compile(r"(table|table_name|tablename|sheet|sheet_name|worksheet)s?$"),
    "id": re.compile(r"(^|_)(id|ids|key|uuid|identifier|sku|code)$"),
    "entity": re.compile(r"(entity|entities|entity_name|node|nodes|relation|relations|observation|observations)$"),
    "expression": re.compile(r"(expression|expr|formula|equation|function)s?$"),
    "number": re.compile(r"(number|value|amount|quantity|count|x|y|a|b|n|num|numbers|values)$"),
    "text": re.compile(r"(text|content|contents|body|message|input|string|document|markdown)s?$"),
    "timezone": re.compile(r"(timezone|tz|zone)s?$"),
    "unit": re.compile(r"(unit|from_unit|to_unit|units)$"),
    "currency": re.compile(r"(currency|currency_code)s?$"),
}
# words in a tool's name/description that say what it returns
_PRODUCES: dict[str, re.Pattern[str]] = {
    "path": re.compile(r"\b(list|search|find|directory|files?|paths?|tree|glob|create)\b"),
    "url": re.compile(r"\b(urls?|links?)\b"),
    "date": re.compile(r"\b(date|time|now|today|calendar|timestamp)\b"),
    "table": re.compile(r"\b(tables?|sheets?|worksheets?|schema)\b"),
    "id": re.compile(r"\b(ids?|identifiers?|keys?|create|list|search)\b"),
    "entity": re.compile(r"\b(entities|graph|nodes?|relations?)\b"),
    "number": re.compile(r"\b(calculat\w*|compute\w*|count|sum|total|convert\w*|number|result|math|mean|average|"
                         r"add|subtract|multiply|divide|power|sqrt|factorial|evaluate|arithmetic|计算|运算)\b|计算|运算"),
    "text": re.compile(r"\b(read|content|text|markdown|convert|document|extract)\b"),
    "sql": re.compile(r"\b(schema|tables?|columns?)\b"),
    "expression": re.compile(r"\b(simplif\w*|expand\w*|symbolic|expression|equation|derivative|integral)\b"),
    "timezone": re.compile(r"\b(timezones?|time zone)\b"),
    "repo": re.compile(r"\b(commits?|branch\w*|log|status|repository)\b"),
}


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    return [t for t in _TOKEN.findall(text.lower().replace("_", " ").replace("-", " ")) if t not in _STOP]


def param_concept(name: str, schema: dict[str, Any] | None = None) -> str | None:
    """Concept of a parameter (path, id, date, ...) from its name and JSON-schema format."""
    schema = schema if isinstance(schema, dict) else {}
    if "type" not in schema:  # an optional parameter: {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        branch = next((b for b in schema.get("anyOf") or schema.get("oneOf") or []
                       if isinstance(b, dict) and b.get("type") not in (None, "null")), None)
        schema = {**branch, **schema} if branch else schema
    fmt = schema.get("format")
    if fmt in ("date", "date-time"):
        return "date"
    if fmt in ("uri", "url"):
        return "url"
    if schema.get("type") == "boolean":
        return None  # a yes/no is no date ("include_today") and no path
    low = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    low = re.sub(r"(?<=.)_(str|string|text)$", "", low)  # date_str is a date
    last = re.split(r"[_\-. ]+", low.strip("_"))[-1] if low.strip("_") else low
    for concept, pat in _CONCEPTS.items():
        # whole name (repo_path, file_path) or its last token (max_count -> count), never a suffix
        # of a word ("reason" is not "n", "operation" is not a number)
        m = pat.search(low)
        at_word = m is not None and "_" in low and (m.start() == 0 or low[m.start() - 1] == "_")
        # ... or its last words (second_sheet_name -> sheet_name), from a word's start
        if pat.fullmatch(low) or pat.fullmatch(last) or (at_word and (pat.search(last) or "_" in m.group(0))):
            if concept == "date" and schema.get("type") in ("integer", "number"):
                return "number"  # "days": a count of days, not a date
            return concept
    if schema.get("type") in ("number", "integer"):
        return "number"
    return None


POSITION_PARAM = re.compile(r"(?i)index|idx|position|pos$|row|col|line|slide|page|paragraph")  # a place in a document
_GENERIC_WORDS = {"number", "count", "value", "total", "result", "of", "the", "num", "n", "new", "first", "last"}


def _name_words(name: str) -> set[str]:
    """The words of a snake/camel-case name, singular, without the generic ones ("number", "count", ...)."""
    low = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return {w.rstrip("s") for w in re.split(r"[_\-. ]+", low) if w} - _GENERIC_WORDS


def same_thing(fact: str, param: str) -> bool:
    """A number named ``fact`` may feed ``param``: their names share a word that says what is counted or
    pointed at ("paragraph_index" into paragraph_index, "row_count" into a row), not only "number"/"count"
    ("the number of comments" is no paragraph index)."""
    return bool(_name_words(fact) & _name_words(param))


_ID_WORDS = {"id", "key", "uuid", "identifier", "code", "handle"}


def same_kind_of_id(fact: str, param: str) -> bool:
    """An id named ``fact`` may feed the id parameter ``param``: they name the same kind of thing ("order_ids"
    into order_id, "user_id" into user_id), or one of them is a bare id. A user id is no product id: the
    "id" concept alone joins any two."""
    a, b = _name_words(fact) - _ID_WORDS, _name_words(param) - _ID_WORDS
    return not a or not b or bool(a & b)


def listed_concept(tool: ToolSpec) -> str | None:
    """The handle a listing tool lists ("table" for list_tables, "entity" for a graph read), by its name."""
    words = set(re.split(r"[_\-\s]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tool.name).lower()))
    if not words & {"list", "tables", "show", "search", "find", "read", "get", "describe"}:
        return None
    for concept, pat in (("table", r"tables?|sheets?|worksheets?"), ("entity", r"graph|nodes?|entities"),
                         ("repo", r"branch(es)?|repos?")):
        if any(re.fullmatch(pat, w) for w in words):
            return concept
    return None


def tool_outputs(tool: ToolSpec, observed_fields: Iterable[str] = ()) -> set[str]:
    """Concepts a tool's result is expected to contain."""
    out: set[str] = set()
    if tool.output_schema and isinstance(tool.output_schema.get("properties"), dict):
        for k, v in tool.output_schema["properties"].items():
            c = param_concept(k, v)
            if c:
                out.add(c)
    for f in observed_fields:
        c = param_concept(f)
        if c:
            out.add(c)
    text = f"{tool.name.replace('_', ' ')} {tool.description[:300]}".lower()
    for concept, pat in _PRODUCES.items():
        if pat.search(text):
            out.add(concept)
    return out


def _inputs(tool: ToolSpec) -> dict[str, str]:
    out = {}
    for k, v in tool_params(tool).items():
        c = param_concept(k, v if isinstance(v, dict) else {})
        if c:
            out[k] = c
    return out


@dataclass
class GraphConfig:
    keep: float = 0.55  # edges: confidence at or above this (the relation clauses have 0.60-0.92)
    judge_low: float = 0.40  # uncertain band: no clause holds but the cue score reaches this
    max_df: float = 0.02  # tokens in more than this share of tools are not used for blocking
    cross_server_k: int = 12  # cross-server candidates per tool
    same_server: bool = True
    embed: bool = False  # add embedding neighbours as candidates and cosine as a feature (extra `embed`)
    embed_backend: str = "static"  # "static" (model2vec distilled from MiniLM) or "minilm" (the transformer)
    embed_k: int = 8
    embed_cache: str | None = None


@dataclass
class ToolGraph:
    tools: list[ToolSpec]
    edges: list[ToolEdge]
    uncertain: list[ToolEdge] = field(default_factory=list)
    coverage: list[ToolEdge] = field(default_factory=list)  # best partners of tools no kept edge touches
    stats: dict[str, Any] = field(default_factory=dict)
    version: int = GRAPH_VERSION

    def successors(self) -> dict[tuple[str, str], list[ToolEdge]]:
        out: dict[tuple[str, str], list[ToolEdge]] = defaultdict(list)
        for e in self.edges:
            out[tuple(e.src)].append(e)  # type: ignore[index]
        return out


_READER = re.compile(r"(^|_)(list|get|search|find|read|describe|show|extract|query|fetch|lookup|parse|status|log|"
                     r"info|calculate|compute|convert|evaluate|eval|solve|analy[sz]e|count|open|view|check|trace)",
                     re.IGNORECASE)
_MUTATOR = re.compile(r"(^|_)(delete|remove|clear|drop|reset|clean|unprotect|protect|toggle|close|format|style|"
                      r"highlight|set|add|insert|merge|push|rebase|cherry)", re.IGNORECASE)


def _verb_flags(tool: ToolSpec) -> tuple[bool, bool]:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tool.name).lower()
    return bool(_READER.search(name)), bool(_MUTATOR.search(name))


_STRONG = frozenset({"path", "url", "id", "table", "entity", "sql", "repo", "date", "expression", "timezone"})


def _score(src: ToolSpec, dst: ToolSpec, outs: set[str], ins: dict[str, str], lex: float,
           dst_handles: set[str] | frozenset[str] = frozenset(),
           src_flags: tuple[bool, bool] | None = None,
           in_concepts: frozenset[str] | None = None) -> tuple[float, list[str], str]:
    """Cue score that ``src -> dst`` is a useful step (the relation rule decides; see module doc).

    Data flow dominates: an output concept of ``src`` matching an input of ``dst``. Lexical
    similarity alone mostly finds *siblings* (add_x / delete_x, And / Or), which are not steps,
    so it only helps when ``src`` reads or computes something; tools that only change state
    (delete, format, toggle, ...) rarely produce what a next call needs. Across servers, a
    ``dst`` handle parameter (``dst_handles``: the Word file every word tool takes) is no flow
    evidence: some path another server returns is not that document. ``src_flags``: ``_verb_flags(src)``
    when the caller has it already (the graph build computes it once per tool).
    """
    evidence = []
    flow_strong = flow_weak = 0.0
    cross = src.server != dst.server
    # ``in_concepts``: the set of ``ins``' concepts (the graph build has it per tool): no shared concept, no loop
    if (in_concepts if in_concepts is not None else set(ins.values())) & outs:
        for param, concept in ins.items():
            if cross and param in dst_handles:
                continue
            if concept in outs:
                evidence.append(f"{src.name} -> {concept} -> {dst.name}.{param}")
                if concept in _STRONG:
                    flow_strong = 1.0
                else:
                    flow_weak = 1.0
    reader, mutator = src_flags if src_flags is not None else _verb_flags(src)
    same = 0.0 if cross else 1.0
    producer = reader or not mutator
    z = (-3.2 + 3.0 * max(flow_strong, 0.5 * flow_weak) + 2.6 * (lex / 100.0) + 0.9 * same
         - 0.8 * float(not producer))
    conf = 1.0 / (1.0 + math.exp(-z))
    kind = "data-flow" if flow_strong or flow_weak else "semantic"
    if not evidence:
        evidence.append(f"lexical {lex:.0f}")
    return conf, evidence, kind


def build_graph(  # noqa: C901 - candidates, scoring and coverage in one pass (to split: issue 16)
    tools: list[ToolSpec], config: GraphConfig | None = None,
    observed_fields: dict[tuple[str, str], list[str]] | None = None,
) -> ToolGraph:
    """Build the tool graph without an LLM (see module docstring)."""
    cfg = config or GraphConfig()
    observed_fields = observed_fields or {}
    n = len(tools)
    texts = [f"{t.name} {t.description[:400]}" for t in tools]
    toks = [sorted(set(_tokens(x))) for x in texts]  # sorted: count ties break alike in every process
    df = Counter(tok for ts in toks for tok in ts)
    max_df = max(3, int(cfg.max_df * n))
    inverted: dict[str, list[int]] = defaultdict(list)
    for i, ts in enumerate(toks):
        for tok in ts:
            if df[tok] <= max_df:
                inverted[tok].append(i)
    servers = [t.server for t in tools]
    by_server: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(servers):
        by_server[s].append(i)
    flags = [_verb_flags(t) for t in tools]  # per tool, not per pair
    heads = [x[:160] for x in texts]
    outs = [tool_outputs(t, observed_fields.get(t.key, ())) for t in tools]
    ins = [_inputs(t) for t in tools]
    in_concepts = [frozenset(d.values()) for d in ins]
    pools: list[list[int]] = []  # per tool, the partners it is scored with (in the order they are scored)
    vocab = server_vocab(tools)
    acts = [action_of(t, vocab[t.server], ins[i]) for i, t in enumerate(tools)]
    computes = [a.kind == "compute" and a.pure for a in acts]
    # inputs index: concept -> tools consuming it (for data-flow blocking across servers)
    consumers: dict[str, list[int]] = defaultdict(list)
    for j, d in enumerate(ins):
        for c in set(d.values()):
            consumers[c].append(j)
    # the consumers of a concept on servers other than one: the same list for every tool of that
    # server, so it is built once per (concept, server) instead of rescanned per tool
    foreign: dict[tuple[str, str], list[int]] = {}

    def foreign_consumers(c: str, server: str) -> list[int]:
        key = (c, server)
        got = foreign.get(key)
        if got is None:
            got = foreign[key] = [j for j in consumers.get(c, ()) if servers[j] != server]
        return got

    neighbours: dict[int, dict[int, float]] = {}
    if cfg.embed:
        from pathlib import Path

        from firefly_eval.generation.embed import embed_texts, top_k_neighbours

        emb = embed_texts([f"{t.name}: {t.description[:200]}" for t in tools],
                          Path(cfg.embed_cache) if cfg.embed_cache else None, backend=cfg.embed_backend)
        nidx, nsim = top_k_neighbours(emb, cfg.embed_k)
        neighbours = {i: {int(j): float(c) for j, c in zip(nidx[i], nsim[i], strict=True)} for i in range(n)}
    considered = 0
    clauses: Counter[str] = Counter()
    edges: list[ToolEdge] = []
    uncertain: list[ToolEdge] = []
    best: dict[int, list[tuple[float, int, int, str, list[str], str]]] = defaultdict(list)
    for i in range(n):
        me = servers[i]
        cand: Counter[int] = Counter()
        for tok in toks[i]:
            posting = inverted.get(tok)
            if posting:
                w = 1.0 / math.log(1 + df[tok])
                for j in posting:
                    if j != i and servers[j] != me:
                        cand[j] = cand.get(j, 0) + w  # get: no Counter.__missing__ call per posting
        pool = {j for j, _ in cand.most_common(cfg.cross_server_k)}
        # data-flow blocking: a few consumers of each strong concept this tool produces
        for c in sorted(outs[i] & {"path", "sql", "table", "id", "entity", "expression", "date", "text", "number"}):
            cons = foreign_consumers(c, me)
            if cons:
                step = max(1, len(cons) // 4)
                pool.update(cons[(i % step)::step][:4])
        if cfg.same_server and len(by_server[me]) <= 60:
            pool.update(j for j in by_server[me] if j != i)
        elif cfg.same_server:
            # big servers (e.g. 171 sympy tools): same-server tools sharing a token only
            same = Counter()
            for tok in toks[i]:
                for j in inverted.get(tok, ()):
                    if j != i and servers[j] == me:
                        same[j] += 1
            pool.update(j for j, _ in same.most_common(cfg.cross_server_k))
            if not same:
                # nothing shared but common words: a few same-server tools taking what this one takes
                mine = set(ins[i].values())
                alike = [j for j in by_server[me] if j != i and mine & set(ins[j].values())]
                step = max(1, len(alike) // 6)
                pool.update(alike[(i % step)::step][:6])
        pool.update(neighbours.get(i, {}))
        pools.append(list(pool))
    # the lexical cue of every pair in one batch over the cores (token_set_ratio is symmetric: once per pair)
    pairs = sorted({(i, j) if i < j else (j, i) for i in range(n) for j in pools[i]})
    scores = process.cpdist([heads[a] for a, _ in pairs], [heads[b] for _, b in pairs], scorer=fuzz.token_set_ratio,
                            dtype=np.float64, workers=-1).tolist() if pairs else []
    lexical = dict(zip(pairs, scores, strict=True))
    for i in range(n):
        me = servers[i]
        near = neighbours.get(i, {})
        for j in pools[i]:
            considered += 1
            lex = lexical[(i, j) if i < j else (j, i)]
            if near:
                lex = max(lex, 100.0 * near.get(j, 0.0))
            cue, evidence, kind = _score(tools[i], tools[j], outs[i], ins[j], lex, vocab[servers[j]].handles, flags[i],
                                         in_concepts[j])
            scorer = "dataflow" if kind == "data-flow" else ("embedding" if near.get(j, 0.0) * 100 >= lex - 1e-6
                                                               and j in near else "lexical")
            # across servers only a computed value can relate two tools (relations.relation): the call is skipped
            rel = relation(tools[i], tools[j], acts[i], acts[j], vocab[servers[j]], outs[i]) \
                if computes[i] or servers[j] == me else None
            if rel is not None:
                conf, scorer = rel.confidence, "relation"
                clauses[rel.rule] += conf >= cfg.keep
                kind = "data-flow" if rel.rule in _FLOW_RULES else "semantic"
                evidence = [f"{rel.rule}: {rel.reason}", *evidence]
            else:
                # the cues alone: ~11% of such labelled pairs are edges, whatever the cue score
                conf = round(_CUE_ONLY * cue, 4)
            for end in (i, j):  # each tool's two best partners, in either direction
                top = best[end]
                if len(top) < 2 or cue > top[-1][0]:
                    top.append((cue, i, j, kind, evidence, scorer))
                    top.sort(key=lambda x: (-x[0], x[1], x[2]))
                    del top[2:]
            if conf < cfg.keep and cue < cfg.judge_low:
                continue
            edge = ToolEdge(src=tools[i].key, dst=tools[j].key, kind=kind, confidence=round(conf, 4),
                            evidence=evidence[:3], scorer=scorer)
            (edges if conf >= cfg.keep else uncertain).append(edge)
    touched = {k for e in edges for k in (e.src, e.dst)}
    coverage: dict[tuple[int, int], ToolEdge] = {}
    for t in sorted(best):
        if tools[t].key in touched:
            continue
        for cue, i, j, kind, evidence, scorer in best[t]:
            coverage[(i, j)] = ToolEdge(src=tools[i].key, dst=tools[j].key, kind=kind, confidence=round(cue, 4),
                                        evidence=evidence[:3], scorer=scorer)
    stats = {"tools": n, "pairs_all": n * (n - 1), "pairs_considered": considered, "edges": len(edges),
             "uncertain": len(uncertain), "uncertain_per_tool": round(len(uncertain) / max(n, 1), 2),
             "tools_without_kept_edge": n - len(touched), "coverage_edges": len(coverage),
             "edges_by_clause": dict(sorted(clauses.items())),
             "uncertain_cross_server": sum(e.src[0] != e.dst[0] for e in uncertain)}
    return ToolGraph(tools=tools, edges=edges, uncertain=uncertain, coverage=list(coverage.values()), stats=stats)


def save_graph(graph: ToolGraph, path: Any) -> None:
    """Write the graph (version, tools, edges, uncertain band, coverage edges, stats) as JSON, atomically.

    The one graph.json writer: ``firefly graph build`` and the run directory of ``firefly generate``
    both write through here, so ``load_graph`` (``firefly graph sample|stats``) reads either.
    """
    import json
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({
        "version": graph.version, "stats": graph.stats,
        "tools": [t.model_dump(mode="json") for t in graph.tools],
        "edges": [e.model_dump(mode="json") for e in graph.edges],
        "uncertain": [e.model_dump(mode="json") for e in graph.uncertain],
        "coverage": [e.model_dump(mode="json") for e in graph.coverage]}))
    os.replace(tmp, path)


def load_graph(path: Any) -> ToolGraph:
    """Read a graph written by ``save_graph`` (other versions are refused: rebuild them)."""
    import json
    from pathlib import Path

    data = json.loads(Path(path).read_text())
    if data.get("version") != GRAPH_VERSION:
        raise ValueError(f"{path}: graph version {data.get('version')} != {GRAPH_VERSION}; rebuild it")
    return ToolGraph(tools=[ToolSpec.model_validate(t) for t in data["tools"]],
                     edges=[ToolEdge.model_validate(e) for e in data["edges"]],
                     uncertain=[ToolEdge.model_validate(e) for e in data.get("uncertain", [])],
                     coverage=[ToolEdge.model_validate(e) for e in data.get("coverage", [])],
                     stats=data.get("stats", {}), version=data["version"])


def plot_stats(graph: ToolGraph, plans: list[Any], path: Any) -> None:
    """PNG with the out-degree distribution, the pattern histogram of sampled plans and the kept
    edges per relation clause."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_deg = Counter(tuple(e.src) for e in graph.edges)
    degrees = [out_deg.get(t.key, 0) for t in graph.tools]
    patterns = Counter(p.pattern for p in plans)
    clauses = graph.stats.get("edges_by_clause") or {}
    fig, axes = plt.subplots(1, 3 if clauses else 2, figsize=(15 if clauses else 10, 4))
    a, b = axes[0], axes[1]
    a.hist(degrees, bins=30, color="#4a7ebb")
    a.set_title(f"out-degree ({len(graph.tools)} tools, {len(graph.edges)} edges)")
    a.set_xlabel("edges kept per tool")
    a.set_ylabel("tools")
    b.bar(list(patterns), list(patterns.values()), color="#e0a030")
    b.set_title(f"patterns of {len(plans)} sampled plans")
    if clauses:
        c = axes[2]
        c.barh(list(clauses), list(clauses.values()), color="#5a9a5a")
        c.set_title("kept edges by relation clause")
        c.set_xlabel("edges")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
