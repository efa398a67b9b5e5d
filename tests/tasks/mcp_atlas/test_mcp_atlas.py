"""MCP-Atlas adapter: rows mapped onto the fleet, a real calculator server, a scripted judge."""

import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

from firefly_eval.mcp.config import firefly_home
from firefly_eval.schema import ToolSpec
from firefly_eval.tasks.mcp_atlas.dataset import load_rows, rows_to_samples

ROWS = Path(__file__).resolve().parents[2] / "fixtures" / "mcp_atlas" / "rows.jsonl"


def _out(text=None, call=None):
    if call:
        o = ModelOutput.for_tool_call("mockllm/model", call[0], call[1])
        o.choices[0].message.tool_calls = [ToolCall(id=call[0] + "1", function=call[0], arguments=call[1])]
    else:
        o = ModelOutput.from_content("mockllm/model", text)
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


def test_rows_needing_missing_tools_are_left_out_and_counted():
    tools = {("calculator", "calculate"): ToolSpec(server="calculator", name="calculate")}
    with pytest.warns(UserWarning, match="1 of 2 rows"):
        ds, skipped = rows_to_samples(load_rows(str(ROWS)), tools)
    assert skipped == 1 and [s.id for s in ds] == ["atlas-1"]
    assert ds[0].metadata["tools"] == [["calculator", "calculate"]]


@pytest.mark.fleet
@pytest.mark.slow
def test_end_to_end_with_real_server_and_scripted_judge():
    if not (firefly_home() / "fleet" / "calculator" / ".firefly-installed").exists():
        pytest.skip("calculator server not installed")
    from firefly_eval.tasks.mcp_atlas import task as atlas

    atlas._fleet_tools = lambda: {("calculator", "calculate"): ToolSpec(server="calculator", name="calculate")}
    t = atlas.mcp_atlas(dataset=str(ROWS))
    agent = get_model("mockllm/model", custom_outputs=[
        _out(call=("calculate", {"expression": "17*23"})), _out(call=("submit", {"answer": "17 x 23 = 391"}))])
    judge = get_model("mockllm/model", custom_outputs=[_out("FULL")])
    log = inspect_eval(t, model=agent, model_roles={"grader": judge}, display="none", log_dir=tempfile.mkdtemp())[0]
    assert log.status == "success", log.error
    s = log.samples[0]
    assert any(m.role == "tool" and "391" in m.text for m in s.messages)
    score = s.scores["claim_coverage"]
    assert score.value == 1.0 and score.metadata["coverage"] == 1.0
