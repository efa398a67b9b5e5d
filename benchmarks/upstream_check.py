"""Run the benchmark adapters on upstream's own files with scripted perfect and do-nothing agents.

    python benchmarks/upstream_check.py --mcpmark <eval-sys/mcpmark checkout> \
        --mcpmark-env <test_environments/> --atlas-rows <rows .jsonl/.csv/.parquet> \
        --atlas-data <mcp-atlas>/services/agent-environment/data [--tau2] [--pg-server dbhub]

Each adapter runs through its registered name (``firefly_eval/...``) in a fresh interpreter, as
``inspect eval`` runs it. Prints pass/fail per task for both agents and exits 1 when a perfect agent
fails, a do-nothing agent passes, or any sample errors. Perfect agents: MCPMark filesystem easy (four
scripted solutions), postgres security (upstream's ground_truth.sql, 2 epochs), MCP-Atlas (the row's
reference TRAJECTORY replayed, its final answer given, a judge that accepts it), tau2 (the task's gold
actions replayed, a user that stops).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from firefly_eval.scripted import Step, call, run_scripted, text

DONE = text("Task completed")


def _report(name: str, log: Any, scorer: str, passed: Any) -> list[str]:
    rows = []
    for s in log.samples:
        if s.error:
            rows.append(f"ERROR {name} {s.id} (epoch {s.epoch}): {s.error.message[:120]}")
            continue
        v = s.scores[scorer].value
        rows.append(f"{'pass' if passed(v) else 'fail'} {name} {s.id} epoch {s.epoch} ({v})")
    return rows


def mcpmark_filesystem(checkout: Path, env: Path, work: Path) -> tuple[list[str], list[str]]:
    txt = sorted(p.read_text().strip() for p in (env / "file_property").glob("*.txt"))
    perfect: dict[str, list[Step]] = {
        "Rename the largest `.jpg`": [call("move_file", {"source": "sg.jpg", "destination": "largest.jpg"}), DONE],
        "Merge all `.txt` files": [call("write_file", {"path": "merge.txt", "content": "\n".join(txt)}), DONE],
        "count the number of HTML files": [call("write_file", {"path": "count.txt", "content": "83"}), DONE],
        "count the total number of `.py` files": [call("write_file", {"path": "structure_analysis.txt",
                                                                      "content": "1"}), DONE],
    }
    args = {"tasks_dir": str(checkout), "service": "filesystem", "suite": "easy", "initial_state": str(env),
            "tasks": "file_property,papers,folder_structure/structure_analysis"}
    good = run_scripted(work, "firefly_eval/mcpmark", args, {"scripts": perfect})
    bad = run_scripted(work, "firefly_eval/mcpmark", args, {"default": DONE})
    ok = lambda v: v == "C"  # noqa: E731
    return _report("mcpmark-fs perfect", good, "verify_result", ok), _report("mcpmark-fs empty", bad, "verify_result", ok)


def mcpmark_postgres(checkout: Path, work: Path, pg_server: str) -> tuple[list[str], list[str]]:
    sec = checkout / "tasks" / "postgres" / "standard" / "security"
    perfect = {
        "identify PostgreSQL users with insufficient": [
            call("execute_sql", {"sql": (sec / "user_permission_audit" / "ground_truth.sql").read_text()}), DONE],
        "Row Level Security": [
            call("execute_sql", {"sql": (sec / "rls_business_access" / "ground_truth.sql").read_text()}), DONE],
    }
    args = {"tasks_dir": str(checkout), "service": "postgres", "tasks": "security", "pg_server": pg_server,
            "epochs": 2}
    good = run_scripted(work, "firefly_eval/mcpmark", args, {"scripts": perfect})
    bad = run_scripted(work, "firefly_eval/mcpmark", args, {"default": DONE})
    ok = lambda v: v == "C"  # noqa: E731
    return _report("mcpmark-pg perfect", good, "verify_result", ok), _report("mcpmark-pg empty", bad, "verify_result", ok)


def atlas(rows_file: Path, data: Path, work: Path) -> tuple[list[str], list[str]]:
    from firefly_eval.tasks.mcp_atlas.dataset import load_rows

    scripts, answers = {}, []
    for row in load_rows(str(rows_file)):
        msgs = json.loads(row["TRAJECTORY"]) if isinstance(row["TRAJECTORY"], str) else row["TRAJECTORY"]
        steps = [call(tc["function"]["name"], json.loads(tc["function"]["arguments"] or "{}"))
                 for m in msgs for tc in (m.get("tool_calls") or [])]
        final = next((m["content"] for m in reversed(msgs) if m.get("role") == "assistant" and m.get("content")), "")
        scripts[row["PROMPT"]] = [*steps, text(final)]
        answers.append(final)
    judge = {"scripts": {a: [text('{"coverage_outcome": "fulfilled"}')] for a in answers if a},
             "default": text('{"coverage_outcome": "not_fulfilled"}')}
    args = {"dataset": str(rows_file), "data_dir": str(data)}
    good = run_scripted(work, "firefly_eval/mcp_atlas", args, {"scripts": scripts, "roles": {"grader": judge}})
    bad = run_scripted(work, "firefly_eval/mcp_atlas", args, {"default": text(""), "roles": {"grader": judge}})
    meta = good.eval.metadata or {}
    head = [f"mcp-atlas rows: {meta.get('rows_kept', 0)} of {meta.get('rows_total')} runnable "
            f"({meta.get('rows_dropped_missing_trajectory_tool', 0)} need tools not served here)"]
    ok = lambda v: v >= 0.75  # noqa: E731
    return head + _report("atlas perfect", good, "claim_coverage", ok), _report("atlas empty", bad, "claim_coverage", ok)


def tau2(work: Path, domains: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Gold replay, one eval per task: the agent makes the task's reference calls, then the user stops."""
    import importlib

    good_rows: list[str] = []
    bad_rows: list[str] = []
    for domain, ids in domains.items():
        base = getattr(importlib.import_module("inspect_evals.tau2.tau2"), f"tau2_{domain}")()
        for s in (x for x in base.dataset if str(x.id) in ids):
            actions = ((s.metadata or {}).get("task", {}).get("evaluation_criteria") or {}).get("actions") or []
            gold = [call(a["name"], a.get("arguments") or {}) for a in actions] + [text("Done.")]
            user = {"scripts": {"": [text("Hello, I need help."), text("Thanks. ###STOP###")]},
                    "default": text("###STOP###")}
            for rows, steps in ((good_rows, gold), (bad_rows, [text("Done.")])):
                log = run_scripted(work, f"firefly_eval/tau2_{domain}", {},
                                   {"scripts": {"": steps}, "default": text("Done."), "roles": {"user": user},
                                    "eval": {"sample_id": [s.id]}})
                name = next(iter(log.samples[0].scores), "") if log.samples and log.samples[0].scores else ""
                rows += _report(f"tau2-{domain} {'gold' if len(steps) > 1 else 'empty'}", log, name,
                                lambda v: v in ("C", 1.0))  # inspect_evals tau2 scores C/I
    return good_rows, bad_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mcpmark", type=Path, help="eval-sys/mcpmark checkout")
    ap.add_argument("--mcpmark-env", type=Path, help="filesystem test_environments/ folder")
    ap.add_argument("--pg-server", default="dbhub", choices=["postgres-mcp", "dbhub"])
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--atlas-rows", type=Path)
    ap.add_argument("--atlas-data", type=Path)
    ap.add_argument("--tau2", action="store_true", help="tau2 gold replays (airline 2, retail 0 and 1)")
    a = ap.parse_args(argv)
    for k, v in vars(a).items():  # the runs happen in a temp folder: make paths absolute
        if isinstance(v, Path):
            setattr(a, k, v.resolve())
    work = Path(tempfile.mkdtemp(prefix="upstream-check-"))
    lines: list[str] = []
    bad = False
    runs = []
    if a.mcpmark and a.mcpmark_env:
        runs.append(lambda: mcpmark_filesystem(a.mcpmark, a.mcpmark_env, work))
    if a.mcpmark and not a.no_postgres:
        runs.append(lambda: mcpmark_postgres(a.mcpmark, work, a.pg_server))
    if a.atlas_rows and a.atlas_data:
        runs.append(lambda: atlas(a.atlas_rows, a.atlas_data, work))
    if a.tau2:
        runs.append(lambda: tau2(work, {"airline": ["2"], "retail": ["0", "1"]}))
    for run in runs:
        good, empty = run()
        lines += good + empty
        bad |= any(x.startswith(("fail", "ERROR")) for x in good if " perfect " in x or " gold " in x)
        bad |= any(x.startswith(("pass", "ERROR")) for x in empty)
    print("\n".join(lines))
    print("OK: perfect agents pass, do-nothing agents fail, no sample errors" if not bad else "FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
