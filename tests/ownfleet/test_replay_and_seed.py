"""A user's own fleet (issue 18): stateful tasks replay to their recorded results through the simulator, the same
seed and fleet give the same plans and questions, plain config entries install, an empty dataset is not written.

The generate runs use the tiny ``notes_server.py`` (a stateful server: notes in its cwd, a ledger by absolute path).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.dataset_format import load_tasks
from firefly_eval.generation.dataset import EmptyDatasetError, build_dataset
from firefly_eval.mcp.config import load_fleet
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mcp.owndata import own_data
from firefly_eval.schema import canonical_json
from firefly_eval.simulator.index import CallIndex
from firefly_eval.simulator.mcp_server import load_simulator
from firefly_eval.simulator.records import read_records
from firefly_eval.simulator.replay import answer_from_calls
from firefly_eval.simulator.simulator import Simulator

NOTES = Path(__file__).with_name("notes_server.py")
runner = CliRunner()


def _notes_fleet(root: Path) -> Path:
    home = root / "user"
    (home / "book" / "notes").mkdir(parents=True)
    (home / "book" / "notes" / "monday.md").write_text("Ship the Porto order by Friday.\nCall Mira.\n")
    (home / "book" / "notes" / "budget.md").write_text("Budget review: 3 items over plan.\n")
    (home / "ledger.json").write_text(json.dumps({"entries": [{"item": "tent", "amount": 249.0}]}))
    fleet = root / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"notes": {
        "command": sys.executable, "args": [str(NOTES), "--ledger", str(home / "ledger.json")],
        "cwd": str(home / "book")}}}))
    return fleet


def _generate(fleet: Path, out: Path, seed: int = 3, n: int = 14):
    return runner.invoke(app, ["generate", "-n", str(n), "--seed", str(seed), "--fleet", str(fleet), "--out", str(out)],
                         catch_exceptions=False)


@pytest.fixture(scope="module")
def notes_runs(tmp_path_factory):
    """Two runs of the same command (same seed, same fleet) into two folders."""
    root = tmp_path_factory.mktemp("own")
    fleet = _notes_fleet(root)
    results = [_generate(fleet, root / name) for name in ("a", "b")]
    return root, results


@pytest.mark.slow
def test_same_seed_and_fleet_give_identical_plans_and_questions(notes_runs):
    root, (a, b) = notes_runs
    assert a.exit_code == b.exit_code == 0, a.output
    assert (root / "a" / "plans.jsonl").read_text() == (root / "b" / "plans.jsonl").read_text()

    def questions(run: Path) -> list[str]:
        return sorted(t.question for split in ("train", "test") if list((run / "dataset" / "data").glob(f"{split}-*"))
                      for t in load_tasks(run / "dataset", split))

    qa = questions(root / "a")
    assert qa and qa == questions(root / "b")


@pytest.mark.slow
def test_every_stateful_task_replays_to_its_recorded_results(notes_runs):
    """Each reference call of a task on the stateful server, made in a fresh simulator episode built from the
    written dataset, returns the recorded result (exact tier, history keys), and the answer rebuilt from the
    replayed results is the gold answer; none of the server's tasks had to be dropped by the replay check."""
    root, _ = notes_runs
    run = root / "a"
    dataset = run / "dataset"
    meta = json.loads((dataset / "meta.json").read_text())
    assert meta["stateful_servers"] == ["notes"]
    tasks = [t for split in ("train", "test") if list((dataset / "data").glob(f"{split}-*"))
             for t in load_tasks(dataset, split) if "notes" in t.servers]
    assert tasks
    recorded = {r.id: r for r in read_records(dataset / "calls")}
    sim = load_simulator(dataset, tiers=frozenset({"exact"}))
    for task in tasks:
        ep = sim.episode()
        for ref_id, ref in zip(task.reference_calls, task.reference_arguments, strict=True):
            ans = ep.call(ref["server"], ref["tool"], ref["arguments"])
            assert ans.tier == "exact", (task.question, ref)
            assert canonical_json(ans.result) == canonical_json(recorded[ref_id].result), (task.question, ref)
        answer, problems = answer_from_calls(task, ep.calls)
        assert problems == [] and answer == task.answer, task.question
    summary = json.loads((run / "summary.json").read_text())
    assert "dropped_dataset_replay" not in summary["per_server"]["notes"]["dropped"]


