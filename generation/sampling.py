"""Seeded sub-DAG sampling (fan-out / sequence / fan-in / mixed) over a tool graph."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from firefly_eval.cards import ToolCard
from firefly_eval.generation.graph import ToolGraph, param_concept, same_kind_of_id, tool_outputs
from firefly_eval.mutation import is_mutating
from firefly_eval.schema import Plan, ToolEdge, ToolSpec, content_hash

__all__ = ["PATTERNS", "card_flows", "card_guidance", "coverage", "sample_plans", "satisfiable", "with_openers"]

PATTERNS = ("sequence", "fan-out", "fan-in", "mixed")
Key = tuple[str, str]


def satisfiable(tool: ToolSpec, bound: set[str], can_produce: Callable[[str, dict[str, Any]], bool]) -> bool:
    """Every required parameter is bound by a predecessor or producible by the explorer."""
    props = tool.input_schema.get("properties", {}) or {}
    for name in tool.input_schema.get("required", []) or []:
        if name in bound:
            continue
        if not can_produce(name, props.get(name, {}) if isinstance(props.get(name), dict) else {}):
            return False
    return True


def _default_can_produce(name: str, schema: dict[str, Any]) -> bool:
    typ = schema.get("type")
    if "enum" in schema or "default" in schema or schema.get("examples"):
        return True
    return typ in (None, "string", "number", "integer", "boolean") or (
        typ == "array" and isinstance(schema.get("items"), dict) and schema["items"].get("type") in ("string", "number", "integer")
    )


# what can flow from one server's result into another server's tool: a date, a link, a formula, each
# of its own shape. An id, a name, a text or a number means something only on the server that made it
# ("that user id" of the shop is no key of the notes server), and a path only inside the sandbox of the
# server that listed it; :func:`explore._bind_card_outputs` binds by the same rule.
CROSS_SERVER_SHAPES: dict[str, re.Pattern[str]] = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$"),
    "url": re.compile(r"^[a-z][a-z0-9+.-]*://\S+$"),
    "expression": re.compile(r"^(?=.*[A-Za-z])(?=.*[-+*/^])[\w\s+\-*/^().,]+$"),
}
_HANDLES = frozenset({"table", "path", "id", "entity", "repo"})  # what a listing hands to the next step
_NOT_A_VALUE = re.compile(r"^(is|has|can|was)_|_(days|count|total|valid)$")  # a yes/no or a count named like a date


def flows_between(concept: str | None, src_server: str, dst_server: str, value: Any = None) -> bool:
    """A value of ``concept`` may feed a parameter of that concept on ``dst_server`` (numbers never:
    they bind only by position within one server's workflow); across servers only a date, link or
    formula, and, when ``value`` is given, only one of that shape ("2025-12-26", not "true")."""
    if concept is None or concept == "number":
        return False
    if src_server == dst_server:
        return True
    shape = CROSS_SERVER_SHAPES.get(concept)
    return shape is not None and (value is None or bool(shape.match(str(value).strip())))


def _answer_facts(card: ToolCard | None) -> set[str]:
    """The concepts of a card's answer facts that can feed another tool (no counts, no yes/no)."""
    return set(_answer_fact_names(card))


def _answer_fact_names(card: ToolCard | None) -> dict[str, set[str]]:
    """Concept -> the names of a card's answer facts of that concept (no counts, no yes/no)."""
    if card is None or card.use != "answer" or not card.outputs:
        return {}
    out: dict[str, set[str]] = {}
    for o in card.outputs:
        c = param_concept(o.name, {})
        if c and c != "number" and not _NOT_A_VALUE.search(o.name):
            out.setdefault(c, set()).add(o.name)
    return out


def card_flows(cards: dict[Key, ToolCard], tools: list[ToolSpec]) -> set[tuple[Key, Key]]:
    """Tool pairs (src, dst) where an answer fact of src's card can feed a parameter of dst: the
    same concept (a commit hash into a revision, a path into a path, a date into a date). Numbers
    are left out: across tools they rarely mean the same thing. Plans along these pairs give
    questions that need the chain."""
    produces: dict[Key, dict[str, set[str]]] = {}  # concept -> fact names ({""}: a handle of unknown name)
    for t in tools:
        card = cards.get(t.key)
        if card is not None and card.use == "never":
            continue
        if card is not None and card.use == "answer" and card.outputs:
            produces[t.key] = _answer_fact_names(card)
        else:  # a listing or a tool without a card: the handles its name says it returns ("list tables")
            produces[t.key] = {c: {""} for c in tool_outputs(t) & _HANDLES}
    takes: dict[Key, dict[str, set[str]]] = {}
    for t in tools:
        props = (t.input_schema or {}).get("properties") or {}
        for name, sch in props.items():
            c = param_concept(name, sch if isinstance(sch, dict) else {})
            if c and c != "number":
                takes.setdefault(t.key, {}).setdefault(c, set()).add(name)
    return {(s, d) for s, outs in produces.items() for d, ins in takes.items()
            if d != s and any(_feeds(c, outs[c], ins[c], s[0], d[0]) for c in outs.keys() & ins.keys())}


def _feeds(concept: str, facts: set[str], params: set[str], src_server: str, dst_server: str) -> bool:
    """Facts of ``concept`` named ``facts`` can feed parameters ``params``: :func:`flows_between`, and an
    id only an id of the same kind (a user id is no product id)."""
    kinds = concept != "id" or any(same_kind_of_id(f, p) for f in facts for p in params)
    return kinds and flows_between(concept, src_server, dst_server)


def card_guidance(cards: dict[Key, ToolCard], tools: list[ToolSpec], skip: set[Key]) -> dict[str, Any]:
    """The :func:`sample_plans` options the cards give for a fleet's ``tools`` (``skip``: tools never
    sampled): card-flow pairs to prefer, trivial tools as late starters, each server's opener, and
    the tools whose result can answer (a tool without a card may)."""
    usable = [t for t in tools if t.key not in skip]
    keys = {t.key for t in tools}
    prefer = card_flows(cards, usable)
    return {
        "prefer": prefer,
        # tools whose answer (a fact their card words, not a handle their name suggests) feeds another tool
        "producers": {s for s, _ in prefer if _answer_facts(cards.get(s)) and not cards[s].trivial},
        "late_starters": {k for k, c in cards.items() if c.trivial},
        "openers": {k[0]: k for k, c in cards.items() if c.opens and k in keys},
        # a tool without a card answers when it changes nothing (a "deleted" acknowledgement is no answer)
        "answerers": {t.key for t in usable if ((c := cards.get(t.key)) is None and not _changes(t))
                      or (c is not None and c.use == "answer" and not c.trivial and c.outputs)},
        # a change without a card is followed by a read of its server: what the change did is what is asked
        "read_after": {t.key for t in usable if t.key not in cards and _changes(t)},
    }


def _changes(tool: ToolSpec) -> bool:
    """The tool changes its server's state (by its name and annotations: :func:`mutation.is_mutating`)."""
    return is_mutating(tool.name, {}, tool.annotations)


def with_openers(nodes: list[Key], edges: list[tuple[int, int]], openers: dict[str, Key]
                 ) -> tuple[list[Key], list[tuple[int, int]]]:
    """Put each server's opener (``openers[server]``) first, with an edge to that server's first
    node, unless the plan already has it: "open the deck, then add a slide" rather than a call on
    nothing open."""
    for server in sorted({n[0] for n in nodes}):
        op = openers.get(server)
        if op is None or op in nodes:
            continue
        first = next(i for i, n in enumerate(nodes) if n[0] == server)
        nodes = [op, *nodes]
        edges = [(0, first + 1)] + [(s + 1, d + 1) for s, d in edges]
    return nodes, edges


def sample_plans(
    graph: ToolGraph,
    n: int,
    seed: int = 0,
    pattern_mix: dict[str, float] | None = None,
    max_servers: int = 3,
    cross_server_share: float = 0.25,
    max_per_server_share: float = 0.12,
    can_produce: Callable[[str, dict[str, Any]], bool] = _default_can_produce,
    min_confidence: float = 0.55,
    fill_uncovered: bool = True,
    bridges_per_tool: int = 4,
    prefer: set[tuple[Key, Key]] | None = None,
    prefer_share: float = 0.9,
    late_starters: set[Key] | None = None,
    late_start_share: float = 0.8,
    openers: dict[str, Key] | None = None,
    answerers: set[Key] | None = None,
    producers: set[Key] | None = None,
    producer_start_share: float = 0.5,
    changes: set[Key] | None = None,
    max_changes: int = 1,
    min_answerers: int = 2,
    need_flow: bool = True,
    read_after: set[Key] | None = None,
) -> list[Plan]:
    """Sample ``n`` distinct plans deterministically for a seed.

    ``fill_uncovered``: tools no confident edge touches are joined to the plans through their
    coverage edges (``ToolGraph.coverage``: their best-scored partners), so that every tool can
    be explored; without it they are never sampled.
    ``bridges_per_tool``: the relation rule admits pairs of one server only, so cross-server steps
    come from the uncertain band: each tool's best data-flow candidates on other servers (a path
    it returns, a number it computes) may follow it. Exploration then shows whether they work.
    ``prefer``: (src, dst) pairs where a value can flow (:func:`card_flows`); with probability
    ``prefer_share`` a step is drawn among them when the current node has any.
    ``late_starters``: tools that should rather come later in a plan (a calculation needs a figure
    to work on); a plan starting with one is drawn again with probability ``late_start_share``.
    ``openers``: per server, the tool that opens what its other tools work on (a document); a
    plan using that server starts with it (see :func:`with_openers`).
    ``answerers``: tools whose result can answer a question (not a change, not common knowledge);
    a plan without one gets one after its last node (a successor, else a tool of that server), so
    that a question can ask something.
    ``producers``: tools whose card's answer fact feeds another tool along ``prefer`` (a holiday's date
    into a date count, a table name into a schema reader); with probability ``producer_start_share`` a
    plan starts at one, so that the later steps need what it found (the chain a user's request needs).

    What a plan must hold to be kept (measured on 200 default-fleet plans, of which 12 became tasks: none
    of the 112 plans with two or more changes, 2 of the 103 with fewer than two answerers, none of the 30
    without a flow pair): at most ``max_changes`` tools of ``changes`` (calls that change a stateful
    server; an opener does not count), at least ``min_answerers`` of ``answerers``, and, with ``need_flow``
    and ``prefer`` given, one edge along ``prefer``. A plan that misses is drawn again; when the tries run
    out before ``n`` plans, the rules are dropped one at a time for the rest (the flow pair, then the
    answerers, then the changes: at 2,000 default-fleet plans the three rules give ~670 distinct plans, and
    12.8% of those became tasks against 3.9% of the plans drawn without any rule), so a small fleet still
    gets ``n`` plans.
    ``read_after``: changes (tools without a card, on a user's own servers) that a read of the same server
    follows in every plan (one is appended after the change when the plan has none), so that a question can
    ask what the change did: "add a task to request req-1, then how many tasks does it hold".
    """
    rng = random.Random(seed)
    mix = pattern_mix or {"sequence": 0.35, "fan-out": 0.25, "fan-in": 0.2, "mixed": 0.2}
    tools = {t.key: t for t in graph.tools}
    ok_tools = {k for k, t in tools.items() if satisfiable(t, set(), can_produce) or t.input_schema.get("required")}
    succ: dict[Key, list[Key]] = defaultdict(list)
    pred: dict[Key, list[Key]] = defaultdict(list)
    usable = [e for e in graph.edges if e.confidence >= min_confidence] + (graph.coverage if fill_uncovered else [])
    by_src: dict[Key, list[ToolEdge]] = defaultdict(list)
    for e in graph.uncertain:
        if e.kind == "data-flow" and e.src[0] != e.dst[0]:
            by_src[tuple(e.src)].append(e)  # type: ignore[index]
    for k in sorted(by_src):
        usable += sorted(by_src[k], key=lambda e: (-e.confidence, tuple(e.dst)))[:bridges_per_tool]
    for e in usable:
        s, d = tuple(e.src), tuple(e.dst)
        if s in ok_tools and d in ok_tools:
            succ[s].append(d)  # type: ignore[arg-type]
            pred[d].append(s)  # type: ignore[arg-type]
    have = {(s, d) for s in succ for d in succ[s]}
    for s, d in sorted(prefer or ()):  # a value can flow along these: they are edges even where the graph has none
        if s in ok_tools and d in ok_tools and (s, d) not in have:
            succ[s].append(d)
            pred[d].append(s)
    for k in succ:
        succ[k].sort()
    for k in pred:
        pred[k].sort()
    starts = sorted(k for k in succ if len(succ[k]) >= 2) or sorted(succ)
    if fill_uncovered:  # a tool reachable only through its coverage edges may start a plan too
        starts = sorted(set(starts) | {tuple(e.src) for e in graph.coverage if tuple(e.src) in succ})
    if not starts:
        return []
    server_count: Counter[str] = Counter()
    seen: set[tuple] = set()
    plans: list[Plan] = []
    budget = n * 40
    cap = max(2, int(max_per_server_share * n) + 1)

    use: Counter[Key] = Counter()

    def least_used(options: list[Key]) -> Key:
        # coverage-driven: among a few random options, take the least used tool
        cands = rng.sample(options, min(4, len(options)))
        return min(cands, key=lambda k: use[k])

    flows = prefer or set()
    flow_starts = [k for k in sorted(producers or ()) if k in succ]

    def pick(options: list[Key], exclude: set[Key], want_cross: bool, servers: set[str],
             frm: Key | None = None, to: Key | None = None) -> Key | None:
        opts = [o for o in options if o not in exclude]
        if not opts:
            return None
        if flows and (frm or to):
            flowing = [o for o in opts if ((frm, o) if frm else (o, to)) in flows
                       and (o[0] in servers or len(servers) < max_servers)]
            if flowing and rng.random() < prefer_share:
                return least_used(flowing)
        cross = [o for o in opts if o[0] not in servers]
        same = [o for o in opts if o[0] in servers]
        if want_cross and cross and len(servers) < max_servers:
            return least_used(cross)
        pool = same or (cross if len(servers) < max_servers else [])
        return least_used(pool) if pool else None

    def fits(nodes: list[Key], edges: list[tuple[int, int]]) -> bool:
        # the rules, dropped one at a time as their tries run out: the flow pair first, the changes last
        if level < 3 and changes is not None and sum(k in changes for k in nodes) > max_changes:
            return False
        if level < 2 and answerers and sum(k in answerers for k in nodes) < min(min_answerers, len(nodes)):
            return False
        return level >= 1 or not (need_flow and flows and not any((nodes[s], nodes[d]) in flows for s, d in edges))

    level = 0
    while len(plans) < n and (budget > 0 or level < 3):
        if budget <= 0:  # this level's tries are spent: the next drops one more rule
            level, budget = level + 1, n * 40
        budget -= 1
        pattern = rng.choices(list(mix), weights=list(mix.values()))[0]
        want_cross = rng.random() < cross_server_share
        start = least_used(flow_starts if flow_starts and rng.random() < producer_start_share else starts)
        if server_count[start[0]] >= cap:
            continue
        if late_starters and start in late_starters and rng.random() < late_start_share:
            continue
        nodes: list[Key] = [start]
        edges: list[tuple[int, int]] = []
        servers = {start[0]}
        if pattern == "sequence":
            for _ in range(rng.randint(1, 5)):
                nxt = pick(succ.get(nodes[-1], []), set(nodes), want_cross, servers, frm=nodes[-1])
                if nxt is None:
                    break
                edges.append((len(nodes) - 1, len(nodes)))
                nodes.append(nxt)
                servers.add(nxt[0])
        elif pattern == "fan-out":
            for _ in range(rng.randint(2, 4)):
                nxt = pick(succ.get(start, []), set(nodes), want_cross, servers, frm=start)
                if nxt is None:
                    break
                edges.append((0, len(nodes)))
                nodes.append(nxt)
                servers.add(nxt[0])
        elif pattern == "fan-in":
            sink = pick(succ.get(start, []), set(nodes), want_cross, servers, frm=start)
            if sink is None:
                continue
            others = [p for p in pred.get(sink, []) if p != start]
            nodes = [start]
            for _ in range(rng.randint(1, 2)):
                p = pick(others, set(nodes) | {sink}, want_cross, servers, to=sink)
                if p is None:
                    break
                nodes.append(p)
                servers.add(p[0])
            nodes.append(sink)
            servers.add(sink[0])
            edges = [(i, len(nodes) - 1) for i in range(len(nodes) - 1)]
        else:  # mixed: a sequence step, then a fan-out from the second node
            mid = pick(succ.get(start, []), {start}, want_cross, servers, frm=start)
            if mid is None:
                continue
            nodes.append(mid)
            servers.add(mid[0])
            edges.append((0, 1))
            for _ in range(rng.randint(2, 3)):
                nxt = pick(succ.get(mid, []), set(nodes), want_cross, servers, frm=mid)
                if nxt is None:
                    break
                edges.append((1, len(nodes)))
                nodes.append(nxt)
                servers.add(nxt[0])
        if len(nodes) < 2:
            continue
        if answerers and not any(k in answerers for k in nodes):
            tail = nodes[-1]
            opts = [o for o in succ.get(tail, []) if o in answerers and o not in nodes]
            opts = opts or sorted(k for k in answerers if k[0] == tail[0] and k not in nodes)
            if not opts:
                continue
            edges.append((len(nodes) - 1, len(nodes)))
            nodes.append(least_used(opts))
            servers.add(nodes[-1][0])
        if read_after and not _read_after(nodes, edges, read_after, answerers or set(), succ, least_used):
            continue
        if not fits(nodes, edges):
            continue
        # the realised shape decides the label
        if pattern == "fan-out" and len(nodes) < 3 or pattern == "fan-in" and len(nodes) < 3:
            pattern = "sequence"
        if pattern == "mixed" and len(nodes) < 4:
            pattern = "sequence"
        if openers:
            nodes, edges = with_openers(nodes, edges, openers)
        sig = (pattern, tuple(nodes), tuple(edges))
        if sig in seen:
            continue
        seen.add(sig)
        for s in servers:
            server_count[s] += 1
        use.update(nodes)
        plans.append(Plan(id=content_hash([seed, list(nodes), edges]), nodes=nodes, edges=edges, pattern=pattern))
    return plans


def _read_after(nodes: list[Key], edges: list[tuple[int, int]], changes: set[Key], readers: set[Key],
                succ: dict[Key, list[Key]], least_used: Callable[[list[Key]], Key]) -> bool:
    """Append (in place) a read of the same server after each change of ``changes`` that no later read of
    its server follows: a successor of the change in the graph first, else any reader of that server.
    False when a change has no reader to follow it."""
    for i in range(len(nodes)):
        k = nodes[i]
        if k not in changes or any(n[0] == k[0] and n in readers for n in nodes[i + 1:]):
            continue
        opts = [o for o in succ.get(k, []) if o in readers and o[0] == k[0] and o not in nodes]
        opts = opts or sorted(r for r in readers if r[0] == k[0] and r not in nodes)
        if not opts:
            return False
        edges.append((i, len(nodes)))
        nodes.append(least_used(opts))
    return True


def coverage(graph: ToolGraph, plans: list[Plan]) -> dict[str, Any]:
    """How many tools/servers the plans reach, and the pattern histogram."""
    tools = {k for p in plans for k in p.nodes}
    servers = {k[0] for k in tools}
    return {
        "plans": len(plans),
        "tools_reached": len(tools),
        "tools_total": len(graph.tools),
        "servers_reached": len(servers),
        "servers_total": len({t.server for t in graph.tools}),
        "patterns": dict(Counter(p.pattern for p in plans)),
        "multi_server_share": round(sum(len(p.servers) > 1 for p in plans) / max(len(plans), 1), 3),
        "mean_nodes": round(sum(len(p.nodes) for p in plans) / max(len(plans), 1), 2),
    }
