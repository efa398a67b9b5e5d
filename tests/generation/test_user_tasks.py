"""User tasks: error detection, card composition along the DAG, and the checks that can fail."""

import json

import pytest

from firefly_eval.cards import CardError, OutputCard, ToolCard, check_card, load_cards
from firefly_eval.facts import error_reason, fact_value
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.synthesize import SynthesisDrop, synthesize_task
from firefly_eval.generation.verify import answer_problems, name_leaks, self_contained
from firefly_eval.schema import CallRecord, Plan, ToolSpec


def _text(t: str) -> dict:
    return {"content": [{"type": "text", "text": t}]}


@pytest.mark.parametrize("result", [
    {"content": [{"type": "text", "text": "boom"}], "isError": True},
    _text("Invalid paragraph index. Document has 5 paragraphs (0-4)."),
    _text("Unsupported operation: winter"),
    _text("未找到匹配的菜谱"),
    _text('{"ok": false, "error": "User O-5004 not found"}'),
    _text('{"success": true, "data": {"isError": true}, "isError": true}'),
    _text('{"result": "error", "message": "hash mismatch"}'),
    _text("Traceback (most recent call last):\n  File x"),
    _text("No presentation is currently loaded or the specified ID is invalid"),
])
def test_error_texts_are_errors(result):
    assert error_reason(result) is not None


@pytest.mark.parametrize("text", ["38", "x^{3} - x", '{"city": "Porto", "total": 120.5}', "The sum of 102 and 102 is 204.",
                                  "Commit history: Commit: 4267847 Author: Dalia Moreau"])
def test_information_is_not_an_error(text):
    assert error_reason(_text(text)) is None


TOOLS = {
    ("shop", "lookup_order"): ToolSpec(server="shop", name="lookup_order", description="Look up an order.",
                                       input_schema={"type": "object", "properties": {"order_id": {"type": "string"}},
                                                     "required": ["order_id"]}),
    ("shop", "get_customer"): ToolSpec(server="shop", name="get_customer", description="Get a customer.",
                                       input_schema={"type": "object", "properties": {
                                           "customer_id": {"type": "string"},
                                           "fields": {"type": "string", "default": "all"}},
                                           "required": ["customer_id"]}),
}
CARDS = {
    ("shop", "lookup_order"): ToolCard(
        server="shop", tool="lookup_order", goal="look up order {order_id}", inputs={"order_id": "the order"},
        outputs=[OutputCard(key="customer_id", name="customer", ask="the id of the customer who placed it",
                            refer="the customer who placed that order"),
                 OutputCard(key="total", name="order_total", ask="the order's total")]),
    ("shop", "get_customer"): ToolCard(
        server="shop", tool="get_customer", goal="find the city of {customer_id}",
        inputs={"customer_id": "the customer"},
        outputs=[OutputCard(key="city", name="city", ask="that customer's city")]),
}


def _exploration(second_result: dict | None = None, bound: bool = True) -> Exploration:
    plan = Plan(id="p1", nodes=[("shop", "lookup_order"), ("shop", "get_customer")], edges=[(0, 1)],
                pattern="sequence")
    r0 = CallRecord(id="r0", server="shop", tool="lookup_order", arguments={"order_id": "O-5004"},
                    result=_text(json.dumps({"customer_id": "C-203", "total": 120.5})))
    r1 = CallRecord(id="r1", server="shop", tool="get_customer", arguments={"customer_id": "C-203"},
                    result=second_result or _text(json.dumps({"name": "Ada Okafor", "city": "Porto"})))
    steps = [StepResult(0, r0, [r0]), StepResult(1, r1, [r1], bound={"customer_id": 0} if bound else {})]
    return Exploration(plan, steps, [r0, r1])


def test_composed_question_needs_the_chain_and_passes_the_checks():
    exp = _exploration()
    task = synthesize_task(exp, TOOLS, cards=CARDS)
    q = task.question
    assert "O-5004" in q and "C-203" not in q  # stated input; the produced id is referred to by meaning
    assert "the customer who placed that order" in q
    assert "lookup_order" not in q and "customer_id" not in q and "=" not in q and "`" not in q
    assert task.answer["city"] == "Porto"
    calls = {c.id: c for c in exp.calls}
    assert name_leaks(task, TOOLS) == []
    assert self_contained(task, calls, TOOLS, CARDS) == []
    assert answer_problems(task, calls) == []
    # the oracle rebuilds each field from the (replayed) record, never from the stored answer
    src = task.provenance["answer_sources"]["city"]
    assert fact_value(calls[src["call"]], src["key"]) == "Porto"


