"""``inspect eval firefly_eval/tau2_airline --model M --model-role user=U -T epochs=4``.

``-T epochs=N`` sets the runs and the reducers together: mean, pass^k for every k from 1 to N (tau2's
C(c,k)/C(n,k), a trial succeeding when its reward is within 1e-6 of 1) and pass@k for k from 2 to N.
Inspect's own ``--epochs N`` keeps the reducers the task chose, and the task cannot see N, so with
``--epochs`` alone only the mean is reported.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from inspect_ai import Epochs, Task, task
from inspect_ai.agent import as_solver
from inspect_ai.scorer import Score, Scorer, Target, accuracy, pass_at, pass_k, scorer, stderr
from inspect_ai.solver import TaskState
from inspect_ai.util import store

from firefly_eval.tasks.tau2.agent import strict_user_simulator

__all__ = ["TASK_VERSION", "tau2_airline", "tau2_retail", "tau2_telecom", "tau2_epochs"]

TASK_VERSION: str = yaml.safe_load((Path(__file__).with_name("eval.yaml")).read_text())["version"]

SUCCESS = 1.0 - 1e-6  # tau2: a trial succeeds when its reward is within 1e-6 of 1


def tau2_epochs(epochs: int) -> Epochs | None:
    """mean + pass^k (tau2's C(c,k)/C(n,k)) for every k = 1..epochs, and pass@k for k = 2..epochs."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if epochs == 1:
        return None
    ks = list(range(1, epochs + 1))
    return Epochs(epochs, ["mean", *[pass_k(k, value=SUCCESS) for k in ks], *[pass_at(k, value=SUCCESS) for k in ks
                                                                            if k > 1]])


@scorer(metrics=[accuracy(), stderr()])
def stop_checked(inner: Scorer) -> Scorer:
    """The benchmark's scorer, except a conversation without the user's stop signal fails with that reason."""

    async def score(state: TaskState, target: Target) -> Score:
        if not store().get("tau2_stop_signal"):
            return Score(value=0.0, explanation="conversation ended without the user's stop signal "
                                                "(message limit reached)", metadata={"failure": "no_stop_signal"})
        result = await inner(state, target)
        return result

    return score


def _config(domain: str):
    """The domain's policy, agent tools and user tools, from inspect_evals' own modules."""
    import importlib

    from inspect_evals.tau2.common.agents import CustomerServiceAgentConfig

    agents = importlib.import_module(f"inspect_evals.tau2.{domain}.agents")
    tools = importlib.import_module(f"inspect_evals.tau2.{domain}.tools")
    if domain == "telecom":
        policy = lambda: agents.get_domain_policy(workflow=False)  # noqa: E731
        agent_tools, user_tools = agents.all_telecom_agent_tools, agents.all_telecom_user_tools
    else:
        policy, agent_tools, user_tools = agents.get_domain_policy, getattr(tools, f"all_{domain}_tools"), []
    instance = {"airline": "AirlineAgent", "retail": "RetailAgent", "telecom": "TelecomAgent"}[domain]
    config = CustomerServiceAgentConfig(get_domain_policy=policy, tools=[t() for t in agent_tools], instance=instance)
    return config, [t() for t in user_tools]


def _wrap(base: Task, domain: str, message_limit: int, epochs: int) -> Task:
    config, user_tools = _config(domain)
    solver = as_solver(strict_user_simulator(config, message_limit=message_limit, user_tools=user_tools))
    if domain == "telecom":
        from inspect_evals.tau2.telecom.solver import telecom_initializer

        solver = [telecom_initializer(), solver]
    return Task(dataset=base.dataset, solver=solver, scorer=stop_checked(base.scorer[0]), epochs=tau2_epochs(epochs),
                version=TASK_VERSION, metadata={**(base.metadata or {}), "wrapper": "firefly_eval",
                                                 "inspect_evals_version": base.version})


@task
def tau2_airline(shuffle: bool = False, message_limit: int = 100, epochs: int = 1) -> Task:
    """Tau2 airline (50 tasks). Needs ``--model-role user=<model>``."""
    from inspect_evals.tau2.tau2 import tau2_airline as upstream

    return _wrap(upstream(shuffle=shuffle), "airline", message_limit, epochs)


@task
def tau2_retail(shuffle: bool = False, message_limit: int = 100, epochs: int = 1) -> Task:
    """Tau2 retail (114 tasks). Needs ``--model-role user=<model>``."""
    from inspect_evals.tau2.tau2 import tau2_retail as upstream

    return _wrap(upstream(shuffle=shuffle), "retail", message_limit, epochs)


@task
def tau2_telecom(shuffle: bool = False, message_limit: int = 100, epochs: int = 1) -> Task:
    """Tau2 telecom (114 tasks). Needs ``--model-role user=<model>``."""
    from inspect_evals.tau2.tau2 import tau2_telecom as upstream

    return _wrap(upstream(shuffle=shuffle), "telecom", message_limit, epochs)
