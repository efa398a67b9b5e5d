"""A real local Ray instance runs a generation with 2 workers; one worker is killed mid-run; the
dataset must equal the local executor's."""

import json
import os
import signal
import threading
import time

import pytest

pytest.importorskip("ray")

from firefly_eval.dataset_format import load_tasks  # noqa: E402
from firefly_eval.generation.pipeline import GenerateConfig, generate  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.fleet]


def _content(run):
    out = {}
    for split in ("train", "test"):
        try:
            for t in load_tasks(run / "dataset", split):
                # reference call ids hash the full recorded results, which may hold volatile text (file
                # birth times) that never reaches an answer; questions, answers and calls must match
                out[t.id] = (t.question, json.dumps(t.answer, sort_keys=True),
                             json.dumps(t.reference_arguments, sort_keys=True))
        except FileNotFoundError:  # a split with no tasks has no file
            continue
    return out


def _kill_one_worker_after(shards, n, killed):
    import psutil

    deadline = time.time() + 300
    while time.time() < deadline and len(list(shards.glob("*.json"))) < n:
        time.sleep(0.02)  # on an idle machine 16 plans can finish within a coarser poll, leaving no worker
    while time.time() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            if any("PlanWorker" in c for c in (p.info["cmdline"] or [])):
                os.kill(p.pid, signal.SIGKILL)
                killed.append(p.pid)
                return
        time.sleep(0.02)


def test_ray_matches_local_after_a_worker_is_killed(tmp_path, installed_fleet):
    specs = installed_fleet()
    local = generate(tmp_path / "local", specs, GenerateConfig(n_plans=16, seed=2))
    killed: list[int] = []
    ray_run = tmp_path / "ray"
    watcher = threading.Thread(target=_kill_one_worker_after, args=(ray_run / "shards", 1, killed), daemon=True)
    watcher.start()
    try:
        summary = generate(ray_run, specs, GenerateConfig(n_plans=16, seed=2, executor="ray", workers=2))
    finally:
        import ray

        ray.shutdown()
    watcher.join(timeout=5)
    assert killed, "no Ray worker was running to be killed"
    assert summary["executor"] == "ray"
    assert sorted(p.name for p in (ray_run / "shards").glob("*.json")) == \
        sorted(p.name for p in (tmp_path / "local" / "shards").glob("*.json"))
    a, b = _content(tmp_path / "local"), _content(ray_run)
    diff = {k: a.get(k, b.get(k))[0][:160] for k in set(a) ^ set(b)}
    assert a and a == b, diff
    assert local["counts"] == summary["counts"]
