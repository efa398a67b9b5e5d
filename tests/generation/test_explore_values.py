"""The offline explorer's argument choice and repair (no servers: a scripted fleet)."""

import asyncio
import random

from firefly_eval.generation.explore import _asks_for, _offered_values, explore_plan
from firefly_eval.generation.synthesize import synthesize_task, value_in_text
from firefly_eval.generation.values import ValueBank, deref, files_with_extensions
from firefly_eval.schema import CallRecord, Plan, ToolSpec


def test_deref_inlines_refs_and_picks_non_null_branches():
    root = {"$defs": {"Key": {"type": "object", "properties": {"column": {"type": "string"}}, "required": ["column"]}}}
    assert deref({"$ref": "#/$defs/Key"}, root)["type"] == "object"
    arr = deref({"type": "array", "items": {"$ref": "#/$defs/Key"}}, root)
    assert arr["items"]["properties"]["column"] == {"type": "string"}
    assert deref({"anyOf": [{"type": "null"}, {"type": "integer"}], "description": "n"}, root) == {
        "type": "integer", "description": "n"}
    assert deref({"$ref": "#/$defs/Missing", "description": "d"}, root) == {"description": "d"}
    loop = {"$defs": {"A": {"$ref": "#/$defs/A"}}}
    deref({"$ref": "#/$defs/A"}, loop)  # a self-reference stops, never recurses forever


def test_values_follow_what_the_tool_and_its_errors_ask_for():
    bank = ValueBank({"excel": "/sb/excel"}, {"shop": {"order_id": ["#W1", "#W2"], "item_ids": ["1", "2"]}})
    rng = random.Random(0)
    path = bank.candidates("excel", "read_range", "path", {"type": "string"}, rng, None,
                           "Read cell values of an Excel workbook")
    assert path[0] == "/sb/excel/sales.xlsx"
    assert bank.candidates("excel", "read_range", "range", {"type": "string"}, rng)[0] == "A1:D5"
    assert bank.candidates("excel", "set_note", "cell", {"type": "string"}, rng)[0] == "B2"
    assert bank.candidates("shop", "get_order", "order_id", {"type": "string"}, rng) == ["#W1", "#W2"]
    assert bank.candidates("shop", "ret", "item_ids", {"type": "array", "items": {"type": "string"}}, rng) == [["1", "2"]]
    assert files_with_extensions("must point to an Excel file (.xlsm, .xlsx, .xltm)") == ["sales.xlsx"]
    assert _asks_for("no working directory set. please specify a 'path' or use 'set_dir' first.", "path")
    assert _asks_for("either paths must be provided, or all=true", "paths")
    assert not _asks_for("sheet name not found", "name")
    assert _offered_values("Sheet 'x' not found. Available sheets: 'Sales', 'Products'.", "x") == ["Sales", "Products"]


class _ScriptedFleet:
    """Two tools: `need_dir` fails until an optional `path` is given; `sheet` wants an xlsx path."""

    failed: set = set()

    def __init__(self):
        self.tools = {
            ("g", "status"): ToolSpec(server="g", name="status", description="Show status",
                                      input_schema={"type": "object", "properties": {"path": {"type": "string"}}}),
            ("x", "sheets"): ToolSpec(server="x", name="sheets", description="List the sheets",
                                      input_schema={"type": "object", "properties": {"file": {"type": "string"}},
                                                    "required": ["file"]}),
        }
        self.seen: list[tuple[str, dict]] = []

    async def call(self, server, tool, args):
        self.seen.append((tool, dict(args)))
        if tool == "status":
            ok = "path" in args
            text = "clean, on branch main" if ok else "Error: No directory set. Please specify a 'path' first."
        else:
            ok = str(args["file"]).endswith(".xlsx")
            text = "Sales, Products" if ok else f"Path '{args['file']}' must point to an Excel file (.xlsx)."
        return CallRecord(server=server, tool=tool, arguments=args, is_error=not ok,
                          result={"content": [{"type": "text", "text": text}], "isError": not ok})


def test_explorer_repairs_a_missing_optional_parameter_and_a_wrong_file_kind():
    fleet = _ScriptedFleet()
    plan = Plan(id="p", nodes=[("g", "status"), ("x", "sheets")], edges=[(0, 1)], pattern="sequence")
    bank = ValueBank({"g": "/sb/g", "x": "/sb/x"})
    exp = asyncio.run(explore_plan(plan, fleet, bank, seed=0, max_repairs=3))
    assert [s.record is not None for s in exp.steps] == [True, True]
    assert exp.steps[0].attempts[0].is_error and "path" in exp.steps[0].record.arguments
    assert exp.steps[1].record.arguments["file"].endswith(".xlsx")


def test_template_synthesizer_never_asks_for_what_the_question_states():
    # the second call's argument is the first call's result: that value must not be an answer
    a = CallRecord(server="s", tool="pick", arguments={}, result={"content": [{"type": "text", "text": '{"sheet": "Sales", "rows": 40}'}]})
    b = CallRecord(server="s", tool="read", arguments={"sheet": "Sales"},
                   result={"content": [{"type": "text", "text": '{"total": 1234.5, "sheet": "Sales"}'}]})
    from firefly_eval.generation.explore import Exploration, StepResult

    plan = Plan(id="q", nodes=[("s", "pick"), ("s", "read")], edges=[(0, 1)], pattern="sequence")
    exp = Exploration(plan, [StepResult(0, a, [a]), StepResult(1, b, [b], bound={"sheet": 0})], [a, b])
    specs = {("s", "pick"): ToolSpec(server="s", name="pick", description="Pick a sheet.", input_schema={}),
             ("s", "read"): ToolSpec(server="s", name="read", description="Read a sheet.",
                                     input_schema={"type": "object", "properties": {"sheet": {"type": "string"}},
                                                   "required": ["sheet"]})}
    task = synthesize_task(exp, specs, seed=0)  # no cards: derived from descriptions and result fields
    assert "Sales" not in task.question  # produced by the first call: referred to, never stated
    assert task is not None
    assert "Sales" not in task.answer.values()
    assert set(task.answer.values()) == {1234.5, 40}
    padded = " first use read with sheet sales "
    assert value_in_text("Sales", padded) and not value_in_text(True, padded) and not value_in_text(5, " 5 ")
    big = 10**400  # a factorial: too large for a float
    assert value_in_text(big, f" x {big} y ") and not value_in_text(big, " x 12 y ")
    assert value_in_text(-12, " minus 12 ") and value_in_text(12.0, " 12 ")


