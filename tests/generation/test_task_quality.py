"""Quality rules of the card synthesizer that the blind review asked for: references read as English,
common-knowledge results are not answers, call scripts of changes are not tasks."""

import json

import pytest

from firefly_eval.cards import OutputCard, ToolCard, check_card
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.sampling import card_flows
from firefly_eval.generation.synthesize import (
    SynthesisDrop,
    _good_answer,
    _insert_reference,
    _reference_phrase,
    synthesize_task,
)
from firefly_eval.schema import CallRecord, Plan, Task, ToolSpec


def _text(t: str) -> dict:
    return {"content": [{"type": "text", "text": t}]}


def _tool(server: str, name: str, *params: str, numeric: tuple[str, ...] = ()) -> ToolSpec:
    props = {p: {"type": "string"} for p in params} | {p: {"type": "number"} for p in numeric}
    return ToolSpec(server=server, name=name, input_schema={"type": "object", "properties": props,
                                                            "required": list(props)})


@pytest.mark.parametrize("goal,param,phrase,expected", [
    ("delete the {sheet} sheet from {file}", "sheet", "that sheet", "delete that sheet from {file}"),
    ("check the status of flight {flight}", "flight", "that flight", "check the status of that flight"),
    ("read the PIX payment code {v}", "v", "that PIX code", "read that PIX code"),
    ("change reservation {rid} to economy", "rid", "that reservation", "change that reservation to economy"),
    ("look up the city of {cid}", "cid", "that customer", "look up the city of that customer"),
    ("read the {x} and say", "x", "that report", "read that report and say"),
])
def test_references_read_as_english(goal, param, phrase, expected):
    assert _insert_reference(goal, param, phrase) == expected


@pytest.mark.parametrize("goal", ["find the {n}th root of 243", 'add the heading "{n}" to the document'])
def test_a_slot_glued_to_a_word_or_quoted_takes_no_reference(goal):
    with pytest.raises(SynthesisDrop) as e:
        _insert_reference(goal, "n", "that square root")
    assert e.value.reason == "dropped_unwordable_reference"


@pytest.mark.parametrize("noun,phrase", [("the sheet name", "that sheet"), ("the item id", "that item"),
                                         ("that file", "that file"), ("a customer", "that customer")])
def test_reference_phrases_name_the_thing(noun, phrase):
    assert _reference_phrase(noun) == phrase


@pytest.mark.parametrize("value,ok", [("Insight added", False), ("Created successfully", False),
                                      ("Trail Tent 2P", True), ("/tmp/firefly-world/sqlite/company.db", False),
                                      (42, True)])
def test_acknowledgements_and_sandbox_paths_are_not_answers(value, ok):
    assert _good_answer(value) is ok


def _two_step(cards: dict, tools: dict, r0: CallRecord, r1: CallRecord, bound: dict | None = None) -> Exploration:
    plan = Plan(id="p", nodes=[(r0.server, r0.tool), (r1.server, r1.tool)], edges=[(0, 1)], pattern="sequence")
    return Exploration(plan, [StepResult(0, r0, [r0]), StepResult(1, r1, [r1], bound=bound or {})], [r0, r1])


CONV = {("units", "feet_to_m"): _tool("units", "feet_to_m", numeric=("value",)),
        ("units", "kg_to_lb"): _tool("units", "kg_to_lb", numeric=("value",)),
        ("shop", "largest_total"): _tool("shop", "largest_total")}
CONV_CARDS = {
    ("units", "feet_to_m"): ToolCard(server="units", tool="feet_to_m", goal="convert {value} feet to metres",
                                     trivial=True, outputs=[OutputCard(key="text", name="metres", ask="the length in metres",
                                                                       refer="that length")]),
    ("units", "kg_to_lb"): ToolCard(server="units", tool="kg_to_lb", goal="convert {value} kg to pounds", trivial=True,
                                    inputs={"value": "the weight"},
                                    outputs=[OutputCard(key="text", name="pounds", ask="the weight in pounds")]),
    ("shop", "largest_total"): ToolCard(server="shop", tool="largest_total", goal="find the largest order weight in kg",
                                        outputs=[OutputCard(key="text", name="kg", ask="the largest order weight",
                                                            refer="the largest order weight")]),
}


def test_unit_conversions_of_stated_amounts_are_common_knowledge():
    r0 = CallRecord(id="a", server="units", tool="feet_to_m", arguments={"value": 6}, result=_text("1.8288"))
    r1 = CallRecord(id="b", server="units", tool="kg_to_lb", arguments={"value": 3}, result=_text("6.61387"))
    with pytest.raises(SynthesisDrop) as e:
        synthesize_task(_two_step(CONV_CARDS, CONV, r0, r1), CONV, cards=CONV_CARDS)
    assert e.value.reason == "dropped_common_knowledge"


def test_a_conversion_of_a_looked_up_figure_is_a_task():
    r0 = CallRecord(id="a", server="shop", tool="largest_total", arguments={}, result=_text("12.5"))
    r1 = CallRecord(id="b", server="units", tool="kg_to_lb", arguments={"value": 12.5}, result=_text("27.5578"))
    task = synthesize_task(_two_step(CONV_CARDS, CONV, r0, r1, {"value": 0}), CONV, cards=CONV_CARDS)
    assert "the largest order weight" in task.question and "12.5" not in task.question
    assert task.answer == {"pounds": 27.5578}


