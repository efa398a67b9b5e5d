"""A user's own fleet (issue 18): clear failures, the config honoured, the user's files untouched.

Every test drives the `firefly` CLI (typer's CliRunner) or the Fleet a run uses, on tiny real stdio
servers written to tmp_path (``notes_server.py``: notes in its cwd, a ledger named by an absolute path).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.mcp.config import load_fleet
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mcp.owndata import own_paths, uses_world

NOTES = Path(__file__).with_name("notes_server.py")
runner = CliRunner()


def _checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _user_world(tmp_path: Path, broken: bool = False) -> tuple[Path, Path]:
    """The user's folder (a notebook as cwd, a ledger by absolute path) and their fleet file."""
    home = tmp_path / "user"
    (home / "book" / "notes").mkdir(parents=True)
    (home / "book" / "notes" / "monday.md").write_text("Ship the Porto order by Friday.\nCall Mira.\n")
    (home / "book" / "notes" / "budget.md").write_text("Budget review: 3 items over plan.\n")
    (home / "ledger.json").write_text(json.dumps({"entries": [{"item": "tent", "amount": 249.0}]}))
    args = [str(NOTES), "--ledger", str(home / "ledger.json")] + (["--broken"] if broken else [])
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"notes": {"command": sys.executable, "args": args,
                                                          "cwd": str(home / "book")}}}))
    return home, fleet


def _bad_fleet(tmp_path: Path) -> Path:
    fleet = tmp_path / "bad.json"
    fleet.write_text(json.dumps({"mcpServers": {
        "nocmd": {"command": "definitely-not-a-command-xyz"},
        "exit3": {"command": sys.executable, "args": ["-c", "import sys; print('boom: cannot open /data/x.db', "
                                                            "file=sys.stderr); sys.exit(3)"]},
        "silent": {"command": sys.executable, "args": ["-c", "pass"]},
    }}))
    return fleet


def _generate(*args: str):
    return runner.invoke(app, ["generate", *args], catch_exceptions=False)


def test_no_server_up_exits_non_zero_naming_each_cause(tmp_path):
    run = tmp_path / "run"
    res = _generate("-n", "5", "--fleet", str(_bad_fleet(tmp_path)), "--out", str(run))
    out = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "error: no server started (3 in the fleet):" in out
    assert "server 'nocmd': command not found: 'definitely-not-a-command-xyz'" in out
    assert "server 'exit3' exited with code 3 before the MCP handshake; stderr: boom: cannot open /data/x.db" in out
    assert "server 'silent' exited with code 0 before the MCP handshake; it wrote nothing to stderr" in out
    assert not (run / "plans.jsonl").exists() and not (run / "dataset").exists()  # nothing a re-run reuses


def test_empty_fleet_exits_non_zero(tmp_path):
    fleet = tmp_path / "empty.json"
    fleet.write_text('{"mcpServers": {}}')
    res = _generate("-n", "5", "--fleet", str(fleet), "--out", str(tmp_path / "run"))
    assert res.exit_code == 1
    assert f"error: the fleet has no servers ({fleet}: mcpServers is empty or every entry is disabled)" in \
        " ".join(res.output.split())


def test_run_directory_of_other_settings_or_fleet_is_refused_unless_force(tmp_path):
    run, fleet = tmp_path / "run", _bad_fleet(tmp_path)
    assert _generate("-n", "5", "--fleet", str(fleet), "--out", str(run)).exit_code == 1  # writes config.json
    res = _generate("-n", "6", "--fleet", str(fleet), "--out", str(run))
    assert res.exit_code == 1
    assert (f"error: {run}: run directory was started with other settings (n_plans 5 -> 6); use a new --out, "
            "or --force to discard it and start again") in " ".join(res.output.split())
    data = json.loads(fleet.read_text())
    data["mcpServers"]["nocmd"]["args"] = ["--verbose"]
    fleet.write_text(json.dumps(data))
    res = _generate("-n", "5", "--fleet", str(fleet), "--out", str(run))
    assert "(the fleet's servers changed)" in " ".join(res.output.split())
    res = _generate("-n", "6", "--fleet", str(fleet), "--out", str(run), "--force")
    assert "error: no server started" in res.output  # got past the check
    assert json.loads((run / "config.json").read_text())["n_plans"] == 6


def test_bad_cwd_is_a_config_error(tmp_path, write_fleet):
    path = write_fleet({"mcpServers": {"x": {"command": "python3", "cwd": str(tmp_path / "nope")}}})
    res = runner.invoke(app, ["servers", "list", "--fleet", str(path)])
    assert res.exit_code == 2
    assert f"mcpServers.x.cwd: no such directory: {tmp_path / 'nope'}" in " ".join(res.output.split())


def test_default_fleet_keeps_the_seed_world_and_names_no_own_files():
    specs = load_fleet()
    assert all(uses_world(s) and not own_paths(s) and s.cwd is None for s in specs)


