"""MCPMark adapter on upstream's own task folders (tests/fixtures/mcpmark, copied from eval-sys/mcpmark),
through the registered task name as a user runs it, with scripted perfect and do-nothing agents."""

import os
from pathlib import Path

import pytest

from firefly_eval.mcp.config import firefly_home
from firefly_eval.scripted import call, run_scripted, text
from firefly_eval.tasks.mcpmark.dataset import load_tasks
from firefly_eval.tasks.mcpmark.task import SYSTEM_PROMPT, mcpmark

REPO = Path(__file__).resolve().parents[3]
FIX = REPO / "tests" / "fixtures" / "mcpmark"
ENV = FIX / "test_environments"
HOME = firefly_home()
TXT = [(ENV / "file_property" / f"note_{i}.txt").read_text().strip() for i in (1, 2, 3)]

PERFECT_FS = {
    "Rename the largest `.jpg`": [call("move_file", {"source": "sg.jpg", "destination": "largest.jpg"}),
                                  text("Task completed")],
    "Merge all `.txt` files": [call("write_file", {"path": "merge.txt", "content": "\n".join(TXT)}),
                               text("Task completed")],
    "count the number of HTML files": [call("write_file", {"path": "count.txt", "content": "83"}),
                                       text("Task completed")],
    "count the total number of `.py` files": [call("write_file", {"path": "structure_analysis.txt", "content": "1"}),
                                              text("Task completed")],
}


def _eval(tmp_path, model, **args):
    """``inspect_ai.eval("firefly_eval/mcpmark")`` in a fresh interpreter from a temp folder, as a user runs it
    (from the repo root the stray firefly_eval.egg-info hides the editable install and Inspect finds no task)."""
    return run_scripted(tmp_path, "firefly_eval/mcpmark", {"tasks_dir": str(FIX), **args}, model)


def _verdicts(log):
    return {str(s.id): s.scores["verify_result"].value for s in log.samples}


def test_loader_reads_upstream_layout_suites_and_filters(tmp_path):
    easy = load_tasks(FIX, "filesystem", "easy")
    assert [s.id for s in easy] == ["file_property/largest_rename", "file_property/txt_merging",
                                    "folder_structure/structure_analysis", "papers/papers_counting"]
    assert easy[0].input.endswith("don't ask for my opinions on anything.")
    assert [s.id for s in load_tasks(FIX, "filesystem")] == ["notes_category/count_todos"]  # standard by default
    pg = load_tasks(FIX, "postgres", tasks="security")
    assert [s.id for s in pg] == ["security/rls_business_access", "security/user_permission_audit"]
    assert pg[0].input.endswith("The database connection is already configured.")
    assert [s.id for s in load_tasks(FIX, "filesystem", "easy", "papers/papers_counting,folder")] == [
        "folder_structure/structure_analysis", "papers/papers_counting"]
    with pytest.raises(ValueError, match="matches no task"):
        load_tasks(FIX, "filesystem", "easy", "nosuch")
    with pytest.raises(ValueError, match="no suite 'easy'"):
        load_tasks(FIX, "postgres", "easy")
    bad = tmp_path / "tasks" / "filesystem" / "standard" / "c" / "t"
    bad.mkdir(parents=True)
    (bad / "description.md").write_text("x")
    with pytest.raises(ValueError, match="lacks"):
        load_tasks(tmp_path, "filesystem")
    with pytest.raises(ValueError, match="service must be"):
        mcpmark(tasks_dir=str(FIX), service="notion", initial_state=str(ENV))  # type: ignore[arg-type]


def _need(server):
    if not (HOME / "fleet" / server / ".firefly-installed").exists():
        pytest.skip(f"{server} server not installed")


@pytest.mark.fleet
def test_filesystem_easy_perfect_agent_passes_and_empty_agent_fails(tmp_path):
    _need("filesystem")
    good = _eval(tmp_path, {"scripts": PERFECT_FS}, service="filesystem", suite="easy",
                 initial_state=str(ENV))
    assert good.status == "success", good.error
    assert _verdicts(good) == dict.fromkeys(_verdicts(good), "C") and len(good.samples) == 4
    s = good.samples[0]
    assert s.messages[0].role == "system" and s.messages[0].text == SYSTEM_PROMPT
    assert not any(m.function == "submit" for m in s.messages if m.role == "tool")
    bad = _eval(tmp_path, {"default": text("Task completed")}, service="filesystem",
                suite="easy", initial_state=str(ENV))
    assert set(_verdicts(bad).values()) == {"I"}
    assert not list(tmp_path.glob("mcpmark-*")), "sandboxes left behind"


