"""MCPMark adapter with the real filesystem MCP server, per-sample sandboxes and the task's verify.py."""

import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

from firefly_eval.mcp.config import firefly_home
from firefly_eval.tasks.mcpmark.dataset import load_tasks
from firefly_eval.tasks.mcpmark.task import mcpmark

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "mcpmark"
pytestmark = pytest.mark.fleet


def _call(fn, args, i):
    o = ModelOutput.for_tool_call("mockllm/model", fn, args)
    o.choices[0].message.tool_calls = [ToolCall(id=f"c{i}", function=fn, arguments=args)]
    o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return o


def _run(outputs, epochs=1):
    if not (firefly_home() / "fleet" / "filesystem" / ".firefly-installed").exists():
        pytest.skip("filesystem server not installed")
    task = mcpmark(tasks_dir=str(FIX), initial_state=str(FIX / "initial_state"), epochs=epochs)
    return inspect_eval(task, model=get_model("mockllm/model", custom_outputs=outputs), display="none",
                        log_dir=tempfile.mkdtemp())[0]


def test_loader_reads_mcpmark_layout_and_rejects_bad_folders(tmp_path):
    ds = load_tasks(FIX, "filesystem")
    assert [s.id for s in ds] == ["notes_category/count_todos"]
    bad = tmp_path / "tasks" / "filesystem" / "c" / "t"
    bad.mkdir(parents=True)
    (bad / "description.md").write_text("x")
    with pytest.raises(ValueError, match="lacks"):
        load_tasks(tmp_path, "filesystem")
    with pytest.raises(NotImplementedError, match="postgres"):
        mcpmark(tasks_dir=str(FIX), category="postgres", initial_state=str(FIX / "initial_state"))


def test_correct_work_passes_verify_py():
    log = _run([_call("read_text_file", {"path": "todo.txt"}, 0),
                _call("write_file", {"path": "count.txt", "content": "3"}, 1),
                _call("submit", {"answer": "done"}, 2)])
    assert log.status == "success", log.error
    s = log.samples[0]
    assert s.scores["verify_script"].value == "C", s.scores["verify_script"].explanation


def test_wrong_work_fails_and_sandbox_is_fresh_per_sample():
    log = _run([_call("write_file", {"path": "count.txt", "content": "7"}, 0),
                _call("submit", {"answer": "done"}, 1)])
    assert log.samples[0].scores["verify_script"].value == "I"
    assert (FIX / "initial_state" / "notes_category" / "count.txt").exists() is False