def test_cwd_and_absolute_paths_are_copies_reset_per_episode_and_originals_untouched(tmp_path):
    home, fleet_file = _user_world(tmp_path)
    before = _checksums(home)
    (spec,) = load_fleet(fleet_file)
    assert not uses_world(spec) and own_paths(spec) == [str(home / "ledger.json")]

    async def go():
        fl = Fleet([spec], sandbox_root=tmp_path / "sb")
        try:
            await fl.start()
            assert "stateful: state-changing tools add_note, record_entry (inferred)" == fl.stateful_why["notes"]
            assert spec.stateful and spec.restart_per_episode
            first = (await fl.call("notes", "list_notes", {})).result["structuredContent"]["result"]
            await fl.call("notes", "add_note", {"name": "extra", "text": "x"})
            await fl.call("notes", "record_entry", {"item": "stove", "amount": 74.0})
            changed = (await fl.call("notes", "get_ledger", {})).text()
            await fl.reset_episode({"notes"})
            again = (await fl.call("notes", "list_notes", {})).result["structuredContent"]["result"]
            ledger = (await fl.call("notes", "get_ledger", {})).text()
            return first, changed, again, ledger
        finally:
            await fl.close()

    first, changed, again, ledger = asyncio.run(go())
    assert first == ["budget", "monday"] and again == first  # the configured cwd, reset to the original
    assert "stove" in changed and "stove" not in ledger and "tent" in ledger
    assert _checksums(home) == before


@pytest.mark.slow
def test_generate_on_an_own_fleet_grounds_calls_in_its_data_and_leaves_files_unchanged(tmp_path):
    home, fleet_file = _user_world(tmp_path)
    before = _checksums(home)
    run = tmp_path / "run"
    res = _generate("-n", "12", "--fleet", str(fleet_file), "--out", str(run))
    assert _checksums(home) == before
    summary = json.loads((run / "summary.json").read_text())
    notes = summary["per_server"]["notes"]
    assert notes["world"] is False and notes["stateful"] is True
    assert notes["own_data"] == [str(home / "book"), str(home / "ledger.json")]
    assert notes["discovery_calls"] == 2 and notes["discovery_ok"] == 2  # list_notes, get_ledger
    assert summary["stateful"]["notes"] == "stateful: state-changing tools add_note, record_entry (inferred)"
    assert summary["plans_note"].startswith("-n 12: sampled ")  # 6 tools give fewer plans: said why
    shards = sorted(run.glob("**/shards/*.json"))
    calls = [c for p in shards for c in json.loads(p.read_text())["calls"]]
    args = json.dumps([c["arguments"] for c in calls])
    for seed_value in ("O-50", "C-20", "sales.xlsx", "company.db", "orders"):
        assert seed_value not in args  # no seed-world value reaches a server that does not use it
    named = [c for c in calls if c["tool"] in ("read_note", "count_words")]
    assert named and all(c["arguments"]["name"] in ("budget", "monday") for c in named[:2])  # from its listing
    assert notes["ok"] + notes["failed"] == len(calls) and notes["ok_share"] >= 0.5
    if res.exit_code == 0:
        meta = json.loads((run / "dataset" / "meta.json").read_text())
        assert meta["stateful_why"]["notes"].startswith("stateful: state-changing tools")
    else:  # no task kept: said, no dataset, nothing left for a re-run to reuse
        assert "error: no task kept from" in res.output and not (run / "dataset").exists()
        assert not (run / "plans.jsonl").exists() and list(run.glob("failed-*/plans.jsonl"))


@pytest.mark.slow
def test_zero_tasks_kept_moves_the_plans_aside(tmp_path):
    home, fleet_file = _user_world(tmp_path, broken=True)
    run = tmp_path / "run"
    res = _generate("-n", "8", "--fleet", str(fleet_file), "--out", str(run))
    out = " ".join(res.output.split())
    assert res.exit_code == 1
    assert "error: no task kept from" in out and "dropped_all_calls_failed" in out and "no dataset written" in out
    assert not (run / "dataset").exists() and not (run / "plans.jsonl").exists()
    (aside,) = run.glob("failed-*")
    assert (aside / "plans.jsonl").exists() and (aside / "shards").is_dir()
    summary = json.loads((run / "summary.json").read_text())
    top = summary["per_server"]["notes"]["top_errors"]
    assert summary["per_server"]["notes"]["ok"] == 0 and top and top[0][0].startswith("isError")


def test_servers_check_says_which_servers_are_stateful_and_why(tmp_path):
    home, fleet_file = _user_world(tmp_path)
    res = runner.invoke(app, ["servers", "check", "--fleet", str(fleet_file)])
    assert res.exit_code == 0, res.output
    assert (f"notes: stateful: state-changing tools add_note, record_entry (inferred); works on copies of "
            f"{home / 'book'}, {home / 'ledger.json'}") in " ".join(res.output.split())