def test_stateful_server_records_replay_through_history_keys(tmp_path):
    """A state-changing call keys the records after it: replayed in a fresh simulator episode, the listing after
    ``add_note`` returns the note the live server returned, the listing before it the original notes, and a
    new episode starts from the original state again. A simulator told the server is stateless cannot."""
    (spec,) = load_fleet(_notes_fleet(tmp_path))

    async def record() -> list:
        fl = Fleet([spec], sandbox_root=tmp_path / "sb")
        try:
            await fl.start()
            assert spec.stateful  # inferred from add_note / record_entry
            recs = [await fl.call("notes", "list_notes", {}),
                    await fl.call("notes", "add_note", {"name": "extra", "text": "x"}),
                    await fl.call("notes", "list_notes", {})]
            await fl.reset_episode({"notes"})
            return [*recs, await fl.call("notes", "list_notes", {})]
        finally:
            await fl.close()

    before, added, after, fresh = asyncio.run(record())
    assert not before.history_key and after.history_key and not fresh.history_key
    assert canonical_json(before.result) == canonical_json(fresh.result) != canonical_json(after.result)
    sim = Simulator(CallIndex([before, added, after, fresh]), stateful_servers={"notes"})
    ep = sim.episode()
    replayed = [ep.call("notes", r.tool, r.arguments) for r in (before, added, after)]
    assert [a.tier for a in replayed] == ["exact"] * 3
    assert [canonical_json(a.result) for a in replayed] == [canonical_json(r.result) for r in (before, added, after)]
    assert canonical_json(sim.episode().call("notes", "list_notes", {}).result) == canonical_json(before.result)
    stateless = Simulator(CallIndex([before, added, after, fresh]), stateful_servers=set())
    ep = stateless.episode()
    ep.call("notes", "add_note", {"name": "extra", "text": "x"})
    assert canonical_json(ep.call("notes", "list_notes", {}).result) != canonical_json(after.result)


def test_plain_entries_name_the_package_to_install(write_fleet):
    """``npx -y PKG@V`` and ``uvx [--with C] --from PKG==V`` entries install without a firefly object."""
    specs = {s.name: s for s in load_fleet(write_fleet({"mcpServers": {
        "kg": {"command": "npx", "args": ["-y", "@itseasy21/mcp-knowledge-graph@1.0.7", "--memory-path", "/x"]},
        "ts": {"command": "uvx", "args": ["--with", "mcp<2", "--from", "mcp-server-tree-sitter==0.7.0",
                                          "mcp-server-tree-sitter"]},
        "loose": {"command": "npx", "args": ["-y", "some-server"]},
        "meta": {"command": "npx", "args": ["-y", "a@1.0.0"], "firefly": {"package": "b", "version": "2.0.0"}},
    }}))}
    assert (specs["kg"].registry, specs["kg"].pin) == ("npm", "@itseasy21/mcp-knowledge-graph@1.0.7")
    assert (specs["ts"].registry, specs["ts"].pin, specs["ts"].constraints) == \
        ("pypi", "mcp-server-tree-sitter==0.7.0", ["mcp<2"])
    assert specs["loose"].registry == "local" and specs["loose"].package is None  # unpinned: runs as written
    assert (specs["meta"].package, specs["meta"].version) == ("b", "2.0.0")  # an explicit firefly object wins


def test_sqlalchemy_url_names_a_copied_file(tmp_path, write_fleet):
    """``DB_URL=sqlite:////abs/shop.db`` (SQLAlchemy's absolute form) points at the per-plan copy, still absolute."""
    db = tmp_path / "shop.db"
    db.write_bytes(b"SQLite format 3\x00")
    (spec,) = load_fleet(write_fleet({"mcpServers": {"shop": {"command": "uvx", "args": [
        "--from", "mcp-alchemy==2026.10.15.202659", "mcp-alchemy"], "env": {"DB_URL": f"sqlite:///{db}"}}}}))
    own = own_data(spec, tmp_path / "sb", tmp_path / "pristine")
    live = tmp_path / "sb" / "files" / str(db).lstrip("/")
    assert own is not None and own.env["DB_URL"] == f"sqlite:///{live}"
    own.snapshot()
    own.restore()
    assert live.read_bytes() == db.read_bytes()


def test_a_dataset_of_no_task_is_not_written(tmp_path):
    """``datasets.load_dataset`` refuses a 0-row split (even a schema-only Parquet file), so none is written."""
    out = tmp_path / "dataset"
    with pytest.raises(EmptyDatasetError) as err:
        build_dataset([], [], out)
    assert str(err.value) == f"{out}: no task to write; no dataset written"
    assert not out.exists()


@pytest.mark.slow
def test_generate_exits_non_zero_when_no_task_survives_the_replay_check(tmp_path, monkeypatch):
    """Tasks kept but none replays: generate says so, writes no dataset and leaves no plan list to reuse."""
    import firefly_eval.generation.pipeline as pipeline

    def none_replays(tasks, calls, out, **kw):
        raise EmptyDatasetError(f"{out}: none of the {len(tasks)} task(s) replays to its gold answer through the "
                                "simulator (first: call 0 is x); no dataset written")

    monkeypatch.setattr(pipeline, "build_dataset", none_replays)
    run = tmp_path / "run"
    res = _generate(_notes_fleet(tmp_path), run)
    out = " ".join(res.output.split())
    assert res.exit_code == 1
    assert f"error: {run / 'dataset'}: none of the " in out and "no dataset written; its plans and shards moved to" in out
    assert not (run / "dataset").exists() and not (run / "plans.jsonl").exists()
    (aside,) = run.glob("failed-*")
    assert (aside / "plans.jsonl").exists()
