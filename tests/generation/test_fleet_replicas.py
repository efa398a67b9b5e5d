"""Plans on one stateful server in flight together, on copies of the fleet (``Fleet.replica``).

``generate --max-connections 4`` on the installed test fleet runs its plans on up to four copies of the fleet
(``generation.placement``); every plan still starts on fresh state, so its shard equals the sequential run's:
the same calls with the same results (apart from what changes between any two runs: clocks, uuids, file
birth times, and the ids and history keys computed from them) and the same task, and no copy's sandbox path
reaches a shard (records are in the canonical root).
"""

import asyncio
import json
import re

import pytest

from firefly_eval.generation.pipeline import GenerateConfig, generate
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.sandbox import SANDBOX_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
N, SEED = 40, 8

# what differs between any two runs of one plan: ISO and JS clock times, epoch seconds, uuids
VOLATILE = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z?|\w{3} \w{3} \d\d \d{4} [\d:]+ GMT[^)\n]*\)?|\b\d{10}\.\d+\b"
                      r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _shards(run):
    out = {}
    for p in sorted((run / "shards").glob("*.json")):
        s = json.loads(p.read_text())
        calls = [(c["server"], c["tool"], VOLATILE.sub("T", json.dumps(c["arguments"], sort_keys=True)),
                  VOLATILE.sub("T", json.dumps(c["result"], sort_keys=True)), c["is_error"]) for c in s["calls"]]
        task = s["task"] and (s["task"]["question"], json.dumps(s["task"]["answer"], sort_keys=True))
        out[p.stem] = (calls, task, s["reason"], s["counts"])
    return out


def test_plans_on_one_stateful_server_run_on_copies_and_write_the_sequential_shards(tmp_path, installed_fleet):
    seq = generate(tmp_path / "seq", installed_fleet(), GenerateConfig(n_plans=N, seed=SEED))
    par = generate(tmp_path / "par", installed_fleet(), GenerateConfig(n_plans=N, seed=SEED, max_connections=4))
    assert seq["replica_plans"] == [_n(tmp_path / "seq")] and par["plans_failed"] == 0
    # the test fleet's plans share stateful servers (filesystem, sqlite, memory): copies ran some of them
    assert len(par["replica_plans"]) == 4 and sum(par["replica_plans"]) == _n(tmp_path / "par")
    assert sum(1 for k in par["replica_plans"] if k) >= 2, par["replica_plans"]
    a, b = _shards(tmp_path / "seq"), _shards(tmp_path / "par")
    assert len(a) == _n(tmp_path / "seq") >= 12 and any(t for _, t, _, _ in a.values())
    assert a == b, {k: (a[k][2], b.get(k, ((), None, "missing"))[2]) for k in a if a[k] != b.get(k)}
    text = "".join(p.read_text() for p in (tmp_path / "par" / "shards").glob("*.json"))
    assert f"{SANDBOX_ROOT}-" not in text  # no copy's (or the first fleet's) own root


def _n(run):
    return len((run / "plans.jsonl").read_text().splitlines())


def test_a_replica_has_its_own_sandbox_and_the_first_fleets_tools(tmp_path, installed_fleet):
    asyncio.run(_replica(tmp_path, installed_fleet()))


async def _replica(tmp_path, specs):
    fleet = Fleet(specs, sandbox_root=tmp_path / "a", canonical_root=SANDBOX_ROOT)
    try:
        await fleet.start(names=["filesystem"])
        twin = fleet.replica(tmp_path / "b")
        try:
            assert twin.sandbox_root == tmp_path / "b" and (tmp_path / "b" / "filesystem").is_dir()
            assert twin.canonical_root == fleet.canonical_root
            assert set(twin.tools) == set(fleet.tools) and not twin.up("filesystem")
            assert twin.exclusive("filesystem") and twin.exclusive("filesystem") == fleet.exclusive("filesystem")
            await twin.ensure_started(["filesystem"])
            assert twin.up("filesystem") and twin.connections["filesystem"] is not fleet.connections["filesystem"]
            rec = await twin.replay("filesystem", "list_allowed_directories", {})
            text = json.dumps(rec.result)
            assert str(tmp_path) not in text and str(SANDBOX_ROOT / "filesystem") in text, text
        finally:
            await twin.close()
    finally:
        await fleet.close()