def test_flows_join_the_same_concept_and_never_bare_numbers():
    tools = {**CONV, ("git", "log"): _tool("git", "log"), ("git", "show"): _tool("git", "show", "revision")}
    cards = {**CONV_CARDS, ("git", "log"): ToolCard(server="git", tool="log", goal="show the newest commit",
                                                    outputs=[OutputCard(key="hash", name="commit", ask="its hash")])}
    flows = card_flows(cards, list(tools.values()))
    assert (("git", "log"), ("git", "show")) in flows
    assert not any(d[0] == "units" for _, d in flows)  # a length is not a weight; a total is not a unit count


SHEET = {("xl", "add_note"): _tool("xl", "add_note", "file", "cell"),
         ("xl", "remove_note"): _tool("xl", "remove_note", "file", "cell"),
         ("xl", "describe"): _tool("xl", "describe", "file")}
SHEET_CARDS = {
    ("xl", "add_note"): ToolCard(server="xl", tool="add_note", goal="add a note to {cell} of {file}", use="step"),
    ("xl", "remove_note"): ToolCard(server="xl", tool="remove_note", goal="remove the note from {cell} of {file}",
                                    use="step"),
    ("xl", "describe"): ToolCard(server="xl", tool="describe", goal="describe {file}",
                                 outputs=[OutputCard(key="range", name="used_range", ask="the used cell range")]),
}


def test_a_change_taken_back_is_a_call_script_not_a_task():
    f = "/tmp/firefly-world/xl/sales.xlsx"
    recs = [CallRecord(id="a", server="xl", tool="add_note", arguments={"file": f, "cell": "B2"}, result=_text("Note set")),
            CallRecord(id="b", server="xl", tool="remove_note", arguments={"file": f, "cell": "B2"},
                       result=_text("Note gone")),
            CallRecord(id="c", server="xl", tool="describe", arguments={"file": f},
                       result=_text(json.dumps({"range": "A1:F41"})))]
    plan = Plan(id="p", nodes=[(r.server, r.tool) for r in recs], edges=[(0, 1), (1, 2)], pattern="sequence")
    exp = Exploration(plan, [StepResult(i, r, [r]) for i, r in enumerate(recs)], recs)
    with pytest.raises(SynthesisDrop) as e:
        synthesize_task(exp, SHEET, cards=SHEET_CARDS, stateful_servers={"xl"})
    assert e.value.reason in ("dropped_side_steps", "dropped_undone_change")


def test_output_slots_must_name_parameters():
    card = ToolCard(server="units", tool="kg_to_lb", goal="convert {value} kg to pounds",
                    outputs=[OutputCard(key="text", name="lb", ask="the weight in {unit}")])
    assert any("slot {unit}" in p for p in check_card(card, CONV[("units", "kg_to_lb")]))


def test_plans_on_a_document_server_start_by_opening_the_document():
    from firefly_eval.generation.sampling import with_openers

    nodes = [("web", "fetch"), ("docx", "add_paragraph"), ("docx", "get_text")]
    got_nodes, got_edges = with_openers(nodes, [(0, 1), (1, 2)], {"docx": ("docx", "open")})
    assert got_nodes == [("docx", "open"), *nodes]
    assert got_edges == [(0, 2), (1, 2), (2, 3)]
    assert with_openers(got_nodes, got_edges, {"docx": ("docx", "open")}) == (got_nodes, got_edges)


def test_shipped_openers_and_trivial_cards():
    from firefly_eval.cards import load_cards

    cards = load_cards()
    assert cards[("pptx", "create_presentation")].opens and cards[("docxmcp", "open_document")].opens
    assert cards[("unitconv", "convert_length")].trivial and not cards[("tau2retail", "get_order_details")].trivial


def test_card_guidance_sets_openers_late_starters_and_answerers():
    from firefly_eval.generation.sampling import card_guidance

    tools = [*CONV.values(), _tool("docx", "open", "path"), _tool("docx", "read", "path")]
    cards = {**CONV_CARDS, ("docx", "open"): ToolCard(server="docx", tool="open", goal="open {path}", use="step",
                                                       opens=True)}
    got = card_guidance(cards, tools, skip=set())
    assert got["openers"] == {"docx": ("docx", "open")}
    assert got["late_starters"] == {("units", "feet_to_m"), ("units", "kg_to_lb")}
    # a non-trivial answering card, or no card at all: the result can answer; a change or a conversion cannot
    assert got["answerers"] == {("shop", "largest_total"), ("docx", "read")}


# --- one request, not a conjunction of calls (blind review 2: "unrelated conjunctions", "pointless changes")

def _steps(tools: dict, cards: dict, recs: list[CallRecord], edges: list, bound: dict | None = None,
           stateful: set[str] | None = None):
    plan = Plan(id="p", nodes=[(r.server, r.tool) for r in recs], edges=edges, pattern="sequence")
    steps = [StepResult(i, r, [r], bound=(bound or {}).get(i, {})) for i, r in enumerate(recs)]
    return synthesize_task(Exploration(plan, steps, recs), tools, cards=cards, stateful_servers=stateful or set())


