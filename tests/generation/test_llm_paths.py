"""LLM explorer and synthesizer on the live test fleet, driven by scripted mockllm outputs."""

import asyncio
import json

import pytest
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

from firefly_eval.agent_tools import exposed_name
from firefly_eval.generation.llm import LLMStats, explore_plan_llm, synthesize_task_llm
from firefly_eval.generation.verify import Verifier
from firefly_eval.mcp.config import firefly_home, load_fleet, test_fleet_path as small_fleet_path
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


def test_llm_explorer_and_synthesizer_end_to_end():
    specs = [s for s in load_fleet(small_fleet_path()) if s.name in ("calculator", "filesystem")]
    if any(not (firefly_home() / "fleet" / s.name / ".firefly-installed").exists() for s in specs):
        pytest.skip("test fleet not installed")
    plan = Plan(id="p-llm", nodes=[("filesystem", "read_text_file"), ("calculator", "calculate")], edges=[(0, 1)],
                pattern="sequence")

    async def go():
        fleet = Fleet(specs)
        try:
            await fleet.start()
            root = str(fleet.sandbox_root / "filesystem")
            explorer = get_model("mockllm/model", custom_outputs=[
                _call("calculator__delete_everything", {}, 0),  # outside the plan: refused, counted
                _call(exposed_name("filesystem", "read_text_file"), {"path": f"{root}/notes/todo.txt"}, 1),
                _call(exposed_name("calculator", "calculate"), {"expression": "102*3"}, 2),
            ])
            stats = LLMStats()
            exp = await explore_plan_llm(plan, fleet, explorer, {"filesystem": root}, stats=stats)
            assert stats.outside_plan_calls == 1
            assert [s.record is not None for s in exp.steps] == [True, True]
            synth = get_model("mockllm/model", custom_outputs=[_text(json.dumps({
                "question": "How many lines does our todo list have, and what is 102 times 3?",
                "fields": [{"fact": "F0", "name": "todo_lines", "description": "lines in the todo list"},
                           {"fact": "F2", "name": "product", "description": "102 times 3"}]}))])
            task = await synthesize_task_llm(exp, fleet.tools, synth, stats=stats)
            assert task.question.startswith("How many lines")
            assert set(task.answer) == {"todo_lines", "product"} and task.answer["product"] == 306
            kept = Verifier({s.name for s in specs if s.stateful}, tools=fleet.tools).check(task, exp.calls, set())
            assert kept is not None, "LLM-written task must pass oracle replay and self-check"
            # malformed synthesizer output falls back to the template synthesizer, counted
            bad = get_model("mockllm/model", custom_outputs=[_text("I cannot do JSON today")])
            fallback = await synthesize_task_llm(exp, fleet.tools, bad, stats=stats)
            assert stats.fallbacks == 1 and fallback is not None and fallback.provenance["synthesizer"] == "template"
        finally:
            await fleet.close()

    asyncio.run(go())
