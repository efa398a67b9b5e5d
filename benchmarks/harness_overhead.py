"""Per-sample overhead of firefly_eval/heldout (simulator tools, submit validation, scorer) vs. a bare
Inspect task whose plain Python tools return the same strings; both run the firefly/oracle, one run.
"""

import json
import time

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.scorer import includes
from inspect_ai.solver import generate, solver
from inspect_ai.tool import ToolDef

from firefly_eval.agent_tools import SUBMIT, exposed_name, tool_info
from firefly_eval.schema import canonical_json
from firefly_eval.tasks.heldout.dataset import load_bundle, samples
from firefly_eval.tasks.heldout.task import heldout


def bare_task() -> Task:
    tasks, index, tools = load_bundle("shipped", "test")
    answers: dict[tuple[str, str], str] = {}
    for t in tasks:
        for ref in t.reference_arguments:
            rec = index.exact(ref["server"], ref["tool"], ref["arguments"]) or next(
                r for r in index.records() if r.server == ref["server"] and r.tool == ref["tool"]
                and canonical_json(r.arguments) == canonical_json(ref["arguments"]))
            answers[(exposed_name(ref["server"], ref["tool"]), canonical_json(ref["arguments"]))] = rec.text()
    defs = []
    for spec in {(s, n): tools[(s, n)] for t in tasks for s, n in t.tools}.values():
        name = exposed_name(spec.server, spec.name)
        info = tool_info(spec)
        for pname, param in info.parameters.properties.items():
            param.description = param.description or pname  # ToolDef insists on descriptions

        def make(n):
            async def call(**kwargs):
                return answers.get((n, canonical_json(kwargs)), "no data")
            return call

        defs.append(ToolDef(make(name), name=name, description=info.description, parameters=info.parameters))

    async def submit(**kwargs):
        return "submitted"

    from inspect_ai.tool import ToolParams

    submit_tool = ToolDef(submit, name=SUBMIT, description="submit",
                          parameters=ToolParams(additionalProperties=True)).as_tool()
    by_name = {d.name: d.as_tool() for d in defs}

    @solver
    def own_tools():
        async def solve(state, generate):  # the sample's own tools only, like heldout's tools="task"
            state.tools = [by_name[exposed_name(s, n)] for s, n in state.metadata["tools"]] + [submit_tool]
            return state

        return solve

    return Task(dataset=samples(tasks), solver=[own_tools(), generate(tool_calls="loop")], scorer=includes())


def timed(task):
    t0 = time.perf_counter()
    log = inspect_eval(task, model="firefly/oracle", display="none", log_dir="logs/bench")[0]
    if log.status != "success":
        raise SystemExit(f"eval failed: {log.error.message if log.error else log.status}")
    return time.perf_counter() - t0, len(log.samples), log.results.scores[0].metrics


for _ in range(2):  # second round is the measured one (imports and caches warm)
    t_bare, n, _m = timed(bare_task())
    t_ff, n2, metrics = timed(heldout())
print(json.dumps({"samples": n2, "bare_seconds": round(t_bare, 2), "firefly_seconds": round(t_ff, 2),
                  "bare_per_sample_ms": round(1000 * t_bare / n, 1), "firefly_per_sample_ms": round(1000 * t_ff / n2, 1),
                  "ratio": round(t_ff / t_bare, 3), "firefly_accuracy": metrics["accuracy"].value}, indent=1))