READS = {("xl", "describe"): _tool("xl", "describe", "file"), ("xl", "sheets"): _tool("xl", "sheets", "file"),
         ("cal", "week"): _tool("cal", "week", "date"), ("db", "tables"): _tool("db", "tables"),
         ("db", "count"): _tool("db", "count", "table")}
READ_CARDS = {
    **SHEET_CARDS,
    ("xl", "sheets"): ToolCard(server="xl", tool="sheets", goal="list the sheets of {file}",
                               outputs=[OutputCard(key="second", name="second_sheet", ask="the second sheet")]),
    ("cal", "week"): ToolCard(server="cal", tool="week", goal="find the ISO week of {date}",
                              outputs=[OutputCard(key="week", name="iso_week", ask="the ISO week")]),
    ("db", "tables"): ToolCard(server="db", tool="tables", goal="list the tables of the shop database", use="step"),
    ("db", "count"): ToolCard(server="db", tool="count", goal="count the rows of the {table} table",
                              inputs={"table": "the table name"},
                              outputs=[OutputCard(key="rows", name="row_count", ask="the number of rows")]),
}
XL = "/tmp/firefly-world/xl/sales.xlsx"


def test_calls_on_unrelated_things_are_two_requests_and_dropped():
    recs = [CallRecord(id="a", server="xl", tool="describe", arguments={"file": XL},
                       result=_text(json.dumps({"range": "A1:F41"}))),
            CallRecord(id="b", server="cal", tool="week", arguments={"date": "2025-11-20"},
                       result=_text(json.dumps({"week": 47})))]
    with pytest.raises(SynthesisDrop) as e:
        _steps({**READS, **SHEET}, READ_CARDS, recs, [(0, 1)])
    assert e.value.reason == "dropped_unrelated_steps"


def test_two_questions_about_the_same_file_are_one_request():
    recs = [CallRecord(id="a", server="xl", tool="describe", arguments={"file": XL},
                       result=_text(json.dumps({"range": "A1:F41"}))),
            CallRecord(id="b", server="xl", tool="sheets", arguments={"file": XL},
                       result=_text(json.dumps({"second": "Products"})))]
    task = _steps({**READS, **SHEET}, READ_CARDS, recs, [(0, 1)])
    assert task.answer == {"second_sheet": "Products", "used_range": "A1:F41"}


def test_a_change_no_answer_depends_on_is_pointless():
    recs = [CallRecord(id="a", server="xl", tool="add_note", arguments={"file": XL, "cell": "B2"},
                       result=_text("Note set")),
            CallRecord(id="b", server="xl", tool="describe", arguments={"file": XL},
                       result=_text(json.dumps({"range": "A1:F41"})))]
    with pytest.raises(SynthesisDrop) as e:
        _steps({**READS, **SHEET}, READ_CARDS, recs, [(0, 1)], stateful={"xl"})
    assert e.value.reason == "dropped_pointless_change"


@pytest.mark.parametrize("answer_key,kept", [("count", True), ("range", False)])
def test_a_change_the_later_count_shows_is_part_of_the_request(answer_key, kept):
    tools = {**SHEET, ("xl", "add_note"): _tool("xl", "add_note", "file", "cell", "text"),
             ("xl", "notes"): _tool("xl", "notes", "file", "query")}
    cards = {**SHEET_CARDS, ("xl", "add_note"): ToolCard(server="xl", tool="add_note", use="step",
                                                         goal='add the note "{text}" to {cell} of {file}'),
             ("xl", "notes"): ToolCard(server="xl", tool="notes", goal="search the notes of {file} for {query}",
                                       outputs=[OutputCard(key=answer_key, name="answer", ask="what it found")])}
    recs = [CallRecord(id="a", server="xl", tool="add_note",
                       arguments={"file": XL, "cell": "B2", "text": "Check the Porto stock"}, result=_text("Note set")),
            CallRecord(id="b", server="xl", tool="notes", arguments={"file": XL, "query": "Porto"},
                       result=_text(json.dumps({"count": 1, "range": "C9", "notes": ["B2: Check the Porto stock"]})))]
    if kept:  # how many notes mention Porto depends on the note just added
        task = _steps(tools, cards, recs, [(0, 1)], stateful={"xl"})
        assert len(task.reference_calls) == 2 and "Check the Porto stock" in task.question
    else:  # the cell of a match does not say whether the change was needed: two requests
        with pytest.raises(SynthesisDrop) as e:
            _steps(tools, cards, recs, [(0, 1)], stateful={"xl"})
        assert e.value.reason in ("dropped_pointless_change", "dropped_trivial")


