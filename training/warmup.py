"""Gold trajectories replayed through the training environment, and a short SFT warm-up on them.

A randomly initialised model never emits a tool call, so a smoke run of GRPO would never reach
the simulator. A few SFT steps on the tasks' gold trajectories (each reference call made through
:class:`~firefly_eval.training.env.FireflyEnv`'s own tool methods, then the gold answer submitted)
teach a tiny model the chat template's tool-call format in seconds on a CPU.
"""

from __future__ import annotations

import json
from typing import Any

from firefly_eval.agent_tools import SUBMIT, exposed_name
from firefly_eval.schema import Task
from firefly_eval.training.env import FireflyEnv

__all__ = ["gold_conversation", "sft_warmup"]


def _call_message(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}


def gold_conversation(env: FireflyEnv, row: dict[str, Any], task: Task) -> list[dict[str, Any]]:
    """The row's prompt, then each reference call and the environment's answer, then ``submit(gold)``.

    Raises ValueError when the replay does not earn the full reward (the environment, the simulator
    or the grader disagree with the label).
    """
    env.reset(**row)
    messages = [dict(m) for m in row["prompt"]]
    for ref in task.reference_arguments:
        name = exposed_name(ref["server"], ref["tool"])
        text = getattr(env, name)(**ref["arguments"])
        messages += [_call_message(name, ref["arguments"]), {"role": "tool", "name": name, "content": text}]
    text = getattr(env, SUBMIT)(**task.answer)
    messages += [_call_message(SUBMIT, task.answer), {"role": "tool", "name": SUBMIT, "content": text},
                 {"role": "assistant", "content": "Done."}]
    reward = env.get_reward()
    if reward != 1.0:
        raise ValueError(f"task {task.id}: gold replay earns reward {reward}, not 1.0 ({json.dumps(env.calls)[:300]})")
    return messages


def sft_warmup(model: Any, tokenizer: Any, conversations: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
               steps: int, learning_rate: float, chat_template: str | None = None,
               chat_template_kwargs: dict[str, Any] | None = None) -> list[float]:
    """Train ``model`` for ``steps`` steps on ``(messages, tools)`` conversations; loss on the assistant turns only.

    Returns the loss of every step.
    """
    import torch

    kwargs = dict(chat_template_kwargs or {})

    def render(msgs: list[dict[str, Any]], tools: list[dict[str, Any]], gen: bool) -> list[int]:
        return list(tokenizer.apply_chat_template(msgs, tools=tools, chat_template=chat_template, tokenize=True,
                                                  add_generation_prompt=gen, return_dict=False, **kwargs))

    batches = []
    for messages, tools in conversations:
        full = render(messages, tools, False)
        keep = [False] * len(full)
        for i, m in enumerate(messages):  # train on each assistant turn: tokens between its prompt and its end
            if m["role"] == "assistant":
                start, end = len(render(messages[:i], tools, True)), len(render(messages[: i + 1], tools, False))
                keep[start:end] = [True] * (end - start)
        ids = torch.tensor([full])
        labels = ids.clone()
        labels[0, ~torch.tensor(keep)] = -100
        batches.append((ids, labels))
    device = next(model.parameters()).device
    batches = [(ids.to(device), labels.to(device)) for ids, labels in batches]
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    losses = []
    for step in range(steps):
        ids, labels = batches[step % len(batches)]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
        losses.append(loss.item())
    return losses
