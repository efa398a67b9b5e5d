"""What a sampled plan must hold (one change at most, two answerers, a flow pair), ids of one kind, and the
explorer's retry for the fact a successor takes."""

import asyncio

from firefly_eval.cards import OutputCard, ToolCard
from firefly_eval.generation.explore import explore_plan
from firefly_eval.generation.graph import ToolGraph, same_kind_of_id
from firefly_eval.generation.sampling import card_flows, sample_plans
from firefly_eval.generation.values import ValueBank
from firefly_eval.schema import CallRecord, Plan, ToolEdge, ToolSpec


def _tool(server: str, name: str, *params: str) -> ToolSpec:
    return ToolSpec(server=server, name=name, description=name.replace("_", " "),
                    input_schema={"type": "object", "properties": {p: {"type": "string"} for p in params},
                                  "required": list(params)})


def _card(tool: ToolSpec, *outputs: str, args: list[dict] | None = None) -> ToolCard:
    return ToolCard(server=tool.server, tool=tool.name, goal=tool.description, args=args or [],
                    outputs=[OutputCard(key=o, name=o, ask=f"the {o}") for o in outputs])


def test_an_id_feeds_only_an_id_of_the_same_kind():
    assert same_kind_of_id("order_ids", "order_id")
    assert same_kind_of_id("user_id", "userId")
    assert not same_kind_of_id("user_id", "product_id")
    assert same_kind_of_id("id", "product_id")  # a bare id says nothing against it
    find = _tool("shop", "find_user_id_by_email", "email")
    user = _tool("shop", "get_user_details", "user_id")
    product = _tool("shop", "get_product_details", "product_id")
    cards = {find.key: _card(find, "user_id"), user.key: _card(user, "order_ids"), product.key: _card(product, "name")}
    pairs = card_flows(cards, [find, user, product])
    assert (find.key, user.key) in pairs
    assert (find.key, product.key) not in pairs and (user.key, product.key) not in pairs


def _graph() -> tuple[ToolGraph, dict]:
    """One server: a lister, three readers, three writers, every pair an edge."""
    readers = [_tool("s", f"read_{i}", "path") for i in range(3)]
    writers = [_tool("s", f"write_{i}", "path") for i in range(3)]
    lister = _tool("s", "list_files")
    tools = [lister, *readers, *writers]
    edges = [ToolEdge(src=a.key, dst=b.key, kind="data-flow", confidence=0.9, evidence=["test"])
             for a in tools for b in tools if a is not b and b is not lister]
    guidance = {"changes": {w.key for w in writers}, "answerers": {r.key for r in readers} | {lister.key},
                "prefer": {(lister.key, r.key) for r in readers} | {(lister.key, w.key) for w in writers}}
    return ToolGraph(tools=tools, edges=edges), guidance


def test_plans_hold_one_change_two_answerers_and_a_flow():
    graph, g = _graph()
    plans = sample_plans(graph, 12, seed=1, **g)
    assert plans
    for p in plans[:8]:  # the rules hold while their tries last
        assert sum(k in g["changes"] for k in p.nodes) <= 1
        assert sum(k in g["answerers"] for k in p.nodes) >= 2
        assert any((p.nodes[s], p.nodes[d]) in g["prefer"] for s, d in p.edges)
    loose = sample_plans(graph, 12, seed=1)
    assert any(sum(k in g["changes"] for k in p.nodes) > 1 for p in loose)  # without them, plans of changes


def test_rules_that_cannot_be_met_still_give_n_plans():
    graph, g = _graph()
    g["changes"] = {t.key for t in graph.tools}  # every plan holds a change, none may: drawn without the rules
    plans = sample_plans(graph, 6, seed=2, max_changes=0, **g)
    assert plans and len(plans) == len(sample_plans(graph, 6, seed=2))  # as many as the one-server cap allows


class _Shop:
    """A query tool whose result holds a date only for the query that asks for one."""

    failed: set = set()

    def __init__(self):
        self.tools = {("db", "query"): _tool("db", "query", "sql"), ("cal", "week"): _tool("cal", "week", "date")}
        self.seen: list[dict] = []

    async def call(self, server, tool, args):
        self.seen.append(dict(args))
        text = ('{"answer": "2025-12-26"}' if "MAX" in args.get("sql", "") else
                '{"answer": 3}' if tool == "query" else "52")
        return CallRecord(server=server, tool=tool, arguments=args, is_error=False,
                          result={"content": [{"type": "text", "text": text}], "isError": False})


def test_a_read_only_step_retries_for_the_fact_its_successor_takes():
    fleet = _Shop()
    query, week = fleet.tools[("db", "query")], fleet.tools[("cal", "week")]
    sets = [{"sql": "SELECT COUNT(*) AS answer FROM orders"}, {"sql": "SELECT MAX(order_date) AS answer FROM orders"}]
    cards = {query.key: _card(query, args=sets) .model_copy(update={"outputs": [
        OutputCard(key='text|re:"answer":\\s*"(\\d{4}-\\d{2}-\\d{2})"', name="latest_order_date", ask="the date")]}),
        week.key: _card(week, "week", args=[{"date": "2025-01-01"}])}
    plan = Plan(id="p", nodes=[query.key, week.key], edges=[(0, 1)], pattern="sequence")
    for seed in range(4):  # whichever set the seed tries first, the date query feeds the week
        fleet.seen.clear()
        exp = asyncio.run(explore_plan(plan, fleet, ValueBank({"db": "/sb/db", "cal": "/sb/cal"}), seed=seed,
                                       cards=cards))
        assert "MAX" in exp.steps[0].record.arguments["sql"]
        assert exp.steps[1].record.arguments == {"date": "2025-12-26"}


def test_a_change_without_a_card_is_followed_by_a_read_of_its_server():
    """A user's own server (no cards): a plan holding a change gets a read of the same server after it, so the
    question can ask what the change did; a tool without a card that changes state is no answerer."""
    from firefly_eval.generation.sampling import card_guidance

    lister, reader = _tool("kg", "read_graph"), _tool("kg", "search_nodes", "query")
    create, delete = _tool("kg", "create_entities", "name"), _tool("kg", "delete_entities", "name")
    tools = [lister, reader, create, delete]
    g = card_guidance({}, tools, set())
    assert g["read_after"] == {create.key, delete.key}
    assert g["answerers"] == {lister.key, reader.key}
    edges = [ToolEdge(src=a.key, dst=b.key, kind="data-flow", confidence=0.9, evidence=["test"])
             for a in tools for b in tools if a is not b]
    plans = sample_plans(ToolGraph(tools=tools, edges=edges), 10, seed=3, changes={create.key, delete.key}, **g)
    assert plans
    for p in plans:
        for i, k in enumerate(p.nodes):
            if k in g["read_after"]:
                assert any(n in g["answerers"] for n in p.nodes[i + 1:]), p.nodes
