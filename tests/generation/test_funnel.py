import json

from firefly_eval.generation.funnel import STAGES, tool_funnel
from firefly_eval.schema import CallRecord, Task, ToolSpec


def test_each_tool_is_counted_at_the_last_stage_it_reached(tmp_path):
    tools = ["used", "ok_only", "failing", "drawn", "edge_only", "alone"]
    specs = [ToolSpec(server="s", name=n) for n in tools]
    edge = {"src": ["s", "edge_only"], "dst": ["s", "drawn"]}
    (tmp_path / "graph.json").write_text(json.dumps({"edges": [edge], "coverage": [
        {"src": ["s", "used"], "dst": ["s", "ok_only"]}, {"src": ["s", "failing"], "dst": ["s", "used"]}]}))
    (tmp_path / "plans.jsonl").write_text(json.dumps({"nodes": [["s", "used"], ["s", "ok_only"], ["s", "failing"],
                                                                 ["s", "drawn"]]}) + "\n")
    calls = [CallRecord(server="s", tool="used"), CallRecord(server="s", tool="ok_only"),
             CallRecord(server="s", tool="failing", is_error=True)]
    task = Task(question="q", tools=[("s", "used")], answer_schema={"type": "object"}, answer={}, servers=["s"],
                pattern="sequence")
    f = tool_funnel(tmp_path, specs, calls, [task])
    assert f["stages"] == dict(zip(STAGES, [1, 1, 1, 1, 1, 1]))
    assert f["examples"]["calls_failed"] == ["s/failing"] and "in_tasks" not in f["examples"]
    assert f["servers"]["s"]["not_in_graph"] == 1 and f["tools"] == 6