def test_stale_sandbox_roots_of_dead_processes_are_removed(tmp_path):
    import os
    import subprocess

    from firefly_eval.generation.pipeline import remove_stale_roots

    dead = subprocess.Popen(["true"])  # a pid that has exited
    dead.wait()
    base = tmp_path / "firefly-world"
    stale = [tmp_path / f"firefly-world-{dead.pid}", tmp_path / f"firefly-world-w0-{dead.pid}"]
    alive = tmp_path / f"firefly-world-{os.getpid()}"
    other = tmp_path / "firefly-world-notes"
    for d in [*stale, alive, other]:
        (d / "x").mkdir(parents=True)
    assert sorted(remove_stale_roots(base)) == sorted(stale)
    assert alive.exists() and other.exists() and not any(d.exists() for d in stale)


def test_a_parameter_that_names_its_file_kind_gets_that_kind():
    bank = ValueBank({"excel": "/sb/excel"})
    rng = random.Random(1)
    got = bank.candidates("excel", "export_csv", "csv_path", {"type": "string", "description": ".csv or .tsv file"},
                          rng, ["/sb/excel/sales.xlsx", "/sb/excel/data/orders.csv"], "Export a sheet of a workbook")
    assert got[0] == "/sb/excel/data/orders.csv" and "/sb/excel/sales.xlsx" not in got
    wb = bank.candidates("excel", "export_csv", "path", {"type": "string"}, rng, None, "Export a sheet of a workbook")
    assert wb[0].endswith("sales.xlsx")


def test_an_internal_error_on_one_plan_is_reported_not_fatal():
    from firefly_eval.generation.pipeline import PlanProcessor

    from firefly_eval.generation.llm import LLMStats

    proc = PlanProcessor.__new__(PlanProcessor)
    proc.uses_llm, proc.llm_stats = False, LLMStats()

    async def boom(plan, *_):
        raise OverflowError("int too large to convert to float")

    proc._run = boom
    plan = Plan(id="p1", nodes=[("a", "x"), ("a", "y")], edges=[(0, 1)], pattern="sequence")
    shard = asyncio.run(proc.run(plan))
    assert shard["plan"] == "p1" and shard["failed"].startswith("OverflowError: int too large")
    assert "test_explore_values.py" in shard["failed"]  # where it was raised


def test_own_server_new_names_ranges_and_no_printed_structures():
    from firefly_eval.generation.values import discovered_values, new_name_param

    assert new_name_param("excel_copy_sheet", "dstSheetName") and not new_name_param("excel_copy_sheet", "srcSheetName")
    assert new_name_param("excel_create_table", "tableName") and not new_name_param("excel_create_table", "sheetName")
    assert new_name_param("chroma_fork_collection", "new_collection_name")
    assert not new_name_param("chroma_fork_collection", "collection_name")
    text = "{'name': 'garden_notes', 'count': 3,\n[0.80000001, 0.1       , 0.30000001],\ngarden_notes"
    found = discovered_values("get_collection_info", {"content": [{"type": "text", "text": text}]})
    names = [v for k, vals in found.items() if k not in ("text", "number") for v in vals]
    assert names and all("{" not in v and not v.endswith(",") for v in names)
    bank = ValueBank({"budget": "/sb/budget"}, discovered={"budget": {"sheet": ["Budget"]}}, world_servers=set())
    rng = random.Random(0)
    copy = bank.candidates("budget", "excel_copy_sheet", "dstSheetName", {"type": "string"}, rng)
    assert copy and "Budget" not in copy and copy[0] == "Budget_copy"
    assert bank.candidates("budget", "excel_copy_sheet", "srcSheetName", {"type": "string"}, rng)[0] == "Budget"
    desc = "Write values to the Excel sheet"
    assert bank.candidates("budget", "excel_write_to_sheet", "range", {"type": "string"}, rng, None, desc)[0] == "A6:B6"
    assert bank.candidates("budget", "excel_read_sheet", "range", {"type": "string"}, rng, None, desc)[0] == "A1:C4"


def test_a_flow_replaces_a_stated_argument_and_never_adds_an_option():
    from firefly_eval.cards import ToolCard
    from firefly_eval.generation.explore import _card_sets

    card = ToolCard(server="notes", tool="search", goal="search my notes for {query}", args=[{"query": "Porto"}])
    props = {"query": {"type": "string"}, "relativeTime": {"type": "string"}, "offset": {"type": "integer"},
             "sessionId": {"type": "string"}}
    flows = {"query": ["Lisbon"], "relativeTime": ["2026-12-02T10:00:00Z"], "offset": [2]}
    sets = _card_sets(card, "", flows, props, random.Random(0))
    assert sets == [{"query": "Lisbon"}, {"query": "Porto"}]  # a save's timestamp is no search option
    required = _card_sets(card, "", {"sessionId": ["s-1"]}, props, random.Random(0), frozenset({"sessionId"}))
    assert required[0] == {"query": "Porto", "sessionId": "s-1"}
