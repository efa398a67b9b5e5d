"""Blanket write annotations (every tool of a server marked writing, its readers included) say nothing: the names
decide which calls change state."""

from firefly_eval.mutation import drop_blanket_hints, is_mutating
from firefly_eval.schema import ToolSpec

WRITES = {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True}


def _tools(*names: str, annotations: dict | None = None) -> list[ToolSpec]:
    return [ToolSpec(server="budget", name=n, description=n, annotations=dict(annotations or WRITES)) for n in names]


def test_a_server_that_marks_its_readers_as_writing_is_judged_by_its_names():
    tools = drop_blanket_hints(_tools("excel_read_sheet", "excel_describe_sheets", "excel_write_to_sheet"))
    assert [is_mutating(t.name, {}, t.annotations) for t in tools] == [False, False, True]
    assert tools[0].annotations == {"openWorldHint": True}  # other hints are kept


def test_annotations_that_tell_tools_apart_are_kept():
    honest = _tools("read_sheet", "write_sheet", "describe_sheets")
    honest[0] = honest[0].model_copy(update={"annotations": {"readOnlyHint": True}})
    assert drop_blanket_hints(honest) == honest
    writers = _tools("write_a", "delete_b", "create_c")  # all writers: the blanket may well be right
    assert drop_blanket_hints(writers) == writers
    two = _tools("read_x", "write_y")  # too few tools to call it a blanket
    assert drop_blanket_hints(two) == two
