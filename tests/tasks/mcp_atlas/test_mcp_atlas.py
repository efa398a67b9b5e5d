"""MCP-Atlas adapter: rows in upstream's format on upstream's data root (tests/fixtures/mcp_atlas/data, copied
from scaleapi/mcp-atlas), run through the registered task name in a fresh interpreter, as `inspect eval` runs
it (Inspect builds the task inside its event loop: the set-up must not call asyncio.run there)."""

import asyncio
import json
from pathlib import Path

import pytest

from firefly_eval.mcp.config import firefly_home
from firefly_eval.scripted import call, run_scripted, text
from firefly_eval.tasks.mcp_atlas.dataset import extract_claims, load_rows, rows_to_samples, split_tool
from firefly_eval.tasks.mcp_atlas.scorer import CREDIT, _outcome
from firefly_eval.tasks.mcp_atlas.task import run_sync

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "mcp_atlas"
ROWS = FIX / "rows.jsonl"
DATA = FIX / "data"
HOME = firefly_home()
LOCAL = {"filesystem": {"read_text_file", "list_directory"}, "calculator": {"calculate"},
         "cli-mcp-server": {"run_command"}, "memory": {"search_nodes", "read_graph"}}


def test_rows_map_by_trajectory_tools_and_count_distractors():
    with pytest.warns(UserWarning, match="1 of 5 rows left out"):
        ds, counts = rows_to_samples(load_rows(str(ROWS)), LOCAL)
    assert [s.id for s in ds] == ["atlas-local-fs", "atlas-local-cli", "atlas-local-calc", "atlas-local-memory"]
    assert counts["dropped_missing_trajectory_tool"] == 1 and counts["kept"] == 4
    fs = ds[0].metadata
    assert fs["tools"] == [["filesystem", "read_text_file", "filesystem_read_text_file"],
                           ["filesystem", "list_directory", "filesystem_list_directory"]]
    assert fs["distractors_dropped"] == ["wikipedia_search", "fetch_fetch"]
    assert ds[1].metadata["claims"] == ["There are 8 CSV files directly in /data."]  # "ok" (<= 3 chars) dropped
    assert split_tool("cli-mcp-server_run_command", ["cli-mcp-server", "cli"]) == ("cli-mcp-server", "run_command")
    assert extract_claims("- first claim\n- second claim") == ["first claim", "second claim"]


def test_judge_reply_parsing():
    assert CREDIT[_outcome('{"coverage_outcome": "partially_fulfilled", "justification": "x"}')] == 0.5
    assert CREDIT[_outcome("Verdict: not_fulfilled")] == 0.0
    with pytest.raises(RuntimeError, match="no coverage_outcome"):
        _outcome("yes")


def test_run_sync_works_inside_a_running_loop():
    async def inner():
        return run_sync(asyncio.sleep(0, result=7))

    assert asyncio.run(inner()) == 7


def _perfect():
    scripts = {}
    for row in load_rows(str(ROWS)):
        msgs = json.loads(row["TRAJECTORY"])
        steps = [call(tc["function"]["name"], json.loads(tc["function"]["arguments"]))
                 for m in msgs for tc in (m.get("tool_calls") or [])]
        scripts[row["PROMPT"]] = [*steps, text(msgs[-1]["content"])]
    return scripts


def _judge():
    answers = [json.loads(r["TRAJECTORY"])[-1]["content"] for r in load_rows(str(ROWS))]
    return {"scripts": {a: [text('{"coverage_outcome": "fulfilled"}')] for a in answers},
            "default": text('{"coverage_outcome": "not_fulfilled"}')}


def _need(*servers):
    for s in servers:
        if not (HOME / "fleet" / s / ".firefly-installed").exists():
            pytest.skip(f"{s} server not installed")


@pytest.mark.fleet
@pytest.mark.slow
def test_perfect_agent_passes_and_do_nothing_fails_through_the_registered_task(tmp_path):
    _need("filesystem", "calculator", "memory", "cli-mcp-server")
    args = {"dataset": str(ROWS), "data_dir": str(DATA)}
    good = run_scripted(tmp_path, "firefly_eval/mcp_atlas", args, {"scripts": _perfect(), "roles": {"grader": _judge()}})
    assert good.status == "success", good.error
    assert {str(s.id): s.scores["claim_coverage"].value for s in good.samples} == {
        "atlas-local-fs": 1.0, "atlas-local-cli": 1.0, "atlas-local-calc": 1.0, "atlas-local-memory": 1.0}
    metrics = good.results.scores[0].metrics
    assert metrics["pass_rate_75"].value == 1.0 and metrics["mean_coverage"].value == 1.0
    assert good.eval.task_version == "2.0.0" and good.eval.metadata["rows_dropped_missing_trajectory_tool"] == 1
    fs = next(s for s in good.samples if s.id == "atlas-local-fs")
    tool_msgs = [m for m in fs.messages if m.role == "tool"]
    assert tool_msgs[0].function == "filesystem_read_text_file" and "Customer Gender" in tool_msgs[0].text
    cli = next(s for s in good.samples if s.id == "atlas-local-cli")
    listing = next(m for m in cli.messages if m.role == "tool").text
    assert "Barber Shop.csv" in listing and str(tmp_path) not in listing
    assert not list(tmp_path.glob("atlas-*")), "sandboxes left behind"
    # do-nothing: an empty answer scores 0 without the judge (no grader role is bound: a call would error)
    empty = run_scripted(tmp_path, "firefly_eval/mcp_atlas", args, {"default": text("")})
    assert empty.status == "success", empty.error
    assert {s.scores["claim_coverage"].value for s in empty.samples} == {0.0}
    assert all(s.scores["claim_coverage"].metadata["judged"] is False for s in empty.samples)


@pytest.mark.fleet
def test_judge_role_is_required(tmp_path):
    _need("filesystem", "calculator", "memory", "cli-mcp-server")
    log = run_scripted(tmp_path, "firefly_eval/mcp_atlas", {"dataset": str(ROWS), "data_dir": str(DATA)},
                       {"default": text("I could not find it."), "eval": {"limit": 1, "fail_on_error": False}})
    assert log.samples[0].error is not None and "--model-role grader=" in log.samples[0].error.message