def test_a_count_of_what_the_task_saved_into_an_empty_store_is_read_off_the_question():
    tools = {("mem", "save"): _tool("mem", "save", "items"), ("mem", "search"): _tool("mem", "search", "query")}
    cards = {("mem", "save"): ToolCard(server="mem", tool="save", use="step", goal="save these notes: {items}",
                                       starts_empty=True),
             ("mem", "search"): ToolCard(server="mem", tool="search", goal="search my notes for {query}",
                                         starts_empty=True,
                                         outputs=[OutputCard(key="count", name="match_count", ask="how many mention it")])}
    recs = [CallRecord(id="a", server="mem", tool="save", arguments={"items": "Call the Porto supplier"},
                       result=_text("Saved 2 items")),
            CallRecord(id="b", server="mem", tool="search", arguments={"query": "Porto"},
                       result=_text(json.dumps({"count": 1, "items": ["Call the Porto supplier"]})))]
    with pytest.raises(SynthesisDrop) as e:  # the store held only what the question lists
        _steps(tools, cards, recs, [(0, 1)], stateful={"mem"})
    assert e.value.reason == "dropped_guessable"
    cards = {k: c.model_copy(update={"starts_empty": False}) for k, c in cards.items()}
    task = _steps(tools, cards, recs, [(0, 1)], stateful={"mem"})  # a store with notes of its own: a real count
    assert task.answer == {"match_count": 1}


@pytest.mark.parametrize("listing,value,phrase", [
    (["customers", "orders", "products", "stock"], "customers", "the first table"),
    (["customers", "orders", "products", "stock"], "products", None),  # "that table": no particular one
])
def test_an_item_of_a_listing_is_referred_to_only_as_the_first(listing, value, phrase):
    recs = [CallRecord(id="a", server="db", tool="tables", arguments={}, result=_text(json.dumps(listing))),
            CallRecord(id="b", server="db", tool="count", arguments={"table": value},
                       result=_text(json.dumps({"rows": 24})))]
    if phrase:
        task = _steps(READS, READ_CARDS, recs, [(0, 1)], bound={1: {"table": 0}})
        assert phrase in task.question and value not in task.question
    else:  # stated, the listing is no longer needed: one call is not a task
        with pytest.raises(SynthesisDrop) as e:
            _steps(READS, READ_CARDS, recs, [(0, 1)], bound={1: {"table": 0}})
        assert e.value.reason == "dropped_trivial"


def test_only_dates_paths_links_and_formulas_flow_across_servers():
    tools = [_tool("shop", "find_user", "email"), _tool("notes", "get", "user_id"), _tool("cal", "week", "date"),
             _tool("shop", "order", "user_id")]
    cards = {("shop", "find_user"): ToolCard(server="shop", tool="find_user", goal="find the user with {email}",
                                             outputs=[OutputCard(key="id", name="user_id", ask="the user id"),
                                                      OutputCard(key="since", name="signup_date", ask="the date")])}
    flows = card_flows(cards, tools)
    assert (("shop", "find_user"), ("shop", "order")) in flows  # an id within its own server
    assert (("shop", "find_user"), ("notes", "get")) not in flows  # the shop's user id is no key of the notes
    assert (("shop", "find_user"), ("cal", "week")) in flows  # a date is a date anywhere


def test_the_same_call_twice_is_asked_once():
    recs = [CallRecord(id="a", server="xl", tool="describe", arguments={"file": XL},
                       result=_text(json.dumps({"range": "A1:F41"}))),
            CallRecord(id="b", server="xl", tool="describe", arguments={"file": XL},
                       result=_text(json.dumps({"range": "A1:F41"})))]
    with pytest.raises(SynthesisDrop) as e:
        _steps({**READS, **SHEET}, READ_CARDS, recs, [(0, 1)])
    assert e.value.reason == "dropped_trivial"


def test_a_namespace_every_result_echoes_is_no_chain():
    from firefly_eval.generation.realism import needs_chain

    tools = {("shop", "find"): _tool("shop", "find", "email"), ("shop", "calc"): _tool("shop", "calc", "expression")}
    for t in tools.values():
        t.input_schema["properties"]["state_key"] = {"type": ["string", "null"]}
    cards = {("shop", "find"): ToolCard(server="shop", tool="find", goal="find the account that uses {email}",
                                        outputs=[OutputCard(key="user", name="user_id", ask="the user id")]),
             ("shop", "calc"): ToolCard(server="shop", tool="calc", goal='calculate "{expression}"',
                                        outputs=[OutputCard(key="value", name="value", ask="the value")])}
    recs = [CallRecord(id="a", server="shop", tool="find", arguments={"email": "ivan@mail.example", "state_key": "ns/1"},
                       result=_text(json.dumps({"state_key": "ns/1", "user": "ivan_66"}))),
            CallRecord(id="b", server="shop", tool="calc", arguments={"expression": "95.08 - 90.43", "state_key": "ns/1"},
                       result=_text(json.dumps({"state_key": "ns/1", "value": 4.65})))]
    with pytest.raises(SynthesisDrop) as e:  # "find ivan's account and calculate 95.08 - 90.43": two requests
        _steps(tools, cards, recs, [(0, 1)], bound={1: {"state_key": 0}})
    assert e.value.reason == "dropped_unrelated_steps"
    task = Task(question="Find the account that uses ivan@mail.example, then calculate 95.08 - 90.43.",
                tools=[("shop", "find"), ("shop", "calc")], answer_schema={}, answer={"value": 4.65},
                reference_calls=["a", "b"], servers=["shop"], pattern="sequence",
                reference_arguments=[{"server": r.server, "tool": r.tool, "arguments": r.arguments} for r in recs])
    assert not needs_chain(task, {r.id: r for r in recs})


