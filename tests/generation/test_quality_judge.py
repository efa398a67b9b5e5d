import asyncio

from inspect_ai.model import ModelOutput, ModelUsage, get_model

from firefly_eval.generation.task_judge import judge_task
from firefly_eval.schema import CallRecord, Task


def _out(t):
    o = ModelOutput.from_content("mockllm/model", t)
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


REC = CallRecord(server="calc", tool="calculate", arguments={"expression": "6*7"},
                 result={"content": [{"type": "text", "text": "42"}]})
TASK = Task(question="What is six times seven?", tools=[("calc", "calculate")],
            answer_schema={"type": "object", "properties": {"v": {"type": "integer"}}, "required": ["v"]},
            answer={"v": 42}, reference_calls=[REC.id])


def test_judge_keeps_good_drops_weak_and_garbage():
    good = '{"solvable": 5, "unambiguous": 5, "answer_supported": 5, "natural": 4, "non_trivial": 3, "reason": "ok"}'
    weak = '{"solvable": 5, "unambiguous": 2, "answer_supported": 5, "natural": 4, "non_trivial": 3}'
    model = get_model("mockllm/model", custom_outputs=[_out(good), _out(weak), _out("no idea")])
    keep, r = asyncio.run(judge_task(TASK, [REC], model))
    assert keep and r["judge"]["natural"] == 4
    keep, r = asyncio.run(judge_task(TASK, [REC], model))
    assert not keep and r["judge"]["unambiguous"] == 2
    keep, r = asyncio.run(judge_task(TASK, [REC], model))
    assert not keep and r["judge"] == "malformed"  # malformed: dropped by default (counted by the pipeline)
