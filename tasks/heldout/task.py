"""``inspect eval firefly_eval/heldout --model <any>``: verified tasks replayed by the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from inspect_ai import Epochs, Task, task
from inspect_ai.solver import Solver

from firefly_eval.simulator import Simulator
from firefly_eval.tasks.heldout.agent import firefly_agent
from firefly_eval.tasks.heldout.dataset import (
    DEFAULT_DATASET,
    dataset_revision,
    load_bundle,
    samples,
    stateful_servers,
    task_tools,
)
from firefly_eval.tasks.heldout.scorer import field_match

__all__ = ["heldout"]

TASK_VERSION: str = yaml.safe_load(Path(__file__).with_name("eval.yaml").read_text())["version"]


@task
def heldout(
    dataset: str = DEFAULT_DATASET,
    split: str = "test",
    tools: str = "servers",
    simulator_tier: Literal["exact", "fuzzy"] = "fuzzy",
    fuzzy_threshold: float = 90.0,
    miss_policy: Literal["error", "simulate"] = "error",
    adapter: str | None = None,
    simulator_model: str | None = None,
    judge: str | None = None,
    max_turns: int = 20,
    shuffle: bool = False,
    epochs: int = 1,
    solver: Solver | None = None,
) -> Task:
    """FireFly held-out tasks.

    Args:
        dataset: ``shipped`` (default), a dataset folder, or a Hub id.
        split: dataset split.
        tools: ``servers`` (default: every tool of the task's servers, so choosing the tool is part of the
            task), ``task`` (only the task's reference tools) or ``distractors:N`` (those plus N others).
        simulator_tier: ``exact`` for strict replay, ``fuzzy`` to also allow near matches.
        fuzzy_threshold: minimum similarity (0-100) for the fuzzy tier.
        miss_policy: ``error`` (default: a miss is an error result, never an invented success) or
            ``simulate`` (``simulator_model`` writes a result, tagged ``simulated`` in the tier metrics).
        adapter: Inspect model that adapts fuzzy-tier results to the new arguments.
        simulator_model: Inspect model for ``miss_policy=simulate``.
        judge: Inspect model that decides ``x-free-text`` answer fields (majority of 3 votes); default: the
            ``grader`` model role. Shipped fields are all exact-checkable, so it is only called on such datasets.
        max_turns: model turns per sample.
        shuffle: shuffle the samples.
        epochs: epochs; pass@k and pass^k reducers are added for k = 1..epochs (powers of two).
        solver: replace the default agent.
    """
    return _create_task(dataset, split, tools, simulator_tier, fuzzy_threshold, miss_policy, judge, max_turns,
                        shuffle, epochs, solver, adapter=adapter, simulator_model=simulator_model)


def _create_task(dataset: str, split: str, tools: str, simulator_tier: str, fuzzy_threshold: float,
                 miss_policy: str, judge: str | None, max_turns: int, shuffle: bool, epochs: int,
                 solver: Solver | None, adapter: str | None = None, simulator_model: str | None = None) -> Task:
    if simulator_tier not in ("exact", "fuzzy"):
        raise ValueError(f"simulator_tier must be 'exact' or 'fuzzy', got {simulator_tier!r}")
    if miss_policy not in ("error", "simulate"):
        raise ValueError(f"miss_policy must be 'error' or 'simulate', got {miss_policy!r}")
    if miss_policy == "simulate" and not simulator_model:
        raise ValueError("miss_policy='simulate' needs simulator_model=<inspect model>")
    if max_turns < 1:
        raise ValueError(f"max_turns must be >= 1, got {max_turns}")
    task_rows, index, tool_specs = load_bundle(dataset, split)
    by_id = {t.id: t for t in task_rows}
    tiers = frozenset({"exact"} if simulator_tier == "exact" else {"exact", "fuzzy"})
    stateful = stateful_servers(dataset)
    from firefly_eval.simulator.llm import llm_adapter, llm_simulator

    sim = Simulator(index, tools=tool_specs, fuzzy_threshold=fuzzy_threshold, tiers=tiers,
                    stateful_servers=stateful, miss_policy=miss_policy,  # type: ignore[arg-type]
                    adapt_fn=llm_adapter(adapter) if adapter else None,
                    simulate_fn=llm_simulator(simulator_model) if simulator_model else None)
    for t in task_rows:
        task_tools(t, tool_specs, tools)  # validate the mode early

    def tools_for(sample_id: str | int):
        return task_tools(by_id[str(sample_id)], tool_specs, tools)

    ds = samples(task_rows)
    if shuffle:
        ds.shuffle()
    reducers = ["mean"] + [f"pass_at_{k}" for k in (2, 4, 8, 16) if k <= epochs] + \
               [f"pass_k_{k}" for k in (2, 4, 8, 16) if k <= epochs]
    return Task(
        dataset=ds,
        solver=solver or firefly_agent(sim, tools_for, max_turns=max_turns),
        scorer=field_match(judge=judge),
        epochs=Epochs(epochs, reducers) if epochs > 1 else None,
        version=TASK_VERSION,
        metadata={"dataset": str(dataset), "split": split, "simulator_tier": simulator_tier,
                  "fuzzy_threshold": fuzzy_threshold, "miss_policy": miss_policy, "tools": tools,
                  "adapter": adapter, "simulator_model": simulator_model,
                  "dataset_revision": dataset_revision(dataset)},
    )