def test_an_id_the_envelope_nests_is_what_the_calls_are_about():
    """tau2 wraps every result as {"state_key", "arguments", "parsed_content"}: the reservation both
    lookups work on sits in ``parsed_content`` and the echo of the arguments, not at the top level, so
    it is a shared subject (one request about one reservation), while state_key stays a namespace."""
    from firefly_eval.generation.synthesize import echoes

    tools = {("air", "details"): _tool("air", "details", "reservation_id"),
             ("air", "payments"): _tool("air", "payments", "reservation_id")}
    cards = {("air", "details"): ToolCard(server="air", tool="details", goal="look up reservation {reservation_id}",
                                          outputs=[OutputCard(key="parsed_content.destination", name="destination",
                                                              ask="where that reservation flies to")]),
             ("air", "payments"): ToolCard(server="air", tool="payments",
                                           goal="list the payments of reservation {reservation_id}",
                                           outputs=[OutputCard(key="parsed_content.total", name="total_paid",
                                                               ask="how much was paid for that reservation")])}

    def env(content: dict) -> dict:
        return _text(json.dumps({"ok": True, "state_key": "ns/1", "arguments": {"reservation_id": "NO6JO3"},
                                 "parsed_content": {"reservation_id": "NO6JO3", **content}}))

    recs = [CallRecord(id="a", server="air", tool="details", arguments={"reservation_id": "NO6JO3"},
                       result=env({"destination": "DFW"})),
            CallRecord(id="b", server="air", tool="payments", arguments={"reservation_id": "NO6JO3"},
                       result=env({"total": 2504}))]
    assert echoes("state_key", "ns/1", recs[1]) and not echoes("reservation_id", "NO6JO3", recs[1])
    task = _steps(tools, cards, recs, [(0, 1)])
    assert task.reference_calls == ["a", "b"] and task.answer == {"destination": "DFW", "total_paid": 2504}


def test_a_value_carried_into_an_option_the_request_never_mentions_is_no_chain():
    from firefly_eval.generation.realism import needs_chain

    recs = [CallRecord(id="a", server="mem", tool="save", arguments={"items": "Call Porto"},
                       result=_text(json.dumps({"saved": 1, "at": "2026-12-02T10:00:00Z"}))),
            CallRecord(id="b", server="mem", tool="search", arguments={"query": "Porto",
                                                                      "relativeTime": "2026-12-02T10:00:00Z"},
                       result=_text(json.dumps({"count": 1})))]
    task = Task(question="Save the note 'Call Porto', then search my notes for Porto.",
                tools=[("mem", "save"), ("mem", "search")], answer_schema={}, answer={"match_count": 1},
                reference_calls=["a", "b"], servers=["mem"], pattern="sequence",
                reference_arguments=[{"server": r.server, "tool": r.tool, "arguments": r.arguments} for r in recs])
    cards = {("mem", "search"): ToolCard(server="mem", tool="search", goal="search my notes for {query}")}
    assert needs_chain(task, {r.id: r for r in recs})  # by value alone the timestamp looks like a chain
    assert not needs_chain(task, {r.id: r for r in recs}, cards)  # the request never asks for it


def test_three_tables_listed_are_a_listing():
    from firefly_eval.generation.synthesize import _place_in

    assert _place_in("customers", ["customers", "products", "orders"]) == "first"
    assert _place_in("orders", ["customers", "products", "orders"]) is None
    assert _place_in("Lisbon", {"name": "Ada", "city": "Lisbon"}) == "field"


@pytest.mark.parametrize("start,count,dropped", [("2025-12-26", 0, True), ("2025-11-03", 20, False)])
def test_a_count_over_a_period_that_ends_before_it_starts_is_no_task(start, count, dropped):
    tools = {("cal", "next_day"): _tool("cal", "next_day", "date"),
             ("cal", "business_days"): _tool("cal", "business_days", "start_date", "end_date")}
    cards = {("cal", "next_day"): ToolCard(server="cal", tool="next_day", goal="find the next business day after {date}",
                                           outputs=[OutputCard(key="date", name="next_day", ask="the next business day",
                                                               refer="that business day")]),
             ("cal", "business_days"): ToolCard(server="cal", tool="business_days",
                                                goal="count the business days from {start_date} up to {end_date}",
                                                outputs=[OutputCard(key="count", name="business_days",
                                                                    ask="the number of business days")])}
    recs = [CallRecord(id="a", server="cal", tool="next_day", arguments={"date": "2025-10-31"},
                       result=_text(json.dumps({"date": start}))),
            CallRecord(id="b", server="cal", tool="business_days",
                       arguments={"start_date": start, "end_date": "2025-12-01"},
                       result=_text(json.dumps({"count": count})))]
    if dropped:
        with pytest.raises(SynthesisDrop) as e:
            _steps(tools, cards, recs, [(0, 1)])
        assert e.value.reason == "dropped_reversed_period"
    else:
        assert 20 in _steps(tools, cards, recs, [(0, 1)]).answer.values()


