"""Sandbox roots and relocation (firefly_eval.sandbox) and the Fleet's live re-probe through them."""

import os
import subprocess

import anyio

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.sandbox import (
    SANDBOX_ROOT,
    process_root,
    relocate_record,
    relocate_value,
    remove_stale_roots,
)
from firefly_eval.schema import CallRecord


def test_process_roots_are_per_process_and_per_worker():
    assert process_root() == SANDBOX_ROOT.with_name(f"{SANDBOX_ROOT.name}-{os.getpid()}")
    assert process_root(3).name == f"{SANDBOX_ROOT.name}-w3-{os.getpid()}"


def test_relocation_goes_both_ways_in_keys_lists_and_strings():
    value = {"/a/root/x": ["/a/root/y", 3, {"p": "see /a/root/z"}]}
    there = relocate_value(value, "/a/root", "/b")
    assert there == {"/b/x": ["/b/y", 3, {"p": "see /b/z"}]}
    assert relocate_value(there, "/b", "/a/root") == value


def test_relocated_record_gets_the_id_of_its_new_content():
    rec = CallRecord(server="s", tool="t", arguments={"path": "/own/s/f.txt"},
                     result={"content": [{"type": "text", "text": "/own/s/f.txt"}]})
    moved = relocate_record(rec, "/own", "/canon")
    assert moved.arguments == {"path": "/canon/s/f.txt"} and moved.text() == "/canon/s/f.txt"
    assert moved.id != rec.id and moved.id == CallRecord(**{**moved.model_dump(), "id": ""}).id
    assert relocate_record(rec, "/own", "/own") is rec


def test_stale_roots_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])  # a pid that has exited
    dead.wait()
    base = tmp_path / "firefly-world"
    stale = [tmp_path / f"firefly-world-{dead.pid}", tmp_path / f"firefly-world-w0-{dead.pid}"]
    alive = tmp_path / f"firefly-world-{os.getpid()}"
    other = tmp_path / "firefly-world-notes"
    for d in [*stale, alive, other]:
        (d / "x").mkdir(parents=True)
    assert sorted(remove_stale_roots(base)) == sorted(stale)
    assert alive.exists() and other.exists() and not any(d.exists() for d in stale)


def test_fleet_replay_sends_own_root_paths_and_records_canonical_ones(chaos_spec, tmp_path):
    own, canon = tmp_path / "own", tmp_path / "canon"
    sent: list[str] = []

    async def go():
        fleet = Fleet([chaos_spec()], sandbox_root=own, canonical_root=canon)
        conn = fleet.connections["chaos"]
        real_call = conn.call_tool

        async def watched(tool, arguments):  # the real server answers; we only note what it was sent
            sent.append(arguments["text"])
            return await real_call(tool, arguments)

        conn.call_tool = watched
        try:
            await fleet.start()
            live = await fleet.call("chaos", "echo", {"text": f"{canon}/chaos/a.txt"})
            replayed = await fleet.replay("chaos", "echo", {"text": f"{canon}/chaos/a.txt"})
        finally:
            await fleet.close()
        return live, replayed

    live, replayed = anyio.run(go)
    assert sent == [f"{canon}/chaos/a.txt", f"{own}/chaos/a.txt"]  # a plain call goes as given, a replay relocated
    assert live.text() == f"{canon}/chaos/a.txt"
    # the server echoed its own root; the record is canonical again
    assert replayed.arguments == {"text": f"{canon}/chaos/a.txt"} and replayed.text() == f"{canon}/chaos/a.txt"
    assert replayed.id == live.id


def test_fleet_without_canonical_root_relocates_nothing(tmp_path):
    fleet = Fleet([], sandbox_root=tmp_path / "own")
    assert fleet.to_live({"p": f"{tmp_path}/own/x"}) == {"p": f"{tmp_path}/own/x"}
    assert fleet.canonical_root == str(tmp_path / "own")
