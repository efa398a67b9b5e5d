"""firefly fleet cards: a model writes cards; bad replies are rejected and counted; cache by schema hash."""

import asyncio
import json

from inspect_ai.model import ModelOutput, ModelUsage, get_model

from firefly_eval.cards import load_cards
from firefly_eval.generation.card_writer import write_cards
from firefly_eval.schema import ToolSpec


def _out(text: str) -> ModelOutput:
    out = ModelOutput.from_content("mockllm/model", text)
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


TOOLS = [
    ToolSpec(server="myshop", name="order_status", description="Status of an order.",
             input_schema={"type": "object", "properties": {"order_no": {"type": "string"}}, "required": ["order_no"]}),
    ToolSpec(server="myshop", name="stock_level", description="Units in stock for a SKU.",
             input_schema={"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}),
    ToolSpec(server="myshop", name="ping", description="Health check.", input_schema={"type": "object"}),
]


def test_cards_written_checked_and_cached(tmp_path):
    good = {"goal": "check where order {order_no} stands", "args": [{"order_no": "A-1"}],
            "inputs": {"order_no": "the order"}, "use": "answer",
            "outputs": [{"key": "status", "name": "order_state", "ask": "the order's status", "refer": "that status"}]}
    leaky = {"goal": "call stock_level for {sku}", "use": "answer"}  # names the tool: rejected
    model = get_model("mockllm/model", custom_outputs=[
        _out("Here is the card:\n```json\n" + json.dumps(good) + "\n```"), _out(json.dumps(leaky)), _out("no idea")])
    counts = asyncio.run(write_cards(TOOLS, model, tmp_path))
    assert counts["written"] == 1 and counts["rejected"] == 2
    assert counts["rejected: names the tool or server"] == 1
    cards = load_cards([tmp_path])
    card = cards[("myshop", "order_status")]
    assert card.source == "llm" and card.goal == good["goal"] and card.schema_hash
    assert ("myshop", "stock_level") not in cards
    # a second run asks only about the tools still without a card (the scripted model has 2 replies left)
    again = get_model("mockllm/model", custom_outputs=[_out(json.dumps(
        {"goal": "see how many units of {sku} are in stock", "use": "answer", "args": [{"sku": "P-1"}]})),
        _out(json.dumps({"goal": "check the shop is up", "use": "never"}))])
    counts = asyncio.run(write_cards(TOOLS, again, tmp_path))
    assert counts["cached"] == 1 and counts["written"] == 2
    assert load_cards([tmp_path])[("myshop", "ping")].use == "never"
