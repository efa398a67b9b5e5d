"""A user's own fleet: discovery of getters with required arguments, derived openers, and the repair
loop learning from validation errors and from what the server said exists."""

import json

from firefly_eval.cards import ToolCard
from firefly_eval.generation.discovery import discovery_args, more_values
from firefly_eval.generation.explore import _existing_handles, _learn_from_validation, _validation_hints
from firefly_eval.generation.openers import derived_openers
from firefly_eval.schema import CallRecord, ToolSpec


def _tool(server: str, name: str, props: dict, required: list[str]) -> ToolSpec:
    return ToolSpec(server=server, name=name, description="",
                    input_schema={"type": "object", "properties": props, "required": required})


def _text(t: str) -> dict:
    return {"content": [{"type": "text", "text": t}]}


def test_getter_arguments_come_from_the_servers_own_data():
    status = _tool("shrimp", "list_tasks", {"status": {"type": "string", "enum": ["pending", "all", "done"]}},
                   ["status"])
    assert discovery_args(status, {}, []) == {"status": "all"}
    sheets = _tool("budget", "excel_describe_sheets", {"fileAbsolutePath": {"type": "string"}}, ["fileAbsolutePath"])
    sheets.description = "List all sheet information of specified Excel file (.xlsx)"
    files = ["/sb/budget/notes.txt", "/sb/budget/garden-budget.xlsx"]
    assert discovery_args(sheets, {}, files) == {"fileAbsolutePath": "/sb/budget/garden-budget.xlsx"}
    schema = _tool("shopdb", "schema_definitions", {"table_names": {"type": "array", "items": {"type": "string"}}},
                   ["table_names"])
    assert discovery_args(schema, {"table": ["customers", "orders"]}, []) == {"table_names": ["customers", "orders"]}
    nothing = _tool("tasks", "get_next_task", {"requestId": {"type": "string"}}, ["requestId"])
    assert discovery_args(nothing, {"table": ["x"]}, []) is None  # no value of its own: not called
    assert discovery_args(nothing, {"requestId": ["req-1"]}, []) == {"requestId": "req-1"}


def test_more_values_single_names_record_ids_and_uuids():
    assert more_values("chroma_list_collections", _text("garden_notes")) == {
        "collection": ["garden_notes"], "_listed": ["garden_notes"]}
    got = more_values("list_requests", _text(json.dumps({"status": "ok", "requests": [{"requestId": "req-1"}]})))
    assert got["requestId"] == ["req-1"]
    got = more_values("get_next_task", _text(json.dumps({"task": {"id": "task-2", "title": "Order seeds"}})))
    assert got["taskId"] == ["task-2"]
    uid = "0b6c1f3e-2f5a-4c1e-9a7d-1c2b3d4e5f60"
    assert more_values("list_tasks", _text(f"# Tasks\n\n**ID:** `{uid}`\n"))["taskId"] == [uid]
    assert more_values("list_tables", _text("one\ntwo")) == {}  # a listing of several: discovered_values has it


def test_a_setup_tool_whose_noun_the_other_tools_require_opens_the_plans():
    props = {"project": {"type": "string"}, "path": {"type": "string"}}
    tools = [_tool("ts", "register_project_tool", {"path": {"type": "string"}}, ["path"]),
             _tool("ts", "get_file", props, ["project", "path"]), _tool("ts", "list_files", props, ["project"]),
             _tool("ts", "get_ast", props, ["project", "path"]), _tool("ts", "list_languages", {}, []),
             _tool("kg", "open_nodes", {"names": {"type": "array"}}, ["names"]),
             _tool("kg", "read_graph", {}, [])]
    assert derived_openers(tools, {}, set()) == {"ts": ("ts", "register_project_tool")}
    card = ToolCard(server="ts", tool="get_file", goal="read {path}")
    assert derived_openers(tools, {("ts", "get_file"): card}, set()) == {}  # curated servers name their own


ZOD = """Error: Invalid arguments for search_notes: [
  {"expected": "string", "code": "invalid_type", "path": ["query"], "message": "expected string, received undefined"},
  {"code": "too_small", "minimum": 50, "type": "string", "path": ["initialConcept"], "message": "too short"}
]"""
PYDANTIC = """2 validation errors for call[get_file]
max_lines
  Input should be a valid integer [type=int_type, input_value='x', input_type=str]
project
  Field required [type=missing, input_value={}, input_type=dict]"""


def test_validation_errors_name_parameters_and_types():
    assert _validation_hints(ZOD) == {"query": {"type": "string"}, "initialConcept": {"minLength": 50}}
    assert _validation_hints(PYDANTIC) == {"max_lines": {"type": "integer"}, "project": {}}
    assert _validation_hints("Error: file not found") == {}


def test_the_repair_adds_a_parameter_the_schema_does_not_list():
    extra: list[str] = []
    hints: dict = {}
    choice: dict = {}
    assert _learn_from_validation(ZOD, {}, {}, extra, hints, choice)
    assert extra == ["query", "initialConcept"] and hints["query"] == {"type": "string"}
    assert not _learn_from_validation(ZOD, {"query": "x", "initialConcept": "y" * 60}, {}, extra, hints, choice)


def _rec(tool: str, text: str, ok: bool = True) -> CallRecord:
    return CallRecord(id=tool, server="ts", tool=tool, arguments={}, result=_text(text), is_error=not ok)


def test_a_missing_thing_is_tried_with_what_the_server_said_exists():
    reg = _rec("register_project_tool", json.dumps({"name": "/sb/ts/garden-app", "root_path": "/sb/ts/garden-app"}))
    assert _existing_handles([reg], "ts", "project", "README") == ["/sb/ts/garden-app"]
    dup = _rec("register_project_tool", "Failed to register project: Project '/sb/ts/garden-app' already exists",
               ok=False)
    assert _existing_handles([dup], "ts", "project", "README") == ["/sb/ts/garden-app"]
    other = CallRecord(id="o", server="kg", tool="read_graph", arguments={}, result=_text('{"name": "Ana"}'))
    assert _existing_handles([other], "ts", "project", "README") == []  # another server's names are not its own
