"""Tau2 adapters offline: scripted mockllm agent and user; errors are errors, not silent fails."""

import tempfile
from math import comb

import pytest

pytest.importorskip("inspect_evals")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402
from inspect_ai.scorer import Score  # noqa: E402

from firefly_eval.tasks.tau2.task import SUCCESS, tau2_airline  # noqa: E402

LOGS = tempfile.mkdtemp(prefix="firefly-tau2-")


def _text(t):
    o = ModelOutput.from_content("mockllm/model", t)
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


def _run(agent_outputs, user_outputs=None, message_limit=100):
    task = tau2_airline(message_limit=message_limit)
    task.dataset = task.dataset[:1]
    roles = {"user": get_model("mockllm/model", custom_outputs=user_outputs)} if user_outputs is not None else None
    return inspect_eval(task, model=get_model("mockllm/model", custom_outputs=agent_outputs), model_roles=roles,
                        display="none", log_dir=LOGS, fail_on_error=False)[0].samples[0]


def test_missing_user_role_is_a_clear_sample_error():
    s = _run([_text("hello")])
    assert s.error is not None and "--model-role user=" in s.error.message


def test_user_stop_ends_the_conversation_and_is_scored():
    s = _run([_text("How can I help?")], [_text("Hi, I need help."), _text("Thanks, that is all. ###STOP###")])
    assert s.error is None and s.scores
    score = next(iter(s.scores.values()))
    assert (score.metadata or {}).get("failure") != "no_stop_signal"


def test_no_stop_signal_fails_with_reason():
    s = _run([_text("Could you say more?")] * 5, [_text("I want to change my flight.")] * 5, message_limit=3)
    score = next(iter(s.scores.values()))
    assert score.value == 0.0 and "stop signal" in score.explanation


def test_model_failure_is_an_error_not_a_silent_fail():
    s = _run([], [_text("Hi, I need help.")])  # the agent's script is empty -> model error
    assert s.error is not None and not s.scores


@pytest.mark.parametrize("values,k", [([1, 1, 0, 1], 2), ([1, 1 - 5e-7, 1, 1], 4), ([0, 0, 1, 1], 1), ([1, 0, 0, 0], 2)])
def test_pass_hat_k_matches_tau2_definition(values, k):
    from inspect_ai.scorer import pass_k

    n, c = len(values), sum(v >= 1 - 1e-6 for v in values)
    got = pass_k(k, value=SUCCESS)([Score(value=float(v)) for v in values]).value
    assert got == pytest.approx(comb(c, k) / comb(n, k))


def test_epochs_report_pass_hat_k_for_every_k_and_version_from_eval_yaml():
    from inspect_ai.scorer._reducer.registry import reducer_log_name

    from firefly_eval.tasks.tau2.task import TASK_VERSION, tau2_epochs

    names = [reducer_log_name(r) for r in tau2_epochs(5).reducer]
    assert names == ["mean", *[f"pass_k_{k}" for k in range(1, 6)], *[f"pass_at_{k}" for k in range(2, 6)]]
    assert tau2_epochs(1) is None
    with pytest.raises(ValueError, match="epochs must be"):
        tau2_epochs(0)
    assert tau2_airline().version == TASK_VERSION == "2.0.0"
