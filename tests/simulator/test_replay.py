"""The replaying oracle: answers come from the replayed results, so a replay mismatch fails the sample."""

import json
import os
import subprocess
import sys

import pytest

from firefly_eval.generation.dataset import build_dataset
from firefly_eval.schema import CallRecord, Task, ToolSpec
from firefly_eval.simulator.mcp_server import load_simulator
from firefly_eval.simulator.replay import replay_answer


def _res(obj):
    return {"content": [{"type": "text", "text": json.dumps(obj)}], "isError": False}


def _task(question, rec, fields, reference_args=None):
    """A task whose fields {name: (fact key, gold, type)} all come from the one reference call ``rec``."""
    return Task(question=question, tools=[(rec.server, rec.tool)], servers=[rec.server],
                answer_schema={"type": "object", "properties": {n: {"type": t, "description": n}
                                                               for n, (_, _, t) in fields.items()},
                               "required": list(fields), "additionalProperties": False},
                answer={n: gold for n, (_, gold, _) in fields.items()}, reference_calls=[rec.id],
                reference_arguments=[{"server": rec.server, "tool": rec.tool,
                                      "arguments": reference_args or rec.arguments}],
                provenance={"answer_sources": {n: {"call": rec.id, "key": key} for n, (key, _, _) in fields.items()}})


EVAL = """
import json, sys
import inspect_ai
args = json.loads(sys.argv[1])
log = inspect_ai.eval("firefly_eval/heldout", model="firefly/oracle", task_args=args, display="none", log_dir="logs")[0]
print(json.dumps({"status": log.status, "accuracy": log.results.scores[0].metrics["accuracy"].value,
                  "samples": {s.id: [s.scores["field_match"].value, s.output.completion] for s in log.samples}}))
"""


def run_oracle(cwd, task_args):
    """``inspect_ai.eval("firefly_eval/heldout", model="firefly/oracle")`` in a fresh process in ``cwd``
    (the registered names resolve through the installed entry point, as for a user)."""
    proc = subprocess.run([sys.executable, "-c", EVAL, json.dumps(task_args)], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "FIREFLY_HOME": str(cwd / "home")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def dataset(tmp_path):
    calc = CallRecord(server="calc", tool="add", arguments={"a": 2, "b": 3}, result=_res({"sum": 5, "op": "plus"}))
    # an undeclared stateful server: read_graph {} recorded before and after a create_relations elsewhere
    graph = {"entities": [{"name": "Lumen"}, {"name": "Porto"}]}
    before = CallRecord(server="memory", tool="read_graph", result=_res({**graph, "relations": []}), run_id="r1")
    after = CallRecord(server="memory", tool="read_graph", run_id="r2",
                       result=_res({**graph, "relations": [{"from": "Lumen", "to": "Porto", "relationType": "ships"}]}))
    # a reference record lost from the written calls; only a reworded neighbour is left
    lost = CallRecord(server="kb", tool="search", arguments={"query": "Which tents sold best in Q3?"},
                      result=_res({"top": "Trail Tent 2P", "units": 40}))
    neighbour = CallRecord(server="kb", tool="search", arguments={"query": "which tents sold best in Q3"},
                           result=lost.result)
    tasks = [
        _task("What do two and three add up to, and how is it done?", calc,
              {"total": ("sum", 5, "integer"), "operation": ("op", "plus", "string")}),
        _task("How many relations and entities does the memory graph hold?", after,
              {"relations": ("len(relations)", 1, "integer"), "entities": ("len(entities)", 2, "integer")}),
        _task("Which tent sold best in Q3 and how many units?", lost,
              {"tent": ("top", "Trail Tent 2P", "string"), "units": ("units", 40, "integer")}),
    ]
    tools = [ToolSpec(server="calc", name="add", input_schema={"type": "object", "properties": {
                 "a": {"type": "number"}, "b": {"type": "number"}}}),
             ToolSpec(server="memory", name="read_graph"),
             ToolSpec(server="kb", name="search", input_schema={"type": "object", "properties": {
                 "query": {"type": "string"}}})]
    out = tmp_path / "dataset"
    build_dataset(tasks, [calc, before, after, neighbour], out, test_share=1.0, tools=tools, stateful_servers=set(),
                  verify_replay=False)  # these tasks are meant not to replay
    return out, tasks


def test_replay_answer_reports_each_mismatch(dataset):
    out, (calc, graph, lost) = dataset
    sim = load_simulator(out)  # a fresh simulator over the written dataset, as users replay it
    assert replay_answer(calc, sim) == ({"total": 5, "operation": "plus"}, [])
    answer, problems = replay_answer(graph, sim)
    assert answer["relations"] == 0 and problems == ["field relations: replayed 0, the gold answer is 1"]
    answer, problems = replay_answer(lost, sim)
    assert answer == {} and problems == ["reference call 0 (search) was answered by tier fuzzy, not exact"]
    assert len(sim.index.conflicts) == 1  # read_graph {}: two different results under one key


def test_oracle_fails_samples_whose_replay_does_not_reproduce_the_task(dataset, tmp_path):
    out, (calc, graph, lost) = dataset
    log = run_oracle(tmp_path, {"dataset": str(out)})
    assert log["status"] == "success"
    assert log["samples"][calc.id][0] == "C"
    for task, why in ((graph, "replayed 0, the gold answer is 1"), (lost, "answered by tier fuzzy")):
        value, completion = log["samples"][task.id]
        assert value == "I" and why in completion
    assert log["accuracy"] == pytest.approx(1 / 3)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 200 samples: ~4 min on an idle 2-core machine, 11+ min when shared
def test_oracle_fails_exactly_the_shipped_tasks_whose_replay_has_problems(tmp_path):
    from firefly_eval.simulator.perturb import shipped_calls
    from firefly_eval.tasks.heldout.dataset import load_bundle

    sim = load_simulator(shipped_calls())
    tasks, _, _ = load_bundle("shipped", "test")
    flagged = {t.id for t in tasks if replay_answer(t, sim)[1]}
    log = run_oracle(tmp_path, {})
    failed = {i for i, (value, _) in log["samples"].items() if value != "C"}
    assert len(log["samples"]) == len(tasks) and failed == flagged
