"""Real MCP servers from the test fleet, started over stdio, real calls; then a real generation run."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firefly_eval.mcp.config import firefly_home, load_fleet, test_fleet_path as small_fleet_path
from firefly_eval.mcp.fleet import Fleet

pytestmark = pytest.mark.fleet


def _installed(specs):
    missing = [s.name for s in specs if not (firefly_home() / "fleet" / s.name / ".firefly-installed").exists()]
    if missing:
        pytest.skip(f"servers not installed (run `firefly fleet install --fleet {small_fleet_path()}`): {missing}")


def test_real_servers_start_and_answer():
    specs = load_fleet(small_fleet_path())
    _installed(specs)

    async def go():
        fl = Fleet(specs)
        try:
            reports = await fl.start()
            assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
            rec = await fl.call("calculator", "calculate", {"expression": "6*7"})
            assert not rec.is_error and "42" in rec.text()
            fs_root = str(fl.sandbox_root / "filesystem")
            rec = await fl.call("filesystem", "read_text_file", {"path": f"{fs_root}/notes/todo.txt"})
            assert "restock P-102" in rec.text()
            rec = await fl.call("sqlite", "read_query", {"query": "SELECT COUNT(*) AS n FROM customers"})
            assert "24" in rec.text()
            # state: a write is visible to a later read, and reset_episode restores the seed world
            await fl.call("filesystem", "write_file", {"path": f"{fs_root}/notes/new.txt", "content": "hello"})
            assert fl.history.dirty("filesystem")
            await fl.reset_episode()
            assert not Path(f"{fs_root}/notes/new.txt").exists()
        finally:
            await fl.close()

    asyncio.run(go())


def _gen_cmd(out: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("firefly")), "generate", "--fleet", str(small_fleet_path()),
            "--out", str(out), "-n", "24", "--seed", "1"]


@pytest.mark.slow
def test_generate_survives_kill_and_resumes(tmp_path):
    specs = load_fleet(small_fleet_path())
    _installed(specs)
    out = tmp_path / "run"
    proc = subprocess.Popen(_gen_cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((out / "shards").glob("*.json"))) < 3:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the whole run, servers included
    proc.wait()
    before = {p.name: p.read_text() for p in (out / "shards").glob("*.json")}
    assert before, "no plan finished before the kill"
    done = subprocess.run(_gen_cmd(out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {p.name: p.read_text() for p in (out / "shards").glob("*.json")}
    assert all(after[k] == v for k, v in before.items())  # finished plans were not redone
    plans = [json.loads(x)["id"] for x in (out / "plans.jsonl").read_text().splitlines()]
    assert sorted(after) == sorted(f"{p}.json" for p in plans)
    summary = json.loads((out / "summary.json").read_text())
    ids = []
    from datasets import load_dataset

    ds = load_dataset(str(out / "dataset"))
    for split in ds:
        ids += ds[split]["id"]
    assert len(ids) == len(set(ids)) == summary["counts"]["train"] + summary["counts"]["test"]
    assert len(ids) > 0
    # the run's dataset replays at 100% with the oracle
    from inspect_ai import eval as inspect_eval

    from firefly_eval.tasks.heldout.task import heldout

    split = "test" if summary["counts"]["test"] else "train"
    log = inspect_eval(heldout(dataset=str(out / "dataset"), split=split), model="firefly/oracle",
                       display="none", log_dir=str(tmp_path / "logs"))[0]
    assert log.results.scores[0].metrics["accuracy"].value == 1.0