@pytest.mark.parametrize("ask,reads", [
    ("the name of the primary key column of the the first table table", "the name of the primary key column of the first table"),
    ("the priority of the first note note in key order", "the priority of the first note in key order"),
    ("the columns of the that table table", "the columns of that table"),
])
def test_a_reference_filled_into_a_template_that_names_the_thing_reads_once(ask, reads):
    from firefly_eval.generation.synthesize import _DOUBLED
    from firefly_eval.generation.verify import broken_wording

    assert _DOUBLED.sub(r"\1", ask) == reads
    task = Task(question=f"Tell me {ask}.", tools=[("db", "describe")], answer={"x": "id"}, reference_calls=["a"],
                answer_schema={"type": "object", "properties": {"x": {"type": "string", "description": ask}}},
                servers=["db"], pattern="sequence")
    assert broken_wording(task) and not broken_wording(task.model_copy(update={
        "question": f"Tell me {reads}.", "answer_schema": {"properties": {"x": {"description": reads}}}}))


@pytest.mark.parametrize("broken,fixed", [
    ("I need who last changed README.md: show the log.", "I need to know who last changed README.md: show the log."),
    ("Tell me the text of the note that note's points to.", "Tell me the text of the note linked from that note."),
    ("Tell me how many notes are linked to the note that note.", "Tell me how many notes are linked to that note."),
    ("Find the Python file, then save that new file that says \"hi\".", "Find the Python file, then save notes.txt that says \"hi\"."),
    ("Convert the time the date of the newest order in UTC to Tokyo time.", "Convert 09:00 on the date of the newest order in UTC to Tokyo time."),
])
def test_a_wording_that_does_not_parse_is_broken(broken, fixed):
    from firefly_eval.generation.verify import broken_wording

    task = Task(question=broken, tools=[("db", "describe")], answer={"x": "id"}, reference_calls=["a"],
                answer_schema={"type": "object", "properties": {"x": {"type": "string", "description": "the x"}}},
                servers=["db"], pattern="sequence")
    assert broken_wording(task) and not broken_wording(task.model_copy(update={"question": fixed}))
    assert not broken_wording(task.model_copy(update={"question": "Tell me that customer's city and that user's level."}))


@pytest.mark.parametrize("question,broken", [
    ("I need to know the ISO week of that date: find the date of the newest order.", True),
    ("I need to know that customer's city and the ids of that customer's orders: find the customer of order 5.", True),
    ("I need to know the number of days from the first date to the second: find the newest order's date.", True),
    ("Find the date of the newest order. Tell me the ISO week of that date.", False),
    ("Start a deck and tell me how many slides it has, and let me know how many slides the deck has.", True),
    ("I need to know the branch that is checked out and the first file that differs: show the status.", False),
])
def test_answers_asked_first_may_not_refer_to_what_a_later_step_finds(question, broken):
    from firefly_eval.generation.verify import broken_wording

    task = Task(question=question, tools=[("d", "x")], answer={"x": "1"}, reference_calls=["a"], servers=["d"],
                answer_schema={"type": "object", "properties": {"x": {"type": "string", "description": "the x"}}},
                pattern="sequence")
    assert bool(broken_wording(task)) is broken


@pytest.mark.parametrize("desc,value,broken", [
    ("the number of days between the two dates", -2, True),
    ("the number of days between the two dates", 2, False),
    ("the number of days from 2025-01-03 to 2025-01-01 (negative if 2025-01-01 comes first)", -2, False),
])
def test_a_negative_answer_asked_between_two_things_has_no_sign(desc, value, broken):
    from firefly_eval.generation.verify import broken_wording

    task = Task(question="Count the days between 2025-01-03 and 2025-01-01.", tools=[("d", "diff")], answer={"days": value},
                answer_schema={"type": "object", "properties": {"days": {"type": "integer", "description": desc}}},
                reference_calls=["a"], servers=["d"], pattern="sequence")
    assert bool(broken_wording(task)) is broken


def test_a_possessive_reference_names_the_thing():
    from firefly_eval.generation.synthesize import _insert_reference, _reference_phrase

    phrase = _reference_phrase("that note's key")
    assert phrase == "that note"
    assert _insert_reference("find the notes linked to the note {key}", "key", phrase) == "find the notes linked to that note"


def test_an_ask_takes_a_reference_the_way_a_goal_does():
    from types import SimpleNamespace

    from firefly_eval.generation.synthesize import _fill

    st = SimpleNamespace(bound={"key": (0, "that note")})
    assert _fill("how many notes are linked to the note {key}", st) == "how many notes are linked to that note"
    assert _fill("the text of the note linked from {key}", st) == "the text of the note linked from that note"


