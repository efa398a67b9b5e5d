"""CPU smoke test of the GRPO recipe: tiny local Qwen3, simulator-backed env, 2 steps, checkpoint loads in Inspect."""

import json
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("trl")

from firefly_eval.training.env import FireflyEnv  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from firefly_eval.training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"), ["hello tools", "submit the answer"] * 20)


def test_tool_call_template_round_trips_single_and_parallel(tiny):
    from transformers import AutoTokenizer

    from firefly_eval.training.train import check_tool_call_roundtrip

    check_tool_call_roundtrip(AutoTokenizer.from_pretrained(tiny))


def test_broken_template_fails_loudly(tiny):
    from transformers import AutoTokenizer

    from firefly_eval.training.train import check_tool_call_roundtrip

    tok = AutoTokenizer.from_pretrained(tiny)
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    with pytest.raises(RuntimeError, match="round trip failed"):
        check_tool_call_roundtrip(tok)


def test_env_reward_is_the_harness_grader():
    from firefly_eval.simulator import Simulator
    from firefly_eval.tasks.heldout.dataset import load_bundle, stateful_servers
    from firefly_eval.training.data import task_to_row
    from firefly_eval.agent_tools import exposed_name

    tasks, index, tools = load_bundle("shipped", "test")
    task = tasks[0]
    row = task_to_row(task, tools)
    env = FireflyEnv(Simulator(index, tools=tools, stateful_servers=stateful_servers("shipped")))
    env.reset(**row)
    for ref in task.reference_arguments:
        assert "no recorded data" not in env.call_tool(exposed_name(ref["server"], ref["tool"]),
                                                       json.dumps(ref["arguments"]))
    env.submit(json.dumps(task.answer))
    assert env.get_reward() == 1.0 and env.tiers == {"exact": len(task.reference_arguments)}
    env.reset(**row)
    env.call_tool("not_a_tool", "{}")
    env.submit("not json")
    assert env.get_reward() < 0 and env.malformed == 2


@pytest.mark.slow
def test_two_grpo_steps_then_inspect_loads_the_checkpoint(tmp_path):
    from inspect_ai import eval as inspect_eval

    from firefly_eval.tasks.heldout.task import heldout
    from firefly_eval.training.config import load_config
    from firefly_eval.training.train import train

    cfg_file = Path(__file__).resolve().parents[2] / "training" / "configs" / "tiny_cpu_smoke.yaml"
    ckpt = train(load_config(cfg_file, output_dir=str(tmp_path / "run")))
    assert (ckpt / "config.json").exists()
    summary = json.loads((tmp_path / "run" / "firefly_train.json").read_text())
    assert summary["global_step"] >= 2
    logged = [h for h in summary["log_history"] if "rewards/FireflyEnv/mean" in h]
    assert len(logged) >= 2 and all("frac_reward_zero_std" in h for h in logged)
    assert all("rewards/sim_tier_exact/mean" in h and "rewards/malformed_calls/mean" in h for h in logged)
    log = inspect_eval(heldout(max_turns=1), model=f"hf/{ckpt}", limit=1, display="none",
                       log_dir=tempfile.mkdtemp(), max_tokens=8)[0]
    assert log.status == "success", log.error
    assert log.samples[0].scores["field_match"].value == "I"
