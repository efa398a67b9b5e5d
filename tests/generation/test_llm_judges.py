"""Model JSON parsing, the graph judge and the task judge on scripted mockllm outputs (no fleet needed):
malformed replies, numeric-string ratings, structured-output requests, and an API error mid-way."""

import asyncio
import json

import pytest
from inspect_ai.model import GenerateConfig, ModelOutput, ModelUsage, get_model

from firefly_eval.generation.edge_judge import judge_edges, verdict_key
from firefly_eval.generation.llm_stats import LLMStats
from firefly_eval.generation.task_judge import RUBRIC, judge_task
from firefly_eval.model_json import balanced_objects, json_object_in
from firefly_eval.schema import CallRecord, Task, ToolEdge, ToolSpec


def _out(text, tokens=(7, 3)):
    o = ModelOutput.from_content("mockllm/model", text)
    o.usage = ModelUsage(input_tokens=tokens[0], output_tokens=tokens[1], total_tokens=sum(tokens))
    return o


# --- tolerant JSON ---------------------------------------------------------------------------------------

def test_json_object_in_tries_each_balanced_object():
    # the old first-'{'-to-last-'}' span would fail on all of these
    assert json_object_in('I think {this} fits. {"verdict": "high", "reason": "x"} Hope {that} helps') == \
        {"verdict": "high", "reason": "x"}
    assert json_object_in('<think>maybe {"verdict": "bogus"}</think> {"verdict": "low", "reason": "r"}',
                          accept=lambda d: d["verdict"] in ("high", "low")) == {"verdict": "low", "reason": "r"}
    assert json_object_in('```json\n{"q": "a } inside a string {", "n": 1}\n```') == {"q": "a } inside a string {", "n": 1}
    assert json_object_in('{"a": 1, "b": ') is None and json_object_in("no json") is None
    assert json_object_in("[1, 2]") is None
    assert list(balanced_objects('x {"a": {"b": 1}} y')) == ['{"a": {"b": 1}}', '{"b": 1}']
    assert json_object_in('{ unclosed {"ok": true}') == {"ok": True}


# --- graph judge -----------------------------------------------------------------------------------------

def _tools(n):
    return {(f"s{i}", "t"): ToolSpec(server=f"s{i}", name="t", description=f"tool {i}") for i in range(n)}


def _edges(tools):
    keys = sorted(tools)
    return [ToolEdge(src=keys[0], dst=k, kind="data-flow", confidence=0.5 - i / 100, evidence=["cue"])
            for i, k in enumerate(keys[1:])]


def test_graph_judge_api_error_midway_keeps_paid_verdicts_and_resume_pays_only_the_rest(tmp_path):
    tools = _tools(9)
    edges = _edges(tools)  # 8 pairs
    cache = tmp_path / "judge.jsonl"
    seen_configs: list[GenerateConfig] = []
    calls = {"n": 0}

    def flaky(input, tools_, tool_choice, config):
        seen_configs.append(config)
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("simulated 500 from the API")
        if calls["n"] == 6:
            return _out("Sure! The verdict is high.")  # malformed: no JSON
        return _out('{"verdict": "high", "reason": "ok"}')

    rep = judge_edges(edges, tools, get_model("mockllm/model", custom_outputs=flaky), budget=100,
                      cache_path=cache, concurrency=1)
    assert rep.errors == 1 and "simulated 500" in rep.error
    assert rep.malformed == 1 and rep.judged == 6 and len(rep.kept) == 6
    assert len(cache.read_text().splitlines()) == 6  # every verdict paid for is on disk
    assert rep.usage.usage["judge"] == {"calls": 7, "input_tokens": 49, "output_tokens": 21, "total_tokens": 70}
    # deterministic, structured requests
    assert all(c.temperature == 0 and c.response_schema is not None for c in seen_configs)
    assert seen_configs[0].response_schema.json_schema.properties["verdict"].enum == ["high", "medium", "low"]

    again = {"n": 0}

    def ok(input, tools_, tool_choice, config):
        again["n"] += 1
        return _out('{"verdict": "low", "reason": "no"}')

    rep2 = judge_edges(edges, tools, get_model("mockllm/model", custom_outputs=ok), budget=100, cache_path=cache)
    assert again["n"] == 2 and rep2.cached == 6 and rep2.judged == 2 and rep2.errors == 0
    assert len(rep2.kept) == 6 and len(rep2.rejected) == 2


