"""The tau2 user-simulator loop, built from inspect_evals' own pieces but without swallowing errors.

inspect_evals' loop catches every exception inside the conversation and only prints it, so a
run can "succeed" with no conversation having happened. Here a model/API failure propagates
(the sample is an *error*, retry-able with ``inspect eval-retry``), a missing ``user`` role is
a clear error, and a conversation that ends without the user's stop signal is recorded so the
scorer fails it with that reason.
"""

from __future__ import annotations

from inspect_ai.agent import Agent, AgentState, agent
from inspect_ai.model import ChatMessageSystem, GenerateConfig, get_model
from inspect_ai.util import store_as
from inspect_evals.tau2.common.agents import (
    CustomerServiceAgentConfig,
    StoredAgentState,
    flip_assistant_message_to_user,
    generate_loop,
)

__all__ = ["STOP_SIGNALS", "MissingUserRole", "strict_user_simulator"]

STOP_SIGNALS = ("###STOP###", "###OUT-OF-SCOPE###", "###TRANSFER###")


class MissingUserRole(RuntimeError):
    """tau2 needs a user simulator model (``--model-role user=...``)."""


def _user_model():
    from inspect_ai.model._model import model_roles

    if "user" not in model_roles():
        raise MissingUserRole("tau2 needs a user simulator model: pass --model-role user=<model> "
                              "(e.g. --model-role user=openai/gpt-4.1)")
    return get_model(role="user", config=GenerateConfig(temperature=0.0))


@agent
def strict_user_simulator(config: CustomerServiceAgentConfig, message_limit: int = 100,
                          user_tools: list | None = None) -> Agent:
    """User simulator talks to the agent under test until a stop signal or the message limit."""

    async def execute(state: AgentState) -> AgentState:
        user_model = _user_model()
        agent_model = get_model(config=GenerateConfig(temperature=0.0))
        stored = store_as(StoredAgentState, config.instance)
        stored.messages = [ChatMessageSystem(content=(
            "<instructions>\nYou are a customer service agent that helps the user according to the <policy> "
            "provided below.\nIn each turn you can either:\n- Send a message to the user.\n- Make a tool call.\n"
            "You cannot do both at the same time.\nTry to be helpful and always follow the policy. Always make "
            f"sure you generate valid JSON only.\n</instructions>\n{config.get_domain_policy()}\n"))]
        stopped = None
        for _ in range(message_limit):
            user_output = await generate_loop("user", user_model, state.messages, tools=user_tools or [],
                                              trajectory=stored.trajectory)
            stopped = next((s for s in STOP_SIGNALS if s in user_output.completion), None)
            if stopped:
                state.output = user_output
                break
            stored.messages.append(flip_assistant_message_to_user(user_output.message))
            agent_output = await generate_loop("assistant", agent_model, stored.messages, tools=config.tools,
                                               trajectory=stored.trajectory)
            state.messages.append(flip_assistant_message_to_user(agent_output.message))
        from inspect_ai.util import store

        store().set("tau2_stop_signal", stopped)
        return state

    return execute