@pytest.mark.parametrize("decided", [True, False])
def test_a_check_that_the_earlier_listing_decides_is_guessable(decided):
    tools = {("br", "holidays"): _tool("br", "holidays", "year"), ("br", "is_holiday"): _tool("br", "is_holiday", "date"),
             ("br", "week"): _tool("br", "week", "date")}
    cards = {("br", "holidays"): ToolCard(server="br", tool="holidays", goal="list the holidays of {year}",
                                          outputs=[OutputCard(key="second", name="second_holiday_date",
                                                              ask="the date of the second holiday",
                                                              refer="the date of the second holiday")]),
             ("br", "is_holiday"): ToolCard(server="br", tool="is_holiday", goal="check whether {date} is a holiday",
                                            decided_by=["holidays"] if decided else [],
                                            outputs=[OutputCard(key="holiday", name="is_holiday",
                                                                ask="whether that date is a holiday (true or false)")]),
             ("br", "week"): ToolCard(server="br", tool="week", goal="find the ISO week of {date}",
                                      outputs=[OutputCard(key="week", name="iso_week", ask="the ISO week")])}
    recs = [CallRecord(id="a", server="br", tool="holidays", arguments={"year": "2025"},
                       result=_text(json.dumps({"second": "2025-03-04"}))),
            CallRecord(id="b", server="br", tool="is_holiday", arguments={"date": "2025-03-04"},
                       result=_text(json.dumps({"holiday": True}))),
            CallRecord(id="c", server="br", tool="week", arguments={"date": "2025-03-04"},
                       result=_text(json.dumps({"week": 10})))]
    if decided:  # "list the holidays, then check whether the second one is a holiday": true by construction
        with pytest.raises(SynthesisDrop) as e:
            _steps(tools, cards, recs, [(0, 1), (0, 2)])
        assert e.value.reason == "dropped_guessable"
    else:
        assert _steps(tools, cards, recs, [(0, 1), (0, 2)]).answer


def test_a_price_in_a_text_that_shows_the_change_does_not_depend_on_it():
    """ "Add the endnote "Source: ledger" to report.docx and get its text: the Headlamp's price?" The text holds
    the endnote, but the price is the same without it: the change is pointless (blind review, stop 34)."""
    tools = {**SHEET, ("xl", "add_note"): _tool("xl", "add_note", "file", "cell", "text"),
             ("xl", "text"): _tool("xl", "text", "file")}
    cards = {**SHEET_CARDS, ("xl", "add_note"): ToolCard(server="xl", tool="add_note", use="step",
                                                         goal='add the note "{text}" to {cell} of {file}'),
             ("xl", "text"): ToolCard(server="xl", tool="text", goal="get all the text of {file}",
                                      outputs=[OutputCard(key="text|re:Headlamp (\\d+\\.\\d+)", name="headlamp_price",
                                                          ask="the price of the Headlamp")])}
    recs = [CallRecord(id="a", server="xl", tool="add_note",
                       arguments={"file": XL, "cell": "B2", "text": "Source: Lumen sales ledger."}, result=_text("Note set")),
            CallRecord(id="b", server="xl", tool="text", arguments={"file": XL},
                       result=_text("Prices: Headlamp 39.90\nB2: Source: Lumen sales ledger."))]
    with pytest.raises(SynthesisDrop) as e:
        _steps(tools, cards, recs, [(0, 1)], stateful={"xl"})
    assert e.value.reason in ("dropped_pointless_change", "dropped_trivial")


def test_an_answer_decided_by_the_earlier_tool_is_named_at_export():
    from firefly_eval.cards import load_cards
    from firefly_eval.generation.verify import decided_answers

    task = Task(question="Find the next Brazilian business day after 2025-11-14 and check whether it is a holiday.",
                tools=[("brasil", "proximo_dia_util"), ("brasil", "is_feriado_nacional")], answer={"is_holiday": False},
                answer_schema={"type": "object", "properties": {"is_holiday": {"type": "boolean"}}},
                reference_calls=["p", "h"], servers=["brasil"], pattern="sequence",
                reference_arguments=[{"server": "brasil", "tool": "proximo_dia_util", "arguments": {"date": "2025-11-14"}},
                                     {"server": "brasil", "tool": "is_feriado_nacional", "arguments": {"date": "2025-11-17"}}],
                dag={"nodes": [["brasil", "proximo_dia_util"], ["brasil", "is_feriado_nacional"]], "edges": [[0, 1]]},
                provenance={"answer_sources": {"is_holiday": {"call": "h", "key": "is_feriado"}},
                            "bound_arguments": [{"call": "h", "from_node": 0, "param": "date"}]})
    cards = load_cards()
    assert decided_answers(task, cards) == ["is_feriado_nacional: its answer is decided by proximo_dia_util's result"]
    free = task.model_copy(update={"provenance": {**task.provenance, "bound_arguments": []}})
    assert decided_answers(free, cards) == []  # the date stated by the user: a real question


@pytest.mark.parametrize("path,bad", [("prices.csv", True), ("inventory.py", True), ("shop-copy", False)])
def test_a_file_name_given_as_a_folder_is_named(path, bad):
    from firefly_eval.cards import load_cards
    from firefly_eval.generation.verify import files_as_folders

    task = Task(question="Make a copy of the lumen-shop repository and tell me its branch.", tools=[("cyangit", "git_clone")],
                answer={"branch": "main"}, answer_schema={"type": "object", "properties": {"branch": {"type": "string"}}},
                reference_calls=["c"], servers=["cyangit"], pattern="sequence",
                reference_arguments=[{"server": "cyangit", "tool": "git_clone",
                                      "arguments": {"url": "/tmp/firefly-world/cyangit/repo", "path": path}}])
    assert bool(files_as_folders(task, load_cards())) is bad