@pytest.mark.fleet
def test_message_limit_still_runs_verify_and_cleans_up(tmp_path):
    _need("filesystem")
    looping = {"default": call("list_allowed_directories", {})}
    log = _eval(tmp_path, looping, service="filesystem", suite="easy", tasks="papers",
                initial_state=str(ENV), max_messages=6)
    s = log.samples[0]
    assert s.error is None and s.limit is not None
    assert s.scores["verify_result"].value == "I" and s.scores["verify_result"].metadata["stopped_by"] == "limit"
    assert not list(tmp_path.glob("mcpmark-*"))


def _pg_ready():
    from firefly_eval.tasks.mcpmark.postgres import pg_bin

    _need("dbhub")
    if pg_bin("initdb") is None:
        pytest.skip("PostgreSQL server binaries not installed (make system-deps)")
    pytest.importorskip("psycopg2", reason="upstream's scripts need psycopg2 (extra `benchmarks`)")


def _gold_sql(task):
    return (FIX / "tasks" / "postgres" / "standard" / "security" / task / "ground_truth.sql").read_text()


@pytest.mark.full_fleet
def test_postgres_security_ground_truth_passes_every_epoch_and_untouched_fails(tmp_path):
    _pg_ready()
    gold = {"scripts": {
        "identify PostgreSQL users with insufficient": [call("execute_sql", {"sql": _gold_sql("user_permission_audit")}),
                                                        text("Task completed")],
        "Row Level Security": [call("execute_sql", {"sql": _gold_sql("rls_business_access")}), text("Task completed")],
    }}
    log = _eval(tmp_path, gold, service="postgres", tasks="security", pg_server="dbhub", epochs=2)
    assert log.status == "success", log.error
    assert all(s.error is None for s in log.samples), [s.error for s in log.samples if s.error]
    assert len(log.samples) == 4 and set(_verdicts(log).values()) == {"C"}, [
        s.scores["verify_result"].explanation for s in log.samples]
    metrics = {m: v.value for sc in log.results.scores for m, v in sc.metrics.items()}
    assert metrics["accuracy"] == 1.0 and not any(v != v for v in metrics.values())  # no NaN
    assert {r.reducer for r in log.results.scores} >= {"pass_at_2", "pass_k_2"}  # one score per reducer
    from firefly_eval.tasks.mcpmark.postgres import shared_postgres

    assert not [d for d in shared_postgres().databases() if d.startswith("mcpmark_")]
    empty = _eval(tmp_path, {"default": text("Task completed")}, service="postgres",
                  tasks="security", pg_server="dbhub")
    assert set(_verdicts(empty).values()) == {"I"}


def test_missing_postgres_mcp_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FIREFLY_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="postgres-mcp' is not installed"):
        mcpmark(tasks_dir=str(FIX), service="postgres")
    assert os.environ["FIREFLY_HOME"] == str(tmp_path)


def test_every_run_starts_from_the_same_cluster_state():
    """Upstream's prepare_environment.py of user_permission_audit creates roles; run twice with the adapter's
    per-run database and reset in between, it must succeed both times and leave no role or database behind."""
    import asyncio

    from firefly_eval.tasks.mcpmark.postgres import pg_bin, shared_postgres
    from firefly_eval.tasks.mcpmark.task import _run_script

    if pg_bin("initdb") is None:
        pytest.skip("PostgreSQL server binaries not installed (make system-deps)")
    pytest.importorskip("psycopg2", reason="upstream's scripts need psycopg2 (extra `benchmarks`)")
    pg = shared_postgres()
    roles, dbs = set(pg.roles()), set(pg.databases())
    prep = FIX / "tasks" / "postgres" / "standard" / "security" / "user_permission_audit" / "prepare_environment.py"
    for _ in range(2):
        db, templated = pg.task_database("security", "user_permission_audit")
        assert db.startswith("mcpmark_security_user_permission_audit_") and not templated
        code, out = asyncio.run(_run_script(prep, pg.env(db)))
        assert code == 0, out
        assert "analytics_user" in pg.roles()
        pg.reset(db)
    assert set(pg.roles()) == roles and set(pg.databases()) == dbs
