"""``firefly train --config YAML``: GRPO with TRL, rollouts answered by the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firefly_eval.training.config import FireflyGRPOConfig

__all__ = ["check_tool_call_roundtrip", "train"]


def check_tool_call_roundtrip(tokenizer: Any) -> None:
    """Render single and parallel tool calls with the chat template and parse them back with TRL.

    Raises RuntimeError when they do not round-trip: training would otherwise see every tool
    call as plain text and silently earn zero reward.
    """
    from trl.chat_template_utils import add_response_schema, parse_response

    try:
        add_response_schema(tokenizer)
    except ValueError as exc:
        raise RuntimeError(f"chat template tool-call round trip failed: TRL cannot parse this template ({exc})") from exc
    cases = [
        [{"name": "call_tool", "arguments": {"tool": "fs__read_file", "arguments": "{\"path\": \"/a\"}"}}],
        [{"name": "call_tool", "arguments": {"tool": "calc__add", "arguments": "{\"a\": 1}"}},
         {"name": "submit", "arguments": {"answer": "{\"x\": 2}"}}],
    ]
    for calls in cases:
        prompt = [{"role": "user", "content": "hi"}]
        full = prompt + [{"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": c} for c in calls]}]
        prefix_ids = list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                        return_dict=False))
        full_ids = list(tokenizer.apply_chat_template(full, tokenize=True, return_dict=False))
        completion = full_ids[len(prefix_ids):]
        parsed = parse_response(tokenizer, completion, prefix=prefix_ids)
        got = [(c["function"]["name"], c["function"]["arguments"]) for c in parsed.get("tool_calls") or []]
        want = [(c["name"], c["arguments"]) for c in calls]
        if got != want:
            raise RuntimeError(f"chat template tool-call round trip failed: rendered {want}, parsed {got}; "
                               "use a tokenizer whose chat template TRL can parse (see trl/chat_templates)")


def train(cfg: FireflyGRPOConfig) -> Path:
    """Run GRPO; returns the saved checkpoint folder."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from firefly_eval.simulator import Simulator
    from firefly_eval.tasks.heldout.dataset import load_bundle, stateful_servers
    from firefly_eval.training.data import task_to_row
    from firefly_eval.training.env import logging_reward_funcs, make_env_factory
    from firefly_eval.training.tiny import build_tiny_model

    tasks, index, tools = load_bundle(cfg.dataset, cfg.dataset_split)
    tasks = tasks[: cfg.max_tasks] if cfg.max_tasks else tasks
    rows = [task_to_row(t, tools) for t in tasks]
    model_path = cfg.model_name_or_path
    if cfg.tiny_model:
        texts = [json.dumps(r["prompt"]) for r in rows]
        model_path = str(build_tiny_model(Path(cfg.output_dir) / "tiny-base", texts))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    check_tool_call_roundtrip(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    tiers = frozenset({"exact"}) if cfg.simulator_tier == "exact" else frozenset({"exact", "fuzzy"})
    sim = Simulator(index, tools=tools, tiers=tiers, stateful_servers=stateful_servers(cfg.dataset))
    logged = logging_reward_funcs()
    cfg.reward_weights = [0.0] * len(logged)  # logged per step; the reward itself is the env's get_reward
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=logged, args=cfg,
                          train_dataset=Dataset.from_list(rows),
                          environment_factory=make_env_factory(sim, cfg.partial_credit, cfg.malformed_penalty))
    result = trainer.train()
    out = Path(cfg.output_dir) / "final"
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    summary = {"global_step": result.global_step, "metrics": result.metrics, "tasks": len(rows),
               "log_history": trainer.state.log_history}
    (Path(cfg.output_dir) / "firefly_train.json").write_text(json.dumps(summary, indent=1, default=str))
    return out
