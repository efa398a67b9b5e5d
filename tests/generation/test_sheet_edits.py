"""Spreadsheet edits on the seed world's workbook: on its data, not beside or over it."""

import pytest

from firefly_eval.generation.sheet_edits import misplaced_sheet_edits, parse_range
from firefly_eval.generation.synthesize import WORKSPACE_ROOT
from firefly_eval.generation.verify import misplaced_edits
from firefly_eval.schema import Task
from firefly_eval.world import build_world

BOOK = f"{WORKSPACE_ROOT}/excel/sales.xlsx"  # Sales A1:F41, Products A1:D11 (firefly_eval/world.py)


def _task(*steps: tuple[str, dict]) -> Task:
    refs = [{"server": "excel", "tool": tool, "arguments": {"path": BOOK, **args}} for tool, args in steps]
    return Task(question="q", tools=[("excel", t) for t, _ in steps], answer={"x": "1"},
                reference_calls=[str(i) for i in range(len(steps))], reference_arguments=refs, servers=["excel"],
                answer_schema={"type": "object", "properties": {"x": {"type": "string"}}}, pattern="sequence")


def test_parse_range():
    assert parse_range("D4:E4") == (4, 4, 5, 4)
    assert parse_range("E2") == (5, 2, 5, 2)
    assert parse_range("Sales!$A$1:B3") == (1, 1, 2, 3)
    assert parse_range("yesterday") is None


@pytest.mark.parametrize("tool,args,why", [
    ("add_conditional_format", {"sheet": "Products", "range": "E2:E41", "rule": {"type": "top"}}, "outside"),
    ("merge_cells", {"sheet": "Products", "range": "D4:E4"}, "outside"),
    ("clear_range", {"sheet": "Products", "range": "D1:E2"}, "outside"),
    ("copy_range", {"sheet": "Products", "range": "A1:B2", "at": "D1"}, "copies onto"),
    ("import_csv", {"sheet": "Products", "csv_path": f"{WORKSPACE_ROOT}/excel/data/orders.csv"}, "over the existing"),
    ("delete_rows_or_columns", {"sheet": "Products", "axis": "rows", "start": 1, "count": 2}, "header row"),
])
def test_an_edit_beside_or_over_the_data_is_named(tool, args, why):
    found = misplaced_sheet_edits(_task(("describe_workbook", {}), (tool, args)), build_world(), WORKSPACE_ROOT)
    assert len(found) == 1 and why in found[0] and tool in found[0]
    assert misplaced_edits(_task((tool, args))) == found


@pytest.mark.parametrize("tool,args", [
    ("add_conditional_format", {"sheet": "Sales", "range": "E2:E41", "rule": {"type": "top"}}),
    ("merge_cells", {"sheet": "Products", "range": "C1:D1"}),
    ("copy_range", {"sheet": "Products", "range": "A1:B2", "at": "F1"}),
    ("import_csv", {"sheet": "Orders", "csv_path": f"{WORKSPACE_ROOT}/excel/data/orders.csv"}),
    ("delete_rows_or_columns", {"sheet": "Products", "axis": "rows", "start": 5, "count": 1}),
    ("read_range", {"sheet": "Products", "range": "Z99"}),  # a read changes nothing
])
def test_an_edit_on_the_data_passes(tool, args):
    assert misplaced_sheet_edits(_task((tool, args)), build_world(), WORKSPACE_ROOT) == []


def test_a_sheet_an_earlier_step_changed_is_not_checked_again():
    imported = ("import_csv", {"sheet": "Orders", "csv_path": f"{WORKSPACE_ROOT}/excel/data/orders.csv"})
    task = _task(("write_range", {"sheet": "Products", "at": "E1", "rows": [["Stock"]]}),
                 ("add_conditional_format", {"sheet": "Products", "range": "E2:E11", "rule": {"type": "top"}}))
    assert misplaced_sheet_edits(task, build_world(), WORKSPACE_ROOT) == []
    assert misplaced_sheet_edits(_task(imported), build_world(), WORKSPACE_ROOT) == []