def test_a_file_a_query_reads_is_located_in_the_question():
    from types import SimpleNamespace

    from firefly_eval.generation.synthesize import _literal
    from firefly_eval.generation.verify import hidden_paths

    sql = "SELECT count(*) FROM read_csv('/tmp/firefly-world/motherduck/data/orders.csv')"
    card = ToolCard(server="motherduck", tool="execute_query", goal="work out {query}",
                    values={"query": {sql.replace("/tmp/firefly-world/motherduck", "$SANDBOX"): "how many orders orders.csv holds"}})
    st = SimpleNamespace(record=SimpleNamespace(server="motherduck", arguments={"query": sql}), card=card)
    folders: list[str] = []
    assert _literal(st, "query", card.goal, "/tmp/firefly-world", folders, []) == "how many orders orders.csv holds"
    assert folders == ["/tmp/firefly-world/motherduck/data"]
    task = Task(question="Work out how many orders orders.csv holds.", tools=[("motherduck", "execute_query")],
                answer={"n": 40}, answer_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
                reference_calls=["q"], servers=["motherduck"], pattern="sequence",
                reference_arguments=[{"server": "motherduck", "tool": "execute_query", "arguments": {"query": sql}}])
    assert hidden_paths(task)
    located = task.model_copy(update={"question": task.question + " My files are in /tmp/firefly-world/motherduck/data."})
    assert hidden_paths(located) == []


def test_that_paragraph_of_two_different_paragraphs_is_ambiguous():
    from firefly_eval.generation.verify import ambiguous_references

    def ref(tool: str, index: int) -> dict:
        return {"server": "word", "tool": tool, "arguments": {"filename": "/w/report.docx", "paragraph_index": index}}

    task = Task(question="Read the fifth paragraph of report.docx and show the comments on the fourth paragraph.",
                tools=[("word", "get_paragraph"), ("word", "get_comments")], answer={"text": "Headlamp", "comments": 0},
                answer_schema={"type": "object", "properties": {
                    "text": {"type": "string", "description": "the text of that paragraph"},
                    "comments": {"type": "integer", "description": "how many comments that paragraph has"}}},
                reference_calls=["p", "c"], reference_arguments=[ref("get_paragraph", 4), ref("get_comments", 3)],
                servers=["word"], pattern="fan_out",
                provenance={"answer_sources": {"text": {"call": "p", "key": "text"}, "comments": {"call": "c", "key": "n"}}})
    assert ambiguous_references(task)
    same = task.model_copy(update={"reference_arguments": [ref("get_paragraph", 4), ref("get_comments", 4)]})
    assert ambiguous_references(same) == []  # one paragraph, two facts of it


def _step(server: str, tool: str, **arguments):
    from types import SimpleNamespace

    return SimpleNamespace(server=server, tool=tool, arguments=arguments)


def test_a_file_read_again_after_a_read_that_held_it_is_a_repeat():
    from firefly_eval.generation.synthesize import _rereads

    both = _step("fs", "read_multiple_files", paths=["/w/standup.md", "/w/planning.md"])
    assert _rereads(_step("fs", "read_text_file", path="/w/planning.md"), both)
    assert not _rereads(_step("fs", "read_text_file", path="/w/other.md"), both)
    assert not _rereads(_step("fs", "get_file_info", path="/w/planning.md"), both)  # its size: another question


def test_a_reservation_changed_then_cancelled_is_undone():
    from firefly_eval.generation.synthesize import _undoes

    bags = _step("tau2airline", "update_reservation_baggages", reservation_id="NO6JO3", total_baggages=3)
    assert _undoes(_step("tau2airline", "cancel_reservation", reservation_id="NO6JO3"), bags)
    assert not _undoes(_step("tau2airline", "cancel_reservation", reservation_id="ZZ11AA"), bags)


@pytest.mark.parametrize("question,stale", [
    ("Search my saved notes for Friday, and then find the notes linked to that note. Tell me how many.", True),
    ("Search my saved notes for Friday, and then find the notes linked to that first note. Tell me how many.", False),
])
def test_a_listed_item_the_card_names_by_position_is_referred_to_by_it(question, stale):
    from firefly_eval.cards import load_cards
    from firefly_eval.generation.verify import unordered_references

    task = Task(question=question, tools=[("memkeeper", "context_search"), ("memkeeper", "context_get_related")],
                answer={"related_count": 1}, answer_schema={"type": "object", "properties": {"related_count": {"type": "integer"}}},
                reference_calls=["s", "r"], servers=["memkeeper"], pattern="sequence",
                dag={"nodes": [["memkeeper", "context_search"], ["memkeeper", "context_get_related"]], "edges": [[0, 1]]},
                provenance={"bound_arguments": [{"call": "r", "from_node": 0, "param": "key"}]})
    assert bool(unordered_references(task, load_cards())) is stale
