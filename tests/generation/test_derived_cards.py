"""Derived cards and derived outputs (tools of a user's own fleet, without a curated or LLM card): goals in a
user's words that never spell a tool or parameter name, answers asked in the fact's own words, no whole-text
or empty-listing answers."""

import json
import re

import pytest

from firefly_eval.cards import derived_card, param_noun
from firefly_eval.facts import fact_value
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.synthesize import SynthesisDrop, _derived_outputs, synthesize_task
from firefly_eval.generation.verify import name_leaks
from firefly_eval.schema import CallRecord, Plan, ToolSpec


def _tool(name: str, description: str, required: list[str], server: str = "tm", types: dict | None = None) -> ToolSpec:
    props = {p: {"type": (types or {}).get(p, "string")} for p in required}
    return ToolSpec(server=server, name=name, description=description,
                    input_schema={"type": "object", "properties": props, "required": required})


def _rec(tool: str, args: dict, text: str, server: str = "tm", rid: str = "c1") -> CallRecord:
    return CallRecord(id=rid, server=server, tool=tool, arguments=args,
                      result={"content": [{"type": "text", "text": text}]})


def _spelled(goal: str, params: list[str]) -> list[str]:
    """camelCase parameters whose words the goal text (slots removed) runs together."""
    text = re.sub(r"[^a-z0-9]", "", re.sub(r"\{[^{}]+\}", " ", goal).lower())
    return [p for p in params if re.fullmatch(r"[a-z]+[A-Z]\w*", p) and p.lower() in text]


def test_parameters_are_named_by_what_they_hold():
    assert param_noun("fileAbsolutePath") == "file"
    assert param_noun("sheet_name") == "sheet"
    assert param_noun("taskId") == "task"
    assert param_noun("entityNames") == "entities"
    assert param_noun("from_language") == "source language"
    assert param_noun("nextSteps", {"nextsteps"}) == "steps"  # "next steps" would spell nextSteps
    assert param_noun("q", kind="string") == "text" and param_noun("n", kind="integer") == "number"


def test_goals_drop_quoted_identifiers_and_name_the_thing():
    cases = [
        (_tool("read_sheet", "Read values from Excel sheet with pagination.", ["fileAbsolutePath", "sheetName"]),
         "read values from Excel sheet for the file {fileAbsolutePath} and the sheet {sheetName}"),
        (_tool("open_task_details", "Get details of a specific task by 'taskId'. For inspecting.", ["taskId"]),
         "get details of the task {taskId}"),
        (_tool("get_next_task", "Given a 'requestId', return the next pending task (not done yet). More.", ["requestId"]),
         "return the next pending task for the request {requestId}"),
        (_tool("filter_table_names", "Return all table names in the database containing the substring 'q' "
               "separated by comma.", ["q"]),
         "return all table names in the database containing the substring {q} separated by comma"),
        (_tool("research_mode", "When you need to do research, you can use this tool to enter a research mode. "
               "More.", ["topic"]),
         "enter a research mode for the topic {topic}"),
        (_tool("get_task_detail", "Retrieve complete information of a task based on task ID, including guides",
               ["taskId"]),
         "retrieve complete information of the task {taskId}, including guides"),
        (_tool("approve", "Once the assistant has marked a task as done using 'mark_task_done', the user must call "
               "this tool to approve that the task is genuinely completed.", ["requestId", "taskId"]),
         "approve that the task {taskId} is genuinely completed for the request {requestId}"),
        (_tool("finalize", "After all tasks are done, this tool finalizes the entire request.", ["requestId"]),
         "finalize the entire request {requestId}"),
        (_tool("describe_table", "Get the schema information for a specific table", ["table_name"]),
         "get the schema information for the table {table_name}"),
    ]
    for tool, goal in cases:
        card = derived_card(tool)
        assert card.goal == goal, tool.name
        assert _spelled(card.goal, list(tool.input_schema["properties"])) == [], tool.name
        assert "'" not in card.goal and "this tool" not in card.goal
    card = derived_card(cases[0][0])
    assert card.inputs == {"fileAbsolutePath": "the file", "sheetName": "the sheet"}
    copy = derived_card(_tool("copy_sheet", "Copy existing sheet to a new sheet", ["srcSheetName", "dstSheetName"]))
    assert copy.goal.endswith("for the source sheet {srcSheetName} and the target sheet {dstSheetName}")


def test_a_whole_result_is_an_answer_only_as_one_short_line():
    card = derived_card(_tool("count", "Get the number of documents in a Chroma collection.", ["collection_name"]))
    (out,) = card.outputs
    assert out.ask == "the number of documents" and out.name == "number_of_documents"
    assert fact_value(_rec("count", {"collection_name": "notes"}, "3"), out.key) == 3
    for text in ("[]", "{}", "line one\nline two", "x" * 200):  # an empty listing, a long text: no answer
        assert fact_value(_rec("count", {}, text), out.key) is None
    assert derived_card(_tool("peek", "Peek at documents.", [])).outputs[0].ask == "the result"