def test_checks_fail_on_call_scripts_unstated_arguments_and_error_answers():
    exp = _exploration()
    task = synthesize_task(exp, TOOLS, cards=CARDS)
    calls = {c.id: c for c in exp.calls}
    script = task.model_copy(update={"question": "First, use `lookup_order` with order_id = \"O-5004\"."})
    assert name_leaks(script, TOOLS)
    unstated = task.model_copy(update={"question": "Find the city of that customer."})
    assert any("order_id" in p for p in self_contained(unstated, calls, TOOLS, CARDS))
    broken = dict(calls)
    broken["r1"] = calls["r1"].model_copy(update={"result": _text("Error: customer not found")})
    assert any("error" in p for p in answer_problems(task, broken))


@pytest.mark.parametrize("fields,implied", [("all", True), ("contact", False)])
def test_an_argument_every_example_of_the_card_passes_is_stated_by_its_goal(fields, implied):
    """"find the city of ..." is written for fields="all" when every example call passes it; a call with
    fields="contact" is another request the question does not state."""
    exp = _exploration()
    task = synthesize_task(exp, TOOLS, cards=CARDS)
    calls = {c.id: c for c in exp.calls}
    refs = [dict(r) for r in task.reference_arguments]
    refs[1] = {**refs[1], "arguments": {**refs[1]["arguments"], "fields": fields}}
    with_fields = task.model_copy(update={"reference_arguments": refs})
    cards = dict(CARDS)
    cards[("shop", "get_customer")] = CARDS[("shop", "get_customer")].model_copy(update={
        "args": [{"customer_id": "C-1", "fields": "all"}, {"customer_id": "C-2", "fields": "all"}]})
    tools = dict(TOOLS)  # no schema default: only the card can say the value is implied
    spec = TOOLS[("shop", "get_customer")]
    tools[("shop", "get_customer")] = spec.model_copy(update={"input_schema": {
        **spec.input_schema, "properties": {**spec.input_schema["properties"], "fields": {"type": "string"}}}})
    problems = self_contained(with_fields, calls, tools, cards)
    assert (problems == []) is implied, problems
    assert any("fields" in p for p in self_contained(with_fields, calls, tools, CARDS))  # no examples: not implied


def test_a_value_bound_once_keeps_its_reference_where_later_results_repeat_it():
    """The customer id came from the order lookup; the customer record repeats it twice (its own field and
    an echo of the arguments), so it is no particular field there, but the third step still takes it
    from the chain: "... that customer's orders", never the id itself."""
    tools = {**TOOLS, ("shop", "list_orders"): ToolSpec(
        server="shop", name="list_orders", description="List a customer's orders.",
        input_schema={"type": "object", "properties": {"customer_id": {"type": "string"}}, "required": ["customer_id"]})}
    cards = {**CARDS, ("shop", "list_orders"): ToolCard(
        server="shop", tool="list_orders", goal="list the orders of {customer_id}", inputs={"customer_id": "the customer"},
        outputs=[OutputCard(key="count", name="order_count", ask="how many orders that customer has")])}
    exp = _exploration(_text(json.dumps({"customer_id": "C-203", "name": "Ada Okafor", "city": "Porto",
                                         "arguments": {"customer_id": "C-203"}})))
    r2 = CallRecord(id="r2", server="shop", tool="list_orders", arguments={"customer_id": "C-203"},
                    result=_text(json.dumps({"count": 4, "orders": ["O-5004", "O-5010", "O-5011", "O-5020"]})))
    exp = Exploration(exp.plan.model_copy(update={"nodes": [*exp.plan.nodes, ("shop", "list_orders")],
                                                  "edges": [(0, 1), (1, 2)]}),
                      [*exp.steps, StepResult(2, r2, [r2], bound={"customer_id": 1})], [*exp.calls, r2])
    task = synthesize_task(exp, tools, cards=cards)
    assert task.reference_calls == ["r0", "r1", "r2"], task.question
    assert "C-203" not in task.question and task.question.count("the customer who placed that order") == 2
    assert task.answer["order_count"] == 4
    assert self_contained(task, {c.id: c for c in exp.calls}, tools, cards) == []


def test_an_error_step_gives_no_answer():
    with pytest.raises(SynthesisDrop) as drop:
        synthesize_task(_exploration(_text("User C-203 not found")), TOOLS, cards=CARDS)
    assert drop.value.reason == "dropped_trivial"  # only one step succeeded


