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
    assert [s.id for s in load_tasks(FIX, "postgres")] == ["shop/add_customer"]
    bad = tmp_path / "tasks" / "filesystem" / "c" / "t"
    bad.mkdir(parents=True)
    (bad / "description.md").write_text("x")
    with pytest.raises(ValueError, match="lacks"):
        load_tasks(tmp_path, "filesystem")
    with pytest.raises(ValueError, match="category must be"):
        mcpmark(tasks_dir=str(FIX), category="notion", initial_state=str(FIX / "initial_state"))


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


def _run_pg(outputs):
    from firefly_eval.tasks.mcpmark.postgres import pg_bin

    if not (firefly_home() / "fleet" / "dbhub" / ".firefly-installed").exists():
        pytest.skip("dbhub server not installed (full fleet)")
    if pg_bin("initdb") is None:
        pytest.skip("PostgreSQL server binaries not installed")
    task = mcpmark(tasks_dir=str(FIX), category="postgres", epochs=1)
    return inspect_eval(task, model=get_model("mockllm/model", custom_outputs=outputs), display="none",
                        log_dir=tempfile.mkdtemp())[0]


@pytest.mark.full_fleet
def test_postgres_task_on_a_real_server_passes_and_fails_by_verify_py():
    good = _run_pg([_call("execute_sql", {"sql": "INSERT INTO customers (name, city) VALUES ('Ada Okafor', 'Lisbon')"}, 0),
                    _call("submit", {"answer": "done"}, 1)])
    assert good.status == "success", good.error
    assert good.samples[0].scores["verify_result"].value == "C", good.samples[0].scores["verify_result"].explanation
    bad = _run_pg([_call("execute_sql", {"sql": "DELETE FROM customers"}, 0), _call("submit", {"answer": "done"}, 1)])
    assert bad.samples[0].scores["verify_result"].value == "I"