def test_derived_outputs_ask_in_the_facts_own_words():
    rows = [{"cid": 0, "name": "name", "type": "TEXT", "pk": 1}, {"cid": 1, "name": "beds", "type": "INTEGER", "pk": 0}]
    outs = _derived_outputs(_rec("describe_table", {"table_name": "plants"}, json.dumps(rows)))
    assert [o.ask for o in outs][:3] == ["the cid of name", "the type of name", "the pk of name"]
    sheet = [{"name": "Seeds", "planned": 40, "spent": 35.5}, {"name": "Tools", "planned": 60, "spent": 12}]
    outs = _derived_outputs(_rec("read_sheet", {"sheet": "Budget"}, json.dumps({"rows": sheet})))
    assert [o.ask for o in outs][1:3] == ["the Seeds planned", "the Seeds spent"]  # a participle after its record
    assert [o.name for o in outs][1:3] == ["seeds_planned", "seeds_spent"]
    task = {"status": "ok", "requestId": "req-1", "originalRequest": "Prepare the spring garden"}
    spec = _tool("open_task_details", "Get details of a task.", ["taskId"])
    outs = _derived_outputs(_rec("open_task_details", {"taskId": "task-2"}, json.dumps(task)), spec)
    by_key = {o.key: o for o in outs}
    assert by_key["requestId"].ask == "the id of the request" and by_key["requestId"].refer == "that request"
    assert by_key["originalRequest"].ask == "the original request"
    assert "status" not in by_key  # chatter
    conf = _tool("configure", "Configure the server.", ["log_level"])
    outs = _derived_outputs(_rec("configure", {}, json.dumps({"log_level": "INFO", "name": "srv"})), conf)
    assert {o.name for o in outs} == {"log_level_found", "name"}  # a field is never a parameter's name
    assert next(o for o in outs if o.name == "name").refer is None  # "that name": the consumer says what it is
    assert _derived_outputs(_rec("list", {}, "[]")) == [] and _derived_outputs(_rec("echo", {}, "hello")) == []


def test_a_task_on_tools_with_camel_case_parameters_names_none_of_them():
    tools = {t.key: t for t in [
        _tool("open_task_details", "Get details of a specific task by 'taskId'.", ["taskId"]),
        _tool("get_next_task", "Given a 'requestId', return the next pending task (not done yet).", ["requestId"])]}
    a = _rec("open_task_details", {"taskId": "task-2"},
             json.dumps({"requestId": "req-1", "originalRequest": "Prepare the spring garden"}), rid="a")
    b = _rec("get_next_task", {"requestId": "req-1"},
             json.dumps({"task": {"id": "task-3", "title": "Order seeds", "description": "Tomato seeds"}}), rid="b")
    plan = Plan(id="p", nodes=[("tm", "open_task_details"), ("tm", "get_next_task")], edges=[(0, 1)],
                pattern="sequence")
    exp = Exploration(plan, [StepResult(0, a, [a]), StepResult(1, b, [b], bound={"requestId": 0})], [a, b])
    task = synthesize_task(exp, tools, seed=0, cards={})
    assert "get details of the task task-2" in task.question.lower()
    assert "the next pending task for that request" in task.question
    assert "req-1" not in task.question  # produced by the first call: referred to, never stated
    assert task.answer.get("title_of_task") == "Order seeds"
    assert name_leaks(task, tools) == []


def test_a_uuid_an_earlier_listing_showed_is_referred_to_not_stated():
    """A uuid is nothing a user types: when the explorer took it from the server's own data (not bound from the
    plan's earlier step) and the earlier listing shows it as its first task, the question refers to it."""
    first, second = "0b6c1f3e-2f5a-4c1e-9a7d-1c2b3d4e5f60", "7d2e4a91-5b3c-4f6d-8e1a-2b3c4d5e6f70"
    tools = {t.key: t for t in [_tool("list_tasks", "List all tasks.", []),
                                _tool("get_task_detail", "Get the complete details of a task.", ["taskId"])]}
    listing = _rec("list_tasks", {}, f"# Tasks\n- Add a watering schedule (ID: `{first}`)\n"
                                     f"- List sowing dates (ID: `{second}`)", rid="a")
    plan = Plan(id="p", nodes=[("tm", "list_tasks"), ("tm", "get_task_detail")], edges=[(0, 1)], pattern="sequence")

    def task_for(task_id: str):
        detail = _rec("get_task_detail", {"taskId": task_id},
                      json.dumps({"task": {"name": "Add a watering schedule", "status": "pending"}}), rid="b")
        exp = Exploration(plan, [StepResult(0, listing, [listing]), StepResult(1, detail, [detail])], [listing, detail])
        return synthesize_task(exp, tools, seed=0, cards={})

    task = task_for(first)
    assert first not in task.question and "the first task" in task.question
    assert [b["param"] for b in task.provenance["bound_arguments"]] == ["taskId"]
    # the second of a listing is no particular task: not bound, so the listing feeds nothing and asks nothing
    with pytest.raises(SynthesisDrop, match="dropped_trivial"):
        task_for(second)