def test_graph_judge_cache_is_keyed_by_model(tmp_path):
    tools = _tools(3)
    edges = _edges(tools)
    cache = tmp_path / "judge.jsonl"
    mock = get_model("mockllm/model", custom_outputs=[_out('{"verdict": "high", "reason": "mock"}')] * 2)
    assert judge_edges(edges, tools, mock, budget=10, cache_path=cache).judged == 2
    other = get_model("mockllm/other-model", custom_outputs=[_out('{"verdict": "low", "reason": "other"}')] * 2)
    rep = judge_edges(edges, tools, other, budget=10, cache_path=cache)
    assert rep.cached == 0 and rep.judged == 2 and len(rep.rejected) == 2  # mockllm's verdicts not reused
    src, dst = tools[tuple(edges[0].src)], tools[tuple(edges[0].dst)]
    assert verdict_key("mockllm/model", src, dst) != verdict_key("mockllm/other-model", src, dst)
    rows = [json.loads(x) for x in cache.read_text().splitlines()]
    assert {r["model"] for r in rows} == {"mockllm/model", "mockllm/other-model"}


def test_graph_judge_torn_cache_line_is_skipped(tmp_path):
    tools = _tools(2)
    cache = tmp_path / "judge.jsonl"
    judge_edges(_edges(tools), tools, get_model("mockllm/model", custom_outputs=[
        _out('{"verdict": "medium", "reason": "m"}')]), budget=5, cache_path=cache)
    cache.write_text(cache.read_text() + '{"key": "abc", "verd')  # killed mid-write
    rep = judge_edges(_edges(tools), tools, get_model("mockllm/model", custom_outputs=[]), budget=5, cache_path=cache)
    assert rep.cached == 1 and rep.errors == 0


# --- task judge ------------------------------------------------------------------------------------------

REC = CallRecord(server="calc", tool="calculate", arguments={"expression": "6*7"},
                 result={"content": [{"type": "text", "text": "42"}]})
TASK = Task(question="What is six times seven?", tools=[("calc", "calculate")],
            answer_schema={"type": "object", "properties": {"v": {"type": "integer"}}, "required": ["v"]},
            answer={"v": 42}, reference_calls=[REC.id])


def test_task_judge_rubric_numeric_strings_and_malformed_policy():
    prompts, configs = [], []
    replies = iter([
        '{"solvable": "5", "unambiguous": "4", "answer_supported": 5, "natural": "3", "non_trivial": 4.0}',
        'Ratings: {"solvable": 5, "unambiguous": 5}',  # a criterion missing
        "no idea",
        '{"solvable": 5, "unambiguous": 2, "answer_supported": 5, "natural": 4, "non_trivial": 3, "reason": "two"}',
        '{"solvable": 9, "unambiguous": 5, "answer_supported": 5, "natural": 4, "non_trivial": 3}',  # off scale
    ])

    def fn(input, tools, tool_choice, config):
        prompts.append(input[-1].text)
        configs.append(config)
        return _out(next(replies))

    model = get_model("mockllm/model", custom_outputs=fn)
    stats = LLMStats()
    keep, r = asyncio.run(judge_task(TASK, [REC], model, stats=stats))
    assert keep and r["judge"] == {"solvable": 5, "unambiguous": 4, "answer_supported": 5, "natural": 3,
                                   "non_trivial": 4}
    assert all(line in prompts[0] for line in RUBRIC.values()) and "1 (worst) to 5 (best)" in prompts[0]
    assert configs[0].temperature == 0 and configs[0].response_schema.name == "task_ratings"
    keep, r = asyncio.run(judge_task(TASK, [REC], model, stats=stats))
    assert not keep and r["judge"] == "malformed"  # default: an unjudged task is dropped
    keep, r = asyncio.run(judge_task(TASK, [REC], model, stats=stats, on_malformed="keep"))
    assert keep and r["judge"] == "malformed"
    keep, r = asyncio.run(judge_task(TASK, [REC], model, stats=stats))
    assert not keep and r["judge"]["unambiguous"] == 2
    keep, r = asyncio.run(judge_task(TASK, [REC], model, stats=stats))
    assert not keep and r["judge"] == "malformed"
    assert stats.judge_malformed == 3 and stats.usage["judge"]["calls"] == 5
    with pytest.raises(ValueError, match="on_malformed"):
        asyncio.run(judge_task(TASK, [REC], model, on_malformed="ignore"))


def test_graph_judge_sees_ref_parameters_inlined():
    prompts = []
    src = ToolSpec(server="s", name="find", description="find a record")
    dst = ToolSpec(server="s", name="update", description="update a record", input_schema={
        "type": "object", "properties": {"record": {"$ref": "#/$defs/Record"}},
        "$defs": {"Record": {"type": "object", "properties": {"record_id": {"type": "string"}}}}})

    def fn(input, tools_, tool_choice, config):
        prompts.append(input[-1].text)
        return _out('{"verdict": "high", "reason": "id flows"}')

    edge = ToolEdge(src=src.key, dst=dst.key, kind="data-flow", confidence=0.5, evidence=["cue"])
    judge_edges([edge], {src.key: src, dst.key: dst}, get_model("mockllm/model", custom_outputs=fn), budget=1)
    assert "record_id" in prompts[0] and "$ref" not in prompts[0]
