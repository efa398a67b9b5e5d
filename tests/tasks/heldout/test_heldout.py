"""End-to-end runs of firefly_eval/heldout: oracle, and scripted mockllm agents for every outcome."""

import tempfile
from math import comb

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

from firefly_eval.agent_tools import exposed_name
from firefly_eval.tasks.heldout.dataset import load_bundle
from firefly_eval.tasks.heldout.task import _create_task, heldout


LOGS = tempfile.mkdtemp(prefix="firefly-test-logs-")


def _task(**kw):
    args = dict(dataset="shipped", split="test", tools="task", simulator_tier="fuzzy", fuzzy_threshold=90.0,
                miss_policy="error", judge=None, max_turns=8, shuffle=False, epochs=1, solver=None)
    args.update(kw)
    return _create_task(**args)


def _first_task():
    tasks, _, _ = load_bundle("shipped", "test")
    return tasks[0]


def _out(calls=None, text=""):
    out = ModelOutput.for_tool_call("mockllm/model", calls[0].function, calls[0].arguments) if calls else \
        ModelOutput.from_content("mockllm/model", text)
    if calls:
        out.choices[0].message.tool_calls = calls
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


def _run(outputs, **task_kw):
    t = _first_task()
    task = _task(**task_kw)
    task.dataset = task.dataset.filter(lambda s: s.id == t.id)
    model = get_model("mockllm/model", custom_outputs=outputs)
    log = inspect_eval(task, model=model, display="none", log_dir=LOGS)[0]
    return t, log


def _replay(t):
    return [_out([ToolCall(id=f"c{i}", function=exposed_name(r["server"], r["tool"]), arguments=r["arguments"])])
            for i, r in enumerate(t.reference_arguments)]


def _submit(answer, i=99):
    return _out([ToolCall(id=f"s{i}", function="submit", arguments=answer)])


def _wrong(t):
    from firefly_eval.generation.verify import perturb

    answer = dict(t.answer)
    for k in answer:
        answer[k] = perturb(answer, k)[k]
    return answer


def _sample(log):
    assert log.status == "success", log.error
    return log.samples[0]


def test_oracle_scores_100_percent_on_shipped_set():
    log = inspect_eval(heldout(), model="firefly/oracle", display="none", log_dir=LOGS)[0]
    assert log.status == "success"
    assert log.results.scores[0].metrics["accuracy"].value == 1.0
    assert log.results.scores[0].metrics["tier_exact"].value == 1.0
    assert len(log.samples) >= 80


def test_scripted_model_passes_with_right_calls_and_answer():
    t = _first_task()
    _, log = _run(_replay(t) + [_submit(t.answer)])
    s = _sample(log)
    assert s.scores["field_match"].value == "C"
    assert s.scores["field_match"].metadata["tiers"] == {"exact": len(t.reference_calls)}


def test_field_mismatch_fails_with_field_explanation():
    t = _first_task()
    field = next(iter(t.answer))
    from firefly_eval.generation.verify import perturb

    wrong = perturb(t.answer, field)
    _, log = _run(_replay(t) + [_submit(wrong)])
    score = _sample(log).scores["field_match"]
    assert score.value == "I" and field in score.explanation and score.metadata["failure"] == "model"


def test_invalid_submit_gets_error_and_may_retry():
    t = _first_task()
    bad = {k: ({"nested": 1}) for k in t.answer}
    _, log = _run([_submit(bad, 1), _submit(t.answer, 2)])
    s = _sample(log)
    assert s.scores["field_match"].value == "C"
    assert s.scores["field_match"].metadata["invalid_submits"] == 1
    assert any("Invalid submission" in m.text for m in s.messages if m.role == "tool")


def test_no_submission_scores_zero_with_reason():
    _, log = _run([_out(text="I think the answer is 42.")] * 5)
    score = _sample(log).scores["field_match"]
    assert score.value == "I" and "no submission" in score.explanation


def test_unknown_tool_and_miss_are_tool_errors_not_crashes():
    t = _first_task()
    ref = t.reference_arguments[0]
    calls = [_out([ToolCall(id="u", function="no_such_tool", arguments={})]),
             _out([ToolCall(id="m", function=exposed_name(ref["server"], ref["tool"]),
                            arguments={k: "zzz-not-recorded-zzz" for k in ref["arguments"]} or {"x": 1})]),
             _submit(_wrong(t))]
    _, log = _run(calls)
    s = _sample(log)
    tiers = s.scores["field_match"].metadata["tiers"]
    assert tiers.get("unknown_tool") == 1 and (tiers.get("miss", 0) + tiers.get("invalid", 0)) == 1
    assert s.scores["field_match"].value == "I"


def test_model_api_error_is_a_sample_error_never_a_pass():
    t = _first_task()
    task = _task()
    task.dataset = task.dataset.filter(lambda s: s.id == t.id)
    model = get_model("mockllm/model", custom_outputs=iter([]))  # exhausted script -> model error
    log = inspect_eval(task, model=model, display="none", log_dir=LOGS, fail_on_error=False)[0]
    assert log.samples[0].error is not None
    assert not log.samples[0].scores


def test_bad_task_arguments_are_rejected():
    with pytest.raises(ValueError, match="tools must be"):
        _task(tools="everything")
    with pytest.raises(ValueError, match="simulator_tier"):
        _task(simulator_tier="psychic")


def _chen(n, c, k):
    return 1.0 if n - c < k else 1 - comb(n - c, k) / comb(n, k)


@pytest.mark.parametrize("n,c,k", [(4, 1, 2), (4, 2, 2), (4, 3, 4), (4, 0, 2)])
def test_pass_at_k_reducer_matches_closed_form(n, c, k):
    from inspect_ai.scorer import Score, pass_at

    scores = [Score(value=1.0 if i < c else 0.0) for i in range(n)]
    assert pass_at(k)(scores).value == pytest.approx(_chen(n, c, k))


def test_cli_entry_point_resolves_task_and_provider(tmp_path):
    """What a user types after pip install: the entry point must resolve firefly_eval/heldout and firefly/oracle."""
    import subprocess
    import sys
    from pathlib import Path

    inspect_bin = Path(sys.executable).with_name("inspect")
    proc = subprocess.run([str(inspect_bin), "eval", "firefly_eval/heldout", "--model", "firefly/oracle",
                           "--limit", "3", "--log-dir", str(tmp_path), "--display", "plain"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "accuracy" in proc.stdout and "1.000" in proc.stdout
    assert list(tmp_path.glob("*.eval"))


def test_judge_decides_free_text_fields_by_majority():
    import asyncio

    from firefly_eval.tasks.heldout.scorer import judge_field

    def out(t):
        o = ModelOutput.from_content("mockllm/model", t)
        o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return o

    model = get_model("mockllm/model", custom_outputs=[out("YES"), out("NO"), out("YES")])
    ok, agreement = asyncio.run(judge_field(model, "q?", "summary", "a summary", "Tent sales grew",
                                            "Sales of tents went up", 3))
    assert ok and agreement == pytest.approx(2 / 3)
    model = get_model("mockllm/model", custom_outputs=[out("NO")] * 3)
    ok, agreement = asyncio.run(judge_field(model, "q?", "summary", "", "a", "b", 3))
    assert not ok and agreement == 1.0