def test_a_tool_about_the_server_itself_gives_no_answer():
    """Own fleet (tree-sitter): "register the project garden-app, then configure the server, and let me know the
    log level" shipped; the server's settings are chatter, not the user's data."""
    conf = _tool("configure", "Configure the server.", [], server="ts")
    meta = _tool("get_file_metadata", "Get metadata for a file.", ["path"], server="ts")
    assert derived_card(conf).use == "step" and derived_card(meta).use == "answer"
    plan = Plan(id="c1", nodes=[("ts", "get_file_metadata"), ("ts", "configure")], edges=[(0, 1)], pattern="sequence")
    a = _rec("get_file_metadata", {"path": "/tmp/firefly-world/ts/repo/README.md"},
             json.dumps({"size": 43, "extension": ".md"}), server="ts", rid="a")
    b = _rec("configure", {}, json.dumps({"log_level": "INFO", "cache": {"max_size_mb": 100}}), server="ts", rid="b")
    tools = {("ts", "configure"): conf, ("ts", "get_file_metadata"): meta}
    with pytest.raises(SynthesisDrop):  # one step left that answers: no chain
        synthesize_task(Exploration(plan, [StepResult(0, a, [a]), StepResult(1, b, [b])], [a, b]), tools)


def test_a_file_of_a_folder_listing_is_referred_to_by_its_place():
    """A listing names files by their bare names ("[FILE] letter.txt"); the next call opens the full path: the
    question says "the first file" of that folder instead of naming letter.txt, so the listing is needed."""
    root = "/tmp/firefly-world/docs/files"
    ls = _tool("list_directory", "Get a detailed listing of all files and directories in a specified path.",
               ["path"], server="docs")
    info = _tool("get_file_info", "Retrieve detailed metadata about a file.", ["path"], server="docs")
    plan = Plan(id="l1", nodes=[("docs", "list_directory"), ("docs", "get_file_info")], edges=[(0, 1)],
                pattern="sequence")
    a = _rec("list_directory", {"path": root}, "[FILE] letter.txt\n[FILE] packing.md", server="docs", rid="a")
    b = _rec("get_file_info", {"path": f"{root}/letter.txt"}, "size: 44\npermissions: 644", server="docs", rid="b")
    task = synthesize_task(Exploration(plan, [StepResult(0, a, [a]), StepResult(1, b, [b], bound={"path": 0})],
                                       [a, b]), {("docs", "list_directory"): ls, ("docs", "get_file_info"): info})
    assert "letter.txt" not in task.question and "first" in task.question, task.question
    assert task.answer.get("size") == 44 and task.provenance["bound_arguments"][0]["param"] == "path"


def test_own_fleet_review_slips_are_gone():
    """Own fleet, -n 200: "list all collection names ... with pagination support, and then get the number of
    documents in that collection names"; "delete the entities keeps a vegetable garden" (observations taken
    for entity names); "tell me the count and the number of documents" (one count asked twice)."""
    from firefly_eval.generation.values import discovered_values

    listing = derived_card(_tool("chroma_list_collections", "List all collection names in the Chroma database "
                                 "with pagination support.", [], server="ch"))
    assert listing.goal == "list all collection names in the Chroma database"
    assert listing.outputs[0].refer == "that collection"
    graph = {"content": [{"type": "text", "text": json.dumps({"entities": [
        {"type": "entity", "name": "Ana", "entityType": "person", "observations": ["keeps a vegetable garden"]}]})}]}
    assert "keeps a vegetable garden" not in discovered_values("read_graph", graph).get("entity", [])
    count = _tool("get_collection_count", "Get the number of documents in a collection.", ["collection_name"], "ch")
    info = _tool("get_collection_info", "Get information about a collection.", ["collection_name"], "ch")
    plan = Plan(id="k1", nodes=[("ch", "get_collection_count"), ("ch", "get_collection_info")], edges=[],
                pattern="fan-in")
    a = _rec("get_collection_count", {"collection_name": "garden_notes"}, "3", server="ch", rid="a")
    b = _rec("get_collection_info", {"collection_name": "garden_notes"}, json.dumps({"name": "garden_notes",
                                                                                     "count": 3}), server="ch", rid="b")
    try:
        task = synthesize_task(Exploration(plan, [StepResult(0, a, [a]), StepResult(1, b, [b])], [a, b]),
                               {("ch", "get_collection_count"): count, ("ch", "get_collection_info"): info})
    except SynthesisDrop:
        return  # one count left: the second step asks nothing, no task
    assert list(task.answer.values()).count(3) == 1, task.answer
