"""Retrieval-augmented LLM miss policy and adapter, driven by a scripted mockllm."""

import asyncio
import json

from inspect_ai.model import ModelOutput, ModelUsage, get_model

from firefly_eval.schema import CallRecord, ToolSpec
from firefly_eval.simulator import CallIndex, Simulator
from firefly_eval.simulator.llm import llm_adapter, llm_simulator, parse_result

NOTES = ToolSpec(server="notes", name="read_note", description="Read one note of the knowledge base by its id.",
                 input_schema={"type": "object", "properties": {"note_id": {"type": "string"}},
                               "required": ["note_id"]},
                 output_schema={"type": "object", "properties": {"body": {"type": "string"}}})
WRITE = ToolSpec(server="notes", name="write_note", input_schema={"type": "object", "properties": {
    "note_id": {"type": "string"}, "body": {"type": "string"}}})
RECS = [
    CallRecord(server="notes", tool="read_note", arguments={"note_id": "N-1"},
               result={"content": [{"type": "text", "text": "Restock headlamps"}], "structuredContent":
                       {"body": "Restock headlamps"}, "isError": False}),
    CallRecord(server="notes", tool="read_note", arguments={"note_id": "N-404"},
               result={"content": [{"type": "text", "text": "note N-404 not found"}], "isError": True}, is_error=True),
]


class Scripted:
    """A mockllm ``custom_outputs`` function that records prompts and configs."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.prompts = []
        self.configs = []

    def __call__(self, input, tools, tool_choice, config):
        self.prompts.append(input[-1].text)
        self.configs.append(config)
        out = ModelOutput.from_content("mockllm/model", self.replies.pop(0))
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return out


def _sim(script, **kw):
    model = get_model("mockllm/model", custom_outputs=script)
    return Simulator(CallIndex(RECS), tools={NOTES.key: NOTES, WRITE.key: WRITE}, stateful_servers={"notes"},
                     miss_policy="simulate", simulate_fn=llm_simulator(model), **kw), model


def test_simulated_miss_sees_spec_neighbours_and_earlier_calls_and_may_return_an_error():
    script = Scripted('{"isError": false, "text": "ok"}',
                      '```json\n{"isError": true, "text": "note N-7 not found"}\n```')
    sim, _ = _sim(script)

    async def episode():
        ep = sim.episode()
        await ep.acall("notes", "write_note", {"note_id": "N-2", "body": "Order tents"})
        return await ep.acall("notes", "read_note", {"note_id": "N-7"})

    ans = asyncio.run(episode())
    assert ans.tier == "simulated" and ans.is_error and ans.result["content"][0]["text"] == "note N-7 not found"
    assert ans.result["_meta"]["firefly/simulated"] is True
    prompt = script.prompts[1]
    for needle in ("Read one note of the knowledge base by its id.", '"note_id"', "Output schema", '"body"',
                   '{"note_id":"N-1"}', "Restock headlamps", '{"note_id":"N-404"}', "note N-404 not found",
                   '"isError": true', "write_note", "Order tents", '{"note_id":"N-7"}'):
        assert needle in prompt, needle
    assert all(c.temperature == 0.0 for c in script.configs)


def test_simulated_results_are_cached_so_every_epoch_sees_the_same_world():
    script = Scripted('{"isError": false, "text": "Pack the stove"}', '{"isError": false, "text": "other"}')
    sim, _ = _sim(script)

    async def two_epochs():
        out = []
        for _ in range(2):
            ep = sim.episode()
            out.append(await ep.acall("notes", "read_note", {"note_id": "N-9"}))
        return out

    first, second = asyncio.run(two_epochs())
    assert first.result == second.result and "Pack the stove" in str(first.result)
    assert len(script.prompts) == 1


def test_adapter_keeps_a_recorded_error_an_error_and_rewrites_structured_content():
    script = Scripted('{"text": "note N-405 not found"}',
                      '{"isError": false, "text": "Restock lanterns", "structuredContent": {"body": "Restock lanterns"}}')
    model = get_model("mockllm/model", custom_outputs=script)
    sim = Simulator(CallIndex(RECS), tools={NOTES.key: NOTES}, adapt_fn=llm_adapter(model), fuzzy_threshold=50)

    async def go():
        return (await sim.aanswer("notes", "read_note", {"note_id": "N-405"}),
                await sim.aanswer("notes", "read_note", {"note_id": "N-2"}))

    err, ok = asyncio.run(go())
    assert err.tier == "adapted" and err.is_error and err.source_id == RECS[1].id
    assert ok.tier == "adapted" and not ok.is_error and ok.source_id == RECS[0].id
    assert ok.result["structuredContent"] == {"body": "Restock lanterns"}
    assert "Rewrite that result" in script.prompts[0] and "note N-404 not found" in script.prompts[0]


def test_parse_result_takes_plain_text_as_the_result():
    assert parse_result("just text") == {"content": [{"type": "text", "text": "just text"}], "isError": False}
    out = parse_result(json.dumps({"isError": False, "text": {"a": 1}}))
    assert out["content"][0]["text"] == '{"a": 1}' and out["isError"] is False
