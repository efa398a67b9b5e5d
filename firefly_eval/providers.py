"""Inspect model providers: ``firefly/oracle`` and ``firefly/baseline``.

* ``firefly/oracle`` makes the gold reference calls of the sample (found by its question)
  through the harness's simulator, then builds its answer from the *replayed* results (each
  field from its answer source, :func:`firefly_eval.simulator.replay.answer_from_calls`) and
  submits it. Any replay problem (a reference call answered by another tier, a different
  record, a lost fact) means no submission: the sample fails. On a verified set it must
  score 100%: it is the harness's own end-to-end check (simulator, tool wiring, submit
  validation, scorer).
* ``firefly/baseline`` is a non-LLM floor: it calls the tools the question names with the
  arguments the question spells out, then fills each answer field from the last results
  (numbers for numeric fields, the first line for strings).
"""

from __future__ import annotations

import json
import re
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    ChatMessageUser,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolCall, ToolChoice, ToolInfo

from firefly_eval.agent_tools import SUBMIT, exposed_name
from firefly_eval.simulator.replay import answer_from_calls
from firefly_eval.simulator.simulator import current_episode

__all__ = ["FireflyModelAPI"]

_ARG = re.compile(r"(\w+) = (\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?|true|false|\[[^\]]*\]|\{[^}]*\})")
_TOOL = re.compile(r"use `([^`]+)` on the ([\w\-.]+) server")
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def _question(messages: list[ChatMessage]) -> str:
    for m in messages:
        if isinstance(m, ChatMessageUser):
            return m.text
    return ""


def _replayed_calls(messages: list[ChatMessage], task: Any) -> list[dict[str, Any]]:
    """The calls this sample made and what the simulator answered.

    From the harness's simulator episode when the agent loop runs one (full results, tiers);
    otherwise (another solver) from the tool messages, as text results without tiers.
    """
    episode = current_episode.get()
    if episode is not None:
        return list(episode.calls)
    refs = iter(task.reference_arguments)
    calls = []
    for m in messages:
        if isinstance(m, ChatMessageTool) and m.function != SUBMIT:
            ref = next(refs, None)
            if ref is None:
                break
            calls.append({**ref, "answer": {"content": [{"type": "text", "text": m.text}],
                                            "isError": m.error is not None}})
    return calls


def _output(model: str, calls: list[ToolCall] | None, text: str = "") -> ModelOutput:
    out = ModelOutput.from_content(model=model, content=text)
    out.choices[0].message = ChatMessageAssistant(content=text, tool_calls=calls or None, model=model)
    out.choices[0].stop_reason = "tool_calls" if calls else "stop"
    out.usage = ModelUsage(input_tokens=0, output_tokens=0, total_tokens=0)
    return out


@modelapi(name="firefly")
class FireflyModelAPI(ModelAPI):
    """Scripted agents for the firefly harness (``oracle`` or ``baseline``)."""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = GenerateConfig(), **model_args: Any) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        if model_name not in ("oracle", "baseline"):
            raise ValueError(f"firefly model must be 'oracle' or 'baseline', got {model_name!r}")

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice,
                       config: GenerateConfig) -> ModelOutput:
        turn = sum(isinstance(m, ChatMessageAssistant) for m in input)
        if self.model_name == "oracle":
            return self._oracle(input, turn, {t.name for t in tools})
        return self._baseline(input, tools, turn)

    def _oracle(self, input: list[ChatMessage], turn: int, offered: set[str] | None = None) -> ModelOutput:
        from firefly_eval.tasks.heldout.dataset import TASKS_BY_ID

        q = _question(input)
        # two tasks may ask the same on two servers ("list the tables of the company database ..."):
        # the sample's own task is the one whose reference tools are offered
        same = [t for t in TASKS_BY_ID.values() if t.question == q]
        task = next((t for t in same if offered is None or all(
            exposed_name(r["server"], r["tool"]) in offered for r in t.reference_arguments)), same[0] if same else None)
        if task is None:
            raise RuntimeError("firefly/oracle: the sample is not a loaded firefly task (unknown question)")
        last = input[-1] if input else None
        if isinstance(last, ChatMessageTool) and last.function == SUBMIT and not last.error:
            return _output("oracle", None, "Submitted.")
        if turn < len(task.reference_arguments):
            ref = task.reference_arguments[turn]
            call = ToolCall(id=f"oracle-{turn}", function=exposed_name(ref["server"], ref["tool"]),
                            arguments=ref["arguments"])
            return _output("oracle", [call])
        answer, problems = answer_from_calls(task, _replayed_calls(input, task))
        if problems:
            return _output("oracle", None, "firefly/oracle: the replay does not reproduce the task: "
                                           + "; ".join(problems))
        return _output("oracle", [ToolCall(id=f"oracle-{turn}", function=SUBMIT, arguments=answer)])

    def _baseline(self, input: list[ChatMessage], tools: list[ToolInfo], turn: int) -> ModelOutput:
        q = _question(input)
        names = {t.name for t in tools}
        steps = []
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z])", q):
            m = _TOOL.search(sentence)
            if not m:
                continue
            fn = exposed_name(m.group(2), m.group(1))
            if fn not in names:
                continue
            args: dict[str, Any] = {}
            for k, v in _ARG.findall(sentence):
                try:
                    args[k] = json.loads(v)
                except ValueError:
                    args[k] = v.strip('"')
            steps.append((fn, args))
        if turn < len(steps):
            fn, args = steps[turn]
            return _output("baseline", [ToolCall(id=f"baseline-{turn}", function=fn, arguments=args)])
        results = [m.text for m in input if isinstance(m, ChatMessageTool)]
        submit = next((t for t in tools if t.name == SUBMIT), None)
        answer: dict[str, Any] = {}
        last = results[-1] if results else ""
        for name, p in (submit.parameters.properties.items() if submit else []):
            if p.type in ("number", "integer"):
                nums = _NUM.findall(last)
                answer[name] = float(nums[0]) if nums else 0
                if p.type == "integer":
                    answer[name] = int(answer[name])
            elif p.type == "boolean":
                answer[name] = False
            else:
                answer[name] = (last.strip().splitlines() or [""])[0][:80]
        return _output("baseline", [ToolCall(id=f"baseline-{turn}", function=SUBMIT, arguments=answer)])
