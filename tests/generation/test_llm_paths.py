"""LLM explorer and synthesizer on the live test fleet, driven by scripted mockllm outputs."""

import asyncio
import json

import pytest
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

from firefly_eval.agent_tools import exposed_name
from firefly_eval.generation.llm import LLMStats, explore_plan_llm, synthesize_task_llm
from firefly_eval.generation.verify import Verifier
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.schema import Plan

pytestmark = pytest.mark.fleet


def _usage(o):
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


def _call(fn, args, i):
    o = ModelOutput.for_tool_call("mockllm/model", fn, args)
    o.choices[0].message.tool_calls = [ToolCall(id=f"t{i}", function=fn, arguments=args)]
    return _usage(o)


def _text(t):
    return _usage(ModelOutput.from_content("mockllm/model", t))


def test_llm_explorer_and_synthesizer_end_to_end(installed_fleet):
    specs = installed_fleet(only=("calculator", "unitconv"))
    plan = Plan(id="p-llm", nodes=[("calculator", "calculate"), ("unitconv", "convert_length")], edges=[(0, 1)],
                pattern="sequence")

    async def go():
        fleet = Fleet(specs)
        try:
            await fleet.start()
            explorer = get_model("mockllm/model", custom_outputs=[
                _call("calculator__delete_everything", {}, 0),  # outside the plan: refused, counted
                _call(exposed_name("calculator", "calculate"), {"expression": "2*(3+4)"}, 1),
                _call(exposed_name("unitconv", "convert_length"),
                      {"value": 14, "from_unit": "kilometer", "to_unit": "mile"}, 2),
            ])
            stats = LLMStats()
            exp = await explore_plan_llm(plan, fleet, explorer, {}, stats=stats)
            assert stats.outside_plan_calls == 1
            assert [s.record is not None for s in exp.steps] == [True, True]
            # the model picks facts by number; the question states the expression and the units, and
            # refers to the computed distance by meaning (the chain is needed)
            synth = get_model("mockllm/model", custom_outputs=[_text(json.dumps({
                "question": "Work out 2*(3+4) and treat it as a distance in kilometer: how far is that in mile?",
                "fields": [{"fact": "F2", "name": "distance_miles", "description": "that distance in miles"}]}))])
            task = await synthesize_task_llm(exp, fleet.tools, synth, stats=stats)
            assert task.question.startswith("Work out")
            assert list(task.answer) == ["distance_miles"]
            assert abs(float(task.answer["distance_miles"]) - 8.699) < 0.01
            kept = Verifier({s.name for s in specs if s.stateful}, tools=fleet.tools).check(task, exp.calls, set())
            assert kept is not None, "LLM-written task must pass the checks and oracle replay"
            # a reply that names a tool is written but dropped by the same verification
            leaky = get_model("mockllm/model", custom_outputs=[_text(json.dumps({
                "question": "Use convert_length with value = 14 and report it.",
                "fields": [{"fact": "F1", "name": "distance_miles", "description": "miles"}]}))])
            bad_task = await synthesize_task_llm(exp, fleet.tools, leaky, stats=stats)
            assert Verifier(set(), tools=fleet.tools).check(bad_task, exp.calls, set()) is None
            # malformed synthesizer output falls back to the card synthesizer, counted
            bad = get_model("mockllm/model", custom_outputs=[_text("I cannot do JSON today")])
            fallback = await synthesize_task_llm(exp, fleet.tools, bad, stats=stats)
            assert stats.fallbacks == 1 and fallback is not None and fallback.provenance["synthesizer"] == "cards"
        finally:
            await fleet.close()

    asyncio.run(go())


class _FakeFleet:
    """Two tools; ``calc__fail`` always returns an error result. Stands in for the fleet: the loop is under test."""

    def __init__(self):
        from firefly_eval.schema import ToolSpec

        self.tools = {("calc", n): ToolSpec(server="calc", name=n, description=f"{n} tool") for n in ("add", "fail")}
        self.calls = []

    async def call(self, server, tool, arguments):
        from firefly_eval.schema import CallRecord

        self.calls.append(tool)
        err = tool == "fail"
        return CallRecord(server=server, tool=tool, arguments=arguments, is_error=err,
                          result={"content": [{"type": "text", "text": "bad input" if err else "3"}], "isError": err})


PLAN2 = Plan(id="p-nudge", nodes=[("calc", "add"), ("calc", "fail")], edges=[], pattern="fan-out")


def test_llm_explorer_is_nudged_on_text_and_stops_on_its_budgets():
    seen = []

    def scripted(replies):
        it = iter(replies)

        def fn(input, tools, tool_choice, config):
            seen.append(input[-1].text if input[-1].role == "user" else "")
            return next(it)
        return get_model("mockllm/model", custom_outputs=fn)

    add, fail = exposed_name("calc", "add"), exposed_name("calc", "fail")
    # a text reply while steps are left is answered with a nudge naming them; the plan then completes
    stats = LLMStats()
    model = scripted([_text("I think I am done."), _call(add, {"a": 1}, 1), _call(fail, {"x": 1}, 2),
                      _call(fail, {"x": 2}, 3), _text("it cannot succeed"), _text("really"), _text("stop")])
    exp = asyncio.run(explore_plan_llm(PLAN2, _FakeFleet(), model, {}, stats=stats, max_turns=12))
    assert "Not every step has succeeded yet" in seen[1] and add in seen[1] and fail in seen[1]
    assert [s.record is not None for s in exp.steps] == [True, False]
    # 1 nudge after the first text, then 2 more text replies in a row are nudged, the third ends the loop
    assert stats.nudges == 3 and stats.usage["explore"]["calls"] == 7 and stats.turn_budget_spent == 0
    # a model that keeps calling a failing tool spends the turn budget: counted
    stats = LLMStats()
    fleet = _FakeFleet()
    model = scripted([_call(add, {"a": 1}, 0)] + [_call(fail, {"x": i}, i + 1) for i in range(10)])
    asyncio.run(explore_plan_llm(PLAN2, fleet, model, {}, stats=stats, max_turns=5))
    assert stats.turn_budget_spent == 1 and stats.usage["explore"]["calls"] == 5 and fleet.calls.count("fail") == 4
    # every step done: the loop ends at once, nothing counted
    stats = LLMStats()
    done = _FakeFleet()
    done.tools = {("calc", "add"): done.tools[("calc", "add")]}
    one = Plan(id="p-one", nodes=[("calc", "add")], edges=[], pattern="single")
    asyncio.run(explore_plan_llm(one, done, scripted([_call(add, {"a": 1}, 0)]), {}, stats=stats, max_turns=5))
    assert stats.usage["explore"]["calls"] == 1 and stats.nudges == stats.turn_budget_spent == 0