def test_never_cards_are_not_tasks():
    cards = dict(CARDS)
    cards[("shop", "get_customer")] = CARDS[("shop", "get_customer")].model_copy(update={"use": "never"})
    with pytest.raises(SynthesisDrop) as drop:
        synthesize_task(_exploration(), TOOLS, cards=cards)
    assert drop.value.reason == "dropped_never_tool"


def test_bad_cards_are_named(tmp_path):
    bad = ToolCard(server="shop", tool="get_customer", goal="find {customer} in {city}", args=[{"town": "x"}])
    problems = check_card(bad, TOOLS[("shop", "get_customer")])
    assert any("{customer} names no parameter" in p for p in problems)
    assert any("unknown parameters ['town']" in p for p in problems)
    (tmp_path / "shop.json").write_text(json.dumps({"server": "shop", "tools": {"get_customer": {"goal": 3}}}))
    with pytest.raises(CardError, match=r"shop.json: tools.get_customer.goal"):
        load_cards([tmp_path])


def test_shipped_cards_load_and_name_real_parameters():
    tools = {}
    from firefly_eval.tasks.heldout.dataset import shipped_path

    for line in (shipped_path() / "tools.jsonl").read_text().splitlines():
        t = ToolSpec.model_validate_json(line)
        tools[t.key] = t
    cards = load_cards()
    assert len(cards) > 400
    problems = [p for k, c in cards.items() if k in tools for p in check_card(c, tools[k])]
    assert problems == []


def test_tools_without_cards_answer_from_their_result_fields():
    """A user's own fleet without cards: derived cards take the JSON result's scalar fields as facts."""
    task = synthesize_task(_exploration(), TOOLS, cards={})
    assert task.provenance["cards"] == ["derived"]
    assert task.answer.get("city") == "Porto" or "Porto" in task.answer.values()
    calls = {c.id: c for c in _exploration().calls}
    assert name_leaks(task, TOOLS) == [] and answer_problems(task, calls) == []


@pytest.mark.parametrize(("ask", "name"), [
    ("the date of the most recent order", "latest_order_date"),
    ("the number of orders placed in September 2025", "order_count"),
    ("how many rows of orders.csv go into a new table named orders when you load it", "row_count"),
    ("the sku of the product sold in the largest quantity according to orders.csv", "product_sku"),
    ("the total revenue of all orders in orders.csv", "total_revenue"),
])
def test_a_query_result_is_named_by_what_it_asks(ask, name):
    from firefly_eval.generation.synthesize import name_from_ask

    assert name_from_ask(ask) == name


def _word_task(list_result: str) -> Exploration:
    plan = Plan(id="w1", nodes=[("word", "create_document"), ("word", "list_available_documents")], edges=[(0, 1)],
                pattern="sequence")
    r0 = CallRecord(id="w0", server="word", tool="create_document",
                    arguments={"filename": "/tmp/firefly-world/word/q4-plan.docx", "title": "Q4 plan",
                               "author": "Freya Lindqvist"},
                    result=_text("Document /tmp/firefly-world/word/q4-plan.docx created successfully"))
    r1 = CallRecord(id="w1", server="word", tool="list_available_documents",
                    arguments={"directory": "/tmp/firefly-world/word"}, result=_text(list_result))
    return Exploration(plan, [StepResult(0, r0, [r0]), StepResult(1, r1, [r1], bound={"directory": 0})], [r0, r1])


def test_a_change_beside_an_answer_about_another_file_is_dropped():
    """Review (blind 8): "create q4-plan.docx, then list the documents in that folder; tell me the size of
    report.docx" shipped, because the folder of the new file counted as a value the listing took from it."""
    cards = load_cards()
    tools = {(s, t): ToolSpec(server=s, name=t, description=t, input_schema={"type": "object", "properties": {
        p: {"type": "string"} for p in ps}, "required": list(ps)}) for s, t, ps in [
        ("word", "create_document", ("filename", "title", "author")),
        ("word", "list_available_documents", ("directory",))]}
    exp = _word_task("Found 2 Word documents in /tmp/firefly-world/word:\n- q4-plan.docx (35.80 KB)\n"
                     "- report.docx (36.12 KB)")
    with pytest.raises(SynthesisDrop) as err:
        synthesize_task(exp, tools, cards=cards, stateful_servers={"word"})
    assert err.value.reason in ("dropped_unrelated_steps", "dropped_pointless_change")
